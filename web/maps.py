"""Folium map builders: a base map on our own copy of Leaflet, and layers the browser loads by URL.

Layers are never embedded in the page (Folium #1399: 135 MB of HTML); each is a FeatureGroup
that web/static/map.js fills from an API URL. map.js also draws every popup and tooltip with DOM
text nodes, so no user-supplied text is ever parsed as HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import unquote

import folium
from branca.element import MacroElement
from flask import url_for
from jinja2 import Template
from markupsafe import Markup, escape

from geoservice.analysis.gaps import STATUS_LABELS, STATUSES
from geoservice.config import Settings
from geoservice.vocab import INITIATIVE_KINDS, THEMES

NETHERLANDS = (52.2, 5.3)
NATIONAL_ZOOM = 7
MAX_ZOOM = 19
# the styles map.js knows for a layer; each page picks one per layer
LAYER_KINDS = ("initiatives", "units", "service_areas", "regions", "gemeenten", "area", "context")

# Gap status colours: each has at least 3:1 contrast with white (WCAG 1.4.11), and any two differ by a CIEDE2000
# colour difference of at least 15, also as people with deuteranopia, protanopia or tritanopia see them, both
# opaque (legend, table) and as the map fills them (STATUS_FILL_OPACITY over a light background); see
# tests/test_map_colours.py. The status is also always written beside the colour (legend, tooltip, table).
STATUS_COLOURS = {
    "white_spot": "#880000", "no_initiative": "#c45000", "no_support": "#662ea8",
    "ok": "#18a872", "low_population": "#6b7993", "unknown": "#343a45",
}
STATUS_FILL_OPACITY = 0.75
# Choropleths of the national overview: upper bounds of each class, light to dark.
CHOROPLETHS = {
    "white_spot_share": {
        "label": "Aandeel inwoners in witte vlekken", "bins": [0.05, 0.15, 0.30, 0.50],
        "colours": ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"], "percent": True},
    "initiatives_per_1000": {
        "label": "Initiatieven per 1.000 inwoners", "bins": [0.05, 0.1, 0.2, 0.4],
        "colours": ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"], "percent": False},
}


def _static(filename: str) -> str:
    return url_for("web.static", filename=filename)


def asset_urls(vector_tiles: bool = False) -> dict[str, list[str]]:
    """The scripts and stylesheets a map page links, all served by us (offline, CSP-friendly).

    vector_tiles adds Leaflet.VectorGrid, only for the pages that draw layers from /tiles.
    """
    vectorgrid = [_static("vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js")] if vector_tiles else []
    return {
        "css": [_static("vendor/leaflet/leaflet.css"), _static("vendor/markercluster/MarkerCluster.css"),
                _static("vendor/markercluster/MarkerCluster.Default.css")],
        "js": [_static("vendor/leaflet/leaflet.js"), *vectorgrid,
               _static("vendor/markercluster/leaflet.markercluster.js"), _static("map.js")],
    }


def tile_url(layer: str) -> str:
    """The URL template of a vector-tile layer as Leaflet fills it in: /tiles/<layer>/{z}/{x}/{y}.mvt."""
    # url_for percent-encodes the braces; they are ours (fixed text), so undo just that
    return unquote(url_for("tiles.tile", layer=layer, z="{z}", x="{x}", y="{y}"))


class UrlLayer(MacroElement):
    """Fills its parent (a FeatureGroup, or the map) from `url` when the page loads, with one of map.js's
    loaders: loadLayer (GeoJSON, or vector tiles with options.tiles) or contextTiles (background outlines)."""

    LOADERS = ("loadLayer", "contextTiles")
    _template = Template("""
        {% macro script(this, kwargs) %}
        Samenkaart.{{ this.loader }}({{ this._parent.get_name() }}, {{ this.url|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, url: str, options: dict, loader: str = "loadLayer"):
        super().__init__()
        if loader not in self.LOADERS:  # a fixed name of ours, written into the script as it is
            raise ValueError(f"unknown loader {loader!r}")
        self._name = "UrlLayer"
        self.url = url
        self.options = options
        self.loader = loader


class SearchedPoint(MacroElement):
    """The point a resident searched from, with its label as plain text."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        Samenkaart.searchedPoint({{ this._parent.get_name() }}, {{ this.lat|tojson }}, {{ this.lon|tojson }},
                                 {{ this.label|tojson }});
        {% endmacro %}
    """)

    def __init__(self, lat: float, lon: float, label: str):
        super().__init__()
        self._name = "SearchedPoint"
        self.lat, self.lon, self.label = lat, lon, label


class PickPoint(MacroElement):
    """Clicking the map fills the search form's lat/lon fields and submits it; below min_zoom it zooms in instead."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        Samenkaart.pickPoint({{ this._parent.get_name() }}, {{ this.form_id|tojson }}, {{ this.min_zoom|tojson }});
        {% endmacro %}
    """)

    def __init__(self, form_id: str, min_zoom: int = 0):
        super().__init__()
        self._name = "PickPoint"
        self.form_id = form_id
        self.min_zoom = int(min_zoom)


def legend(kind: str = "status") -> list[dict]:
    """Legend rows for the status colours: key, Dutch label, colour."""
    return [{"key": s, "label": STATUS_LABELS[s], "colour": STATUS_COLOURS[s]} for s in STATUSES]


def map_config() -> dict:
    """What map.js needs to label and colour features; embedded as JSON, never as script."""
    return {"labels": {"kinds": INITIATIVE_KINDS, "themes": THEMES, "statuses": STATUS_LABELS},
            "colours": STATUS_COLOURS, "statusOpacity": STATUS_FILL_OPACITY, "choropleth": CHOROPLETHS}


