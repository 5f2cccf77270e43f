"""`geoservice load-cbs-figures`: a table of CBS figures joined onto loaded areas by code, all or nothing."""

from __future__ import annotations

import csv

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from geoservice.cbs.figures import parse_figure
from geoservice.cbs.loader import load_cbs
from geoservice.cli import main
from geoservice.errors import ImportRefused

from .helpers import DATA, fingerprint, scalar, shipped

INWONERS = DATA / "buurten_2024_inwoners.csv"
# Six of Amsterdam's buurten (wijk AA, Haarlemmerbuurt): boundaries for the tests that need a year not shipped.
AMSTERDAM_2023 = ["BU0363AA01", "BU0363AA02", "BU0363AA03", "BU0363AA04", "BU0363AA05", "BU0363AA06"]


def run(url, runner_env, *args):
    return CliRunner().invoke(main, ["load-cbs-figures", *map(str, args)], env=runner_env(url))


def buurt(url, code, jaar, column):
    return scalar(url, f"SELECT {column} FROM buurt WHERE jaar = :j AND code = :c", j=jaar, c=code)


def kerncijfer(url, code, jaar, key):
    return scalar(url, "SELECT kerncijfers -> :k FROM buurt WHERE jaar = :j AND code = :c", k=key, j=jaar, c=code)


def write_csv(path, rows, *, delimiter=";", encoding="utf-8"):
    with path.open("w", newline="", encoding=encoding) as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


@pytest.fixture
def amsterdam_2023(fresh_db_url, engine_for, tmp_path):
    """A database with six Amsterdam buurten loaded as CBS year 2023, without any figures.

    Amsterdam's buurt boundaries are the ones CBS uses since 2022 (data/cbs_wijken/README.md), so they are the
    2023 buurten too; no figures of 2023 are shipped, and 2024 stays the active year.
    """
    frame = shipped("buurten_2024_amsterdam.gpkg")
    frame = frame[frame.buurtcode.isin(AMSTERDAM_2023)].drop(columns=["jaar", "aantal_inwoners"])
    path = tmp_path / "amsterdam_2023.gpkg"
    frame.to_file(path, layer="buurten", driver="GPKG")
    load_cbs(engine_for(fresh_db_url), [path], year=2023)
    assert scalar(fresh_db_url, "SELECT count(*) FROM buurt WHERE jaar = 2023 AND aantal_inwoners IS NULL") == 6
    assert scalar(fresh_db_url, "SELECT jaar FROM cbs_jaar WHERE is_active") == 2024
    return fresh_db_url


def statline_rows():
    """A StatLine-style table (Kerncijfers wijken en buurten: column names with their positions, codes padded with
    spaces, '.' for a missing figure, the sentinel -99997). The figures are made up for the test, not CBS's."""
    header = ["ID", "WijkenEnBuurten", "Gemeentenaam_1", "SoortRegio_2", "Codering_3", "AantalInwoners_5",
              "k_65JaarOfOuder_12", "HuishoudensTotaal_29", "Eenpersoonshuishoudens_30", "WmoClientenRelatief_94",
              "GemiddeldInkomenPerInwoner_78"]
    return [header,
            ["0", "NL00      ", "Nederland                 ", "Land      ", "NL00      ", "1000000", "200000",
             "500000", "200000", "60", "35,1"],
            ["1", "GM0363    ", "Amsterdam                 ", "Gemeente  ", "GM0363    ", "20000", "3000",
             "11000", "6000", "50", "38,2"],
            ["2", "WK0363AA  ", "Amsterdam                 ", "Wijk      ", "WK0363AA  ", "8000", "1000",
             "5000", "3000", "45", "40,0"],
            ["3", "BU0363AA01", "Amsterdam                 ", "Buurt     ", "BU0363AA01", "2000", "300",
             "1600", "1200", "40", "41,5"],
            ["4", "BU0363AA02", "Amsterdam                 ", "Buurt     ", "BU0363AA02", "1500", ".",
             "1000", "450", "-99997", "."],
            ["5", "BU0363AA03", "Amsterdam                 ", "Buurt     ", "BU0363AA03", "4000", "1000",
             "2500", "1000", "55", "39,0"],
            ["6", "BU0363ZZ99", "Amsterdam                 ", "Buurt     ", "BU0363ZZ99", "10", "1",
             "5", "5", ".", "."]]


