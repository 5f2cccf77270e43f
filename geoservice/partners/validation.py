"""Partners: validate one partner mapping and its service-area definitions into clean values (Dutch reasons)."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from .. import vocab
from ..cbs.codes import parse_code
from ..params import LonLat, looks_swapped_in_nl
from ..registry.validation import Invalid, clean_email, clean_phone, clean_text, clean_website

PARTNER_FIELDS = ("name", "id", "kind", "services", "themes", "description", "website", "email", "phone",
                  "service_areas")
AREA_FIELDS = ("name", "codes", "point", "radius_m", "geojson")
# Columns of the partner table an import compares and writes.
WRITE_COLUMNS = ("name", "external_id", "kind", "services", "themes", "description", "website", "email", "phone",
                 "source")
MAX_LENGTH = {"name": 200, "id": 200, "description": 5000}
DEFAULT_MAX_LENGTH = 500
MIN_RADIUS_M, MAX_RADIUS_M = 1, 100_000
MAX_CODES = 5000
MAX_POSITIONS = 200_000  # a hand-drawn area has far fewer; more suggests a wrong file
SOURCE = "file"  # the source of partners imported from a file (the demo uses "demo")


@dataclass(frozen=True)
class AreaDefinition:
    """A valid service-area definition: its name, type and the normalised JSON stored with it."""

    name: str
    definition_type: str  # codes | radius | geojson
    definition: dict


@dataclass
class CleanPartner:
    """A valid partner: the table values, the file's own id, and its service areas."""

    number: int
    key: str | None
    values: dict
    areas: list[AreaDefinition] | None  # None: the file lists no service_areas, so they stay as they are


def fold_name(name: str) -> str:
    """Case, accents and spacing ignored, to spot the same name written twice."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def partner_label(number: int, raw: object) -> str:
    """How a report names a partner: its position in the file and, when readable, its name."""
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{number} '{name.strip()[:60]}'" if isinstance(name, str) and name.strip() else str(number)


def area_label(number: int, raw: object) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    shown = f" '{name.strip()[:60]}'" if isinstance(name, str) and name.strip() else ""
    return f"werkgebied {number}{shown}"


def _text(value: object, name: str) -> str | None:
    """Stripped text, None when empty; refuses lists, control characters and overlong values."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Invalid("moet tekst zijn")
    return clean_text(str(value), MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH))


def _phone(value: object) -> str | None:
    # YAML reads 0301234567 as a number (and drops the 0): ask for quotes instead of guessing.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise Invalid("zet het telefoonnummer tussen aanhalingstekens, bijvoorbeeld \"030 123 45 67\"")
    text = _text(value, "phone")
    return clean_phone(text) if text else None


def _keys(value: object, to_keys, what: str, example: str) -> list[str]:
    """Vocabulary keys from a list, or from one text separated by ';' or ','; to_keys raises on unknown ones."""
    if value is None:
        return []
    if isinstance(value, str):
        return to_keys(re.split(r"[;,]", value))  # labels hold no ',' or ';'
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"moet een lijst van {what} zijn, bijvoorbeeld {example}")
    return to_keys(value)


def _services(value: object) -> list[str]:
    return _keys(value, vocab.services, "diensten", "[advies, training]")


def _themes(value: object) -> list[str]:
    """The initiative themes a partner supports; none (absent or empty) means every theme."""
    return _keys(value, vocab.themes, "thema's", "[energie_klimaat, wonen]")


