"""Need and priority (geoservice.analysis.need) against an independent computation from the stored CBS figures.

The independent side reads the raw columns and kerncijfers with plain SELECTs, derives each indicator's figure
as README describes, and ranks them in Python the way percent_rank() is defined: the number of units of the
level and year with a lower figure (towards less need), divided by the number of units with the figure minus one.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from geoservice.analysis.gaps import GapParams, gap_units, gemeente_summaries, make_params
from geoservice.analysis.need import DEFAULT_NEED, INDICATOR_KEYS, parse_need
from geoservice.cli import main
from geoservice.errors import InvalidParameter

BAARN, AMSTERDAM = "GM0308", "GM0363"
KEYS = ("ouderen", "alleenwonend", "lage_inkomens", "wmo")


def _number(kerncijfers: dict, name: str) -> float | None:
    value = kerncijfers.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def figures_of(row) -> dict[str, float]:
    """The indicator figures of one stored unit, derived in Python as README defines them."""
    kc = row.kerncijfers or {}
    one_person = _number(kc, "percentage_eenpersoonshuishoudens")
    if one_person is None:
        one_person = _number(kc, "pct_eenpersoonshhd")
    if one_person is None and _number(kc, "eenpersoonshuishoudens") is not None and row.aantal_huishoudens:
        one_person = 100 * _number(kc, "eenpersoonshuishoudens") / row.aantal_huishoudens
    wmo = _number(kc, "aantal_wmo_clienten_per_1000_inwoners")
    if wmo is None and _number(kc, "aantal_wmo_clienten") is not None and row.aantal_inwoners:
        wmo = 1000 * _number(kc, "aantal_wmo_clienten") / row.aantal_inwoners
    found = {"ouderen": row.pct_65plus, "alleenwonend": one_person,
             "lage_inkomens": _number(kc, "percentage_huishoudens_met_laag_inkomen"), "wmo": wmo}
    return {k: float(v) for k, v in found.items() if v is not None}


def percent_ranks(values: dict[str, float]) -> dict[str, float]:
    """percent_rank() by definition: (rank - 1) / (n - 1), rank counting the strictly lower values; 0 alone."""
    ordered = sorted(values.values())
    n = len(ordered)
    return {code: (sum(1 for v in ordered if v < value) / (n - 1) if n > 1 else 0.0)
            for code, value in values.items()}


def independent_scores(conn, table: str) -> tuple[dict[str, dict[str, float]], dict[str, str | None]]:
    """Per unit of the active year: {indicator: score}; and each unit's wijkcode (buurten only)."""
    parent = "wijkcode" if table == "buurt" else "NULL AS wijkcode"
    rows = conn.execute(text(
        f"SELECT code, {parent}, aantal_inwoners, aantal_huishoudens, pct_65plus, kerncijfers FROM {table} "
        "WHERE jaar = (SELECT jaar FROM cbs_jaar WHERE is_active)")).all()
    figures = {row.code: figures_of(row) for row in rows}
    scores = {code: {} for code in figures}
    for key in KEYS:
        ranked = percent_ranks({code: f[key] for code, f in figures.items() if key in f})
        for code, score in ranked.items():
            scores[code][key] = score
    return scores, {row.code: row.wijkcode for row in rows}


def expected_need(own: dict, wijk: dict | None, weights: dict[str, float]) -> tuple[float | None, str | None]:
    for source, scores in (("own", own), ("wijk", wijk or {})):
        present = {k: w for k, w in weights.items() if k in scores and w > 0}
        if present:
            return sum(w * scores[k] for k, w in present.items()) / sum(present.values()), source
    return None, None


def check_units(conn, gemeente: str, weights: dict[str, float], params: GapParams | None = None) -> list[dict]:
    buurt_scores, wijkcodes = independent_scores(conn, "buurt")
    wijk_scores, _ = independent_scores(conn, "wijk")
    units = gap_units(conn, params or GapParams(need=tuple(weights.items())), gemeente=gemeente)
    assert units
    for unit in units:
        if unit["level"] == "buurt":
            need, source = expected_need(buurt_scores[unit["code"]], wijk_scores.get(wijkcodes[unit["code"]]),
                                         weights)
            source = {"own": "buurt", "wijk": "wijk", None: None}[source]
        else:
            need, source = expected_need(wijk_scores[unit["code"]], None, weights)
            source = "wijk" if source else None
        assert unit["need_source"] == source, unit["code"]
        if need is None:
            assert unit["need"] is None and unit["priority"] is None
            continue
        assert unit["need"] == pytest.approx(need, abs=1e-4), unit["code"]
        if unit["status"] == "white_spot" and unit["aantal_inwoners"]:
            assert unit["priority"] == pytest.approx(unit["aantal_inwoners"] * need, abs=0.1), unit["code"]
        else:
            assert unit["priority"] is None, unit["code"]
    return units


@pytest.fixture
def conn(shared_db_url, engine_for):
    with engine_for(shared_db_url).connect() as connection:
        yield connection