def test_a_statline_table_loads_onto_the_buurten_of_a_year_not_shipped(amsterdam_2023, runner_env, tmp_path):
    url = amsterdam_2023
    path = write_csv(tmp_path / "kwb-2023.csv", statline_rows())
    first = run(url, runner_env, path, "--year", "2023")
    assert first.exit_code == 0, first.output
    out = first.output
    assert "7 rijen gelezen; codes uit kolom 'Codering_3'; CBS-jaar 2023" in out
    assert "kolom 'k_65JaarOfOuder_12' → pct_65plus (StatLine-aantal, als percentage van aantal_inwoners)" in out
    assert "genegeerde kolommen: 'ID', 'WijkenEnBuurten', 'Gemeentenaam_1', 'SoortRegio_2', " \
           "'GemiddeldInkomenPerInwoner_78'" in out
    assert "buurt: 3 bijgewerkt, 0 ongewijzigd (van 6 geladen voor 2023)" in out
    # the rows whose code is no loaded area of 2023, in the file's order
    assert "4 rijen met een code zonder geladen gebied in 2023: NL00, GM0363, WK0363AA, BU0363ZZ99" in out
    assert "3 van 6 zonder aantal_inwoners" in out and "4 van 6 zonder pct_65plus" in out

    assert buurt(url, "BU0363AA01", 2023, "aantal_inwoners") == 2000
    assert buurt(url, "BU0363AA01", 2023, "pct_65plus") == 15.0  # 300 of 2,000
    assert kerncijfer(url, "BU0363AA01", 2023, "percentage_eenpersoonshuishoudens") == 75.0  # 1,200 of 1,600
    assert kerncijfer(url, "BU0363AA01", 2023, "aantal_wmo_clienten_per_1000_inwoners") == 40
    assert buurt(url, "BU0363AA02", 2023, "pct_65plus") is None  # '.'
    assert kerncijfer(url, "BU0363AA02", 2023, "aantal_wmo_clienten_per_1000_inwoners") is None  # -99997
    assert kerncijfer(url, "BU0363AA03", 2023, "percentage_eenpersoonshuishoudens") == 40.0
    assert buurt(url, "BU0363AA04", 2023, "aantal_inwoners") is None  # not in the file
    # the 2024 areas of the same codes are untouched
    assert buurt(url, "BU0363AA01", 2024, "pct_65plus") is None

    before = fingerprint(url)
    again = run(url, runner_env, path, "--year", "2023")
    assert again.exit_code == 0, again.output
    assert "buurt: 0 bijgewerkt, 3 ongewijzigd" in again.output
    assert fingerprint(url) == before


def _inhabitants_csv() -> dict[str, int]:
    with INWONERS.open(newline="", encoding="utf-8") as f:
        return {row["nhood_id"]: int(row["population"]) for row in csv.DictReader(f)}


