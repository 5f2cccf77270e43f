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
