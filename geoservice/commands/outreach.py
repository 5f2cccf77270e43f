"""`geoservice outreach`: outreach regions of a partner or a gemeente, as a table or GeoJSON."""

from __future__ import annotations

import json

import click

from ..analysis.outreach import CLUSTER_M, REACH_M
from .gaps import gap_options

UNITS_SHOWN = 4  # a table row names the largest units; GeoJSON lists them all


def _to_stderr(message: str) -> None:
    click.echo(message, err=True)


def _range(spec: dict) -> click.IntRange:
    return click.IntRange(spec["minimum"], spec["maximum"])


def _gemeente(_ctx, _param, value: str | None) -> str | None:
    if value is None:
        return None
    from ..cbs.codes import parse_code

    code = parse_code(value)
    if code is None or code.level != "gemeente":
        raise click.BadParameter(f"'{value}' is geen gemeentecode; verwacht bijvoorbeeld GM0308.")
    return code.code


def _number(value: float, decimals: int = 0) -> str:
    """1.975 and 1,17: Dutch thousands and decimal separators."""
    return f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _table(body: dict) -> str:
    used = body["parameters"]
    where = (f"Partner {used['partner']} (binnen {_number(used['reach_m'])} m van zijn werkgebieden)"
             if used["partner"] is not None else f"Gemeente {used['gemeente']}")
    kinds = " of ".join(used["statuses"])
    regions = "1 regio" if body["numberReturned"] == 1 else f"{body['numberReturned']} regio's"
    head = (f"{where}: {regions} van gebieden met status {kinds}, "
            f"samengevoegd binnen {_number(used['cluster_m'])} m; op prioriteit gesorteerd.")
    if not body["features"]:
        return f"{where}: geen gebieden met status {kinds}, dus geen regio's."
    lines = [head, "", f"{'#':>3}  {'prioriteit':>10}  {'gebieden':>8}  {'inwoners':>10}  {'km²':>9}  gebieden"]
    for feature in body["features"]:
        region = feature["properties"]
        units = region["units"]
        shown = ", ".join(f"{u['naam'] or u['code']} ({u['code']})" for u in units[:UNITS_SHOWN])
        more = f" en nog {len(units) - UNITS_SHOWN}" if len(units) > UNITS_SHOWN else ""
        lines.append(f"{region['rank']:>3}  {_number(region['priority']):>10}  {region['n_units']:>8}  "
                     f"{_number(region['aantal_inwoners']):>10}  "
                     f"{_number(region['area_m2'] / 1e6, 2):>9}  {shown}{more}")
    return "\n".join(lines)


@click.command("outreach")
@click.option("--partner", type=click.IntRange(min=1), metavar="ID",
              help="Regions near this partner's service areas (id of the partner).")
@click.option("--gemeente", callback=_gemeente, metavar="GM....", help="Regions in this gemeente (GM code).")
@click.option("--cluster-m", type=_range(CLUSTER_M), default=CLUSTER_M["default"], show_default=True,
              help="Units at most this many metres apart form one region (0: only touching units).")
@click.option("--reach-m", type=_range(REACH_M), default=REACH_M["default"], show_default=True,
              help="With --partner: only units within this many metres of its service areas.")
@click.option("--include-no-support", is_flag=True,
              help="Also units with an initiative nearby but too little partner coverage (status no_support).")
@gap_options
@click.option("--format", "fmt", type=click.Choice(("table", "geojson")), default="table", show_default=True,
              help="table: one line per region; geojson: a FeatureCollection (WGS84) listing every unit.")
def outreach(partner, gemeente, cluster_m, reach_m, include_no_support, level, walk_m, min_inwoners, kinds,
             themes, partner_services, need, fmt) -> None:
    """Outreach regions: white spots near each other grouped into regions, ranked by priority (need × inhabitants).

    Give exactly one of --partner and --gemeente. With --partner, only units within --reach-m of
    its current service areas count: where it could grow next.
    """
    from .. import db as dbmod
    from ..analysis.gaps import make_params
    from ..analysis.outreach import outreach_collection
    from ._database import ensure_database
    from ..config import Settings

    if (partner is None) == (gemeente is None):
        raise click.UsageError("Geef --partner ID of --gemeente GM…: precies één van de twee.")
    params = make_params(level=level, walk_m=walk_m, min_inwoners=min_inwoners, kinds=kinds, themes=themes,
                         partner_services=partner_services, need=need)
    engine = dbmod.make_engine(ensure_database(Settings.from_env(), echo=_to_stderr))
    try:
        with engine.connect() as conn:
            body = outreach_collection(conn, partner=partner, gemeente=gemeente, cluster_m=cluster_m,
                                       reach_m=reach_m, include_no_support=include_no_support, params=params)
    finally:
        engine.dispose()
    if fmt == "geojson":
        click.echo(json.dumps(body, ensure_ascii=False))
    else:
        click.echo(_table(body))
