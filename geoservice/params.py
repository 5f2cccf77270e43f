"""Small pure parsers for request parameters; they raise InvalidParameter with a Dutch message."""

from __future__ import annotations

import math
import re
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


# --- registry API parameters -------------------------------------------------------------

MAX_DB_ID = 2**31 - 1  # ids are PostgreSQL integers; larger numbers can never match


def split_list(values: list[str] | tuple[str, ...] | None) -> list[str]:
    """Items of a repeatable parameter whose values may also be ';'- or ','-separated."""
    return [part.strip() for value in values or () for part in re.split(r"[;,]", value) if part.strip()]


def parse_terms_param(name: str, values, vocabulary: dict[str, str], what: str) -> list[str]:
    """Sorted vocabulary keys from keys or Dutch labels; InvalidParameter for an unknown term."""
    from .vocab import parse_term

    keys = set()
    for item in split_list(values):
        try:
            keys.add(parse_term(vocabulary, item, what))
        except ValueError as exc:
            raise InvalidParameter(f"Parameter '{name}': {exc}.") from None
    return sorted(keys)


def parse_code_of_level(name: str, raw: str | None, level: str) -> str | None:
    """A CBS code of one level (gemeente, wijk or buurt), upper-cased; None when absent."""
    if raw is None or raw.strip() == "":
        return None
    code = parse_cbs_code(raw, name)
    if code.level != level:
        raise InvalidParameter(f"Parameter '{name}' verwacht een {level}code, niet '{code.code}'.")
    return code.code


def parse_text(name: str, raw: str | None, *, max_length: int = 200) -> str | None:
    """Free text, stripped; None when absent or blank."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if len(text) > max_length:
        raise InvalidParameter(f"Parameter '{name}' is te lang (meer dan {max_length} tekens).")
    if "\x00" in text:
        raise InvalidParameter(f"Parameter '{name}' bevat een ongeldig teken.")
    return text


def parse_share(name: str, raw: str | None, *, default: float) -> float:
    """A fraction between 0 and 1."""
    if raw is None or raw.strip() == "":
        return default
    value = parse_float(name, raw)
    if not 0 <= value <= 1:
        raise InvalidParameter(f"Parameter '{name}' moet tussen 0 en 1 liggen, niet {value}.")
    return value


def parse_choice(name: str, raw: str | None, choices: tuple[str, ...], *, default: str) -> str:
    """One of a few fixed values (case ignored)."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise InvalidParameter(f"Parameter '{name}' moet een van {', '.join(choices)} zijn, niet '{raw[:20]}'.")
    return value
