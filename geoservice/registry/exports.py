"""Export initiatives as CSV, Excel (XLSX), GeoJSON (RFC 7946) or Open Referral HSDS 3.0 JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid

from sqlalchemy import Connection, and_, func, select

from ..models import WGS84, Buurt, Gemeente, Initiative, Wijk
from ..vocab import INITIATIVE_KINDS, STATUSES, THEMES

FORMATS = ("csv", "xlsx", "geojson", "hsds")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_WIDTH = {"minimum": 8, "maximum": 60}  # column widths in characters
COORD_DECIMALS = 7  # about 1 cm
# The properties of a GeoJSON feature; CSV has the same columns plus lat/lon.
COLUMNS = ("id", "name", "kind", "themes", "description", "website", "email", "phone", "address", "postcode",
           "status", "last_verified", "gemeentecode", "wijkcode", "buurtcode", "location_precision")
CSV_COLUMNS = (*COLUMNS, "lat", "lon")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HSDS_VERSION = "3.0"
# Fixed, so that every export gives the same HSDS ids to the same initiative.
HSDS_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:samenkaart:hsds")
HSDS_STATUS = {"published": "active", "pending": "inactive", "archived": "inactive", "rejected": "inactive"}


def select_initiatives(conn: Connection, statuses: tuple[str, ...] = ("published",)) -> list[dict]:
    """Initiatives with one of the statuses, ordered by id, with WGS84 lon/lat and the names of their areas."""
    location = func.ST_Transform(Initiative.location, WGS84)
    stmt = (
        select(*(getattr(Initiative, name) for name in COLUMNS),
               func.ST_X(location).label("lon"), func.ST_Y(location).label("lat"),
               Gemeente.naam.label("gemeentenaam"), Wijk.naam.label("wijknaam"), Buurt.naam.label("buurtnaam"))
        .outerjoin(Gemeente, and_(Gemeente.jaar == Initiative.areas_jaar, Gemeente.code == Initiative.gemeentecode))
        .outerjoin(Wijk, and_(Wijk.jaar == Initiative.areas_jaar, Wijk.code == Initiative.wijkcode))
        .outerjoin(Buurt, and_(Buurt.jaar == Initiative.areas_jaar, Buurt.code == Initiative.buurtcode))
        .where(Initiative.status.in_(statuses))
        .order_by(Initiative.id)
    )
    rows = []
    for row in conn.execute(stmt):
        item = dict(row._mapping)
        item["lon"] = round(item["lon"], COORD_DECIMALS)
        item["lat"] = round(item["lat"], COORD_DECIMALS)
        rows.append(item)
    return rows


def _plain(value):
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def to_geojson(rows: list[dict]) -> dict:
    """An RFC 7946 FeatureCollection: lon/lat points, no crs member."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": row["id"],
         "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
         "properties": {name: _plain(row[name]) for name in COLUMNS}}
        for row in rows
    ]}


def csv_cell(value) -> str:
    """Text for one CSV cell: lists ';'-joined, None empty, formula-like text neutralised with a '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    text = str(_plain(value))
    # Dutch Excel splits a .csv at ';' too, so every ';'-separated part is a cell that could start a formula
    return ";".join("'" + part if part.lstrip(" ").startswith(FORMULA_STARTS) else part
                    for part in text.split(";"))


def csv_text(columns: list[str], rows: list[dict]) -> str:
    """CSV (comma, CRLF line ends, RFC 4180) of those columns, every cell through csv_cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def xlsx_bytes(columns: list[str], rows: list[dict], title: str = "Gegevens") -> bytes:
    """An Excel workbook of the same cells as csv_text (numbers stay numbers), with a bold header row and columns
    as wide as their text. Text is always stored as text, never as a formula, and formula-like text keeps the
    CSV's leading ' so both files read the same."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    grid = [[_xlsx_value(row.get(column)) for column in columns] for row in rows]
    for index, column in enumerate(columns):
        longest = max([len(column), *(len(str(line[index])) for line in grid if line[index] is not None)])
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(
            max(longest + 2, XLSX_WIDTH["minimum"]), XLSX_WIDTH["maximum"])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for line in grid:
        cells = []
        for value in line:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would store text starting with '=' as a formula
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value):
    """A cell value: numbers as numbers, everything else the text csv_cell gives (None stays empty)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = csv_cell(value)
    return text if text != "" else None


def to_csv(rows: list[dict]) -> str:
    """The export as CSV: the GeoJSON properties plus lat/lon."""
    return csv_text(CSV_COLUMNS, rows)


def hsds_id(*parts: object) -> str:
    """A stable UUID for one HSDS record, e.g. hsds_id('initiative', 12, 'service')."""
    return str(uuid.uuid5(HSDS_NAMESPACE, ":".join(str(p) for p in parts)))


