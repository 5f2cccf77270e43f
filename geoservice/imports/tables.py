"""Read a table of rows as people have it: CSV in the encodings spreadsheets write, or an Excel workbook.

Every importer of tabular data (initiatives, CBS figures) reads through here, so an Excel file or a
CSV saved by Dutch Excel (Windows-1252, `;`) is understood the same way everywhere, and rows are
numbered as the spreadsheet shows them (the header is row 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImportRefused

XLSX_SUFFIXES = {".xlsx", ".xlsm"}
OLD_EXCEL_SUFFIXES = {".xls"}
DELIMITERS = (";", ",", "\t")
# Control characters other than tab, newline and carriage return: no spreadsheet writes them in text.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BINARY_SAMPLE = 8192
BINARY_CONTROLS = 8


@dataclass
class Table:
    """A header and numbered rows; cells are text for CSV and Python values (or None) for Excel."""

    header: list[str]
    rows: list[tuple[int, list]]
    source_format: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

    def describe(self) -> str:
        """How the file was read, in Dutch, for an import report."""
        if self.source_format == "xlsx":
            return f"gelezen als Excel-werkblad '{self.sheet}'"
        names = {";": "puntkomma (;)", ",": "komma (,)", "\t": "tab"}
        return f"gelezen als CSV, tekenset {self.encoding}, scheidingsteken {names[self.delimiter]}"


def is_spreadsheet(path: Path) -> bool:
    return path.suffix.lower() in XLSX_SUFFIXES


def read_table(path: str | Path, *, sheet: str | None = None) -> Table:
    """The header and rows of a CSV or XLSX file; ImportRefused (in Dutch, naming the file) if unusable."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in OLD_EXCEL_SUFFIXES:
        raise ImportRefused(f"{path.name} is in het oude Excel-formaat (.xls); sla het op als "
                            f"Excel-werkmap (.xlsx) of als CSV.")
    data = _read_bytes(path)
    if suffix in XLSX_SUFFIXES or data[:4] == b"PK\x03\x04":
        return read_xlsx(data, path.name, sheet=sheet)
    if sheet is not None:
        raise ImportRefused(f"{path.name} is geen Excel-bestand; --sheet geldt alleen voor .xlsx.")
    text, encoding = decode_text(data, path.name)
    return read_csv_text(text, path.name, encoding)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{path} kan niet worden gelezen: {exc.strerror or exc}.") from None


def read_utf8(path: Path, hint: str = "") -> str:
    """A JSON or YAML file's text (UTF-8, a BOM allowed); ImportRefused naming the file otherwise. hint: why."""
    try:
        return _read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(f"{path.name} is geen UTF-8-tekst{hint}.") from None


def decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """Text and the name of the encoding assumed: UTF-8 (with or without BOM), else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRefused(f"{filename} is opgeslagen als UTF-16 (Unicode-tekst); sla het bestand op als "
                            f"'CSV UTF-8' of als Excel-werkmap (.xlsx).")
    if _looks_binary(data[:BINARY_SAMPLE]):
        raise ImportRefused(f"{filename} is geen tekstbestand (het bevat nul-bytes of andere stuurtekens); "
                            f"lever een CSV- of Excel-bestand aan.")
    if data.startswith(b"\xef\xbb\xbf"):
        text, encoding = _strict(data[3:], "utf-8"), "UTF-8 met BOM"
    else:
        text, encoding = _strict(data, "utf-8"), "UTF-8"
    if text is None:
        # Dutch Excel's "CSV (gescheiden door lijstscheidingsteken)" is Windows-1252; Latin-1 text is the
        # same for every printable character, so it reads correctly too.
        text, encoding = _strict(data, "cp1252"), "Windows-1252"
    if text is None:
        raise ImportRefused(f"{filename} is geen tekst in UTF-8 of Windows-1252 (Latin-1); sla het bestand "
                            f"op als 'CSV UTF-8' of als Excel-werkmap (.xlsx).")
    return text, encoding


def _looks_binary(sample: bytes) -> bool:
    """Many control bytes: a binary file. A stray one in a cell is left to the row checks, which name it."""
    controls = len(_CONTROL_BYTES.findall(sample))
    return controls > max(BINARY_CONTROLS, len(sample) // 100)


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def read_csv_text(text: str, filename: str, encoding: str = "UTF-8") -> Table:
    """Rows of CSV text; the delimiter is the one the header line uses most (or Excel's `sep=` line)."""
    lines = text.split("\n", 2)
    first = lines[0].strip()
    if first.lower().startswith("sep=") and len(first) == 5:
        # Excel writes and hides this line; the row after it is row 1 for the user.
        delimiter = first[4]
        text = text.split("\n", 1)[1] if len(lines) > 1 else ""
    else:
        delimiter = max(DELIMITERS, key=lambda d: (first.count(d), d == ";"))
        if first.count(delimiter) == 0:
            delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportRefused(f"{filename} is geen leesbare CSV: {exc}.") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ImportRefused(f"{filename} heeft geen kopregel met kolomnamen.")
    header = [cell.strip() for cell in rows[0]]
    numbered = [(number, cells) for number, cells in enumerate(rows[1:], start=2)
                if any(cell.strip() for cell in cells)]
    return Table(header, numbered, "csv", encoding=encoding, delimiter=delimiter)


def read_xlsx(data: bytes, filename: str, *, sheet: str | None = None) -> Table:
    """Rows of one worksheet (the first, or the one named); cells keep Excel's values, empty is None."""
    import openpyxl  # imported here: only spreadsheet imports pay for it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise ImportRefused(f"{filename} is geen leesbaar Excel-bestand (.xlsx): {exc}.") from None
    try:
        if sheet is None:
            if not book.worksheets:
                raise ImportRefused(f"{filename} bevat geen werkblad.")
            worksheet = book.worksheets[0]
        elif sheet in book.sheetnames:
            worksheet = book[sheet]
        else:
            names = ", ".join(f"'{name}'" for name in book.sheetnames)
            raise ImportRefused(f"{filename} heeft geen werkblad '{sheet}'; wel: {names}.")
        header: list[str] | None = None
        rows: list[tuple[int, list]] = []
        # Numbered as Excel shows them: row numbers of the sheet itself, blank rows skipped.
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            cells = [None if (v is None or (isinstance(v, str) and not v.strip())) else v for v in values]
            if not any(cell is not None for cell in cells):
                continue
            if header is None:
                header = [as_text(cell) or "" for cell in cells]
                continue
            rows.append((number, cells))
        if header is None:
            raise ImportRefused(f"{filename}, werkblad '{worksheet.title}', is leeg: geen kopregel met kolomnamen.")
        return Table(header, rows, "xlsx", sheet=worksheet.title)
    finally:
        book.close()


def as_text(value) -> str | None:
    """An Excel cell as the text a person typed: 12 not 12.0, dates as YYYY-MM-DD; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()
