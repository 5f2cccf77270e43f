"""Small pure parsers for request parameters; they raise InvalidParameter with a Dutch message."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .cbs.codes import CbsCode, parse_code
from .errors import InvalidParameter


@dataclass(frozen=True)
class LonLat:
    lon: float
    lat: float


def parse_float(name: str, raw: str | None) -> float:
    if raw is None or raw.strip() == "":
        raise InvalidParameter(f"Parameter '{name}' ontbreekt.", code="MissingParameterValue")
    try:
        value = float(raw.strip().replace(",", "."))
    except ValueError:
        raise InvalidParameter(f"Parameter '{name}' moet een getal zijn, niet '{raw[:40]}'.") from None
    if not math.isfinite(value):
        raise InvalidParameter(f"Parameter '{name}' moet een eindig getal zijn.")
    return value


def parse_point(lat_raw: str | None, lon_raw: str | None) -> LonLat:
    """A WGS84 point from lat/lon strings."""
    lat = parse_float("lat", lat_raw)
    lon = parse_float("lon", lon_raw)
    if not -90 <= lat <= 90:
        raise InvalidParameter(f"lat moet tussen -90 en 90 liggen, niet {lat}.")
    if not -180 <= lon <= 180:
        raise InvalidParameter(f"lon moet tussen -180 en 180 liggen, niet {lon}.")
    return LonLat(lon=lon, lat=lat)


def looks_swapped_in_nl(point: LonLat) -> bool:
    """lat/lon that would lie in the Netherlands the other way round."""
    return 3.0 <= point.lat <= 7.6 and 50.5 <= point.lon <= 53.8


def parse_cbs_code(raw: str | None, name: str = "code") -> CbsCode:
    code = parse_code(raw)
    if code is None:
        raise InvalidParameter(
            f"'{(raw or '')[:40]}' is geen CBS-code; verwacht bijvoorbeeld GM0344, WK034401 of BU03440101."
        )
    return code


@dataclass(frozen=True)
class BBox:
    """A WGS84 (CRS84) box: min lon, min lat, max lon, max lat."""

    minx: float
    miny: float
    maxx: float
    maxy: float


def parse_bbox(raw: str | None) -> BBox | None:
    """'minlon,minlat,maxlon,maxlat' in WGS84, or None when absent."""
    if raw is None or raw.strip() == "":
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        raise InvalidParameter("bbox moet vier getallen zijn: minlon,minlat,maxlon,maxlat.")
    minx, miny, maxx, maxy = (parse_float("bbox", p) for p in parts)
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise InvalidParameter("bbox ligt buiten de wereld: lon tussen -180 en 180, lat tussen -90 en 90.")
    if minx > maxx or miny > maxy:
        raise InvalidParameter("bbox in de verkeerde volgorde: eerst minlon,minlat, dan maxlon,maxlat.")
    return BBox(minx, miny, maxx, maxy)


def parse_int(name: str, raw: str | None, *, default: int, minimum: int, maximum: int) -> int:
    """An integer parameter with a default and an inclusive range."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidParameter(f"Parameter '{name}' moet een geheel getal zijn, niet '{raw[:40]}'.") from None
    if not minimum <= value <= maximum:
        raise InvalidParameter(f"Parameter '{name}' moet tussen {minimum} en {maximum} liggen, niet {value}.")
    return value
