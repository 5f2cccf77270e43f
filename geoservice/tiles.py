"""Vector tiles: GET /tiles/{layer}/{z}/{x}/{y}.mvt (Web Mercator, Mapbox Vector Tile 2.1).

Layers: gemeenten, wijken and buurten of the active CBS year (code, naam, aantal_inwoners; wijken and
buurten also the key gap figures with the default parameters of the gap analysis: `status`,
`n_initiatives`, `n_nearby`, `coverage`, `need`, `priority`) and the published
initiatives (id, name, kind, themes). Each layer has a lowest zoom (MIN_ZOOM) below which its tile is
empty: no page draws 14,500 buurten or 100,000 points at country scale. An empty tile is a 204.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from flask import Blueprint, Response, current_app, g, jsonify

from .analysis import gaps as analysis
from .analysis import need as need_analysis
from .db import read_connection
from .errors import GeoserviceError, InvalidParameter, NotFound
from .queries import gaps as gap_queries
from .queries.areas import active_year
from .queries import tiles as queries
from .serving.tile_cache import for_app as tile_cache_of

tiles = Blueprint("tiles", __name__, url_prefix="/tiles")

MVT_TYPE = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22
# Lowest zoom with content. z 8 shows a province (about 100 km); z 10 a municipality (about 25 km).
MIN_ZOOM = {"gemeenten": 0, "wijken": 8, "buurten": 10, "initiatives": 8}
LAYERS = tuple(MIN_ZOOM)
WITH_STATUS = ("wijken", "buurten")
LAYER_LEVEL = {"wijken": "wijk", "buurten": "buurt"}
# Tiles whose prepared statement keeps its generic plan (db.read_connection): an initiative tile is the same
# index scan wherever it is. Not the areas: their generic plan cost 2.5× the CPU (bench/peer.py --peer tipg).
GENERIC_PLANS = ("initiatives",)
# Tiles wholly outside this box (west, south, east, north in degrees) are empty without asking the database.
NL_LONLAT = (2.5, 50.0, 7.8, 54.0)
DEFAULT_GAPS = analysis.GapParams(walk_m=analysis.WALK_M["default"], min_inwoners=analysis.MIN_INWONERS["default"])


def parse_tile(layer: str, z: int, x: int, y: int) -> None:
    """NotFound for an unknown layer, InvalidParameter for a zoom or tile number out of range."""
    if layer not in LAYERS:
        raise NotFound(f"Er is geen tegellaag '{layer[:40]}'; kies uit: {', '.join(LAYERS)}.")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidParameter(f"Zoomniveau {z} bestaat niet: kies 0 tot en met {MAX_ZOOM}.")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidParameter(f"Tegel {x}/{y} bestaat niet op zoomniveau {z}: x en y lopen van 0 tot {2**z - 1}.")


def tile_lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north of a tile in degrees (the slippy-map tile scheme)."""
    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / 2**z))))

    return x / 2**z * 360 - 180, lat(y + 1), (x + 1) / 2**z * 360 - 180, lat(y)


