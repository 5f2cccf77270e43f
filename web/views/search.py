"""Residents: search initiatives near an address, postcode or point (`/`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import current_app, redirect, render_template, request, url_for

from geoservice import queries
from geoservice.db import get_session
from geoservice.errors import GeoserviceError, InvalidParameter
from geoservice.geocode import ADDRESS_MAX, app_geocoder, looks_like_postcode, normalise_postcode
from geoservice.params import LonLat, parse_int, parse_point, parse_terms_param
from geoservice.queries import initiatives as initiative_queries
from geoservice.queries import partners as partner_queries
from geoservice.vocab import INITIATIVE_KINDS, THEMES

from .. import maps, pages

RADII = (500, 1000, 2000, 5000, 10000, 25000)
DEFAULT_RADIUS = 2000
RESULTS = 25  # one page of the list and the map; every next 25 are on the next page (?page=2, ...)
MAX_PAGE = 40  # the API's nearby offset reaches 1,000
PICK_ZOOM = 12  # a click on a map zoomed out further zooms in (at zoom 7 a pixel is ~750 m): it does not search
MIN_SHARE = 0.01  # as /api/v1/areas/<code>/partners: below 1 % a partner touches a buurt rather than serves it


@dataclass
class Search:
    """The search form as submitted: what to search from, and the filters."""

    q: str = ""
    lat: str = ""
    lon: str = ""
    kinds: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    radius_m: int = DEFAULT_RADIUS
    page: int = 1

    @property
    def submitted(self) -> bool:
        return bool(self.q or self.lat or self.lon)

    @classmethod
    def from_args(cls, args) -> "Search":
        """The form values; unknown kinds/themes or a bad radius raise InvalidParameter (shown in the page)."""
        search = cls(q=(args.get("q") or "").strip()[:ADDRESS_MAX + 1], lat=(args.get("lat") or "").strip(),
                     lon=(args.get("lon") or "").strip())
        search.kinds = parse_terms_param("kind", args.getlist("kind"), INITIATIVE_KINDS, "soort")
        search.themes = parse_terms_param("theme", args.getlist("theme"), THEMES, "thema")
        search.radius_m = parse_int("radius_m", args.get("radius_m"), default=DEFAULT_RADIUS, minimum=100,
                                    maximum=max(RADII))
        search.page = parse_int("page", args.get("page"), default=1, minimum=1, maximum=MAX_PAGE)
        return search

    @property
    def offset(self) -> int:
        return (self.page - 1) * RESULTS

    @property
    def n_filters(self) -> int:
        """How many kind and theme boxes are ticked (the summary of the collapsed filters says so)."""
        return len(self.kinds) + len(self.themes)

    def url(self, **changes) -> str:
        """This search as a link, with changes (page=, radius_m=); page 1 is left out."""
        values = {"q": self.q, "lat": self.lat, "lon": self.lon, "radius_m": self.radius_m, "kind": self.kinds,
                  "theme": self.themes, "page": self.page, **changes}
        args = {k: v for k, v in values.items() if v not in ("", [], None) and not (k == "page" and v == 1)}
        return url_for("web.index", **args)


def locate(search: Search) -> dict:
    """lat/lon as given (map click, my location), else the geocoded postcode or address."""
    if search.lat or search.lon:
        point = parse_point(search.lat, search.lon)
        return {"lat": point.lat, "lon": point.lon, "label": "het gekozen punt op de kaart", "precision": "point"}
    geocoder = app_geocoder(current_app)
    if looks_like_postcode(search.q):
        located = geocoder.locate(postcode=normalise_postcode(search.q))
    else:
        located = geocoder.locate(address=search.q)
    return {"lat": located.lat, "lon": located.lon, "label": located.label, "precision": located.precision}


def nearby_api_url(point: dict, search: Search) -> str:
    """The API request the map loads its markers from: the same search as the list."""
    args = [("lat", point["lat"]), ("lon", point["lon"]), ("radius_m", search.radius_m), ("limit", RESULTS)]
    args += [("offset", search.offset)] if search.offset else []
    args += [("kind", k) for k in search.kinds] + [("theme", t) for t in search.themes]
    return url_for("api.nearby") + "?" + urlencode(args)


def area_name(naam: str, gemeente: str | None) -> str:
    """A buurt or wijk by name, with its gemeente where the name alone may mean another place: Zandvoort (Baarn)."""
    if not gemeente or gemeente.casefold() in naam.casefold():
        return naam
    return f"{naam} ({gemeente})"


def search_map(point: dict | None, search: Search, buurt: dict | None):
    settings = current_app.extensions["geoservice.settings"]
    if point is None:
        m = maps.new_map(settings)
    else:
        m = maps.new_map(settings, center=(point["lat"], point["lon"]), zoom=14)
        if buurt is not None:
            maps.add_layer(m, f"Jouw {buurt['level']}: {buurt['name']}",
                           url_for("api.area_details", code=buurt["code"]), "area")
        # from a postcode area's centre, distances are rounded to 100 m, in the list and in the popups
        step = 100 if point["precision"] == "postcode" else 0
        maps.add_layer(m, "Initiatieven", nearby_api_url(point, search), "initiatives", cluster=True, fit=True,
                       distanceStep=step)
        maps.add_searched_point(m, point["lat"], point["lon"], point["label"])
        maps.add_layer_control(m)
    maps.add_point_picker(m, "search-form", min_zoom=PICK_ZOOM)
    return maps.render(m)


@pages.get("/")
def index():
    status, error, point, results, matched, buurt, partners = 200, None, None, [], 0, None, []
    try:
        search = Search.from_args(request.args)
    except InvalidParameter as exc:
        search, status, error = Search(), exc.status, exc.description
    if search.submitted and error is None:
        try:
            point = locate(search)
            session = get_session()
            matched, results = initiative_queries.nearby(
                session, LonLat(lon=point["lon"], lat=point["lat"]), radius_m=search.radius_m, limit=RESULTS,
                offset=search.offset, kinds=tuple(search.kinds), themes=tuple(search.themes))
            if matched and not results:  # past the last page (fewer found since the link was made)
                return redirect(search.url(page=math.ceil(matched / RESULTS)))
            jaar = queries.active_year(session)
            found = queries.lookup_point(session, LonLat(lon=point["lon"], lat=point["lat"]), jaar) if jaar else {}
            # the buurt, or its wijk where no buurten are loaded: who supports people here?
            level = "buurt" if found.get("buurt") is not None else "wijk" if found.get("wijk") is not None else None
            if level is not None:
                area, gemeente = found[level], found.get("gemeente")
                buurt = {"code": area.code, "naam": area.naam, "level": level,
                         "name": area_name(area.naam, gemeente.naam if gemeente is not None else None)}
                partners = partner_queries.partners_covering(session, level, jaar, area.code, min_share=MIN_SHARE)
        except GeoserviceError as exc:
            # a person gets the search page back with the reason, never a bare error page
            status, error, point = exc.status, exc.description, None
    pages = math.ceil(matched / RESULTS) if matched else 0
    paging = {"pages": pages, "size": RESULTS, "first": search.offset + 1, "last": search.offset + len(results),
              "next": search.url(page=search.page + 1) if search.page < pages else None,
              "prev": search.url(page=search.page - 1) if search.page > 1 else None}
    larger = next((r for r in RADII if r > search.radius_m), None)
    return render_template(
        "search.html", search=search, point=point, results=results, matched=matched, buurt=buurt,
        partners=partners, error=error, radii=RADII, kinds=INITIATIVE_KINDS, themes=THEMES, paging=paging,
        larger_url=search.url(radius_m=larger, page=1) if larger else None, larger=larger,
        map=search_map(point, search, buurt), assets=maps.asset_urls(), map_config=maps.map_config(),
    ), status
