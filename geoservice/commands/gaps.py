"""`geoservice gaps`: the gap analysis of one gemeente (per unit) or of the whole country (per gemeente)."""

from __future__ import annotations

import json

import click

from ..analysis.gaps import (LEVELS, MIN_INWONERS, SORT_KEYS, STATUS_LABELS, STATUSES, SUMMARY_CSV_COLUMNS,
                             UNIT_CSV_COLUMNS, WALK_M)

from ..analysis.need import INDICATOR_KEYS

NAME_WIDTH = 32  # longer names are cut in the table (CSV and GeoJSON keep them whole)


def _to_stderr(message: str) -> None:
    click.echo(message, err=True)


def gap_options(command):
    """The gap-analysis parameters as click options (shared by `gaps` and `outreach`)."""
    for option in reversed([
        click.option("--level", type=click.Choice(LEVELS), help="Units: buurt or wijk (default: buurten where a "
                     "gemeente has them loaded, else wijken)."),
        click.option("--walk-m", type=click.IntRange(WALK_M["minimum"], WALK_M["maximum"]),
                     default=WALK_M["default"], show_default=True,
                     help="An initiative within this many metres of a unit counts as nearby."),
        click.option("--min-inwoners", type=click.IntRange(MIN_INWONERS["minimum"], MIN_INWONERS["maximum"]),
                     default=MIN_INWONERS["default"], show_default=True,
                     help="Units with fewer inhabitants get status low_population."),
        click.option("--kind", "kinds", multiple=True, metavar="KIND",
                     help="Only initiatives of this kind count (key or Dutch label; repeatable)."),
        click.option("--theme", "themes", multiple=True, metavar="THEME",
                     help="Only initiatives with this theme count (key or Dutch label; repeatable: any of them)."),
        click.option("--partner-service", "partner_services", multiple=True, metavar="SERVICE",
                     help="Only partners offering this service count (key or Dutch label; repeatable: any of them)."),
        click.option("--need", metavar="KEY[:WEIGHT],...",
                     help="Need indicators and weights for need and priority, e.g. ouderen:2,wmo:1 (default: "
                          f"every indicator, weight 1; keys: {', '.join(INDICATOR_KEYS)})."),
    ]):
        command = option(command)
    return command


@click.command("gaps")
@click.option("--gemeente", metavar="GM....", help="The gemeente to analyse per unit (buurt or wijk), e.g. GM0308.")
@click.option("--national", is_flag=True, help="All gemeenten: one row per gemeente instead of one per unit.")
@gap_options
@click.option("--format", "fmt", type=click.Choice(("table", "csv", "geojson")), default="table", show_default=True,
              help="table (for reading), csv, or geojson (units with WGS84 geometry; not with --national).")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="gemeentecode", show_default=True,
              help="With --national: the column to sort by.")
@click.option("--order", type=click.Choice(("asc", "desc")),
              help="With --national: sort order (default: descending for figures, ascending for code and name).")
def gaps(gemeente, national, level, walk_m, min_inwoners, kinds, themes, partner_services, need, fmt, sort,
         order) -> None:
    """Where do people live without an initiative nearby and without a supporting partner?

    Per unit: inhabitants, initiatives inside and within --walk-m, the nearest one, the share covered
    by partners' service areas, and a status (white_spot, no_initiative, no_support, ok,
    low_population, unknown), with need (0..1, from CBS kerncijfers) and priority (inhabitants × need of a
    white spot). With --national: those figures summed per gemeente.
    """
    from .. import db as dbmod
    from ..analysis import gaps as analysis
    from ..analysis.examples import example_figures
    from ._database import ensure_database
    from ..config import Settings
    from ..queries import gaps as queries

    if national == bool(gemeente):
        raise click.UsageError("Geef --gemeente GM.... of --national (precies één van de twee).")
    if national and fmt == "geojson":
        raise click.UsageError("--national geeft een tabel per gemeente: kies --format table of csv.")
    params = analysis.make_params(level=level, walk_m=walk_m, min_inwoners=min_inwoners, kinds=kinds,
                                  themes=themes, partner_services=partner_services, need=need)
    engine = dbmod.make_engine(ensure_database(Settings.from_env(), echo=_to_stderr))
    try:
        with engine.connect() as conn:
            jaar = analysis.require_year(conn)
            used = analysis.parameters(params, jaar)
            if national:
                descending = None if order is None else order == "desc"
                rows = analysis.gemeente_summaries(conn, params, sort=sort, descending=descending)
                naam = None
            else:
                code = analysis.require_gemeente(conn, jaar, gemeente)
                rows = analysis.gap_units(conn, params, gemeente=code, with_geometry=fmt == "geojson",
                                          with_nearest=True)
                naam = queries.gemeente_naam(conn, jaar, code)
            demo = example_figures(conn)
    finally:
        engine.dispose()
    if fmt == "csv":
        columns = SUMMARY_CSV_COLUMNS if national else UNIT_CSV_COLUMNS
        click.echo(_csv(columns, analysis.with_demo_flag(rows, demo)), nl=False)
    elif fmt == "geojson":
        body = analysis.units_geojson(rows, {**used, "gemeente": code}, {"code": code, "naam": naam}, demo)
        click.echo(json.dumps(body, ensure_ascii=False))
    else:
        click.echo(_national_table(rows, used) if national else _units_table(rows, used, code, naam))
        if demo["note"]:
            click.echo("\n" + demo["note"])