def tile_at(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The tile (x, y) holding a WGS84 point at zoom z (the slippy-map tile scheme): tile_lonlat_bounds' inverse."""
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def _near_the_netherlands(z: int, x: int, y: int) -> bool:
    west, south, east, north = tile_lonlat_bounds(z, x, y)
    nl_west, nl_south, nl_east, nl_north = NL_LONLAT
    return west < nl_east and east > nl_west and south < nl_north and north > nl_south


def gap_figures(conn, layer: str, z: int, x: int, y: int, jaar: int) -> dict[str, dict]:
    """The key gap figures (default parameters) of every unit of the layer in the tile, by code:
    status, n_initiatives, n_nearby, coverage (0..1, 3 decimals), need and priority (analysis.need).

    Computed per tile rather than by the national analysis: counts and coverage come from the tables
    the analysis keeps on write when those are up to date, else they are computed here for these units.
    """
    params = DEFAULT_GAPS
    fresh = gap_queries.kept_fresh(conn)
    rows = queries.area_figures(
        conn, layer, z, x, y, jaar=jaar, walk_m=params.walk_m, stored_coverage=fresh.coverage,
        stored_counts=fresh.counts and gap_queries.counts_are_stored_for(params.walk_m, params.kinds, params.themes),
        share_decimals=gap_queries.SHARE_DECIMALS)
    units = [{
        "code": row["code"], "level": LAYER_LEVEL[layer], "aantal_inwoners": row["aantal_inwoners"],
        "status": analysis.status_of(row["aantal_inwoners"], row["n_nearby"], float(row["coverage"]),
                                     params.min_inwoners),
        "n_initiatives": row["n_initiatives"], "n_nearby": row["n_nearby"],
        "coverage": _share(row["coverage"])} for row in rows]
    # need and priority with every indicator at weight 1: the scores are kept per data version, so this is cheap
    need_analysis.add_need(conn, jaar, units, params.need)
    return {unit["code"]: unit for unit in units}


def _share(value) -> float:
    """A coverage clamped to 0..1 and rounded half up to 3 decimals (as PostgreSQL rounds a numeric)."""
    clamped = min(max(Decimal(str(value)), Decimal(0)), Decimal(1))
    return float(clamped.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def render_tile(conn, layer: str, z: int, x: int, y: int, *, tolerance: float | None = None) -> bytes:
    """The MVT bytes of one tile (b"" when nothing is there); tolerance: simplification in Web Mercator metres."""
    parse_tile(layer, z, x, y)
    if z < MIN_ZOOM[layer] or not _near_the_netherlands(z, x, y):
        return b""
    if layer == "initiatives":
        return queries.initiative_tile(conn, z, x, y)
    tolerance = queries.tolerance_m(z) if tolerance is None else tolerance
    if layer in WITH_STATUS:
        # One round trip when the figures kept on write (coverage, counts, need) are fresh, as after every write
        # through the service; else they are computed for this tile's units (need, a rank over the whole level,
        # by analysis.need in Python) and handed to the tile's statement.
        jaar, fresh, data = queries.area_tile_stored(conn, layer, z, x, y, tolerance=tolerance,
                                                     min_inwoners=DEFAULT_GAPS.min_inwoners, covered=analysis.COVERED)
        if fresh or jaar is None:
            return data
        figures = gap_figures(conn, layer, z, x, y, jaar)
    else:
        jaar, figures = active_year(conn), None
        if jaar is None:
            return b""
    return queries.area_tile(conn, layer, z, x, y, jaar=jaar, figures=figures, tolerance=tolerance)


def _tile_number(name: str, raw: str) -> int:
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 12:
        raise InvalidParameter(f"'{raw[:20]}' is geen geheel getal ({name} van de tegel).")
    return int(raw)


@tiles.errorhandler(GeoserviceError)
def tile_error(exc: GeoserviceError):
    """The JSON error shape, as under /api (tiles are read by programs, not people)."""
    return jsonify(exc.to_dict()), exc.status, getattr(exc, "headers", None) or {}


@tiles.get("/<layer>/<z>/<x>/<y>.mvt")
def tile(layer: str, z: str, x: str, y: str):
    if layer not in LAYERS:  # before the numbers: an unknown layer is a 404 whatever follows
        parse_tile(layer, 0, 0, 0)
    numbers = _tile_number("z", z), _tile_number("x", x), _tile_number("y", y)
    cache, version = tile_cache_of(current_app), g.get("data_version")  # no version: not an anonymous read
    key = (version, layer, *numbers) if cache is not None and version else None
    data = cache.get(key) if key else None
    if data is None:
        data = render_tile(read_connection(generic_plans=layer in GENERIC_PLANS), layer, *numbers)
        if key:
            cache.put(key, data)
    if not data:
        return Response(status=204, mimetype=MVT_TYPE)
    return Response(data, mimetype=MVT_TYPE)
