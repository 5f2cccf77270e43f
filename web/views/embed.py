"""`/embed/kaart`: just the map and the list, for a municipality's or partner's own website (in an iframe)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, render_template, request, url_for

from geoservice.db import get_session
from geoservice.errors import GeoserviceError, InvalidParameter, NotFound
from geoservice.params import LonLat, parse_code_of_level, parse_int
from geoservice.queries import embed as queries
from geoservice.queries import gaps as gap_queries
from geoservice.queries import initiatives as initiative_queries
from geoservice.queries import partners as partner_queries
from geoservice.queries.areas import active_year

from .. import maps, pages
from .search import RESULTS, Search, locate, nearby_api_url

LISTED = 100  # a gemeente or partner embed lists this many, by name; the map shows up to the API's maximum
MAP_LIMIT = 1000


def _partner_id(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    return parse_int("partner", raw, default=0, minimum=1, maximum=2**63 - 1)


def _gemeente_view(session, code: str) -> dict:
    jaar = active_year(session)
    naam = gap_queries.gemeente_naam(session, jaar, code) if jaar else None
    if naam is None:
        raise NotFound(f"Er is geen gemeente met code {code}.")
    m = maps.new_map(current_app.extensions["geoservice.settings"])
    maps.add_layer(m, f"Gemeente {naam}", url_for("api.area_details", code=code), "area", fit=True)
    maps.add_layer(m, "Initiatieven", url_for("api.list_initiatives", gemeente=code, limit=MAP_LIMIT),
                   "initiatives", cluster=True)
    maps.add_layer_control(m)
    return {"title": f"Initiatieven in {naam}", "items": queries.in_gemeente(session, code, limit=LISTED),
            "full_page": url_for("web.gemeente", code=code, _external=True), "map": maps.render(m)}


def _partner_view(session, partner_id: int) -> dict:
    partner = partner_queries.get_partner(session, partner_id)
    if partner is None:
        raise NotFound(f"Er is geen partner met id {partner_id}.")
    bounds = queries.partner_bounds(session, partner_id)
    m = maps.new_map(current_app.extensions["geoservice.settings"], bounds=bounds)
    maps.add_layer(m, f"Werkgebied van {partner['name']}",
                   url_for("api.partner_service_areas", partner_id=partner_id), "service_areas", fit=True)
    if bounds is not None:
        box = ",".join(f"{value:.5f}" for value in bounds)
        maps.add_layer(m, "Initiatieven", url_for("api.list_initiatives", bbox=box, limit=MAP_LIMIT),
                       "initiatives", cluster=True)
    maps.add_layer_control(m)
    return {"title": f"Initiatieven in het werkgebied van {partner['name']}",
            "items": queries.in_partner_areas(session, partner_id, limit=LISTED),
            "full_page": url_for("web.partner", partner_id=partner_id, _external=True), "map": maps.render(m)}


def _search_view(session, search: Search) -> dict:
    settings = current_app.extensions["geoservice.settings"]
    args = urlencode([(k, v) for k, v in request.args.items(multi=True) if k not in ("gemeente", "partner")])
    full_page = url_for("web.index", _external=True) + (f"?{args}" if args else "")
    if not search.submitted:
        m = maps.new_map(settings)
        return {"title": "Initiatieven bij jou in de buurt", "items": [], "full_page": full_page,
                "map": maps.render(m), "hint": "Zoek op de volledige kaart op adres of postcode."}
    point = locate(search)
    _matched, items = initiative_queries.nearby(
        session, LonLat(lon=point["lon"], lat=point["lat"]), radius_m=search.radius_m, limit=RESULTS,
        kinds=tuple(search.kinds), themes=tuple(search.themes))
    m = maps.new_map(settings, center=(point["lat"], point["lon"]), zoom=14)
    maps.add_layer(m, "Initiatieven", nearby_api_url(point, search), "initiatives", cluster=True, fit=True)
    maps.add_searched_point(m, point["lat"], point["lon"], point["label"])
    return {"title": f"Initiatieven bij {point['label']}", "items": items, "full_page": full_page,
            "map": maps.render(m)}


@pages.get("/embed/kaart")
def embed_map():
    """The map and the list of a search, a gemeente (gemeente=GM…) or a partner (partner=ID); no site menu."""
    args = request.args
    status, error = 200, None
    session = get_session()
    try:
        gemeente = parse_code_of_level("gemeente", args.get("gemeente"), "gemeente")
        partner = _partner_id(args.get("partner"))
        if gemeente and partner:
            raise InvalidParameter("Geef gemeente=GM… of partner=ID, niet allebei.")
        if gemeente:
            view = _gemeente_view(session, gemeente)
        elif partner:
            view = _partner_view(session, partner)
        else:
            view = _search_view(session, Search.from_args(args))
    except GeoserviceError as exc:
        status, error = exc.status, exc.description
        view = {"title": "Samenkaart", "items": [], "full_page": url_for("web.index", _external=True),
                "map": maps.render(maps.new_map(current_app.extensions["geoservice.settings"]))}
    return render_template("embed.html", error=error, assets=maps.asset_urls(), map_config=maps.map_config(),
                           **view), status
