"""Import initiatives from CSV or GeoJSON: read numbered raw rows, validate, locate, write in one transaction."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from ..config import Settings
from ..db import retrying
from ..errors import GeoserviceError, ImportRefused
from ..geocode import Geocoder
from ..initiatives import (NL_BOX_WGS84, CleanRecord, Defaults, RawRecord, row_values, stable_key,
                           upsert_initiatives, validate_record)
from ..models import RD_NEW, WGS84
from ..queries.areas import assign_initiative_areas
from ..queries.gaps import refresh_counts
from ..queries.initiatives_write import place_points
from .report import ImportReport

PROGRESS_EVERY = 1000
WRITE_BATCH = 500
GEOJSON_SUFFIXES = (".geojson", ".json")
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
    "lat": "lat", "latitude": "lat",
    "lon": "lon", "lng": "lon", "longitude": "lon",
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


def read_records(path: Path) -> ReadResult:
    """Numbered raw records of a CSV or GeoJSON file; ImportRefused when the file as a whole is unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{path} kan niet worden gelezen: {exc.strerror or exc}.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(f"{path.name} is geen UTF-8-tekst; sla het bestand op als 'CSV UTF-8' "
                            f"of als GeoJSON.") from None
    looks_json = text.lstrip().startswith(("{", "["))
    if path.suffix.lower() in GEOJSON_SUFFIXES or looks_json:
        return _read_geojson(text, path.name)
    return _read_csv(text, path.name)


def _read_csv(text: str, filename: str) -> ReadResult:
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportRefused(f"{filename} is geen leesbare CSV: {exc}.") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ImportRefused(f"{filename} heeft geen kopregel met kolomnamen.")
    header = rows[0]
    fields, unused = map_columns(header)
    index = {field: header.index(column) for field, column in fields.items()}
    records = []
    # Numbered like a spreadsheet: the header is row 1, the first initiative row 2.
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values = {field: _NEUTRALISED.sub("", cells[i], count=1) if i < len(cells) else None
                  for field, i in index.items()}
        extra = len(cells) > len(header) and any(cell.strip() for cell in cells[len(header):])
        records.append(RawRecord(number, values, dict(fields), extra_cells=extra))
    return ReadResult(records, _unused_note(unused))


def _read_geojson(text: str, filename: str) -> ReadResult:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRefused(f"{filename} is geen leesbare GeoJSON: {exc.msg} (regel {exc.lineno}).") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportRefused(f"{filename} is geen GeoJSON FeatureCollection.")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ImportRefused(f"{filename}: 'features' ontbreekt of is geen lijst.")
    srid = _geojson_srid(doc.get("crs"), filename)
    records, unused, named = [], [], False
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
        values = {field: _property(props.get(column)) for field, column in fields.items()}
        if values.get("external_id") in (None, "") and feature.get("id") not in (None, ""):
            values["external_id"] = _property(feature["id"])
        point = _geojson_point(feature.get("geometry"), srid, filename, number)
        records.append(RawRecord(number, values, fields, geometry=point))
    if not features:
        return ReadResult([], [f"{filename} bevat geen objecten"])
    if not named:
        raise ImportRefused(NO_NAME)
    return ReadResult(records, _unused_note(unused))


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
    name = crs.get("properties", {}).get("name", "") if isinstance(crs, dict) else ""
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


def _default_source(source: str | None, path: Path) -> str:
    name = (source if source is not None else path.stem).strip()
    if not name or len(name) > 100 or any(unicodedata.category(c) == "Cc" for c in name):
        raise ImportRefused("Geef een bron (--source) van 1 tot 100 tekens.")
    return name


def parse_defaults(kind: str | None, themes: str | None) -> Defaults:
    """Defaults from the command line (keys or Dutch labels); ImportRefused when one is unknown."""
    from .. import vocab

    try:
        return Defaults(kind=vocab.kind(kind) if kind and kind.strip() else None,
                        themes=tuple(vocab.themes(re.split(r"[;,]", themes) if themes else None)))
    except ValueError as exc:
        raise ImportRefused(f"{exc}.") from None


def import_initiatives(engine: Engine, path: str | Path, *, source: str | None = None,
                       defaults: Defaults = Defaults(), dry_run: bool = False, skip_invalid: bool = False,
                       settings: Settings | None = None, geocoder=None, progress=None,
                       today: dt.date | None = None) -> ImportReport:
    """Validate every row, then write all valid ones in one transaction (or nothing, see the flags)."""
    say = progress or (lambda _message: None)
    path = Path(path)
    source = _default_source(source, path)
    read = read_records(path)
    report = ImportReport(dry_run=dry_run, notes=list(read.notes))
    bad: set[int] = set()

    def reject(number: int, field_name: str, reason: str) -> None:
        report.reject(number, field_name, reason)
        bad.add(number)

    records = _validate(read.records, defaults, reject, say, today)
    located = _locate(records, reject, say, settings, geocoder)
    checked, checked_bad = list(report.problems), set(bad)

    def place_and_write(conn) -> None:
        # Run again from here after a deadlock (db.retrying): start from what the checks above found.
        report.problems[:], report.inserted, report.updated, report.unchanged = list(checked), 0, 0, 0
        bad.clear()
        bad.update(checked_bad)
        rows = _placed_rows(conn, located, source, reject)
        report.problems.sort(key=lambda problem: problem.row)
        report.rejected = len(bad)
        report.applied = not dry_run
        if bad and not skip_invalid:
            conn.rollback()
            report.applied = False
            return
        _write(conn, rows, report, say)
        if dry_run:
            conn.rollback()

    with engine.connect() as conn:
        retrying(conn, place_and_write)
    return report


