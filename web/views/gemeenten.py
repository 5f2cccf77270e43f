"""Municipalities: the national overview (`/gemeenten`) and one gemeente's dashboard (`/gemeente/<code>`).

Both pages show their figures as a table (the accessible alternative to the map) and load the map
layers from the API by URL, with the same parameters as the table and the download links.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, redirect, render_template, request, url_for
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from geoservice.analysis import examples
from geoservice.analysis import gaps as analysis
from geoservice.analysis import need as need_analysis
from geoservice.cbs.codes import parse_code
from geoservice.db import get_session
from geoservice.errors import InvalidParameter, NotFound
from geoservice.params import parse_choice
from geoservice.queries import areas as area_queries
from geoservice.queries import gaps as gap_queries
from geoservice.queries import trust as trust_queries
from geoservice.vocab import INITIATIVE_KINDS, THEMES

from .. import filters, maps, pages, priority

ORDERS = ("asc", "desc")
# The national map: what ?kaart= colours the gemeenten by — a summary column with classes in maps.CHOROPLETHS.
KAARTEN = {"witte-vlekken": "white_spot_share", "initiatieven": "initiatives_per_1000"}
DEFAULT_KAART = "witte-vlekken"
# The national GeoJSON download is simplified for one zoom level closer than the first view of the map.
NATIONAL_LAYER_ZOOM = maps.NATIONAL_ZOOM + 1
FIGURES_ID = "gemeente-figures"  # the page's JSON of each gemeente's figures, by code, for map.js
FIGURE_KEYS = ("aantal_inwoners", *KAARTEN.values())  # what the map's colours and popups add to a tile's naam
MISSING_COLOUR = "#bdbdbd"  # map.js colours a gemeente without a figure this grey
NATIONAL_COLUMNS = (  # (summary column, header, numeric)
    ("naam", "Gemeente", False), ("aantal_inwoners", "Inwoners", True), ("units", "Gebieden", True),
    ("white_spot_share", "Inwoners in witte vlekken", True),
    ("no_initiative_nearby_share", "Inwoners zonder initiatief in de buurt", True),
    ("units_white_spot", "Witte vlekken", True),
    ("n_initiatives", "Initiatieven", True), ("initiatives_per_1000", "Per 1.000 inwoners", True),
    ("partners_active", "Partners actief", True), ("priority_total", "Prioriteit", True),
)
UNIT_COLUMNS = (  # (unit field, header, numeric)
    ("naam", "Naam", False), ("aantal_inwoners", "Inwoners", True), ("status", "Status", False),
    ("n_initiatives", "Initiatieven erin", True), ("n_nearby", "Binnen loopafstand", True),
    ("nearest_m", "Dichtstbijzijnde", True), ("coverage", "Bedekt door partners", True),
)
UNIT_SORT_KEYS = ("code", *(name for name, _, _ in UNIT_COLUMNS))
DEFAULT_UNIT_SORT = "status"
INITIATIVES_LIMIT = 1000  # the most /api/v1/initiatives gives in one page
WALK_CHOICES = (250, 500, 1000, 1500, 2000, 5000)


def _default_order(key: str, text_keys: tuple[str, ...]) -> str:
    return "asc" if key in text_keys else "desc"


def _sort_and_order(args, keys: tuple[str, ...], default: str, text_keys: tuple[str, ...]) -> tuple[str, str]:
    sort = parse_choice("sort", args.get("sort"), keys, default=default)
    return sort, parse_choice("order", args.get("order"), ORDERS, default=_default_order(sort, text_keys))


def sort_headers(columns, sort: str, order: str, text_keys: tuple[str, ...], link) -> list[dict]:
    """Column headers with a link that sorts by them (again: the other way round) and their aria-sort."""
    headers = []
    for key, label, numeric in columns:
        current = key == sort
        next_order = ("desc" if order == "asc" else "asc") if current else _default_order(key, text_keys)
        headers.append({"key": key, "label": label, "numeric": numeric, "href": link(key, next_order),
                        "aria_sort": ("ascending" if order == "asc" else "descending") if current else None})
    return headers


def choropleth_legend(spec: dict) -> list[dict]:
    """Legend rows for a choropleth's classes (map.js: a value below bins[i] gets colours[i]), then 'onbekend'."""
    def show(value):
        return filters.percent(value) if spec["percent"] else filters.number(value, 2).rstrip("0").rstrip(",")

    bins, colours = spec["bins"], spec["colours"]
    rows = [{"label": f"minder dan {show(bins[0])}", "colour": colours[0]}]
    rows += [{"label": f"{show(low)} tot {show(high)}", "colour": colour}
             for low, high, colour in zip(bins, bins[1:], colours[1:])]
    rows.append({"label": f"{show(bins[-1])} of meer", "colour": colours[len(bins)]})
    rows.append({"label": "onbekend (geen inwoners bekend)", "colour": MISSING_COLOUR})
    return rows


