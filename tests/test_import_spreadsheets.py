"""`geoservice import initiatives` with files as people keep them: Excel workbooks and Dutch Excel's CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from geoservice.cli import main

from .test_import_initiatives import initiative_fingerprint, stored

FIXTURES = Path(__file__).parent / "fixtures"
# Where the fixture's coordinates lie (checked below against the CBS areas the import derives).
PLACE_OF = {"T-001": ("Baarn", "GM0308"), "T-003": ("Baarn", "GM0308"), "T-004": ("Amsterdam", "GM0363")}


def run(runner_env, url: str, *args):
    return CliRunner().invoke(main, ["import", "initiatives", *map(str, args)], env=runner_env(url))


def fixture_rows() -> list[dict]:
    with (FIXTURES / "initiatives_basic.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def number(text: str) -> float:
    return float(text.replace(",", "."))


def workbook_of_fixture(path: Path, *, blank_row_after: int | None = None, first_sheet: str = "Blad1",
                        sheet: str | None = None) -> Path:
    """The fixture's rows with coordinates as a workbook with the headers Naam, Adres, Plaats, lat, lon, Website:
    numbers as numbers, as Excel keeps them."""
    book = openpyxl.Workbook()
    book.active.title = first_sheet
    target = book.active if sheet is None else book.create_sheet(sheet)
    if sheet is not None:
        book.active.append(["Iets anders"])
    target.append(["Naam", "Adres", "Plaats", "lat", "lon", "Website"])
    for index, row in enumerate(r for r in fixture_rows() if r["lat"]):
        target.append([row["naam"], row["adres"] or None, PLACE_OF[row["id"]][0], number(row["lat"]),
                       number(row["lon"]), row["website"] or None])
        if blank_row_after == index:
            target.append([None] * 6)
    book.save(path)
    return path


def test_an_xlsx_with_dutch_headers_imports(fresh_db_url, runner_env, tmp_path):
    path = workbook_of_fixture(tmp_path / "initiatieven.xlsx")
    result = run(runner_env, fresh_db_url, path)
    assert result.exit_code == 0, result.output
    assert "gelezen als Excel-werkblad 'Blad1'" in result.output
    assert "3 nieuw, 0 bijgewerkt, 0 ongewijzigd, 0 afgewezen" in result.output
    assert "soort 'Overig'" in result.output  # no kind column: said out loud
    rows = {row["name"]: row for row in stored(fresh_db_url, "initiatieven").values()}
    originals = {row["naam"]: row for row in fixture_rows() if row["lat"]}
    assert set(rows) == set(originals)
    for name, row in rows.items():
        original = originals[name]
        place, gemeente = PLACE_OF[original["id"]]
        assert row["gemeentecode"] == gemeente and row["kind"] == "overig"
        assert row["website"] == (original["website"] or None)
        # the address is completed with its place, as a geocoder and a reader need it
        assert row["address"] == (f"{original['adres']}, {place}" if original["adres"] else None)
    # Re-importing the same workbook changes nothing.
    before = initiative_fingerprint(fresh_db_url)
    again = run(runner_env, fresh_db_url, path)
    assert "0 nieuw, 0 bijgewerkt, 3 ongewijzigd, 0 afgewezen" in again.output
    assert initiative_fingerprint(fresh_db_url) == before


def test_a_named_sheet_and_rows_numbered_as_excel_shows_them(fresh_db_url, runner_env, tmp_path):
    path = workbook_of_fixture(tmp_path / "lijst.xlsx", sheet="Initiatieven", blank_row_after=0)
    book = openpyxl.load_workbook(path)
    book["Initiatieven"]["E5"] = "oost"  # the lon of the row Excel shows as row 5 (after the blank row 3)
    book.save(path)
    before = initiative_fingerprint(fresh_db_url)
    result = run(runner_env, fresh_db_url, path, "--sheet", "Initiatieven")
    assert result.exit_code == 1
    assert "rij 5: lat/lon: 'oost' is geen getal" in result.output
    assert "gelezen als Excel-werkblad 'Initiatieven'" in result.output
    assert initiative_fingerprint(fresh_db_url) == before
    missing = run(runner_env, fresh_db_url, path, "--sheet", "Blad9")
    assert missing.exit_code == 1 and "geen werkblad 'Blad9'; wel: 'Blad1', 'Initiatieven'" in missing.output


def test_a_windows_1252_csv_from_dutch_excel_imports_intact(fresh_db_url, runner_env, tmp_path):
    text = (FIXTURES / "initiatives_basic.csv").read_text(encoding="utf-8-sig")
    # Dutch Excel's "CSV (gescheiden door lijstscheidingsteken)": Windows-1252, ';', CRLF.
    text = text.replace("Testdata: dit initiatief bestaat niet.", "Één keer per week. Testdata: dit initiatief "
                        "bestaat niet.", 1)
    path = tmp_path / "excel.csv"
    path.write_bytes(text.replace("\n", "\r\n").encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    result = run(runner_env, fresh_db_url, path, "--source", "excel")
    assert result.exit_code == 0, result.output
    assert "tekenset Windows-1252, scheidingsteken puntkomma (;)" in result.output
    rows = stored(fresh_db_url, "excel")
    assert rows["T-003"]["name"] == "Energiecoöperatie Proef (testdata)"
    assert rows["T-001"]["description"].startswith("Één keer per week.")
    assert rows["T-002"]["name"] == "Taalcafé Testplein (testdata)"


def test_a_file_in_another_encoding_is_refused_with_the_reason(fresh_db_url, runner_env, tmp_path):
    path = tmp_path / "unicode.csv"
    path.write_bytes((FIXTURES / "initiatives_basic.csv").read_text(encoding="utf-8-sig").encode("utf-16"))
    result = run(runner_env, fresh_db_url, path)
    assert result.exit_code == 1 and "UTF-16" in result.output
