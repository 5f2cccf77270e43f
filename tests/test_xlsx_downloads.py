"""format=xlsx wherever format=csv exists: the same rows and columns as the CSV, in a workbook Excel opens."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from click.testing import CliRunner

from geoservice.cli import main
from geoservice.registry.exports import CSV_COLUMNS

from .conftest import app_on
from .helpers import make_initiative, seed_outreach, seeded_database

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TRAP = '=HYPERLINK("https://example.org/x","klik") (testdata)'  # a spreadsheet would run this as a formula


def seed(session) -> dict:
    ids = seed_outreach(session)
    make_initiative(session, name=TRAP, description="@SUM(A1:A2) testdata", lon=4.89, lat=52.36)
    make_initiative(session, name="Buurtkamer (testdata)", lon=4.90, lat=52.37)
    return ids


@pytest.fixture(scope="module")
def api(pg_server, template_db):
    with seeded_database(pg_server, template_db, "xlsx", seed) as (url, ids):
        app = app_on(url)
        yield app.test_client(), ids, url


def csv_table(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def xlsx_table(response) -> tuple[list[list], openpyxl.worksheet.worksheet.Worksheet]:
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)], sheet


def same_cell(xlsx_value, csv_value: str) -> bool:
    if xlsx_value is None:
        return csv_value == ""
    if isinstance(xlsx_value, (int, float)):
        return float(csv_value) == pytest.approx(xlsx_value)
    return str(xlsx_value) == csv_value


@pytest.mark.parametrize("query, filename", [
    ("/api/v1/initiatives?limit=1000", "initiatieven"),
    ("/api/v1/initiatives?gemeente=GM0308", "initiatieven"),
    ("/api/v1/gaps?gemeente=GM0308", "witte-vlekken-GM0308"),
    ("/api/v1/gaps?gemeente=GM0363&level=wijk", "witte-vlekken-GM0363"),
    ("/api/v1/gaps/summary?sort=naam", "witte-vlekken-nederland"),
    ("/api/v1/outreach?gemeente=GM0308&cluster_m=300", "outreach-GM0308"),
    ("/api/v1/outreach?partner={baarn}&reach_m=2000", "outreach-partner-{baarn}"),
])
def test_xlsx_has_the_rows_and_columns_of_the_csv(api, query, filename):
    client, ids, _url = api
    query, filename = query.format(**ids), filename.format(**ids)
    as_csv = client.get(f"{query}&format=csv")
    as_xlsx = client.get(f"{query}&format=xlsx")
    assert as_xlsx.status_code == 200 and as_xlsx.mimetype == XLSX
    assert as_xlsx.headers["Content-Disposition"] == f'attachment; filename="{filename}.xlsx"'
    expected = csv_table(as_csv)
    got, sheet = xlsx_table(as_xlsx)
    assert len(expected) > 1 and len(got) == len(expected)
    assert got[0] == expected[0]
    assert all(cell.font.b for cell in sheet[1])  # a bold header row
    for xlsx_row, csv_row in zip(got[1:], expected[1:]):
        assert all(same_cell(x, c) for x, c in zip(xlsx_row, csv_row, strict=True)), (xlsx_row, csv_row)
    widths = [sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]]
    assert all(8 <= width <= 60 for width in widths)


def test_formula_like_text_stays_text(api):
    client, _ids, _url = api
    rows, sheet = xlsx_table(client.get("/api/v1/initiatives?format=xlsx&limit=1000"))
    name_column = rows[0].index("name")
    cells = [row[name_column] for row in sheet.iter_rows(min_row=2)]
    trap = next(cell for cell in cells if "HYPERLINK" in str(cell.value))
    assert trap.data_type == "s" and trap.value == "'" + TRAP  # as in the CSV, and never a formula
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_documented_and_served_alike(api):
    client, _ids, _url = api
    document = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/initiatives", "/api/v1/gaps", "/api/v1/gaps/summary", "/api/v1/outreach"):
        operation = document["paths"][path]["get"]
        assert XLSX in operation["responses"]["200"]["content"], path
        formats = next(p for p in operation["parameters"] if p["name"] == "format")["schema"]["enum"]
        assert "xlsx" in formats and "csv" in formats, path


def test_export_command_writes_the_same_rows_as_csv(api, runner_env, tmp_path):
    _client, _ids, url = api
    target = tmp_path / "initiatieven.xlsx"
    result = CliRunner().invoke(main, ["export", "initiatives", "--format", "xlsx", "--output", str(target)],
                                env=runner_env(url))
    assert result.exit_code == 0, result.output
    as_csv = CliRunner().invoke(main, ["export", "initiatives", "--format", "csv"], env=runner_env(url))
    expected = list(csv.reader(io.StringIO(as_csv.stdout)))
    book = openpyxl.load_workbook(target)
    got = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    assert got[0] == list(CSV_COLUMNS) == expected[0]
    assert len(got) == len(expected) == 4
    for xlsx_row, csv_row in zip(got[1:], expected[1:]):
        assert all(same_cell(x, c) for x, c in zip(xlsx_row, csv_row, strict=True))