def figures_json(rows: list[dict]) -> Markup:
    """Each gemeente's figures for map.js, safe inside <script>: {"keys": [...], "values": {code: [...]}}.

    Rows of values rather than objects, without spaces: it rides along in every page view (9 KB, not 40 KB).
    """
    figures = {"keys": FIGURE_KEYS, "values": {r["gemeentecode"]: [r[k] for k in FIGURE_KEYS] for r in rows}}
    return htmlsafe_json_dumps(figures, separators=(",", ":"))


@pages.get("/gemeenten")
def gemeenten():
    args, status, error = request.args, 200, None
    try:
        kaart = parse_choice("kaart", args.get("kaart"), tuple(KAARTEN), default=DEFAULT_KAART)
        sort, order = _sort_and_order(args, analysis.SORT_KEYS, "naam", analysis.TEXT_KEYS)
    except InvalidParameter as exc:
        # the page with its defaults and the reason, rather than a bare error page
        status, error = exc.status, exc.description
        kaart, (sort, order) = DEFAULT_KAART, ("naam", "asc")
    session = get_session()
    rows = analysis.gemeente_summaries(session, analysis.GapParams(), sort=sort, descending=order == "desc")
    shown = KAARTEN[kaart]
    spec = maps.CHOROPLETHS[shown]

    settings = current_app.extensions["geoservice.settings"]
    m = maps.new_map(settings)
    # the outlines come as vector tiles (only those in view); their colours from the table's own figures
    maps.add_tile_layer(m, f"Gemeenten: {spec['label'].lower()}", "gemeenten", "gemeenten", property=shown,
                        figures=FIGURES_ID)
    layer_url = url_for("api.gaps_summary", format="geojson", zoom=NATIONAL_LAYER_ZOOM)  # a download only

    def link(key: str, next_order: str) -> str:
        return url_for("web.gemeenten", sort=key, order=next_order, kaart=kaart, _anchor="tabel")

    downloads = {
        "csv": url_for("api.gaps_summary", sort=sort, order=order, format="csv"),
        "xlsx": url_for("api.gaps_summary", sort=sort, order=order, format="xlsx"),
        "json": url_for("api.gaps_summary", sort=sort, order=order),
        "geojson": layer_url,
    }
    return render_template(
        "gemeenten.html", rows=rows, error=error, kaart=kaart, kaarten=KAARTEN, spec=spec,
        sort=sort, order=order, sort_label={k: label for k, label, _ in NATIONAL_COLUMNS}.get(sort, sort),
        headers=sort_headers(NATIONAL_COLUMNS, sort, order, analysis.TEXT_KEYS, link),
        legend=choropleth_legend(spec), downloads=downloads, figures_id=FIGURES_ID,
        demo=examples.example_figures(session),
        figures=figures_json(rows),
        map=maps.render(m), assets=maps.asset_urls(vector_tiles=True), map_config=maps.map_config(),
    ), status


# --- one gemeente -----------------------------------------------------------------------------------

UNIT_TEXT_KEYS = ("code", "naam", "status")  # ascending by default (status: white spots first)
STATUS_RANK = {status: rank for rank, status in enumerate(analysis.STATUSES)}


