"""Initiatives: validate raw records into clean values and derive a stable key (the import writes them through
queries.initiatives_write)."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .. import vocab
from ..errors import GeoserviceError
from ..geocode import normalise_postcode
from ..models import RD_NEW, WGS84
from ..params import BBox, LonLat, looks_swapped_in_nl

# Generous boxes around the Netherlands; the exact test (inside the CBS areas) happens in the database.
NL_BOX_WGS84 = BBox(3.0, 50.5, 7.6, 53.8)
NL_BOX_RD = BBox(-10_000.0, 280_000.0, 300_000.0, 630_000.0)
MAX_LENGTH = {"external_id": 200, "name": 200, "description": 5000}
DEFAULT_MAX_LENGTH = 500
DEFAULT_STATUS = "published"
KEY_GRID_M = 10  # the stable key rounds the location to this many metres

_EMAIL = re.compile(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]\d]{2,}")
_BARE_HOST = re.compile(r"(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:[/?#]\S*)?", re.IGNORECASE)
_PHONE = re.compile(r"\+?[\d\s().\-/]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Unicode category Cc (C0 and C1 control characters) except tab and newline: one regex, not a loop per character.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Defaults:
    """What fills a record that has no kind or themes of its own."""

    kind: str | None = None
    themes: tuple[str, ...] = ()


@dataclass
class RawRecord:
    """One row or feature as read: canonical field -> raw value, and the file's own column names."""

    number: int
    values: dict[str, object]
    columns: dict[str, str] = field(default_factory=dict)
    geometry: tuple[float, float, int] | None = None  # a GeoJSON Point: (a, b, srid)
    extra_cells: bool = False  # a CSV row with more (non-empty) cells than the header has columns

    def column(self, name: str) -> str:
        return self.columns.get(name, name)


@dataclass
class CleanRecord:
    """A valid record: values ready for the initiative table, and how to locate it."""

    number: int
    values: dict[str, object]
    external_id: str | None
    point: tuple[float, float, int] | None  # given in the file: (lon, lat, 4326) or (x, y, 28992)
    point_field: str  # the column(s) the point came from, for messages


class Invalid(ValueError):
    """A field value that cannot be used; the message is the Dutch reason, column names where."""

    def __init__(self, reason: str, column: str | None = None):
        super().__init__(reason)
        self.column = column


def _text(value: object, name: str) -> str | None:
    """Stripped text, None when empty; refuses control characters and overlong values."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    return clean_text(str(value), MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH))


def clean_text(raw: str, limit: int) -> str | None:
    """Stripped text, None when empty; Invalid for control characters or more than limit characters."""
    text = raw.strip()
    if not text:
        return None
    if _CONTROL.search(text):
        raise Invalid("bevat een ongeldig (onzichtbaar) teken")
    if len(text) > limit:
        raise Invalid(f"te lang (meer dan {limit} tekens)")
    return text


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise Invalid("is geen getal")
    try:
        number = float(value) if isinstance(value, (int, float)) else float(str(value).strip().replace(",", "."))
    except ValueError:
        raise Invalid(f"'{str(value).strip()[:30]}' is geen getal") from None
    if not math.isfinite(number):
        raise Invalid("is geen eindig getal")
    return number


def clean_website(text: str) -> str:
    """An http(s) URL; a bare host name such as www.voorbeeld.nl gets https:// in front."""
    if _BARE_HOST.fullmatch(text):
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:  # e.g. a broken IPv6 address
        host = ""
    if not host or parts.scheme.lower() not in ("http", "https") or "." not in host or re.search(r"\s", text):
        raise Invalid(f"'{text[:60]}' is geen website; verwacht een adres dat begint met http:// of https://")
    return text


def clean_email(text: str) -> str:
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:"):].strip()
    if not _EMAIL.fullmatch(text):
        raise Invalid(f"'{text[:60]}' is geen geldig e-mailadres")
    return text


def clean_phone(text: str) -> str:
    digits = sum(c.isdigit() for c in text)
    if not _PHONE.fullmatch(text) or not 6 <= digits <= 15:
        raise Invalid(f"'{text[:30]}' is geen telefoonnummer")
    return text


