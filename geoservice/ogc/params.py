"""Small pure parsers for the OGC API query parameters and feature ids."""

from __future__ import annotations

import datetime as dt
import re

from ..errors import InvalidParameter, NotFound
from ..params import BBox, parse_bbox, parse_float, parse_int

LIMIT_DEFAULT = 10
LIMIT_MAX = 1000
# Beyond this an offset is surely a mistake, and it keeps the value inside PostgreSQL's bigint.
OFFSET_MAX = 1_000_000_000
FORMATS = ("json",)
PG_INT_MAX = 2**31 - 1
_CODE = re.compile(r"[A-Za-z0-9]{1,10}")
_INT = re.compile(r"[0-9]{1,10}")


def parse_ogc_bbox(raw: str | None) -> BBox | None:
    """bbox with 4 numbers, or 6 (minlon,minlat,minz,maxlon,maxlat,maxz) as OGC API Features Core allows."""
    if raw is not None and raw.count(",") == 5:
        minx, miny, minz, maxx, maxy, maxz = raw.split(",")
        # The data is flat: heights are checked to be numbers, then play no part.
        for height in (minz, maxz):
            parse_float("bbox", height)
        raw = ",".join((minx, miny, maxx, maxy))
    return parse_bbox(raw)


def parse_limit(raw: str | None) -> int:
    """1 or more; a value above LIMIT_MAX is clamped to it (OGC API Features, /req/core/fc-limit-response-1)."""
    value = parse_int("limit", raw, default=LIMIT_DEFAULT, minimum=1, maximum=2**63 - 1)
    return min(value, LIMIT_MAX)


def parse_offset(raw: str | None) -> int:
    return parse_int("offset", raw, default=0, minimum=0, maximum=OFFSET_MAX)


def parse_format(raw: str | None) -> str:
    """The f parameter: only JSON (GeoJSON for features) is offered."""
    if raw is None or raw.strip() == "":
        return "json"
    if raw.strip().lower() not in FORMATS:
        raise InvalidParameter(f"Formaat f='{raw[:40]}' wordt niet ondersteund; gebruik f=json.")
    return "json"


def parse_feature_id(raw: str, id_type: str) -> int | str:
    """A CBS code or a database id; anything else cannot exist, so it is 'not found' (404), not 400."""
    if id_type == "integer":
        if _INT.fullmatch(raw) and 0 < int(raw) <= PG_INT_MAX:
            return int(raw)
    elif _CODE.fullmatch(raw):
        return raw.upper()
    raise NotFound(f"Object '{raw[:40]}' bestaat niet in deze collectie.")


CRS84_URIS = {
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "OGC:CRS84",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
}


def parse_crs(name: str, raw: str | None) -> None:
    """crs / bbox-crs: absent or CRS84 (the only CRS offered); anything else is refused, never misread."""
    if raw is None or raw.strip() == "":
        return
    value = raw.strip()
    if value.startswith(("<", "[")) and value.endswith((">", "]")):
        value = value[1:-1]
    if value not in CRS84_URIS:
        raise InvalidParameter(
            f"{name}='{raw[:80]}' wordt niet ondersteund; alleen "
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84 (WGS84, lon/lat).")


def _instant(text: str) -> dt.datetime | dt.date:
    try:
        if "T" in text.upper():
            return dt.datetime.fromisoformat(text.upper())
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(
            f"datetime '{text[:40]}' is geen tijdstip; gebruik RFC 3339, bv. 2024-01-01T00:00:00Z, "
            "of een interval zoals 2024-01-01T00:00:00Z/..") from None


def parse_datetime(raw: str | None) -> None:
    """Validated only: no collection has a temporal dimension, so a valid value filters nothing."""
    if raw is None or raw.strip() == "":
        return
    parts = raw.strip().split("/")
    if len(parts) > 2 or all(p in ("", "..") for p in parts):
        raise InvalidParameter("datetime moet een tijdstip zijn of een interval begin/eind (met .. voor open).")
    for part in parts:
        if part not in ("", ".."):
            _instant(part)