def _taxonomies() -> tuple[list[dict], list[dict], dict[tuple[str, str], str]]:
    """HSDS taxonomies and terms for the kinds and themes, and (vocabulary, key) -> term id."""
    taxonomies, terms, term_ids = [], [], {}
    for vocabulary, labels, title in (("kind", INITIATIVE_KINDS, "Samenkaart: soort initiatief"),
                                      ("theme", THEMES, "Samenkaart: thema")):
        taxonomy_id = hsds_id("taxonomy", vocabulary)
        taxonomies.append({"id": taxonomy_id, "name": title, "description": f"{title} (sleutel en Nederlands label)",
                           "uri": None, "version": "1"})
        for key, label in labels.items():
            term_id = term_ids[(vocabulary, key)] = hsds_id("taxonomy_term", vocabulary, key)
            terms.append({"id": term_id, "code": key, "name": label, "description": label, "parent_id": None,
                          "taxonomy": title, "taxonomy_id": taxonomy_id, "language": "nl", "term_uri": None})
    return taxonomies, terms, term_ids


def to_hsds(rows: list[dict]) -> dict:
    """Open Referral HSDS 3.0 records, one organization + service + location per initiative, linked by id.

    The tables are top-level lists as in HSDS's tabular data package; every reference
    (organization_id, service_id, location_id, taxonomy_term_id, link_id) points at a record here.
    """
    taxonomies, terms, term_ids = _taxonomies()
    doc: dict[str, list] = {name: [] for name in (
        "organizations", "services", "locations", "addresses", "phones", "service_at_locations",
        "service_areas")}
    attributes = []
    for row in rows:
        key = ("initiative", row["id"])
        org_id, service_id, location_id = hsds_id(*key, "organization"), hsds_id(*key, "service"), \
            hsds_id(*key, "location")
        description = row["description"] or INITIATIVE_KINDS.get(row["kind"], row["kind"])
        doc["organizations"].append({
            "id": org_id, "name": row["name"], "alternate_name": None, "description": description,
            "email": row["email"], "website": row["website"], "parent_organization_id": None})
        doc["services"].append({
            "id": service_id, "organization_id": org_id, "name": row["name"], "description": description,
            "url": row["website"], "email": row["email"], "status": HSDS_STATUS[row["status"]],
            "assured_date": _plain(row["last_verified"])})
        doc["locations"].append({
            "id": location_id, "location_type": "physical", "organization_id": org_id, "name": row["name"],
            "latitude": row["lat"], "longitude": row["lon"]})
        doc["service_at_locations"].append({
            "id": hsds_id(*key, "service_at_location"), "service_id": service_id, "location_id": location_id})
        if row["address"] or row["postcode"]:
            doc["addresses"].append({
                "id": hsds_id(*key, "address"), "location_id": location_id, "address_1": row["address"] or "",
                "city": row["gemeentenaam"] or "", "state_province": "", "postal_code": row["postcode"] or "",
                "country": "NL", "address_type": "physical"})
        if row["phone"]:
            doc["phones"].append({"id": hsds_id(*key, "phone"), "organization_id": org_id, "service_id": service_id,
                                  "number": row["phone"], "type": "voice"})
        area = _service_area(row)
        if area:
            doc["service_areas"].append({"id": hsds_id(*key, "service_area"), "service_id": service_id, **area,
                                         "extent": None, "extent_type": None, "uri": None})
        for vocabulary, values in (("kind", [row["kind"]]), ("theme", row["themes"] or [])):
            for value in values:
                if (vocabulary, value) in term_ids:
                    attributes.append({
                        "id": hsds_id(*key, "attribute", vocabulary, value), "link_id": service_id,
                        "link_entity": "service", "link_type": vocabulary,
                        "taxonomy_term_id": term_ids[(vocabulary, value)], "value": None})
    return {"hsds_version": HSDS_VERSION, "publisher": "Samenkaart", **doc, "taxonomies": taxonomies,
            "taxonomy_terms": terms, "attributes": attributes}


def _service_area(row: dict) -> dict | None:
    """The finest CBS area the initiative lies in: where it works, as far as the registry knows."""
    for level, code, name in (("buurt", row["buurtcode"], row["buurtnaam"]), ("wijk", row["wijkcode"], row["wijknaam"]),
                              ("gemeente", row["gemeentecode"], row["gemeentenaam"])):
        if code:
            label = f"{name} ({code})" if name else code
            return {"name": label, "description": f"De CBS-{level} waarin het initiatief ligt: {label}."}
    return None


def render(rows: list[dict], fmt: str) -> str | bytes:
    """The export of the rows in one of FORMATS: text, or bytes for xlsx."""
    if fmt == "csv":
        return to_csv(rows)
    if fmt == "xlsx":
        return xlsx_bytes(list(CSV_COLUMNS), rows, "Initiatieven")
    if fmt == "geojson":
        return json.dumps(to_geojson(rows), ensure_ascii=False) + "\n"
    if fmt == "hsds":
        return json.dumps(to_hsds(rows), ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown export format {fmt!r}")


def statuses_for(chosen: tuple[str, ...]) -> tuple[str, ...]:
    """The statuses to export: 'all' means every status; nothing chosen means published."""
    if not chosen:
        return ("published",)
    if "all" in chosen:
        return tuple(STATUSES)
    return tuple(dict.fromkeys(chosen))