def validate_partner(number: int, raw: object) -> tuple[CleanPartner | None, list[tuple[str, str]]]:
    """A clean partner, or None with every (field, reason) that is wrong with the mapping."""
    if not isinstance(raw, dict):
        return None, [("partner", "moet een blok met velden zijn (name, kind, …)")]
    problems: list[tuple[str, str]] = []
    out: dict[str, object] = {}

    def check(name: str, clean) -> None:
        try:
            out[name] = clean(raw.get(name))
        except ValueError as exc:  # Invalid, or the vocabulary's own Dutch message
            problems.append((name, str(exc)))

    def required(name: str, missing: str):
        def clean(value):
            text = _text(value, name)
            if text is None:
                raise Invalid(missing)
            return text
        return clean

    for unknown in (k for k in raw if k not in PARTNER_FIELDS):
        problems.append((str(unknown)[:40], f"onbekend veld; bekende velden: {', '.join(PARTNER_FIELDS)}"))
    check("name", required("name", "is leeg; elke partner heeft een naam nodig"))
    check("id", lambda v: _text(v, "id"))
    kinds = ", ".join(vocab.PARTNER_KINDS)
    check("kind", lambda v: vocab.partner_kind(required("kind", f"soort ontbreekt; kies uit: {kinds}")(v)))
    check("services", _services)
    check("themes", _themes)
    check("description", lambda v: _text(v, "description"))
    check("website", lambda v: clean_website(t) if (t := _text(v, "website")) else None)
    check("email", lambda v: clean_email(t) if (t := _text(v, "email")) else None)
    check("phone", _phone)
    areas, area_problems = _validate_areas(raw.get("service_areas"))
    problems += area_problems
    if problems:
        return None, problems
    key = out.pop("id")
    values = {**out, "external_id": key, "source": SOURCE}
    return CleanPartner(number, key, values, areas), []


def _validate_areas(raw: object) -> tuple[list[AreaDefinition] | None, list[tuple[str, str]]]:
    if raw is None:
        return None, []
    if not isinstance(raw, list):
        return None, [("service_areas", "moet een lijst van werkgebieden zijn")]
    areas, problems, first_of_name = [], [], {}
    for number, item in enumerate(raw, start=1):
        label = area_label(number, item)
        area, found = validate_area(item)
        problems += [(f"{label}, {name}", reason) for name, reason in found]
        if area is None:
            continue
        folded = fold_name(area.name)
        if folded in first_of_name:
            problems.append((f"{label}, name", f"dezelfde naam als werkgebied {first_of_name[folded]}"))
            continue
        first_of_name[folded] = number
        areas.append(area)
    return areas, problems


def validate_area(raw: object) -> tuple[AreaDefinition | None, list[tuple[str, str]]]:
    """A service-area definition by codes, by point and radius, or by a GeoJSON polygon; or its problems."""
    if not isinstance(raw, dict):
        return None, [("werkgebied", "moet een blok met velden zijn (name en codes, point of geojson)")]
    problems = [(str(k)[:40], f"onbekend veld; bekende velden: {', '.join(AREA_FIELDS)}")
                for k in raw if k not in AREA_FIELDS]
    try:
        name = _text(raw.get("name"), "name")
        if name is None:
            problems.append(("name", "is leeg; elk werkgebied heeft een naam nodig"))
    except Invalid as exc:
        name = None
        problems.append(("name", str(exc)))
    given = [k for k in ("codes", "point", "geojson") if raw.get(k) is not None]
    if len(given) != 1:
        reason = ("geef precies één van codes, point (met radius_m) of geojson"
                  + (f", niet {' én '.join(given)}" if given else ""))
        problems.append(("definitie", reason))
        return None, problems
    definition_type, definition = None, None
    try:
        if given == ["codes"]:
            definition_type, definition = "codes", {"codes": clean_codes(raw["codes"])}
        elif given == ["point"]:
            definition_type, definition = "radius", clean_radius(raw["point"], raw.get("radius_m"))
        else:
            definition_type, definition = "geojson", {"geojson": clean_polygon(raw["geojson"])}
        if raw.get("radius_m") is not None and definition_type != "radius":
            problems.append(("radius_m", "hoort alleen bij een point"))
    except Invalid as exc:
        problems.append((exc.column or given[0], str(exc)))
    if problems:
        return None, problems
    return AreaDefinition(name, definition_type, definition), []