@dataclass(frozen=True)
class MapParts:
    """What a template needs to show a Folium map inside our own page layout."""

    html: Markup
    script: Markup


def new_map(settings: Settings, *, center: tuple[float, float] = NETHERLANDS, zoom: int = NATIONAL_ZOOM,
            bounds: tuple[float, float, float, float] | None = None) -> folium.Map:
    """A map with our own Leaflet build and the configured base map (none when tiles = "none").

    bounds = (min_lon, min_lat, max_lon, max_lat) fits the view to that box.
    """
    # maxZoom also without a tile layer (folium passes max_zoom only to tiles it makes itself):
    # marker clustering needs the map's maximum zoom
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=True,
                   width="100%", height="100%", max_zoom=MAX_ZOOM, maxZoom=MAX_ZOOM)
    # Folium's defaults point at CDNs and add jQuery/Bootstrap; map.js needs none of that
    m.default_js, m.default_css = [], []
    if settings.has_base_map:
        folium.TileLayer(tiles=settings.tiles, attr=settings.tiles_attribution, name="Achtergrondkaart",
                         control=False, max_zoom=MAX_ZOOM).add_to(m)
    if bounds is not None:
        min_lon, min_lat, max_lon, max_lat = bounds
        m.fit_bounds([[min_lat, min_lon], [max_lat, max_lon]])
    return m


def fitting_zoom(bounds: tuple[float, float, float, float], width_px: int = 700, height_px: int = 540) -> int:
    """The web-map zoom at which bounds (min_lon, min_lat, max_lon, max_lat) fit a map box of that size.

    Pages ask the API for outlines simplified for this zoom (plus one, so they stay sharp a step closer).
    """
    min_lon, min_lat, max_lon, max_lat = bounds

    def mercator_y(lat: float) -> float:  # 0..1 of the world's height
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / (2 * math.pi)

    x_share = max(max_lon - min_lon, 1e-9) / 360
    y_share = max(mercator_y(max_lat) - mercator_y(min_lat), 1e-9)
    zoom = math.floor(math.log2(min(width_px / (256 * x_share), height_px / (256 * y_share))))
    return max(0, min(MAX_ZOOM, zoom))


def add_layer(m: folium.Map, name: str, url: str, kind: str, *, show: bool = True, fit: bool = False,
              cluster: bool = False, **options) -> folium.FeatureGroup:
    """A switchable layer (`name` in the layer control) that the browser loads from `url`.

    kind picks the style and popup in map.js; fit zooms to the layer once it has loaded;
    cluster groups point markers. Extra options (e.g. `property` for a choropleth) go to map.js.
    """
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer kind {kind!r}")
    # Leaflet's layer control sets names as HTML: escape them (map.js shows `name` as text)
    group = folium.FeatureGroup(name=str(escape(name)), show=show)
    group.add_child(UrlLayer(url, {"kind": kind, "fit": fit, "cluster": cluster, "name": name, **options}))
    group.add_to(m)
    return group


def add_tile_layer(m: folium.Map, name: str, layer: str, kind: str, *, control: bool = True,
                   **options) -> folium.FeatureGroup:
    """A layer drawn from the vector tiles of `layer` (/tiles/<layer>/...), so the page never loads it whole.

    kind picks the style and popup in map.js as for add_layer; control=False keeps it out of the layer
    control (background context). Extra options go to map.js, e.g. `property` and `figures`: the id of a
    <script type="application/json"> with the figures by code that colour and label each feature.
    """
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer kind {kind!r}")
    group = folium.FeatureGroup(name=str(escape(name)), show=True, control=control)
    group.add_child(UrlLayer(tile_url(layer), {"kind": kind, "tiles": layer, "name": name, **options}))
    group.add_to(m)
    return group


def add_context_tiles(m: folium.Map, layer: str, name: str) -> None:
    """Dashed outlines of `layer` from its vector tiles around what the page shows, e.g. neighbouring gemeenten."""
    m.add_child(UrlLayer(tile_url(layer), {"tiles": layer, "name": name}, loader="contextTiles"))


def add_searched_point(m: folium.Map, lat: float, lon: float, label: str) -> None:
    m.add_child(SearchedPoint(lat, lon, label))


def add_point_picker(m: folium.Map, form_id: str, min_zoom: int = 0) -> None:
    m.add_child(PickPoint(form_id, min_zoom))


def add_layer_control(m: folium.Map) -> None:
    """Checkboxes for the layers, always open so they are reachable with the keyboard."""
    folium.LayerControl(collapsed=False, position="topright").add_to(m)


def render(m: folium.Map) -> MapParts:
    """The map's element and script; the page supplies the assets (asset_urls) and layout."""
    root = m.get_root()
    root.render()  # resolves names and collects children before the parts are rendered
    return MapParts(html=Markup(root.html.render()), script=Markup(root.script.render()))


# --- partner editing -------------------------------------------------------------------------------

class FillPoint(MacroElement):
    """Clicking the map fills a form's lat/lon fields and shows the circle of its radius_m; it does not submit."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        Samenkaart.fillPoint({{ this._parent.get_name() }}, {{ this.form_id|tojson }});
        {% endmacro %}
    """)

    def __init__(self, form_id: str):
        super().__init__()
        self._name = "FillPoint"
        self.form_id = form_id


def add_point_filler(m: folium.Map, form_id: str) -> None:
    """A point picker for forms that have more to fill in (a name, a radius) before they are sent."""
    m.add_child(FillPoint(form_id))