def clean_date(text: str, today: dt.date) -> dt.date:
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"'{text[:30]}' is geen geldige datum; verwacht JJJJ-MM-DD, bijvoorbeeld 2025-03-31") from None
    if value > today + dt.timedelta(days=1):
        raise Invalid(f"{text} ligt in de toekomst")
    return value


def _themes(value: object) -> list[str]:
    # Labels contain no ',' or ';', so either separator is safe in a cell.
    items = re.split(r"[;,]", value) if isinstance(value, str) else value
    return vocab.themes(list(items) if items is not None else None)


def _point_from_columns(raw: RawRecord) -> tuple[tuple[float, float, int] | None, str]:
    """The point given by lat/lon or x/y (in that order), checked coarsely; (None, '') if neither is given."""
    values = raw.values
    has = {name: _present(values.get(name)) for name in ("lat", "lon", "x", "y")}
    if has["lat"] or has["lon"]:
        where = f"{raw.column('lat')}/{raw.column('lon')}"
        if not (has["lat"] and has["lon"]):
            missing = "lon" if has["lat"] else "lat"
            raise Invalid(f"{missing} ontbreekt; geef lat én lon", where)
        try:
            return _wgs84_point(_number(values["lon"]), _number(values["lat"])), where
        except Invalid as exc:
            raise Invalid(str(exc), where) from None
    if has["x"] or has["y"]:
        where = f"{raw.column('x')}/{raw.column('y')}"
        if not (has["x"] and has["y"]):
            raise Invalid("geef x én y (RD-coördinaten in meters)", where)
        try:
            return _rd_point(_number(values["x"]), _number(values["y"])), where
        except Invalid as exc:
            raise Invalid(str(exc), where) from None
    return None, ""


def _wgs84_point(lon: float, lat: float) -> tuple[float, float, int]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid(f"lat {lat} / lon {lon} bestaat niet; lat ligt tussen -90 en 90, lon tussen -180 en 180")
    if looks_swapped_in_nl(LonLat(lon=lon, lat=lat)):
        raise Invalid("lat en lon lijken omgewisseld")
    box = NL_BOX_WGS84
    if not (box.minx <= lon <= box.maxx and box.miny <= lat <= box.maxy):
        raise Invalid(f"lat {lat} / lon {lon} ligt niet in Nederland")
    return lon, lat, WGS84


def _rd_point(x: float, y: float) -> tuple[float, float, int]:
    box = NL_BOX_RD
    inside = box.minx <= x <= box.maxx and box.miny <= y <= box.maxy
    if not inside and box.minx <= y <= box.maxx and box.miny <= x <= box.maxy:
        raise Invalid("x en y lijken omgewisseld (x is de oost-west-coördinaat, de kleinste van de twee)")
    if not inside:
        raise Invalid(f"x {x} / y {y} ligt niet in Nederland (verwacht RD-coördinaten in meters, EPSG:28992)")
    return x, y, RD_NEW


def _geometry_point(point: tuple[float, float, int]) -> tuple[float, float, int]:
    a, b, srid = point
    return _wgs84_point(a, b) if srid == WGS84 else _rd_point(a, b)


def validate_record(raw: RawRecord, defaults: Defaults, *, today: dt.date | None = None
                    ) -> tuple[CleanRecord | None, list[tuple[str, str]]]:
    """A clean record, or None with every (column, reason) that is wrong with the raw one."""
    return RecordValidator(defaults, today=today).validate(raw)