def _csv(columns, rows: list[dict]) -> str:
    from ..registry.exports import csv_text

    return csv_text(list(columns), rows)


# --- the terminal table: Dutch headers and number formats ------------------------------------------

def _number(value, decimals: int = 0) -> str:
    """1.234 and 5,2: Dutch thousands and decimal separators."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _percent(value) -> str:
    return "–" if value is None else f"{_number(value * 100)} %"


def _cut(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= NAME_WIDTH else text[:NAME_WIDTH - 1] + "…"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join(line(cells).rstrip() for cells in [headers, ["-" * w for w in widths], *rows])


def _settings_line(used: dict) -> str:
    from ..vocab import INITIATIVE_KINDS, SERVICES, THEMES

    kinds = ", ".join(INITIATIVE_KINDS[k] for k in used["kinds"]) or "alle soorten"
    themes = ", ".join(THEMES[k] for k in used["themes"]) or "alle thema's"
    services = ", ".join(f"met {SERVICES[k].lower()}" for k in used["partner_services"]) or "alle partners"
    level = {"buurt": "buurten", "wijk": "wijken", None: "buurten waar geladen, anders wijken"}[used["level"]]
    return (f"CBS {used['cbs_jaar']}, {level}; in de buurt = binnen {_number(used['walk_m'])} m; "
            f"weinig inwoners = minder dan {_number(used['min_inwoners'])}; initiatieven: {kinds}; "
            f"thema's: {themes}; partners: {services}; behoefte: {_need_setting(used['need'])}.")


def _need_setting(need: dict) -> str:
    return ", ".join(f"{key} ×{_number(weight, 1 if weight % 1 else 0)}" for key, weight in need.items())


def _units_table(units: list[dict], used: dict, code: str, naam: str | None) -> str:
    headers = ["code", "naam", "inwoners", "initiatieven", f"≤ {_number(used['walk_m'])} m", "dichtstbij (m)",
               "per 1.000 inw.", "dekking", "partners", "status", "behoefte", "prioriteit"]
    rows = [[u["code"], _cut(u["naam"]), _number(u["aantal_inwoners"]), _number(u["n_initiatives"]),
             _number(u["n_nearby"]), _number(u["nearest_m"]), _number(u["initiatives_per_1000"], 2),
             _percent(u["coverage"]), _number(u["n_partners"]), STATUS_LABELS[u["status"]],
             _need(u), _number(u["priority"])] for u in units]
    counts = ", ".join(f"{STATUS_LABELS[s]} {sum(1 for u in units if u['status'] == s)}" for s in STATUSES)
    return "\n".join([f"Witte vlekken in {naam or code} ({code}): {len(units)} gebieden.", _settings_line(used), "",
                      _table(headers, rows, right={2, 3, 4, 5, 6, 7, 8, 10, 11}), "", f"Status: {counts}."])


def _need(unit: dict) -> str:
    if unit["need"] is None:
        return "–"
    return _number(unit["need"], 2) + (" (wijk)" if unit["need_source"] == "wijk" and unit["level"] == "buurt" else "")


def _national_table(rows: list[dict], used: dict) -> str:
    headers = ["gemeente", "naam", "gebieden", "inwoners", "witte vlekken", "inw. in witte vlek", "aandeel",
               "init. per 1.000", "partners actief", "prioriteit"]
    body = [[r["gemeentecode"], _cut(r["naam"]), _number(r["units"]), _number(r["aantal_inwoners"]),
             _number(r["units_white_spot"]), _number(r["inwoners_white_spot"]), _percent(r["white_spot_share"]),
             _number(r["initiatives_per_1000"], 2), _number(r["partners_active"]), _number(r["priority_total"])]
            for r in rows]
    return "\n".join([f"Witte vlekken per gemeente: {len(rows)} gemeenten.", _settings_line(used), "",
                      _table(headers, body, right={2, 3, 4, 5, 6, 7, 8, 9})])
