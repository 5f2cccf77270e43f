"""Outreach regions: white-spot units (optionally also no_support) near each other, grouped and ranked."""

from __future__ import annotations

import json

from sqlalchemy import Connection

from ..errors import InvalidParameter, NotFound
from ..params import parse_choice, parse_code_of_level
from ..queries import outreach as queries
from . import examples, gaps
from .gaps import GapParams, gap_units

CLUSTER_M = {"default": 500, "minimum": 0, "maximum": 10_000}
REACH_M = {"default": 10_000, "minimum": 0, "maximum": 100_000}
UNIT_FIELDS = ("code", "naam", "level", "gemeentecode", "aantal_inwoners", "status", "area_m2", "need",
               "need_source", "need_reasons", "priority")


def _check_range(name: str, value, spec: dict) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not spec["minimum"] <= value <= spec["maximum"]:
        raise InvalidParameter(f"Parameter '{name}' moet een geheel getal tussen {spec['minimum']} en "
                               f"{spec['maximum']} zijn, niet {value!r}.")


def selected_statuses(include_no_support: bool) -> tuple[str, ...]:
    return ("white_spot", "no_support") if include_no_support else ("white_spot",)


def _one_of(partner: int | None, gemeente: str | None) -> str | None:
    """The upper-cased gemeente code; InvalidParameter unless exactly one of partner and gemeente is given."""
    code = parse_code_of_level("gemeente", gemeente, "gemeente") if isinstance(gemeente, str) else gemeente
    if (partner is None) == (code is None):
        raise InvalidParameter("Geef een partner of een gemeente op: precies één van de twee.",
                               code="MissingParameterValue" if partner is None else None)
    return code


def _candidate_units(conn: Connection, partner: int | None, gemeente: str | None, reach_m: int,
                     params: GapParams) -> list[dict]:
    """The gap units regions are made of: a gemeente's, or those within reach_m of a partner's service areas."""
    if partner is None:
        return gap_units(conn, params, gemeente=gemeente)  # refuses an unknown gemeente itself (404)
    found = queries.partner_with_area_count(conn, partner)
    if found is None:
        raise NotFound(f"Er is geen partner met id {partner}.")
    if found["n_service_areas"] == 0:
        raise InvalidParameter(
            f"Partner {partner} ({found['name']}) heeft nog geen werkgebied, dus er is niets om vanuit te "
            f"groeien. Voeg eerst een werkgebied toe (geoservice import partners), of vraag de regio's van "
            f"een gemeente op.", code="NoServiceArea")
    return gap_units(conn, params, near_partner=partner, reach_m=reach_m)


def outreach_regions(conn: Connection, *, partner: int | None = None, gemeente: str | None = None,
                     cluster_m: int = CLUSTER_M["default"], reach_m: int = REACH_M["default"],
                     include_no_support: bool = False, params: GapParams = GapParams(),
                     with_geometry: bool = True) -> list[dict]:
    """Regions ranked by priority: rank, units, n_units, aantal_inwoners, priority, area_m2 (m²), geometry (WGS84).

    Exactly one of partner (id) and gemeente (GM code). The units are those gap_units calls
    white_spot (and no_support when asked); units within cluster_m metres of each other, directly
    or through a chain of such units, form one region. A region's priority is the sum of its units' priority
    (analysis.need; no_support units have none); ties by inhabitants. Units in a region: highest priority first,
    then most inhabitants.
    """
    gemeente = _one_of(partner, gemeente)
    _check_range("cluster_m", cluster_m, CLUSTER_M)
    _check_range("reach_m", reach_m, REACH_M)
    # Once per data version: a partner's page and its map layer (GeoJSON) ask the same regions one after the
    # other. Always made with their outlines, which the page leaves out.
    key = (partner, gemeente, cluster_m, reach_m if partner is not None else None, include_no_support, params)
    regions = REGIONS.get(conn, key, lambda: _regions(conn, partner, gemeente, cluster_m, reach_m,
                                                      include_no_support, params))
    if not with_geometry:
        for region in regions:
            region["geometry"] = None
    return regions


