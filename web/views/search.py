"""Residents: search initiatives near an address, postcode or point (`/`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import current_app, render_template, request, url_for

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
RESULTS = 25  # the list and the map show the nearest 25; the count says how many there are
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
        return search


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
    args += [("kind", k) for k in search.kinds] + [("theme", t) for t in search.themes]
    return url_for("api.nearby") + "?" + urlencode(args)


def search_map(point: dict | None, search: Search, buurt: dict | None):
    settings = current_app.extensions["geoservice.settings"]
    if point is None:
        m = maps.new_map(settings)
    else:
        m = maps.new_map(settings, center=(point["lat"], point["lon"]), zoom=14)
        if buurt is not None:
            maps.add_layer(m, f"Jouw buurt: {buurt['naam']}", url_for("api.area_details", code=buurt["code"]),
                           "area")
        maps.add_layer(m, "Initiatieven", nearby_api_url(point, search), "initiatives", cluster=True, fit=True)
        maps.add_searched_point(m, point["lat"], point["lon"], point["label"])
        maps.add_layer_control(m)
    maps.add_point_picker(m, "search-form")
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
                kinds=tuple(search.kinds), themes=tuple(search.themes))
            jaar = queries.active_year(session)
            found = queries.lookup_point(session, LonLat(lon=point["lon"], lat=point["lat"]), jaar) if jaar else {}
            area = found.get("buurt")
            if area is not None:
                buurt = {"code": area.code, "naam": area.naam}
                partners = partner_queries.partners_covering(session, "buurt", jaar, area.code, min_share=MIN_SHARE)
        except GeoserviceError as exc:
            # a person gets the search page back with the reason, never a bare error page
            status, error, point = exc.status, exc.description, None
    return render_template(
        "search.html", search=search, point=point, results=results, matched=matched, buurt=buurt,
        partners=partners, error=error, radii=RADII, kinds=INITIATIVE_KINDS, themes=THEMES,
        map=search_map(point, search, buurt), assets=maps.asset_urls(), map_config=maps.map_config(),
    ), status