def _validate(raws: list[RawRecord], defaults: Defaults, reject, say, today) -> list[CleanRecord]:
    clean = []
    first_row_of_id: dict[str, int] = {}
    for count, raw in enumerate(raws, start=1):
        record, problems = validate_record(raw, defaults, today=today)
        for field_name, reason in problems:
            reject(raw.number, field_name, reason)
        if raw.extra_cells:
            reject(raw.number, "rij", "meer cellen dan kolommen; staat er een scheidingsteken in een cel zonder "
                                      "aanhalingstekens?")
            record = None
        raw_id = str(raw.values.get("external_id") or "").strip()
        if raw_id:
            if raw_id in first_row_of_id:
                reject(raw.number, raw.column("external_id"),
                       f"id '{raw_id[:40]}' staat ook in rij {first_row_of_id[raw_id]}")
                record = None
            else:
                first_row_of_id[raw_id] = raw.number
        if record is not None:
            clean.append(record)
        if count % PROGRESS_EVERY == 0:
            say(f"  {count} rijen gecontroleerd")
    return clean


def _locate(records: list[CleanRecord], reject, say, settings, geocoder) -> list[tuple[CleanRecord, tuple, str]]:
    """(record, (a, b, srid), precision): coordinates from the file, else from the geocoder."""
    located = []
    to_geocode = [r for r in records if r.point is None]
    if to_geocode and geocoder is None:
        geocoder = Geocoder(settings or Settings())
    for count, record in enumerate(records, start=1):
        if record.point is not None:
            located.append((record, record.point, "manual"))
            continue
        field_name = "postcode" if record.values.get("postcode") else "address"
        try:
            found = geocoder.locate(address=record.values.get("address"), postcode=record.values.get("postcode"))
        except GeoserviceError as exc:
            reject(record.number, field_name, exc.description.rstrip("."))
            continue
        box = NL_BOX_WGS84
        if not (box.minx <= found.lon <= box.maxx and box.miny <= found.lat <= box.maxy):
            reject(record.number, field_name, "de gevonden plek ligt niet in Nederland")
            continue
        located.append((record, (found.lon, found.lat, WGS84), found.precision))
        if len(to_geocode) >= PROGRESS_EVERY and count % PROGRESS_EVERY == 0:
            say(f"  {count} rijen van een plek voorzien")
    return located


def _placed_rows(conn, located, source: str, reject) -> list[dict]:
    """Table rows of the located records that lie in the Netherlands and have a unique key."""
    placed = place_points(conn, [point for _record, point, _precision in located])
    rows = []
    first_row_of_key: dict[str, int] = {}
    for (record, point, precision), where in zip(located, placed):
        if where.in_netherlands is False:
            reject(record.number, record.point_field or "postcode",
                   f"ligt niet in Nederland (lat {where.lat:.5f}, lon {where.lon:.5f})")
            continue
        key = record.external_id or stable_key(str(record.values["name"]), where.x, where.y)
        if key in first_row_of_key:
            # Only derived keys can repeat here: repeated ids were rejected while validating.
            reject(record.number, "name", f"dezelfde naam op (bijna) dezelfde plek als rij {first_row_of_key[key]}")
            continue
        first_row_of_key[key] = record.number
        rows.append(row_values(source, key, record.values, where.x, where.y, precision))
    return rows


def _write(conn, rows: list[dict], report: ImportReport, say) -> None:
    # In key order: two imports that share rows lock them in the same order, so they wait, never deadlock.
    rows = sorted(rows, key=lambda row: row["external_id"])
    written_ids = []
    for start in range(0, len(rows), WRITE_BATCH):
        batch = rows[start:start + WRITE_BATCH]
        written = upsert_initiatives(conn, batch)
        inserted = sum(1 for _id, is_new in written if is_new)
        report.inserted += inserted
        report.updated += len(written) - inserted
        report.unchanged += len(batch) - len(written)
        written_ids += [initiative_id for initiative_id, _is_new in written]
        if len(rows) > PROGRESS_EVERY and (start + WRITE_BATCH) % PROGRESS_EVERY == 0:
            say(f"  {min(start + WRITE_BATCH, len(rows))}/{len(rows)} rijen geschreven")
    if written_ids:
        assign_initiative_areas(conn, written_ids)
    refresh_counts(conn)  # the gap analysis' stored counts: once for the whole file (see queries.gaps)