REGIONS = gaps.SummaryCache(size=64)  # per database, data version and question, in this process


def _regions(conn: Connection, partner: int | None, gemeente: str | None, cluster_m: int, reach_m: int,
             include_no_support: bool, params: GapParams) -> list[dict]:
    wanted = selected_statuses(include_no_support)
    units = [u for u in _candidate_units(conn, partner, gemeente, reach_m, params) if u["status"] in wanted]
    by_code = {u["code"]: u for u in units}
    regions = queries.cluster_regions(conn, [(u["code"], u["level"]) for u in units], cluster_m=cluster_m,
                                      with_geometry=True, priorities=[u["priority"] for u in units])
    for region in regions:
        members = sorted((by_code[code] for code in region.pop("codes")),
                         key=lambda u: (-(u["priority"] or 0), -(u["aantal_inwoners"] or 0), u["code"]))
        region["units"] = [{name: u[name] for name in UNIT_FIELDS} for u in members]
    return regions


def outreach_collection(conn: Connection, *, partner: int | None = None, gemeente: str | None = None,
                        cluster_m: int = CLUSTER_M["default"], reach_m: int = REACH_M["default"],
                        include_no_support: bool = False, params: GapParams = GapParams()) -> dict:
    """The regions as a GeoJSON FeatureCollection (id = rank) with a `parameters` member echoing what was used."""
    gemeente = _one_of(partner, gemeente)
    regions = outreach_regions(conn, partner=partner, gemeente=gemeente, cluster_m=cluster_m, reach_m=reach_m,
                               include_no_support=include_no_support, params=params)
    used = {
        **gaps.parameters(params, gaps.require_year(conn)),
        "partner": partner, "gemeente": gemeente, "cluster_m": cluster_m,
        "reach_m": reach_m if partner is not None else None,  # a gemeente's regions do not use it
        "include_no_support": include_no_support, "statuses": list(selected_statuses(include_no_support)),
    }
    features = [{
        "type": "Feature", "id": region["rank"],
        "geometry": json.loads(region["geometry"]),
        "properties": {"rank": region["rank"], "n_units": region["n_units"],
                       "aantal_inwoners": region["aantal_inwoners"], "priority": region["priority"],
                       "area_m2": round(region["area_m2"], 1),
                       "units": region["units"]},
    } for region in regions]
    return {"type": "FeatureCollection", "parameters": used, "numberReturned": len(features),
            "demo": examples.example_figures(conn), "features": features}


# --- for request handlers and CSV -----------------------------------------------------------------

FLAGS = {"true": True, "1": True, "ja": True, "false": False, "0": False, "nee": False}
REGION_CSV_COLUMNS = ("rank", "priority", "n_units", "aantal_inwoners", "area_m2", "unit_codes", "unit_names",
                      "unit_statuses", "unit_needs", "gemeentecodes", "demo_data")


def parse_flag(name: str, raw: str | None) -> bool:
    """A yes/no request value: true/false, 1/0 or ja/nee; absent or empty is false."""
    return FLAGS[parse_choice(name, raw, tuple(FLAGS), default="false")]


def region_rows(regions: list[dict], demo_data: bool = False) -> list[dict]:
    """One flat row per region (REGION_CSV_COLUMNS): its units' codes, names and statuses as lists in the same
    order (highest priority first), the gemeenten they lie in, and the area in m² to 0.1 m²."""
    rows = []
    for region in regions:
        units = region["units"]
        rows.append({
            "rank": region["rank"], "priority": region["priority"], "n_units": region["n_units"],
            "aantal_inwoners": region["aantal_inwoners"],
            "area_m2": round(region["area_m2"], 1),
            "unit_codes": [u["code"] for u in units], "unit_names": [u["naam"] or "" for u in units],
            "unit_statuses": [u["status"] for u in units],
            "unit_needs": ["" if u["need"] is None else u["need"] for u in units],
            "gemeentecodes": list(dict.fromkeys(u["gemeentecode"] for u in units)), "demo_data": demo_data,
        })
    return rows