@dataclass
class Controls:
    """The dashboard's query controls as submitted: the gap settings and the table's order."""

    walk_m: int = analysis.WALK_M["default"]
    kinds: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    level: str | None = None
    sort: str = DEFAULT_UNIT_SORT
    order: str = "asc"
    need: tuple = need_analysis.DEFAULT_NEED
    kaart: str = priority.DEFAULT_UNIT_KAART

    @classmethod
    def from_args(cls, args) -> Controls:
        """The form values; a bad walk_m, kind, theme, level or sort raises InvalidParameter (shown in the page)."""
        params = analysis.make_params(level=args.get("level"), walk_m=args.get("walk_m"),
                                      kinds=args.getlist("kind"), themes=args.getlist("theme"))
        sort, order = _sort_and_order(args, UNIT_SORT_KEYS, DEFAULT_UNIT_SORT, UNIT_TEXT_KEYS)
        return cls(walk_m=params.walk_m, kinds=list(params.kinds), themes=list(params.themes), level=params.level,
                   sort=sort, order=order, need=priority.parse_page_need(args), kaart=priority.parse_kaart(args))

    @property
    def params(self) -> analysis.GapParams:
        return analysis.GapParams(level=self.level, walk_m=self.walk_m, kinds=tuple(self.kinds),
                                  themes=tuple(self.themes), need=self.need)

    def gap_args(self) -> dict:
        """The analysis settings as query arguments: the same for the map, the table and the downloads."""
        args = {"walk_m": self.walk_m, "kind": self.kinds, "theme": self.themes, **priority.need_arg(self.need)}
        return {**args, "level": self.level} if self.level else args

    def page_args(self) -> dict:
        """gap_args and the map mode: what a link to this page with these settings carries."""
        return {**self.gap_args(), **({"kaart": self.kaart} if self.kaart != priority.DEFAULT_UNIT_KAART else {})}


def resolve_gemeente(session, jaar: int, raw: str) -> str:
    """The code of the gemeente meant by raw: a code in any case, or a name; 400 or 404 otherwise."""
    code = parse_code(raw)
    if code is None:
        if not raw.isprintable():  # control characters (NUL among them) are in no gemeente's name
            raise NotFound("Er is geen gemeente met deze naam of code.")
        by_name = area_queries.gemeente_code_by_name(session, jaar, raw[:100])
        if by_name is not None:
            return by_name
        if raw.strip()[:2].upper() in ("GM", "WK", "BU"):
            raise InvalidParameter(f"'{raw[:40]}' is geen gemeentecode. Een gemeentecode is GM met vier cijfers, "
                                   f"bijvoorbeeld GM0363.")
        raise NotFound(f"Er is geen gemeente met de naam of code '{raw[:40]}'.")
    if code.level != "gemeente":
        raise InvalidParameter(f"{code.code} is de code van een {code.level}, niet van een gemeente. "
                               f"Die {code.level} ligt in gemeente {code.gemeentecode}.")
    return analysis.require_gemeente(session, jaar, code.code)


def sort_units(units: list[dict], key: str, descending: bool) -> list[dict]:
    """Units by one column, nulls last either way; status by severity; ties by most inhabitants, then code."""
    units = sorted(units, key=lambda u: (-(u["aantal_inwoners"] or 0), u["code"]))
    present = [u for u in units if u[key] is not None]
    missing = [u for u in units if u[key] is None]
    if key == "status":
        present.sort(key=lambda u: STATUS_RANK[u["status"]], reverse=descending)
    elif key == "naam":
        present.sort(key=lambda u: str(u["naam"]).casefold(), reverse=descending)
    else:
        present.sort(key=lambda u: u[key], reverse=descending)
    return present + missing


def gemeente_map(found: str, bounds, controls: Controls, has_buurten: bool, show_layers: bool,
                 controls_mode: dict | None = None):
    """The dashboard map: units by status, initiatives (clustered) and partner service areas, all by URL."""
    m = maps.new_map(current_app.extensions["geoservice.settings"], bounds=bounds)
    # the neighbouring gemeenten as outlines, from the tiles in view: where this gemeente lies, for a few KB
    maps.add_context_tiles(m, "gemeenten", "Gemeentegrenzen")
    if show_layers:
        level = controls.level or ("buurt" if has_buurten else "wijk")
        # outlines simplified for the zoom the map opens at, one step closer still sharp (never embedded)
        zoom = maps.fitting_zoom(bounds) + 1 if bounds else None
        mode = controls_mode or {}
        shown = (mode.get("title") or "status").lower()
        maps.add_layer(m, f"{'Buurten' if level == 'buurt' else 'Wijken'} naar {shown}",
                       url_for("api.gaps", gemeente=found, **controls.gap_args(), format="geojson", zoom=zoom),
                       "units", **mode.get("options", {}))
        maps.add_layer(m, "Initiatieven", url_for("api.list_initiatives", gemeente=found, limit=INITIATIVES_LIMIT,
                                                  kind=controls.kinds, theme=controls.themes),
                       "initiatives", cluster=True)
        maps.add_layer(m, "Werkgebieden van partners", url_for("api.service_areas", gemeente=found),
                       "service_areas", show=False)
        maps.add_layer_control(m)
    return maps.render(m)


