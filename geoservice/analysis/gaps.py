"""Gap analysis: per CBS unit (buurt or wijk) the initiatives nearby and the partner coverage, and a status.

Definitions (README, "Gap analysis"): only published initiatives count; n_initiatives are inside the
unit, n_nearby within walk_m metres of its polygon (inside counts); nearest_m is 0 when one is inside
and null beyond 50 km; coverage is the share of the unit inside the union of the counting partners'
service areas; n_partners counts partners whose service areas cover at least half of the unit. The
spatial work is one statement in queries/gaps.py; this module validates, classifies and summarises.
Coverage comes from the tables kept on write (queries.gaps.refresh_coverage) when they are up to date —
per unit for all partners, summed from the pieces per unit and service area under a partner_services
filter — else it is computed on the fly: the same figures either way.
Likewise the initiative figures of the default question (every published initiative, walk_m 1000)
come from gap_counts (queries.gaps.refresh_counts) when it is up to date.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from ..errors import InvalidParameter, NotFound, ServiceUnavailable
from ..params import parse_code_of_level, parse_int, parse_terms_param
from ..queries import gaps as queries
from ..queries import need as need_queries
from ..queries import trust as trust_queries
from ..queries.areas import active_year
from ..vocab import INITIATIVE_KINDS, SERVICES, THEMES
from . import need as need_analysis
from .versioned import PerDataVersion

STATUSES = ("white_spot", "no_initiative", "no_support", "ok", "low_population", "unknown")
STATUS_LABELS = {
    "white_spot": "witte vlek", "no_initiative": "geen initiatief", "no_support": "geen ondersteuning",
    "ok": "in orde", "low_population": "weinig inwoners", "unknown": "onbekend",
}
LEVELS = ("buurt", "wijk")
WALK_M = {"default": 1000, "minimum": 0, "maximum": 50_000}
MIN_INWONERS = {"default": 50, "minimum": 0, "maximum": 100_000}
FAR_M = queries.FAR_M
COVERED = queries.HALF  # coverage from which a unit counts as supported; also a partner's share for n_partners
UNIT_COLUMNS = ("code", "level", "naam", "gemeentecode", "wijkcode", "aantal_inwoners", "n_initiatives",
                "n_nearby", "nearest_m", "initiatives_per_1000", "coverage", "n_partners", "status", "area_m2",
                "need", "need_source", "need_reasons", "priority")
# with_nearest (one gemeente's answers and downloads): the nearest counted initiative by name
NEAREST_COLUMNS = ("nearest_initiative", "nearest_initiative_id")
DEMO_COLUMN = "demo_data"  # downloads: true when example initiatives or partners are counted (analysis.examples)
UNIT_CSV_COLUMNS = (*UNIT_COLUMNS, *NEAREST_COLUMNS, DEMO_COLUMN)


@dataclass(frozen=True)
class GapParams:
    level: str | None = None          # "buurt" | "wijk" | None: the finest available per gemeente
    walk_m: int = 1000
    min_inwoners: int = 50
    kinds: tuple[str, ...] = ()        # vocab keys; () = all kinds count
    themes: tuple[str, ...] = ()       # vocab keys; an initiative counts if it has any of them
    partner_services: tuple[str, ...] = ()  # vocab keys; () = all partners count
    need: tuple[tuple[str, float], ...] = need_analysis.DEFAULT_NEED  # (indicator key, weight) pairs


def make_params(*, level: str | None = None, walk_m=None, min_inwoners=None, kinds=(), themes=(),
                partner_services=(), need=None) -> GapParams:
    """GapParams from request or command-line values: texts or numbers, vocabulary keys or Dutch labels."""
    level_text = (level or "").strip().lower()
    if level_text and level_text not in LEVELS:
        raise InvalidParameter(f"Parameter 'level' moet buurt of wijk zijn, niet '{level_text[:20]}'.")
    return GapParams(
        level=level_text or None,
        walk_m=parse_int("walk_m", _text(walk_m), **WALK_M),
        min_inwoners=parse_int("min_inwoners", _text(min_inwoners), **MIN_INWONERS),
        kinds=tuple(parse_terms_param("kind", kinds, INITIATIVE_KINDS, "soort")),
        themes=tuple(parse_terms_param("theme", themes, THEMES, "thema")),
        partner_services=tuple(parse_terms_param("partner_services", partner_services, SERVICES, "dienst")),
        need=need_analysis.parse_need(need),
    )


def _text(value) -> str | None:
    return None if value is None else str(value)


def check_params(params: GapParams) -> None:
    """InvalidParameter unless every field is in range and every term a vocabulary key."""
    if params.level not in (None, *LEVELS):
        raise InvalidParameter(f"Parameter 'level' moet buurt of wijk zijn, niet '{str(params.level)[:20]}'.")
    for name, value, spec in (("walk_m", params.walk_m, WALK_M), ("min_inwoners", params.min_inwoners, MIN_INWONERS)):
        if isinstance(value, bool) or not isinstance(value, int) or not spec["minimum"] <= value <= spec["maximum"]:
            raise InvalidParameter(f"Parameter '{name}' moet een geheel getal tussen {spec['minimum']} en "
                                   f"{spec['maximum']} zijn, niet {value!r}.")
    for name, values, vocabulary in (("kind", params.kinds, INITIATIVE_KINDS), ("theme", params.themes, THEMES),
                                     ("partner_services", params.partner_services, SERVICES)):
        unknown = [v for v in values if v not in vocabulary]
        if unknown:
            raise InvalidParameter(f"Parameter '{name}': onbekend '{str(unknown[0])[:40]}'; kies uit: "
                                   f"{', '.join(vocabulary)}.")
    if params.need != need_analysis.DEFAULT_NEED:
        need_analysis.parse_need(list(params.need))


def parameters(params: GapParams, jaar: int | None = None) -> dict:
    """The settings and fixed thresholds of an analysis, echoed in every answer."""
    return {
        "level": params.level, "walk_m": params.walk_m, "min_inwoners": params.min_inwoners,
        "kinds": list(params.kinds), "themes": list(params.themes),
        "partner_services": list(params.partner_services),
        "nearest_max_m": FAR_M, "coverage_min": COVERED, "partner_share_min": COVERED, "cbs_jaar": jaar,
        "need": dict(params.need),
    }


def status_of(aantal_inwoners: int | None, n_nearby: int, coverage: float, min_inwoners: int) -> str:
    """The status of one unit, exactly as defined."""
    if aantal_inwoners is None:
        return "unknown"
    if aantal_inwoners < min_inwoners:
        return "low_population"
    if n_nearby == 0:
        return "white_spot" if coverage < COVERED else "no_initiative"
    return "no_support" if coverage < COVERED else "ok"


def require_year(conn) -> int:
    jaar = active_year(conn)
    if jaar is None:
        raise ServiceUnavailable("Er is nog geen CBS-kaart geladen (geoservice load-cbs).")
    return jaar


def require_gemeente(conn, jaar: int, raw: str) -> str:
    """The upper-cased code of a gemeente of the active year; InvalidParameter or NotFound otherwise."""
    code = parse_code_of_level("gemeente", raw, "gemeente")
    if code is None:
        raise InvalidParameter("Parameter 'gemeente' ontbreekt: geef een gemeentecode, bijvoorbeeld GM0308.",
                               code="MissingParameterValue")
    if queries.gemeente_naam(conn, jaar, code) is None:
        raise NotFound(f"Er is geen gemeente met code {code} in de CBS-kaart {jaar}.")
    return code


def gap_units(conn, params: GapParams, *, gemeente: str | None = None,
              near_partner: int | None = None, reach_m: int | None = None,
              with_geometry: bool = False, simplify_m: float | None = None,
              with_nearest: bool = False) -> list[dict]:
    """Units of the active CBS year with their gap figures (national when gemeente is None).

    near_partner + reach_m: only units within reach_m metres of that partner's service areas.
    Each dict: code, level, naam, gemeentecode, wijkcode (None for wijk units), aantal_inwoners,
    n_initiatives, n_nearby, nearest_m, initiatives_per_1000, coverage, n_partners, status,
    area_m2, need, need_source, need_scores, need_reasons, priority (analysis.need), when with_nearest:
    nearest_initiative and nearest_initiative_id, and when with_geometry: geometry (GeoJSON text, WGS84;
    simplified to simplify_m metres, default 1 m). Ordered by code.
    """
    check_params(params)
    jaar = require_year(conn)
    code = require_gemeente(conn, jaar, gemeente) if gemeente is not None and gemeente.strip() else None
    if params.level == "buurt" and not queries.has_buurten(conn, jaar, code):
        where = f"gemeente {code} zijn geen" if code else "geen enkele gemeente zijn"
        raise InvalidParameter(f"Voor {where} buurten geladen in de CBS-kaart {jaar}. Kies het niveau (level) "
                               f"wijk, of laat het weg: dan geldt per gemeente het fijnste niveau dat er is.")
    if near_partner is not None:
        if reach_m is None or isinstance(reach_m, bool) or not isinstance(reach_m, int) or reach_m < 0:
            raise InvalidParameter("Bij een partner hoort een bereik (reach_m) van 0 meter of meer.")
        if not queries.partner_exists(conn, near_partner):
            raise NotFound(f"Er is geen partner met id {near_partner}.")
    # Coverage by all partners is kept per unit; by those of some services, it is summed from the pieces
    # kept per unit and service area. Either only while nothing is marked stale.
    fresh = queries.kept_fresh(conn)
    coverage_fresh = fresh.coverage
    stored = coverage_fresh and not params.partner_services
    stored_counts = fresh.counts and queries.counts_are_stored_for(params.walk_m, params.kinds, params.themes)
    rows = queries.unit_rows(conn, queries.UnitQuery(
        jaar=jaar, level=params.level, walk_m=params.walk_m, kinds=params.kinds, themes=params.themes,
        partner_services=params.partner_services, gemeente=code, near_partner=near_partner,
        reach_m=reach_m if near_partner is not None else None, with_geometry=with_geometry,
        simplify_m=max(queries.SIMPLIFY_M, simplify_m or 0.0), stored_coverage=stored,
        stored_pieces=coverage_fresh and bool(params.partner_services), stored_counts=stored_counts))
    units = [_unit(row, params, with_geometry) for row in rows]
    need_analysis.add_need(conn, jaar, units, params.need)
    if with_nearest:
        nearest = need_queries.nearest_initiatives(conn, jaar, [u["code"] for u in units], params.kinds,
                                                   params.themes, FAR_M)
        for unit in units:
            found = nearest.get(unit["code"])
            unit["nearest_initiative"] = found["name"] if found else None
            unit["nearest_initiative_id"] = found["id"] if found else None
    return units


def _unit(row: dict, params: GapParams, with_geometry: bool) -> dict:
    inwoners = row["aantal_inwoners"]
    coverage = min(max(float(row["coverage"] or 0), 0.0), 1.0)
    nearest = row["nearest_m"]
    unit = {
        "code": row["code"], "level": row["level"], "naam": row["naam"], "gemeentecode": row["gemeentecode"],
        "wijkcode": row["wijkcode"], "aantal_inwoners": inwoners,
        "n_initiatives": row["n_initiatives"], "n_nearby": row["n_nearby"],
        "nearest_m": None if nearest is None or nearest > FAR_M else round(float(nearest), 1),
        "initiatives_per_1000": round(row["n_initiatives"] / inwoners * 1000, 3) if inwoners else None,
        "coverage": coverage, "n_partners": row["n_partners"],
        "status": status_of(inwoners, row["n_nearby"], coverage, params.min_inwoners),
        "area_m2": round(float(row["area_m2"]), 1),
    }
    if with_geometry:
        unit["geometry"] = row["geometry"]
    return unit


# --- per gemeente ---------------------------------------------------------------------------------

COUNTED_STATUSES = tuple(s for s in STATUSES if s != "unknown")  # units of unknown status have no inhabitants
SUMMARY_COLUMNS = (
    "gemeentecode", "naam", "level", "units", "aantal_inwoners",
    *(f"units_{s}" for s in STATUSES), *(f"inwoners_{s}" for s in COUNTED_STATUSES),
    "white_spot_share", "n_initiatives", "initiatives_per_1000", "partners_active", "priority_total",
    "no_initiative_nearby_share", "n_initiatives_outside", "n_initiatives_example", "partners_active_example",
)
SUMMARY_CSV_COLUMNS = (*SUMMARY_COLUMNS, DEMO_COLUMN)
SORT_KEYS = SUMMARY_COLUMNS
TEXT_KEYS = ("gemeentecode", "naam", "level")  # ascending by default; figures descending


def gemeente_summaries(conn, params: GapParams, *, gemeente: str | None = None, sort: str = "gemeentecode",
                       descending: bool | None = None) -> list[dict]:
    """Per gemeente of the active year (or one): units and inhabitants per status, white-spot share, etc.

    aantal_inwoners: of the units with a known population; white_spot_share: white-spot inhabitants
    divided by that; initiatives_per_1000: initiatives in those units per 1,000 of their inhabitants;
    partners_active: counting partners with a service area overlapping the gemeente; n_initiatives: the
    counted initiatives whose CBS codes name the gemeente (the same at every level), n_initiatives_outside: those
    of them in none of its units of the level; *_example: how many of those are demo or benchmark rows;
    no_initiative_nearby_share: inhabitants of units with no initiative within walk_m, whatever the partners
    do; priority_total: the sum of the units' priority. Gemeenten without
    units (e.g. level=buurt where none are loaded) have zeros. Nulls sort last either way.
    """
    if sort not in SORT_KEYS:
        raise InvalidParameter(f"Parameter 'sort' moet een van {', '.join(SORT_KEYS)} zijn, niet '{str(sort)[:40]}'.")
    jaar = require_year(conn)
    code = require_gemeente(conn, jaar, gemeente) if gemeente is not None and gemeente.strip() else None
    if code is None:
        rows = NATIONAL_SUMMARIES.get(conn, params, lambda: _summaries(conn, jaar, params, None))
    else:
        rows = _summaries(conn, jaar, params, code)
    if descending is None:
        descending = sort not in TEXT_KEYS
    return sort_rows(rows, sort, descending)


def _summaries(conn, jaar: int, params: GapParams, code: str | None) -> list[dict]:
    units = gap_units(conn, params, gemeente=code)
    active = queries.partners_active(conn, jaar, params.partner_services, code)
    active_examples = trust_queries.example_partners_active(conn, jaar, params.partner_services, code)
    initiatives = trust_queries.initiatives_per_gemeente(conn, jaar, params.kinds, params.themes, code)
    by_gemeente: dict[str, list[dict]] = {}
    for unit in units:
        by_gemeente.setdefault(unit["gemeentecode"], []).append(unit)
    rows = []
    for g in queries.gemeenten(conn, jaar, code):
        row = _summary(g["code"], g["naam"], by_gemeente.get(g["code"], []), active.get(g["code"], 0))
        counted = initiatives.get(g["code"], {"n": 0, "n_example": 0})
        # every initiative once, by the gemeente its CBS codes name: the same at buurt and at wijk level
        row["n_initiatives_outside"] = max(counted["n"] - row["n_initiatives"], 0)
        row["n_initiatives"] = max(counted["n"], row["n_initiatives"])
        row["n_initiatives_example"] = counted["n_example"]
        row["partners_active_example"] = active_examples.get(g["code"], 0)
        rows.append(row)
    return rows


class SummaryCache(PerDataVersion):
    """Tables (lists of rows) per database, data version and parameters; each caller gets its own copy of the rows.

    The national page and /api/v1/gaps/summary are the most visited answers that take a second to make;
    they change only when the data version does.
    """

    def get(self, conn, params, make) -> list[dict]:
        return [copy.copy(row) for row in super().get(conn, params, make)]  # callers may change their rows


NATIONAL_SUMMARIES = SummaryCache()


def _summary(code: str, naam: str | None, units: list[dict], partners_active: int) -> dict:
    known = [u for u in units if u["aantal_inwoners"] is not None]
    inwoners = sum(u["aantal_inwoners"] for u in known)
    row = {"gemeentecode": code, "naam": naam, "level": _level(units), "units": len(units),
           "aantal_inwoners": inwoners if known else None}
    row.update({f"units_{s}": sum(1 for u in units if u["status"] == s) for s in STATUSES})
    row.update({f"inwoners_{s}": sum(u["aantal_inwoners"] for u in known if u["status"] == s)
                for s in COUNTED_STATUSES})
    row["white_spot_share"] = round(row["inwoners_white_spot"] / inwoners, 4) if inwoners else None
    row["n_initiatives"] = sum(u["n_initiatives"] for u in units)
    counted = sum(u["n_initiatives"] for u in known)
    row["initiatives_per_1000"] = round(counted / inwoners * 1000, 3) if inwoners else None
    row["partners_active"] = partners_active
    row["priority_total"] = round(sum(u["priority"] for u in units if u.get("priority") is not None),
                                  need_analysis.PRIORITY_DECIMALS)
    # whatever the partners do: the people with no initiative within walking distance
    far = sum(u["aantal_inwoners"] for u in known if u["n_nearby"] == 0)
    row["no_initiative_nearby_share"] = round(far / inwoners, 4) if inwoners else None
    row["n_initiatives_outside"] = row["n_initiatives_example"] = row["partners_active_example"] = 0
    return row


def _level(units: list[dict]) -> str | None:
    levels = {u["level"] for u in units}
    return levels.pop() if len(levels) == 1 else None


def sort_rows(rows: list[dict], key: str, descending: bool) -> list[dict]:
    """Rows by one column (nulls last in both directions), ties by gemeentecode."""
    rows = sorted(rows, key=lambda r: r["gemeentecode"])
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    if key in TEXT_KEYS:
        present.sort(key=lambda r: str(r[key]).casefold(), reverse=descending)
    else:
        present.sort(key=lambda r: r[key], reverse=descending)
    return present + missing


# --- output ---------------------------------------------------------------------------------------

def units_geojson(units: list[dict], parameters_used: dict, gemeente: dict | None = None,
                  demo: dict | None = None) -> dict:
    """A GeoJSON FeatureCollection of units (from gap_units with geometry) with the parameters used.

    demo: examples.example_figures (whether example data is counted, and the note saying so); also a property
    demo_data on every feature, as the CSV has a column."""
    features = [{"type": "Feature", "id": u["code"],
                 "geometry": json.loads(u["geometry"]) if u.get("geometry") else None,
                 "properties": {**{name: u[name] for name in UNIT_COLUMNS}, "need_scores": u["need_scores"],
                                **{name: u[name] for name in NEAREST_COLUMNS if name in u},
                                **({"demo_data": demo["demo_data"]} if demo is not None else {})}} for u in units]
    body = {"type": "FeatureCollection", "parameters": parameters_used, "gemeente": gemeente,
            "status_labels": STATUS_LABELS, "numberReturned": len(features), "features": features}
    return {**body, "demo": demo} if demo is not None else body


def with_demo_flag(rows: list[dict], demo: dict) -> list[dict]:
    """The rows with a demo_data column (the same for all: example data anywhere can count in any figure)."""
    return [{**row, "demo_data": demo["demo_data"]} for row in rows]