def test_the_shipped_inhabitants_table_completes_amsterdams_buurten(fresh_db_url, engine_for, runner_env):
    """Real figures on real boundaries: Amsterdam's buurten as they came before data/ carried their inhabitants
    (cleared here), completed from the shipped CBS table (StatLine 85984NED). Baarn's buurten already have the
    same figures from their own file."""
    url = fresh_db_url
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE buurt SET aantal_inwoners = NULL WHERE gemeentecode = 'GM0363'"))

    result = run(url, runner_env, INWONERS)
    assert result.exit_code == 0, result.output
    table = _inhabitants_csv()
    unmatched = [code for code in table if not code.startswith(("BU0363", "BU0308"))]
    assert "gelezen als CSV, tekenset UTF-8, scheidingsteken komma (,)" in result.output
    assert "14574 rijen gelezen; codes uit kolom 'nhood_id'; CBS-jaar 2024" in result.output
    assert "kolom 'population' → aantal_inwoners" in result.output
    assert "genegeerde kolommen: (zonder naam)" in result.output
    assert "buurt: 517 bijgewerkt, 21 ongewijzigd (van 539 geladen voor 2024)" in result.output
    assert "  1 van 539 zonder aantal_inwoners" in result.output  # BU0363MK06: no row in the CBS table
    assert (f"{len(unmatched)} rijen met een code zonder geladen gebied in 2024: "
            f"{', '.join(unmatched[:20])} …") in result.output
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT code, aantal_inwoners FROM buurt "
                                        "WHERE jaar = 2024 AND gemeentecode = 'GM0363'")).all())
    assert stored == {code: table.get(code) for code in stored} and len(stored) == 518
    assert sum(v for v in stored.values() if v) == 931_300

    again = run(url, runner_env, INWONERS)
    assert "buurt: 0 bijgewerkt, 538 ongewijzigd" in again.output


def test_one_unreadable_value_loads_nothing(amsterdam_2023, runner_env, tmp_path):
    rows = statline_rows()
    rows[5][5] = "veel"  # BU0363AA02's AantalInwoners_5
    rows[6][8] = "1.000,5,0"  # BU0363AA03's Eenpersoonshuishoudens_30
    path = write_csv(tmp_path / "kwb.csv", rows)
    before = fingerprint(amsterdam_2023)
    version = scalar(amsterdam_2023, "SELECT version FROM data_version")
    result = run(amsterdam_2023, runner_env, path, "--year", "2023")
    assert result.exit_code == 1
    assert ("kwb.csv is niet geladen, er is niets veranderd: rij 6, kolom 'AantalInwoners_5': 'veel' is geen getal; "
            "rij 7, kolom 'Eenpersoonshuishoudens_30': '1.000,5,0' is geen getal.") in result.output
    assert fingerprint(amsterdam_2023) == before
    assert scalar(amsterdam_2023, "SELECT version FROM data_version") == version


def test_a_code_given_twice_loads_nothing(amsterdam_2023, runner_env, tmp_path):
    rows = statline_rows()
    rows[6][4] = "BU0363AA01"  # BU0363AA03's row now has BU0363AA01's code
    before = fingerprint(amsterdam_2023)
    result = run(amsterdam_2023, runner_env, write_csv(tmp_path / "kwb.csv", rows), "--year", "2023")
    assert result.exit_code == 1 and "rij 7: code BU0363AA01 stond al in rij 5" in result.output
    assert fingerprint(amsterdam_2023) == before