# --- against the independent computation ---------------------------------------------------------

def test_baarns_buurten_need_and_priority_agree_with_percent_rank_by_hand(conn):
    units = check_units(conn, BAARN, dict(DEFAULT_NEED))
    assert len(units) == 21 and all(u["need_source"] == "buurt" for u in units)
    # no initiatives and no partners in the shared database: every buurt of Baarn is a white spot
    assert all(u["status"] == "white_spot" and u["priority"] > 0 for u in units)
    by_code = {u["code"]: u for u in units}
    # Amaliapark: 62 % over 65 and 57 % one-person households, both among the highest of the buurten loaded
    assert by_code["BU03080007"]["need"] > 0.9
    assert "veel ouderen" in by_code["BU03080007"]["need_reasons"]
    assert by_code["BU03080007"]["need_scores"].keys() == {"ouderen", "alleenwonend"}


def test_weights_change_the_mean(conn):
    check_units(conn, BAARN, {"ouderen": 2.0, "alleenwonend": 1.0})
    only_old = check_units(conn, BAARN, {"ouderen": 1.0})
    assert {u["code"]: u["need_scores"].keys() for u in only_old}["BU03080007"] == {"ouderen"}


def test_amsterdams_buurten_take_the_scores_of_their_wijk(conn):
    units = check_units(conn, AMSTERDAM, dict(DEFAULT_NEED), GapParams(level="buurt"))
    assert len(units) == 518
    # Amsterdam's buurten carry no kerncijfers of their own; only the harbour wijk (no inhabitants) has none either
    assert {u["need_source"] for u in units} == {"wijk", None}
    assert {u["wijkcode"] for u in units if u["need_source"] is None} == {"WK0363BA"}
    # buurten of one wijk share its need; different wijken differ
    by_wijk = {}
    for unit in (u for u in units if u["need"] is not None):
        by_wijk.setdefault(unit["wijkcode"], set()).add(unit["need"])
    assert all(len(needs) == 1 for needs in by_wijk.values())
    assert len({next(iter(needs)) for needs in by_wijk.values()}) > 20


def test_wijk_level_uses_the_wijken(conn):
    check_units(conn, AMSTERDAM, {"ouderen": 1.0}, GapParams(level="wijk", need=(("ouderen", 1.0),)))


def test_an_indicator_no_unit_has_gives_no_need(conn):
    units = gap_units(conn, GapParams(need=(("wmo", 1.0),)), gemeente=BAARN)
    assert {(u["need"], u["need_source"], u["priority"]) for u in units} == {(None, None, None)}


def test_figures_loaded_later_are_ranked_and_derived(fresh_db_url, engine_for):
    """WMO clients (a count, derived per 1,000 inhabitants) and low incomes for three buurten of Baarn."""
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        for code, clients, low in (("BU03080000", 91.25, 12.0), ("BU03080001", 20.0, 9.0),
                                   ("BU03080007", 65.0, None)):
            conn.execute(text("UPDATE buurt SET kerncijfers = kerncijfers || CAST(:extra AS jsonb) "
                              "WHERE jaar = 2024 AND code = :code"),
                         {"code": code, "extra": json.dumps({"aantal_wmo_clienten": clients,
                                                             "percentage_huishoudens_met_laag_inkomen": low})})
    with engine.connect() as conn:
        units = {u["code"]: u for u in check_units(conn, BAARN, {"wmo": 1.0, "lage_inkomens": 1.0})}
        # per 1,000: Centrum 91.25/1825 = 50, Schoonoordpark 20/1010 ≈ 19.8, Amaliapark 65/650 = 100
        assert units["BU03080007"]["need_scores"] == {"wmo": 1.0}
        assert units["BU03080001"]["need_scores"] == {"wmo": 0.0, "lage_inkomens": 0.0}
        assert units["BU03080000"]["need_scores"] == {"wmo": 0.5, "lage_inkomens": 1.0}
        assert units["BU03080002"]["need"] is None  # none of the requested figures, nor its wijk
        check_units(conn, BAARN, dict(DEFAULT_NEED))


def test_need_kept_on_write_is_what_the_analysis_computes_for_every_unit(fresh_db_url, engine_for):
    """gap_need (what the area tiles read in their one statement): after a change of CBS figures it is marked
    stale, and refresh_all (what every writer of CBS areas calls) makes it exactly the need and the white-spot
    priority the analysis computes, for every buurt and wijk of the year."""
    from geoservice.analysis.kept import refresh_all
    from geoservice.queries.need import kept_need_is_fresh

    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        refresh_all(conn)
        assert kept_need_is_fresh(conn)
        conn.execute(text("UPDATE buurt SET pct_65plus = 1 WHERE jaar = 2024 AND code = 'BU03080007'"))
        assert not kept_need_is_fresh(conn)  # the trigger marked it
        assert refresh_all(conn).need > 500
        assert kept_need_is_fresh(conn)
    with engine.connect() as conn:
        kept = {row.code: (row.need, row.white_spot_priority)
                for row in conn.execute(text("SELECT code, need, white_spot_priority FROM gap_need"))}
        for level in ("buurt", "wijk"):
            units = gap_units(conn, GapParams(level=level))
            assert units and all(u["code"] in kept for u in units)
            for unit in units:
                need, priority = kept[unit["code"]]
                assert need == unit["need"], unit["code"]
                if unit["status"] == "white_spot":
                    assert priority == unit["priority"], unit["code"]
        assert kept["BU03080007"][0] < 0.9  # the change is in: Amaliapark no longer has the most elderly


