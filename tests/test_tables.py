"""Reading tables as people have them: CSV in UTF-8 or Dutch Excel's Windows-1252, and XLSX workbooks."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from geoservice.errors import ImportRefused
from geoservice.imports.tables import as_text, read_table

ROWS = [["Naam", "Plaats"], ["Energiecoöperatie Één", "Baarn"], ["Buurtkamer", "Amsterdam"]]


def write_csv(path, rows, *, encoding, delimiter=";", bom=False):
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding, bom, expected", [
    ("utf-8", False, "UTF-8"),
    ("utf-8", True, "UTF-8 met BOM"),
    ("cp1252", False, "Windows-1252"),
    ("latin-1", False, "Windows-1252"),
])
def test_csv_encodings_are_detected_and_named(tmp_path, encoding, bom, expected):
    table = read_table(write_csv(tmp_path / "lijst.csv", ROWS, encoding=encoding, bom=bom))
    assert table.encoding == expected
    assert table.header == ["Naam", "Plaats"]
    assert table.rows[0] == (2, ["Energiecoöperatie Één", "Baarn"])
    assert expected in table.describe() and "puntkomma" in table.describe()


def test_comma_and_excel_sep_line(tmp_path):
    table = read_table(write_csv(tmp_path / "a.csv", ROWS, encoding="utf-8", delimiter=","))
    assert table.delimiter == "," and table.rows[1] == (3, ["Buurtkamer", "Amsterdam"])
    path = tmp_path / "b.csv"
    path.write_bytes(b"sep=;\r\n" + "\r\n".join(";".join(r) for r in ROWS).encode("cp1252"))
    table = read_table(path)
    assert table.header == ["Naam", "Plaats"] and table.rows[0][0] == 2


@pytest.mark.parametrize("data, reason", [
    ("Naam;Plaats\r\nA;B\r\n".encode("utf-16"), "UTF-16"),
    (b"Naam;Plaats\r\nA\x81\x8d;B\r\n", "UTF-8 of Windows-1252"),
    (b"Naam;Plaats\r\n" + bytes(range(0, 9)) * 20, "geen tekstbestand"),
    (b"", "kopregel"),
])
def test_unreadable_text_is_refused_with_the_reason(tmp_path, data, reason):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    with pytest.raises(ImportRefused, match=reason):
        read_table(path)


def make_workbook(path, sheets):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_xlsx_first_sheet_rows_numbered_as_excel_shows_them(tmp_path):
    path = make_workbook(tmp_path / "lijst.xlsx", {
        "Initiatieven": [["Naam", "lat", "Sinds"], ["Moestuin", 52.21, dt.datetime(2024, 3, 1)], [None, None, None],
                         ["Repaircafé", 52.2, None]],
        "Anders": [["x"], [1]],
    })
    table = read_table(path)
    assert table.sheet == "Initiatieven" and table.header == ["Naam", "lat", "Sinds"]
    assert [number for number, _ in table.rows] == [2, 4]
    assert table.rows[0][1][0] == "Moestuin" and as_text(table.rows[0][1][2]) == "2024-03-01"
    assert read_table(path, sheet="Anders").rows == [(2, [1])]


def test_unknown_sheet_and_broken_or_old_files(tmp_path):
    path = make_workbook(tmp_path / "lijst.xlsx", {"Blad1": [["Naam"], ["A"]]})
    with pytest.raises(ImportRefused, match="geen werkblad 'Nope'; wel: 'Blad1'"):
        read_table(path, sheet="Nope")
    broken = tmp_path / "kapot.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportRefused, match="geen leesbaar Excel-bestand"):
        read_table(broken)
    old = tmp_path / "oud.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ImportRefused, match=r"oude Excel-formaat"):
        read_table(old)


@pytest.mark.parametrize("value, text", [(12.0, "12"), (12.5, "12.5"), (7, "7"), (None, None),
                                         (dt.date(2025, 1, 2), "2025-01-02"), (" a ", "a")])
def test_cells_as_text(value, text):
    assert as_text(value) == text


def test_a_stray_control_character_is_left_to_the_row_checks(tmp_path):
    # One invisible character in a cell is the row's problem (named by the importer), not the file's.
    table = read_table(write_csv(tmp_path / "x.csv", [["Naam", "Plaats"], ["A\x02", "B"]], encoding="utf-8"))
    assert table.rows == [(2, ["A\x02", "B"])]