def test_the_first_code_column_in_the_documented_order_counts(fresh_db_url, runner_env, tmp_path):
    """A table with both the buurt's and its gemeente's code (made-up figure): the buurtcode is the code."""
    path = write_csv(tmp_path / "t.csv", [["gemeentecode", "Codering_3", "buurtcode", "aantal_inwoners"],
                                          ["GM0308", "BU03080000", "BU03080000", "3000"]])
    result = run(fresh_db_url, runner_env, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "codes uit kolom 'buurtcode'" in result.output
    assert "genegeerde kolommen: 'gemeentecode', 'Codering_3'" in result.output
    assert "buurt: 1 zouden worden bijgewerkt" in result.output


@pytest.mark.parametrize("kind", ["xlsx", "windows-1252"])
def test_excel_and_dutch_excel_csv_read_the_same(amsterdam_2023, runner_env, tmp_path, kind):
    """Dutch Excel writes CSV in Windows-1252 with ';' and decimal commas; a workbook keeps numbers as numbers.
    The figures are made up for the test."""
    header = ["buurtcode", "buurtnaam", "aantal_inwoners", "percentage_personen_65_jaar_en_ouder",
              "aantal_wmo_clienten_per_1000_inwoners"]
    rows = [["BU0363AA01", "Haarlemmerbuurt-Oost (één)", 2010, 12.5, 41.0],
            ["BU0363AA02", "Ségurbuurt", 1490, None, 7.25]]
    if kind == "xlsx":
        book = openpyxl.Workbook()
        book.active.title = "Kerncijfers"
        for row in [header, *rows]:
            book.active.append(row)
        path = tmp_path / "cijfers.xlsx"
        book.save(path)
    else:
        as_text = [[("" if v is None else str(v).replace(".", ",")) for v in row] for row in rows]
        path = write_csv(tmp_path / "cijfers.csv", [header, *as_text], encoding="cp1252")
    result = run(amsterdam_2023, runner_env, path, "--year", "2023")
    assert result.exit_code == 0, result.output
    read_as = ("gelezen als Excel-werkblad 'Kerncijfers'" if kind == "xlsx"
               else "gelezen als CSV, tekenset Windows-1252, scheidingsteken puntkomma (;)")
    assert read_as in result.output
    assert "kolom 'percentage_personen_65_jaar_en_ouder' → pct_65plus" in result.output
    assert "genegeerde kolommen: 'buurtnaam'" in result.output
    assert "buurt: 2 bijgewerkt" in result.output
    assert buurt(amsterdam_2023, "BU0363AA01", 2023, "aantal_inwoners") == 2010
    assert buurt(amsterdam_2023, "BU0363AA01", 2023, "pct_65plus") == 12.5
    assert buurt(amsterdam_2023, "BU0363AA02", 2023, "pct_65plus") is None
    assert kerncijfer(amsterdam_2023, "BU0363AA02", 2023, "aantal_wmo_clienten_per_1000_inwoners") == 7.25


def test_dry_run_changes_nothing_and_says_what_would(fresh_db_url, runner_env, tmp_path):
    """Made-up figures for Baarn at each level: the dry run reports them and stores none."""
    path = write_csv(tmp_path / "baarn.csv", [
        ["gwb_code", "aantal_inwoners", "aantal_wmo_clienten"],
        ["GM0308", "25000", "900"], ["WK030800", "5000", "."], ["BU03080000", "3000", "120"]], delimiter=",")
    before = fingerprint(fresh_db_url)
    version = scalar(fresh_db_url, "SELECT version FROM data_version")
    result = run(fresh_db_url, runner_env, path, "--dry-run")
    assert result.exit_code == 0, result.output
    for level in ("gemeente", "wijk", "buurt"):
        assert f"{level}: 1 zouden worden bijgewerkt, 0 ongewijzigd" in result.output
    assert "Proefdraai: niets opgeslagen." in result.output
    assert fingerprint(fresh_db_url) == before
    assert scalar(fresh_db_url, "SELECT version FROM data_version") == version


def test_map_names_the_code_column_and_any_figure(amsterdam_2023, runner_env, tmp_path):
    """A spreadsheet of one's own (made-up figures): --map says which column is which."""
    path = write_csv(tmp_path / "eigen.csv", [
        ["Buurt", "Inw", "Ouderen %", "Vrijwilligers", "Opmerking"],
        ["BU0363AA01", "2100", "14", "35", "druk"], ["BU0363AA02", "1400", "11", "12", ""]])
    result = run(amsterdam_2023, runner_env, path, "--year", "2023", "--map", "Buurt=code", "--map",
                 "Inw=aantal_inwoners", "--map", "Ouderen %=percentage_personen_65_jaar_en_ouder",
                 "--map", "Vrijwilligers=aantal_vrijwilligers")
    assert result.exit_code == 0, result.output
    assert "codes uit kolom 'Buurt'" in result.output and "genegeerde kolommen: 'Opmerking'" in result.output
    assert "kolom 'Ouderen %' → pct_65plus (--map)" in result.output
    assert buurt(amsterdam_2023, "BU0363AA01", 2023, "aantal_inwoners") == 2100
    assert buurt(amsterdam_2023, "BU0363AA02", 2023, "pct_65plus") == 11
    assert kerncijfer(amsterdam_2023, "BU0363AA01", 2023, "aantal_vrijwilligers") == 35

    unknown = run(amsterdam_2023, runner_env, path, "--year", "2023", "--map", "Inwoners=aantal_inwoners")
    assert unknown.exit_code == 1
    assert "--map: kolom 'Inwoners' staat niet in eigen.csv; de kolommen zijn: 'Buurt', 'Inw'" in unknown.output


def test_the_kept_gap_figures_are_fresh_and_the_data_version_moves_once(fresh_db_url, engine_for, tmp_path):
    """New figures for Baarn's buurten (made up): the analysis' stored figures stay usable after the commit."""
    from geoservice.cbs.figures import load_cbs_figures
    from geoservice.queries.gaps import stored_counts_are_fresh, stored_coverage_is_fresh

    engine = engine_for(fresh_db_url)
    path = write_csv(tmp_path / "baarn.csv", [["buurtcode", "aantal_inwoners"], ["BU03080000", "3001"]])
    version = scalar(fresh_db_url, "SELECT version FROM data_version")
    report = load_cbs_figures(engine, path)
    assert report.levels["buurt"].updated == 1
    with engine.connect() as conn:
        assert stored_coverage_is_fresh(conn) and stored_counts_are_fresh(conn)
    assert scalar(fresh_db_url, "SELECT version FROM data_version") == version + 1
    assert load_cbs_figures(engine, path).levels["buurt"].unchanged == 1
    assert scalar(fresh_db_url, "SELECT version FROM data_version") == version + 1


def test_a_year_without_boundaries_is_refused(fresh_db_url, runner_env, tmp_path):
    path = write_csv(tmp_path / "x.csv", [["code", "aantal_inwoners"], ["BU03080000", "1"]])
    result = run(fresh_db_url, runner_env, path, "--year", "2019")
    assert result.exit_code == 1 and "CBS-jaar 2019 is niet geladen" in result.output


@pytest.mark.parametrize("raw, integer, expected", [
    ("12,5", False, 12.5), ("12.5", False, 12.5), (" 7 ", True, 7), ("1.234,5", False, 1234.5),
    ("12.345.678", True, 12345678), ("1,234.5", False, 1234.5), (".", False, None), ("", False, None),
    ("x", False, None), ("-99995", True, None), ("-99997", False, None), (-99995.0, True, None),
    ("-", True, 0), ("-3,5", False, -3.5), (None, False, None), (41.0, True, 41), (3, False, 3.0),
])
def test_parse_figure(raw, integer, expected):
    assert parse_figure(raw, integer=integer) == expected


@pytest.mark.parametrize("raw, integer, reason", [
    ("veel", False, "'veel' is geen getal"), ("1.5", True, "'1.5' is geen geheel getal"),
    ("12,5%", False, "geen getal"), ("1,2,3", False, "geen getal"), (True, False, "geen getal"),
    # found by the bad-input property test: larger than a PostgreSQL integer, once a 500-like traceback
    ("9" * 40, True, "kan geen aantal zijn"), ("-5", True, "kan geen aantal zijn"), ("1" + "0" * 18, False, "te groot"),
])
def test_unreadable_figures(raw, integer, reason):
    with pytest.raises(ValueError, match=reason):
        parse_figure(raw, integer=integer)


def test_map_syntax_is_checked():
    from geoservice.cbs.figures import parse_maps

    assert parse_maps(["Ouderen % = pct_65plus", "a=b=code"]) == {"Ouderen %": "pct_65plus", "a=b": "code"}
    for bad in ("Inw", "=aantal_inwoners", "Inw=Aantal Inwoners"):
        with pytest.raises(ImportRefused, match="--map"):
            parse_maps([bad])
