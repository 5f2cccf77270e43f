"""Import initiatives from CSV, XLSX, GeoJSON or HSDS: read numbered raw rows, validate, locate, write in one
transaction."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

from sqlalchemy import Engine

from ..config import Settings
from ..db import retrying
from ..errors import GeoserviceError, ImportRefused
from ..geocode import Geocoder
from ..models import WGS84
from ..queries.gaps import refresh_counts
from ..queries.initiatives_write import no_jit, place_points, upsert_staged
from ..registry.validation import NL_BOX_WGS84, CleanRecord, Defaults, RawRecord, RecordValidator, stable_key
from .initiative_files import COLUMN_ALIASES, NO_NAME, ReadResult, fold_column, map_columns, read_records  # noqa: F401
from .report import ImportReport

PROGRESS_EVERY = 1000
FALLBACK_KIND = "overig"


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
                       today: dt.date | None = None, sheet: str | None = None) -> ImportReport:
    """Validate every row, then write all valid ones in one transaction (or nothing, see the flags)."""
    say = progress or (lambda _message: None)
    path = Path(path)
    source = _default_source(source, path)
    read = read_records(path, sheet=sheet)
    report = ImportReport(dry_run=dry_run, notes=list(read.notes))
    if not read.has_kind and defaults.kind is None and read.records:
        # A list kept in a spreadsheet often has no kind at all: every row is then "overig", said out loud.
        defaults = Defaults(kind=FALLBACK_KIND, themes=defaults.themes)
        report.notes.append("geen kolom 'soort' (kind): alle initiatieven krijgen soort 'Overig'; "
                            "kies een andere met --default-kind")
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
        no_jit(conn)
        rows = _placed_rows(conn, located, source, reject)
        report.problems.sort(key=lambda problem: problem.row)
        report.rejected = len(bad)
        report.applied = not dry_run
        if bad and not skip_invalid:
            conn.rollback()
            report.applied = False
            return
        _write(conn, rows, report, say, refresh=not dry_run)
        if dry_run:
            conn.rollback()

    with engine.connect() as conn:
        retrying(conn, place_and_write)
    return report


def _validate(raws: list[RawRecord], defaults: Defaults, reject, say, today) -> list[CleanRecord]:
    clean = []
    first_row_of_id: dict[str, int] = {}
    validator = RecordValidator(defaults, today=today)
    for count, raw in enumerate(raws, start=1):
        record, problems = validator.validate(raw)
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


def _placed_rows(conn, located, source: str, reject) -> list[tuple]:
    """Staged rows (STAGE_COLUMNS) of the located records that lie in the Netherlands and have a unique key."""
    placed = place_points(conn, [point for _record, point, _precision in located])
    rows = []
    first_row_of_key: dict[str, int] = {}
    for (record, _point, precision), where in zip(located, placed):
        if where.in_netherlands is False:
            reject(record.number, record.point_field or "postcode",
                   f"ligt niet in Nederland (lat {where.lat:.5f}, lon {where.lon:.5f})")
            continue
        values = record.values
        key = record.external_id or stable_key(str(values["name"]), where.x, where.y)
        if key in first_row_of_key:
            # Only derived keys can repeat here: repeated ids were rejected while validating.
            reject(record.number, "name", f"dezelfde naam op (bijna) dezelfde plek als rij {first_row_of_key[key]}")
            continue
        first_row_of_key[key] = record.number
        rows.append((record.number, source, key, values["name"], values["kind"], values["themes"],
                     values["description"], values["website"], values["email"], values["phone"], values["address"],
                     values["postcode"], where.x, where.y, precision, values["status"], values["last_verified"],
                     where.gemeentecode, where.wijkcode, where.buurtcode, where.areas_jaar))
    return rows


def _write(conn, rows: list[tuple], report: ImportReport, say, *, refresh: bool = True) -> None:
    """One set-based upsert of every row (COPY into a staging table), then the gap counts kept on write."""
    total = len(rows)
    progress = (lambda count: say(f"  {count}/{total} rijen geschreven")) if total > PROGRESS_EVERY else None
    written, _unchanged = upsert_staged(conn, rows, progress=progress, every=PROGRESS_EVERY)
    inserted = sum(1 for _id, is_new in written if is_new)
    report.inserted += inserted
    report.updated += len(written) - inserted
    report.unchanged += len(rows) - len(written)
    if refresh:  # a dry run rolls back: its counts would never be seen
        refresh_counts(conn)  # the gap analysis' stored counts: once for the whole file (see queries.gaps)
