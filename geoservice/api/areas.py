"""Area endpoints: which areas contain a point; one area with its figures; the partners serving it."""

from flask import jsonify, request

from .. import queries
from ..db import get_session
from ..errors import NotFound, ServiceUnavailable
from ..params import looks_swapped_in_nl, parse_cbs_code, parse_point, parse_share
from ..queries import initiatives as initiative_queries
from ..queries import partners as partner_queries
from ..vocab import INITIATIVE_KINDS, THEMES
from . import api
from .geojson import GEOJSON, feature, respond

MIN_SHARE_DEFAULT = 0.01  # below 1 % a partner touches an area rather than serves it
AREA_FIELDS = ("code", "naam", "jaar", "water", "aantal_inwoners", "aantal_huishoudens", "pct_0_15",
               "pct_65plus", "bevolkingsdichtheid", "oppervlakte_land_ha", "kerncijfers")


def _area_json(area) -> dict | None:
    if area is None:
        return None
    return {"code": area.code, "naam": area.naam, "aantal_inwoners": area.aantal_inwoners}


def _active_year(session) -> int:
    jaar = queries.active_year(session)
    if jaar is None:
        raise ServiceUnavailable("Er is nog geen CBS-kaart geladen (geoservice load-cbs).")
    return jaar


@api.get("/areas/lookup")
def lookup():
    point = parse_point(request.args.get("lat"), request.args.get("lon"))
    session = get_session()
    jaar = queries.active_year(session)
    if jaar is None:
        raise ServiceUnavailable("Er is nog geen CBS-kaart geladen (geoservice load-cbs).")
    found = queries.lookup_point(session, point, jaar)
    if not any(found.values()):
        hint = " Zijn lat en lon omgewisseld?" if looks_swapped_in_nl(point) else ""
        raise NotFound(f"Het punt (lat {point.lat}, lon {point.lon}) ligt in geen enkel geladen gebied.{hint}")
    return jsonify({
        "jaar": jaar,
        "point": {"lat": point.lat, "lon": point.lon},
        **{level: _area_json(area) for level, area in found.items()},
    })


def _area_or_404(session, raw_code: str):
    """(level, jaar, area row) of a code in the active year."""
    code = parse_cbs_code(raw_code)
    jaar = _active_year(session)
    area = queries.areas.get_area(session, code.level, jaar, code.code)
    if area is None:
        raise NotFound(f"Er is geen {code.level} met code {code.code} in de CBS-kaart {jaar}.")
    return code.level, jaar, area


def _counts(session, level: str, code: str, jaar: int) -> dict:
    found = initiative_queries.counts_in_area(session, level, code)
    partners = partner_queries.partners_covering(session, level, jaar, code, min_share=MIN_SHARE_DEFAULT)
    return {
        "initiatives": found["total"],
        # every vocabulary key, zero included, so clients need not know which are missing
        "initiatives_by_kind": {k: found["by_kind"].get(k, 0) for k in INITIATIVE_KINDS},
        "initiatives_by_theme": {k: found["by_theme"].get(k, 0) for k in THEMES},
        "partners": len(partners),
    }


@api.get("/areas/<code>")
def area_details(code: str):
    session = get_session()
    level, jaar, area = _area_or_404(session, code)
    props = {"level": level, **{name: area[name] for name in AREA_FIELDS},
             # parents: none for a gemeente, the gemeente for a wijk, both for a buurt
             "gemeentecode": area.get("gemeentecode"), "wijkcode": area.get("wijkcode"),
             "counts": _counts(session, level, area["code"], jaar)}
    return respond(feature(area["code"], area["geometry"], props), GEOJSON)


@api.get("/areas/<code>/partners")
def area_partners(code: str):
    min_share = parse_share("min_share", request.args.get("min_share"), default=MIN_SHARE_DEFAULT)
    session = get_session()
    level, jaar, area = _area_or_404(session, code)
    partners = partner_queries.partners_covering(session, level, jaar, area["code"], min_share=min_share)
    return respond({
        "area": {"code": area["code"], "naam": area["naam"], "level": level, "jaar": jaar},
        "min_share": min_share,
        "partners": partners,
        "numberReturned": len(partners),
    })