class RecordValidator:
    """validate_record for many rows: the field rules built once, and the verdict on a value of a field that
    repeats from row to row (kind, themes, status, date, postcode) reused rather than worked out again."""

    MEMO_FIELDS = ("kind", "themes", "postcode", "status", "last_verified")

    def __init__(self, defaults: Defaults, *, today: dt.date | None = None):
        today = today or dt.date.today()

        def required_name(value):
            text = _text(value, "name")
            if text is None:
                raise Invalid("is leeg; elk initiatief heeft een naam nodig")
            return text

        def kind(value):
            text = _text(value, "kind")
            return vocab.kind(text) if text is not None else _default_kind(defaults)

        def themes(value):
            listed = _themes(value) if _text(value, "themes") is not None else []
            return listed or sorted(defaults.themes)

        def cleaned(name, clean):
            return lambda value: clean(text) if (text := _text(value, name)) else None

        def plain(name):
            return lambda value: _text(value, name)

        self.rules = [
            ("external_id", plain("external_id")), ("name", required_name), ("kind", kind), ("themes", themes),
            ("description", plain("description")), ("website", cleaned("website", clean_website)),
            ("email", cleaned("email", clean_email)), ("phone", cleaned("phone", clean_phone)),
            ("address", plain("address")), ("place", plain("place")), ("postcode", cleaned("postcode", _postcode)),
            ("status", lambda value: vocab.parse_term(vocab.STATUSES, text, "status")
             if (text := _text(value, "status")) else DEFAULT_STATUS),
            ("last_verified", cleaned("last_verified", lambda text: clean_date(text, today))),
        ]
        self.memo: dict[str, dict] = {name: {} for name in self.MEMO_FIELDS}

    def _clean(self, name: str, rule, value) -> tuple[bool, object]:
        try:
            return True, rule(value)
        except ValueError as exc:  # Invalid, or the vocabulary's own Dutch message
            return False, str(exc)

    def validate(self, raw: RawRecord) -> tuple[CleanRecord | None, list[tuple[str, str]]]:
        problems: list[tuple[str, str]] = []
        out: dict[str, object] = {}
        values = raw.values
        for name, rule in self.rules:
            value = values.get(name)
            memo = self.memo.get(name)
            if memo is not None and (value is None or type(value) is str):
                verdict = memo.get(value)
                if verdict is None:
                    verdict = memo[value] = self._clean(name, rule, value)
            else:
                verdict = self._clean(name, rule, value)
            if verdict[0]:
                out[name] = verdict[1]
            else:
                problems.append((raw.column(name), verdict[1]))
        return _located_record(raw, out, problems)


def _located_record(raw: RawRecord, out: dict, problems: list[tuple[str, str]]
                    ) -> tuple[CleanRecord | None, list[tuple[str, str]]]:
    point, point_field, location_wrong = None, "", False
    try:
        if raw.geometry is not None:
            point, point_field = _geometry_point(raw.geometry), "geometry"
        else:
            point, point_field = _point_from_columns(raw)
    except Invalid as exc:
        problems.append((exc.column or "geometry", str(exc)))
        location_wrong = True
    has_place = any(_present(raw.values.get(name)) for name in ("postcode", "address"))
    if point is None and not location_wrong and not has_place:
        problems.append(("locatie", "geen plek: geef lat/lon, x/y (RD), een adres met postcode of een postcode"))
    if problems:
        return None, problems
    try:
        out["address"] = _with_place(out["address"], out.pop("place"))
    except Invalid as exc:
        return None, [(raw.column("address"), str(exc))]
    external_id = out.pop("external_id")
    return CleanRecord(raw.number, out, external_id, point, point_field), []


def _with_place(address: str | None, place: str | None) -> str | None:
    """The address completed with its place (a spreadsheet's Plaats column), unless it names it already."""
    if address is None or place is None or fold_name(place) in fold_name(address):
        return address
    return clean_text(f"{address}, {place}", MAX_LENGTH.get("address", DEFAULT_MAX_LENGTH))


def _present(value: object) -> bool:
    return value is not None and str(value).strip() != "" and value != []


def _default_kind(defaults: Defaults) -> str:
    if defaults.kind is None:
        raise Invalid(f"soort ontbreekt; kies uit: {', '.join(vocab.INITIATIVE_KINDS)} (of geef --default-kind)")
    return defaults.kind


def _postcode(text: str) -> str:
    try:
        return normalise_postcode(text)
    except GeoserviceError as exc:
        raise Invalid(exc.description.rstrip(".")) from None


def fold_name(name: str) -> str:
    """Lower case, accents and punctuation dropped, words joined by '-': 'Café De Wéi!' -> 'cafe-de-wei'."""
    decomposed = unicodedata.normalize("NFKD", name.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "-".join(re.findall(r"[0-9a-z]+", plain))


def stable_key(name: str, x: float, y: float) -> str:
    """An external_id for files without ids: the folded name and the RD location rounded to 10 m."""
    gx = math.floor(x / KEY_GRID_M + 0.5) * KEY_GRID_M
    gy = math.floor(y / KEY_GRID_M + 0.5) * KEY_GRID_M
    return f"auto:{fold_name(name)[:80]}@{gx},{gy}"
