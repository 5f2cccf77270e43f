"""Partners: planning page with service areas, white spots within reach and outreach regions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from flask import current_app, render_template, request, url_for

from geoservice.partners import support
from geoservice.analysis.examples import example_figures
from geoservice.analysis.gaps import GapParams, SummaryCache
from geoservice.analysis.need import DEFAULT_NEED
from geoservice.analysis.outreach import CLUSTER_M, REACH_M, outreach_regions, parse_flag
from geoservice.db import get_session
from geoservice.errors import InvalidParameter, NotFound
from geoservice.params import parse_int
from geoservice.queries import areas as area_queries
from geoservice.queries import partners as partner_queries

from .. import maps, pages, priority
from .initiative import contact

DEFINITIONS = {"codes": "CBS-gebieden", "radius": "Cirkel rond een punt", "geojson": "Eigen vorm"}
# As the search page and /api/v1/areas/<code>/partners: below 1 % a service area touches a unit (often only
# where generalised wijk borders overlap full-resolution ones) rather than lies over it.
MIN_SHARE = 0.01
SHOWN_CODES = 6  # a service area made of many CBS codes lists the first few


@dataclass(frozen=True)
class Planning:
    """The form: how far the partner looks, how near white spots must be to form one region."""

    reach_m: int = REACH_M["default"]
    cluster_m: int = CLUSTER_M["default"]
    include_no_support: bool = False
    need: tuple = DEFAULT_NEED  # (indicator, weight) pairs: the regions are ranked by priority

    @classmethod
    def from_args(cls, args) -> Planning:
        return cls(reach_m=parse_int("reach_m", args.get("reach_m"), **REACH_M),
                   cluster_m=parse_int("cluster_m", args.get("cluster_m"), **CLUSTER_M),
                   include_no_support=parse_flag("include_no_support", args.get("include_no_support")),
                   need=priority.parse_page_need(args))

    def outreach_url(self, partner_id: int, **extra) -> str:
        """/api/v1/outreach with these settings: the map, the table and the downloads use the same."""
        args = {"partner": partner_id, "reach_m": self.reach_m, "cluster_m": self.cluster_m,
                "include_no_support": "true" if self.include_no_support else "false",
                **priority.need_arg(self.need), **extra}
        return url_for("api.outreach") + "?" + urlencode(args)


def service_area_rows(session, partner_id: int) -> list[dict]:
    """name, kind of definition (Dutch), what it was built from, area in km²; no geometry."""
    rows = []
    for area in partner_queries.service_areas(session, partner_id):
        definition, kind = area["definition"] or {}, area["definition_type"]
        detail = ""
        if kind == "codes":
            codes = definition.get("codes") or []
            detail = ", ".join(codes[:SHOWN_CODES]) + (f" en {len(codes) - SHOWN_CODES} meer"
                                                       if len(codes) > SHOWN_CODES else "")
        elif kind == "radius" and definition.get("radius_m") is not None:
            detail = f"straal {definition['radius_m']} m"
        rows.append({"name": area["name"], "type": DEFINITIONS.get(kind, kind), "detail": detail,
                     "km2": area["area_m2"] / 1e6})
    return rows


def white_spots(session, partner_id: int, regions: list[dict]) -> list[dict]:
    """Every unit of the regions with its region's rank and where it lies relative to the service areas."""
    units = [{**u, "region": r["rank"]} for r in regions for u in r["units"]]
    jaar = area_queries.active_year(session)
    where = area_queries.units_and_partner_areas(session, partner_id, jaar, [(u["code"], u["level"]) for u in units])
    for unit in units:
        found = where.get(unit["code"], {})
        unit["share"], unit["distance_m"] = found.get("share"), found.get("distance_m")
        unit["inside"] = (unit["share"] or 0) >= MIN_SHARE
    return sorted(units, key=lambda u: (-(u["aantal_inwoners"] or 0), u["code"]))


# A partner's regions and the white spots in them, per database and data version (as the regions themselves):
# a repeat of the page does no spatial work.
PLANS = SummaryCache(size=64)


def _plan(session, partner_id: int, planning: Planning) -> list:
    regions = outreach_regions(session.connection(), partner=partner_id, reach_m=planning.reach_m,
                               cluster_m=planning.cluster_m, include_no_support=planning.include_no_support,
                               params=GapParams(need=planning.need), with_geometry=False)
    return [regions, white_spots(session, partner_id, regions)]


def partner_map(partner: dict, planning: Planning | None):
    """Its service areas (the view fits to them) and, when the form is valid, the outreach regions."""
    m = maps.new_map(current_app.extensions["geoservice.settings"])
    maps.add_layer(m, "Werkgebieden", url_for("api.partner_service_areas", partner_id=partner["id"]),
                   "service_areas", fit=True)
    if planning is not None:
        maps.add_layer(m, "Regio's om te groeien", planning.outreach_url(partner["id"]), "regions")
    maps.add_layer_control(m)
    return maps.render(m)


@pages.get("/partner/<int:partner_id>")
def partner(partner_id: int):
    session = get_session()
    found = partner_queries.get_partner(session, partner_id)
    if found is None:
        raise NotFound(f"Er is geen partner met nummer {partner_id}.")
    status, error, regions, spots = 200, None, [], []
    has_areas = bool(found["service_areas"])
    try:
        planning = Planning.from_args(request.args)
    except InvalidParameter as exc:
        # the page comes back with the form and the reason, without regions
        planning, status, error = None, exc.status, exc.description
    if has_areas and planning is not None:
        regions, spots = PLANS.get(session, (partner_id, planning), lambda: _plan(session, partner_id, planning))
    # the form shows what was asked, also when it was refused, so it can be corrected
    form = asdict(planning) if planning else {
        "reach_m": request.args.get("reach_m", ""), "cluster_m": request.args.get("cluster_m", ""),
        "include_no_support": (request.args.get("include_no_support") or "").lower() in ("true", "1", "ja")}
    downloads = None
    if planning is not None and has_areas:
        downloads = {"geojson": planning.outreach_url(partner_id),
                     "csv": planning.outreach_url(partner_id, format="csv"),
                     "xlsx": planning.outreach_url(partner_id, format="xlsx")}
    return render_template(
        "partner.html", partner=found, contact=contact(found), has_areas=has_areas,
        areas=service_area_rows(session, partner_id) if has_areas else [], planning=planning, form=form,
        error=error, regions=regions, spots=spots, reach=REACH_M, cluster=CLUSTER_M, downloads=downloads,
        demand=support.demand(session, partner_id) if has_areas else [], demand_days=support.DEMAND_DAYS,
        map=partner_map(found, planning) if has_areas else None, assets=maps.asset_urls(),
        demo=example_figures(session), weights=priority.WEIGHTS,
        need_fields=priority.need_fields(planning.need if planning else DEFAULT_NEED),
        map_config=maps.map_config(),
    ), status