@pages.get("/gemeente/<code>")
def gemeente(code: str):
    session = get_session()
    jaar = analysis.require_year(session)
    found = resolve_gemeente(session, jaar, code)
    if found != code:
        # one address per gemeente: gm0363 or Amsterdam lead to /gemeente/GM0363, the settings kept
        query = request.query_string.decode("ascii", "replace")  # as given: never url_for options from the URL
        return redirect(url_for("web.gemeente", code=found) + (f"?{query}" if query else ""), 301)
    has_buurten = gap_queries.has_buurten(session, jaar, found)
    status, error, summary, units = 200, None, None, []
    try:
        controls = Controls.from_args(request.args)
        summary = analysis.gemeente_summaries(session, controls.params, gemeente=found)[0]
        units = sort_units(analysis.gap_units(session, controls.params, gemeente=found, with_nearest=True),
                           controls.sort, controls.order == "desc")
    except InvalidParameter as exc:
        # the form comes back with the reason; nothing is shown that these settings did not produce
        controls, status, error = Controls(), exc.status, exc.description
    gap_args = controls.page_args()
    level = controls.level or ("buurt" if has_buurten else "wijk")
    mode = priority.map_mode(controls.kaart, units) if error is None else None
    astray = trust_queries.initiatives_astray(session, jaar, found, level, tuple(controls.kinds),
                                              tuple(controls.themes)) if summary else []

    def link(key: str, next_order: str) -> str:
        return url_for("web.gemeente", code=found, **gap_args, sort=key, order=next_order, _anchor="tabel")

    downloads = {"csv": url_for("api.gaps", gemeente=found, **controls.gap_args(), format="csv"),
                 "xlsx": url_for("api.gaps", gemeente=found, **controls.gap_args(), format="xlsx"),
                 "geojson": url_for("api.gaps", gemeente=found, **controls.gap_args(), format="geojson")}
    # buurten without population are all 'onbekend'; the wijken may have inhabitants
    no_population = bool(summary and summary["units"] and summary["units_unknown"] == summary["units"])
    return render_template(
        "gemeente.html", code=found, naam=gap_queries.gemeente_naam(session, jaar, found), summary=summary,
        units=units, controls=controls, error=error, has_buurten=has_buurten, no_population=no_population,
        walk_choices=WALK_CHOICES, default_walk_m=analysis.WALK_M["default"], kinds=INITIATIVE_KINDS, themes=THEMES, legend=maps.legend(),
        colours=maps.STATUS_COLOURS, downloads=downloads, initiatives_limit=INITIATIVES_LIMIT,
        headers=sort_headers(UNIT_COLUMNS, controls.sort, controls.order, UNIT_TEXT_KEYS, link),
        sort_label={k: label for k, label, _ in UNIT_COLUMNS}.get(controls.sort, controls.sort),
        wijk_url=url_for("web.gemeente", code=found, **{**gap_args, "level": "wijk"}),
        map=gemeente_map(found, area_queries.gemeente_bounds(session, jaar, found), controls, has_buurten,
                         show_layers=error is None, controls_mode=mode),
        first=priority.waar_eerst(units), need_words=priority.need_words, mode=mode, astray=astray,
        need_fields=priority.need_fields(controls.need), weights=priority.WEIGHTS, unit_kaarten=priority.UNIT_KAARTEN,
        demo=examples.example_figures(session), demo_here=examples.gemeente_note(summary) if summary else None,
        assets=maps.asset_urls(vector_tiles=True), map_config=maps.map_config(),
    ), status