def clean_codes(value: object) -> list[str]:
    """Sorted, de-duplicated CBS codes (any mix of gemeente, wijk and buurt) from a list or 'a;b'."""
    items = re.split(r"[;,\s]+", value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise Invalid("moet een lijst van CBS-codes zijn, bijvoorbeeld [GM0308, WK034401]")
    wrong = [str(item)[:20] for item in items if parse_code(item) is None and str(item).strip()]
    if wrong:
        raise Invalid(f"geen CBS-code: {', '.join(wrong[:10])}; verwacht bijvoorbeeld GM0344, WK034401 of "
                      f"BU03440101")
    codes = sorted({parse_code(item).code for item in items if parse_code(item) is not None})
    if not codes:
        raise Invalid("geen codes; geef minstens één CBS-code")
    if len(codes) > MAX_CODES:
        raise Invalid(f"te veel codes (meer dan {MAX_CODES})")
    return codes


def _number(value: object, column: str) -> float:
    if isinstance(value, bool) or value is None:
        raise Invalid("ontbreekt of is geen getal", column)
    try:
        number = float(value) if isinstance(value, (int, float)) else float(str(value).strip().replace(",", "."))
    except ValueError:
        raise Invalid(f"'{str(value).strip()[:30]}' is geen getal", column) from None
    except OverflowError:  # an integer with hundreds of digits
        raise Invalid("is geen eindig getal", column) from None
    if not math.isfinite(number):
        raise Invalid("is geen eindig getal", column)
    return number


def clean_radius(point: object, radius: object) -> dict:
    """{"point": {"lat", "lon"}, "radius_m"}: a WGS84 point and a radius of 1 m to 100 km."""
    if not isinstance(point, dict) or set(point) - {"lat", "lon"}:
        raise Invalid("moet lat en lon hebben, bijvoorbeeld {lat: 52.21, lon: 5.29}", "point")
    lat, lon = _number(point.get("lat"), "point.lat"), _number(point.get("lon"), "point.lon")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid(f"lat {lat} / lon {lon} bestaat niet; lat ligt tussen -90 en 90, lon tussen -180 en 180",
                      "point")
    if looks_swapped_in_nl(LonLat(lon=lon, lat=lat)):
        raise Invalid("lat en lon lijken omgewisseld", "point")
    if radius is None:
        raise Invalid("ontbreekt; een point heeft een straal in meters nodig", "radius_m")
    meters = _number(radius, "radius_m")
    if not MIN_RADIUS_M <= meters <= MAX_RADIUS_M:
        limit = f"{MAX_RADIUS_M:,}".replace(",", ".")  # Dutch thousands separator
        raise Invalid(f"moet tussen {MIN_RADIUS_M} en {limit} meter liggen, niet {radius}", "radius_m")
    return {"point": {"lat": lat, "lon": lon}, "radius_m": int(meters) if meters.is_integer() else meters}


def clean_polygon(value: object) -> dict:
    """A GeoJSON Polygon or MultiPolygon (or a Feature holding one) in WGS84: {"type", "coordinates"}."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict):
        raise Invalid("moet een GeoJSON-geometrie zijn: {type: Polygon, coordinates: [...]}")
    kind, coordinates = value.get("type"), value.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        shown = kind if isinstance(kind, str) else "onbekend"
        raise Invalid(f"type {shown[:30]} kan geen werkgebied zijn; gebruik Polygon of MultiPolygon")
    if not isinstance(coordinates, list):
        raise Invalid("coordinates ontbreekt of is geen lijst")
    polygons = coordinates if kind == "MultiPolygon" else [coordinates]
    if not polygons or not all(isinstance(p, list) and p for p in polygons):
        raise Invalid("de polygoon is leeg")
    positions = 0
    for polygon in polygons:
        for ring in polygon:
            positions += _check_ring(ring)
    if positions > MAX_POSITIONS:
        raise Invalid(f"te veel punten (meer dan {MAX_POSITIONS})")
    return {"type": kind, "coordinates": coordinates}


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False


def _check_ring(ring: object) -> int:
    if not isinstance(ring, list) or len(ring) < 4:
        raise Invalid("een ring heeft minstens 4 punten nodig (het laatste gelijk aan het eerste)")
    for position in ring:
        if (not isinstance(position, list) or len(position) not in (2, 3)
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and _finite(c)
                           for c in position)):
            raise Invalid("elk punt moet [lon, lat] zijn, twee getallen")
        if not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90):
            raise Invalid(f"punt {position[:2]} is geen lon/lat; GeoJSON gebruikt WGS84-graden (lon, lat)")
    if ring[0][:2] != ring[-1][:2]:
        raise Invalid("een ring is niet gesloten: het laatste punt moet gelijk zijn aan het eerste")
    return len(ring)