# --- the parameter ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    (None, DEFAULT_NEED), ("", DEFAULT_NEED), ("ouderen:2,wmo:1", (("ouderen", 2.0), ("wmo", 1.0))),
    (" Ouderen , alleenwonend:0.5 ", (("ouderen", 1.0), ("alleenwonend", 0.5))),
    (["ouderen:2", "wmo"], (("ouderen", 2.0), ("wmo", 1.0))),
])
def test_need_is_parsed(raw, expected):
    assert parse_need(raw) == expected


@pytest.mark.parametrize(("raw", "match"), [
    ("leeftijd:2", "onbekende indicator 'leeftijd'; kies uit: ouderen, alleenwonend, lage_inkomens, wmo"),
    ("ouderen:veel", "gewicht van 'ouderen'"), ("ouderen:-1", "gewicht"), ("ouderen:101", "gewicht"),
    ("ouderen,ouderen:2", "meer dan eens"), ("ouderen:0", "groter dan 0"),
])
def test_bad_need_is_refused(raw, match):
    with pytest.raises(InvalidParameter, match=match):
        make_params(need=raw)


def test_api_need_parameter_and_errors(client):
    body = client.get("/api/v1/gaps?gemeente=GM0308&need=ouderen:2,alleenwonend").get_json()
    assert body["parameters"]["need"] == {"ouderen": 2.0, "alleenwonend": 1.0}
    props = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert set(props["BU03080007"]["need_scores"]) == {"ouderen", "alleenwonend"}
    assert props["BU03080007"]["priority"] == pytest.approx(650 * props["BU03080007"]["need"], abs=0.1)
    bad = client.get("/api/v1/gaps?gemeente=GM0308&need=inkomen")
    assert bad.status_code == 400
    assert bad.get_json()["code"] == "InvalidParameterValue"
    assert all(key in bad.get_json()["description"] for key in INDICATOR_KEYS)
    as_csv = client.get("/api/v1/gaps?gemeente=GM0308&format=csv&need=ouderen")
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert {"need", "need_source", "need_reasons", "priority", "nearest_initiative"} <= set(rows[0])
    assert {float(r["need"]) for r in rows} == {round(p["need_scores"]["ouderen"], 4) for p in props.values()}


def test_indicators_endpoint_counts_units_with_each_figure(client, conn):
    body = client.get("/api/v1/gaps/indicators").get_json()
    assert [i["key"] for i in body["indicators"]] == list(INDICATOR_KEYS)
    counted = {}
    for table in ("buurt", "wijk"):
        scores, _ = independent_scores(conn, table)
        counted[table] = {k: sum(1 for s in scores.values() if k in s) for k in KEYS}
        counted[table]["total"] = len(scores)
    for indicator in body["indicators"]:
        assert indicator["direction"] == "higher_is_more_need" and indicator["cbs_fields"]
        for level in ("buurt", "wijk"):
            assert indicator["units"][level] == {"with_figure": counted[level][indicator["key"]],
                                                 "total": counted[level]["total"]}
    assert counted["wijk"]["ouderen"] > 3000 and counted["buurt"]["alleenwonend"] >= 20


def test_summary_priority_total_is_the_sum_of_the_units(conn):
    (summary,) = gemeente_summaries(conn, GapParams(), gemeente=BAARN)
    units = gap_units(conn, GapParams(), gemeente=BAARN)
    assert summary["priority_total"] == pytest.approx(sum(u["priority"] or 0 for u in units), abs=0.5)
    assert summary["priority_total"] > 0


def test_cli_need_option(shared_db_url, runner_env):
    result = CliRunner().invoke(main, ["gaps", "--gemeente", BAARN, "--need", "ouderen:1", "--format", "csv"],
                                env=runner_env(shared_db_url))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert all(r["need_source"] == "buurt" and r["priority"] for r in rows)
    table = CliRunner().invoke(main, ["gaps", "--gemeente", BAARN], env=runner_env(shared_db_url))
    assert "behoefte" in table.output and "prioriteit" in table.output
    bad = CliRunner().invoke(main, ["gaps", "--gemeente", BAARN, "--need", "geen"], env=runner_env(shared_db_url))
    assert bad.exit_code != 0 and "kies uit: ouderen" in bad.output
