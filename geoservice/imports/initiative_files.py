"""Read an initiatives file into numbered raw records: CSV or XLSX (through tables.read_table), GeoJSON, HSDS."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImportRefused
from ..models import RD_NEW, WGS84
from ..registry.validation import RawRecord
from .tables import as_text, read_table, read_utf8

JSON_SUFFIXES = (".geojson", ".json")
# Folded column name -> field. Folding: lower case, accents dropped, spaces and dashes become '_'.
COLUMN_ALIASES = {
    "id": "external_id", "external_id": "external_id",
    "name": "name", "naam": "name",
    "kind": "kind", "soort": "kind",
    "themes": "themes", "themas": "themes", "thema": "themes",
    "description": "description", "beschrijving": "description", "omschrijving": "description",
    "website": "website", "url": "website",
    "email": "email", "e_mail": "email",
    "phone": "phone", "telefoon": "phone", "telefoonnummer": "phone",
    "address": "address", "adres": "address",
    "postcode": "postcode", "postal_code": "postcode",
    # the place (woonplaats) completes the address: "Laanstraat 1" + "Baarn" is found as "Laanstraat 1, Baarn"
    "plaats": "place", "woonplaats": "place", "place": "place", "city": "place",
    "lat": "lat", "latitude": "lat", "breedtegraad": "lat",
    "lon": "lon", "lng": "lon", "longitude": "lon", "lengtegraad": "lon",
    "x": "x", "y": "y",
    "status": "status",
    "last_verified": "last_verified", "laatst_gecontroleerd": "last_verified",
}
_RD_CRS = re.compile(r"(EPSG:+|EPSG/0/)28992$", re.IGNORECASE)
_WGS84_CRS = re.compile(r"(EPSG:+|EPSG/0/)4326$|CRS84$", re.IGNORECASE)
# A leading apostrophe is how exports (ours too) neutralise a formula; it is not part of the value.
_NEUTRALISED = re.compile(r"'(?=[=+\-@])")
NO_NAME = "Het bestand heeft geen kolom 'name' (of 'naam'); zonder naam kan niets worden ingelezen."


@dataclass
class ReadResult:
    records: list[RawRecord]
    notes: list[str]
    has_kind: bool = True  # the file has a kind column (or property) at all


def fold_column(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", str(name).strip().lower().lstrip("\ufeff"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s\-]+", "_", re.sub(r"['’`\".]", "", plain))


def map_columns(columns: list[str], *, require_name: bool = True) -> tuple[dict[str, str], list[str]]:
    """field -> column name in the file, plus the names of columns that are not used."""
    fields: dict[str, str] = {}
    unused = []
    for column in columns:
        target = COLUMN_ALIASES.get(fold_column(column))
        if target is None:
            if str(column).strip():
                unused.append(str(column))
            continue
        if target in fields:
            pair = {fold_column(fields[target]): fields[target], fold_column(column): column}
            if set(pair) == {"id", "external_id"}:
                # Both present: external_id is the key, id is then someone's own (database) number.
                fields[target] = pair["external_id"]
                unused.append(pair["id"])
                continue
            raise ImportRefused(f"De kolommen '{fields[target]}' en '{column}' betekenen hetzelfde; "
                                f"laat er één staan.")
        fields[target] = column
    if require_name and "name" not in fields:
        raise ImportRefused(NO_NAME)
    return fields, unused


def _unused_note(unused: list[str]) -> list[str]:
    return [f"kolom niet gebruikt: {', '.join(dict.fromkeys(unused))}"] if unused else []


def read_records(path: Path, *, sheet: str | None = None) -> ReadResult:
    """Numbered raw records of a CSV, XLSX, GeoJSON or HSDS file; ImportRefused when the file is unusable."""
    if path.suffix.lower() in JSON_SUFFIXES or _starts_like_json(path):
        if sheet is not None:
            raise ImportRefused(f"{path.name} is geen Excel-bestand; --sheet geldt alleen voor .xlsx.")
        return _read_json(path)
    return _read_table(path, sheet)


def _starts_like_json(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError:
        return False  # read_table says why
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[")


def _read_json(path: Path) -> ReadResult:
    text = read_utf8(path, "; JSON en GeoJSON zijn altijd UTF-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRefused(f"{path.name} is geen leesbare GeoJSON: {exc.msg} (regel {exc.lineno}).") from None
    except RecursionError:
        raise ImportRefused(f"{path.name} is te diep genest om te lezen.") from None
    from .hsds import is_hsds, read_hsds

    if is_hsds(doc):
        return read_hsds(doc, path.name)
    return _read_geojson(doc, path.name)


def _read_table(path: Path, sheet: str | None) -> ReadResult:
    table = read_table(path, sheet=sheet)
    header = table.header
    fields, unused = map_columns(header)
    index = {field: header.index(column) for field, column in fields.items()}
    xlsx = table.source_format == "xlsx"
    records = []
    for number, cells in table.rows:
        if xlsx:
            cells = [as_text(cell) for cell in cells]
        values = {}
        for field, i in index.items():
            cell = cells[i] if i < len(cells) else None
            values[field] = _NEUTRALISED.sub("", cell, count=1) if cell else cell
        extra = len(cells) > len(header) and any(cell and cell.strip() for cell in cells[len(header):])
        records.append(RawRecord(number, values, dict(fields), extra_cells=extra))
    return ReadResult(records, [table.describe(), *_unused_note(unused)], has_kind="kind" in fields)


def _read_geojson(doc: object, filename: str) -> ReadResult:
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportRefused(f"{filename} is geen GeoJSON FeatureCollection (en geen HSDS-bestand).")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ImportRefused(f"{filename}: 'features' ontbreekt of is geen lijst.")
    srid = _geojson_srid(doc.get("crs"), filename)
    records, unused, named, has_kind = [], [], False, False
    # Features may differ in their property names (naam here, name there): map each on its own.
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ImportRefused(f"{filename}: object {number} is geen GeoJSON Feature.")
        props = feature.get("properties")
        if props is not None and not isinstance(props, dict):
            raise ImportRefused(f"{filename}: object {number} heeft 'properties' die geen object zijn.")
        props = props or {}
        fields, not_used = map_columns(list(props), require_name=False)
        unused += not_used
        named = named or "name" in fields
        has_kind = has_kind or "kind" in fields
        values = {field: _property(props.get(column)) for field, column in fields.items()}
        if values.get("external_id") in (None, "") and feature.get("id") not in (None, ""):
            values["external_id"] = _property(feature["id"])
        point = _geojson_point(feature.get("geometry"), srid, filename, number)
        records.append(RawRecord(number, values, fields, geometry=point))
    if not features:
        return ReadResult([], [f"{filename} bevat geen objecten"])
    if not named:
        raise ImportRefused(NO_NAME)
    return ReadResult(records, _unused_note(unused), has_kind=has_kind)


def _property(value: object) -> object:
    if value is None or isinstance(value, (str, list)):
        return value
    if isinstance(value, (dict, bool)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _geojson_srid(crs: object, filename: str) -> int:
    """RFC 7946 GeoJSON is WGS84; older files may name RD New (EPSG:28992) in a 'crs' member."""
    if crs is None:
        return WGS84
    props = crs.get("properties") if isinstance(crs, dict) else None
    name = props.get("name", "") if isinstance(props, dict) else ""
    name = name if isinstance(name, str) else ""
    if _RD_CRS.search(name):
        return RD_NEW
    if _WGS84_CRS.search(name):
        return WGS84
    raise ImportRefused(f"{filename}: coördinatenstelsel '{str(name)[:60]}' wordt niet ondersteund; "
                        f"gebruik WGS84 (lon/lat) of RD (EPSG:28992).")


def _geojson_point(geometry: object, srid: int, filename: str, number: int) -> tuple[float, float, int] | None:
    if geometry is None:
        return None
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind != "Point":
        shown = kind if isinstance(kind, str) else "onleesbare"
        raise ImportRefused(f"{filename}: object {number} heeft een {shown[:30]}-geometrie; "
                            f"alleen punten (Point) kunnen worden ingelezen.")
    coordinates = geometry.get("coordinates")
    if (not isinstance(coordinates, list) or len(coordinates) not in (2, 3)
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                       for c in coordinates)):
        raise ImportRefused(f"{filename}: object {number} heeft een punt zonder twee geldige coördinaten.")
    return float(coordinates[0]), float(coordinates[1]), srid
