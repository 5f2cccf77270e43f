"""Write CBS area records into PostGIS: one transaction, idempotent upserts, the active year."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from geoalchemy2.shape import from_shape
from sqlalchemy import Connection, Engine, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert

from ..errors import LoadError
from ..models import AREA_MODELS, LEVELS, RD_NEW, CbsJaar
from ..queries.areas import assign_initiative_areas
from ..analysis.kept import refresh_all
from ..queries.service_areas import rebuild_code_service_areas, stale_code_service_areas
from .reader import AreaRecord, FileReport, read_cbs_file

SHIPPED_SUFFIXES = (".gpkg", ".geojson", ".json")
BATCH = 500


@dataclass
class LevelSummary:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class LoadSummary:
    levels: dict[str, LevelSummary] = field(default_factory=lambda: {lvl: LevelSummary() for lvl in LEVELS})
    years: set[int] = field(default_factory=set)
    active_year: int | None = None
    files: list[str] = field(default_factory=list)
    rebuilt_service_areas: int = 0
    stale_service_areas: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for level in LEVELS:
            s = self.levels[level]
            if not (s.loaded or s.skipped):
                continue
            skipped = sum(s.skipped.values())
            reasons = "; ".join(f"{n}× {why}" for why, n in s.skipped.items())
            out.append(
                f"{level:9s} {s.loaded:6d} geladen ({s.inserted} nieuw, {s.updated} bijgewerkt, "
                f"{s.unchanged} ongewijzigd), {s.repaired} hersteld, {skipped} overgeslagen"
                + (f" ({reasons})" if reasons else "")
            )
        if self.active_year:
            out.append(f"actief CBS-jaar: {self.active_year}")
        if self.rebuilt_service_areas:
            out.append(f"werkgebieden opnieuw opgebouwd uit CBS-codes: {self.rebuilt_service_areas}")
        for area in self.stale_service_areas:
            out.append(f"let op: werkgebied '{area['name']}' (partner {area['partner_id']}) noemt codes die "
                       f"CBS-jaar {self.active_year} niet heeft: {', '.join(area['missing'])}; "
                       f"het houdt de grenzen van {area['cbs_jaar']}")
        return out


def shipped_files(folder: Path) -> list[Path]:
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in SHIPPED_SUFFIXES)
    if not files:
        raise LoadError(f"Geen CBS-bestanden gevonden in {folder}.")
    return files


def load_cbs(engine: Engine, paths: list[str | Path], *, year: int | None = None,
             activate: bool = False, progress=None) -> LoadSummary:
    """Read every file, then write all areas in one transaction (all or nothing)."""
    say = progress or (lambda _msg: None)
    records: list[AreaRecord] = []
    reports: list[FileReport] = []
    for path in paths:
        say(f"Lezen: {path}")
        file_records, report = read_cbs_file(path, year=year, progress=say)
        records += file_records
        reports.append(report)
        counts = ", ".join(f"{lvl.read} {name}" for name, lvl in report.levels.items())
        say(f"  gelezen: {counts or 'niets'}")
    _refuse_duplicates_across_files(records)
    summary = LoadSummary(files=[str(p) for p in paths])
    for report in reports:
        for level, lvl in report.levels.items():
            summary.levels[level].repaired += lvl.repaired
            summary.levels[level].skipped.update(lvl.skipped)
    with engine.begin() as conn:
        for level in LEVELS:
            level_records = [r for r in records if r.level == level]
            if level_records:
                _upsert(conn, level, level_records, summary.levels[level], say)
        summary.years = {r.jaar for r in records}
        summary.active_year = _register_years(conn, summary.years, activate=activate, chosen=year)
        if summary.active_year in summary.years:
            # New boundaries (or a new active year): initiatives must lie in the right areas,
            # and service areas defined by codes must follow the new boundaries. Fresh statistics
            # first: without them the planner joins 100,000 initiatives to 14,500 new buurten blindly
            # (minutes instead of seconds; autoanalyze comes only after the commit).
            conn.execute(text("ANALYZE buurt, wijk, gemeente"))
            assign_initiative_areas(conn)
            summary.rebuilt_service_areas = rebuild_code_service_areas(conn)
            summary.stale_service_areas = stale_code_service_areas(conn)
        # The gap analysis' stored figures per unit (partner coverage, initiative counts) follow new
        # boundaries and rebuilt areas (a no-op when the load changed nothing: triggers mark only real changes).
        refresh_all(conn)
    return summary


def _refuse_duplicates_across_files(records: list[AreaRecord]) -> None:
    sources: dict[tuple, str] = {}
    for rec in records:
        key = (rec.level, rec.jaar, rec.code)
        if key in sources and sources[key] != rec.source:
            raise LoadError(f"{rec.code} ({rec.jaar}) staat zowel in {sources[key]} als in {rec.source}.")
        sources[key] = rec.source


def _upsert(conn: Connection, level: str, records: list[AreaRecord], summary: LevelSummary, say) -> None:
    model = AREA_MODELS[level]
    table = model.__table__
    for start in range(0, len(records), BATCH):
        batch = records[start:start + BATCH]
        stmt = insert(table).values([_row(level, r) for r in batch])
        changing = [c.name for c in table.columns if c.name not in ("jaar", "code") and c.computed is None]
        stmt = stmt.on_conflict_do_update(
            index_elements=["jaar", "code"],
            set_={name: stmt.excluded[name] for name in changing},
            # Only rows that really differ are rewritten, so a reload reports "ongewijzigd".
            where=func.row(*[table.c[n] for n in changing]).is_distinct_from(
                func.row(*[stmt.excluded[n] for n in changing])),
        ).returning(table.c.code, _inserted_flag(table))
        written = conn.execute(stmt).all()
        inserted = sum(1 for row in written if row[1])
        summary.inserted += inserted
        summary.updated += len(written) - inserted
        summary.unchanged += len(batch) - len(written)
        if len(records) > BATCH:
            say(f"  {level}: {min(start + BATCH, len(records))}/{len(records)} geschreven")


def _inserted_flag(table):
    # xmax is 0 for a freshly inserted row and non-zero for a row updated by ON CONFLICT.
    return literal_column(f"({table.name}.xmax = 0)")


def _row(level: str, rec: AreaRecord) -> dict:
    row = {
        "jaar": rec.jaar,
        "code": rec.code,
        "naam": rec.naam,
        "water": rec.water,
        **rec.measures,
        "kerncijfers": rec.kerncijfers,
        "source": rec.source,
        "geom": from_shape(rec.geom, srid=RD_NEW),
    }
    if level != "gemeente":
        row["gemeentecode"] = rec.gemeentecode
    if level == "buurt":
        row["wijkcode"] = rec.wijkcode
    return row


def _register_years(conn: Connection, years: set[int], *, activate: bool, chosen: int | None) -> int | None:
    """Record loaded years; the newest becomes active unless an even newer one already is."""
    for jaar in years:
        conn.execute(insert(CbsJaar).values(jaar=jaar).on_conflict_do_nothing())
    active = conn.execute(select(CbsJaar.jaar).where(CbsJaar.is_active)).scalar()
    target = active
    if years and (activate or active is None or max(years) > active):
        target = chosen if activate and chosen in years else max(years)
    if target != active:
        set_active_year(conn, target)
    return target


def set_active_year(conn: Connection, jaar: int) -> None:
    if conn.execute(select(CbsJaar.jaar).where(CbsJaar.jaar == jaar)).scalar() is None:
        raise LoadError(f"CBS-jaar {jaar} is niet geladen.")
    conn.execute(update(CbsJaar).where(CbsJaar.is_active).values(is_active=False))
    conn.execute(update(CbsJaar).where(CbsJaar.jaar == jaar).values(is_active=True))
    assign_initiative_areas(conn)
    rebuild_code_service_areas(conn)
    refresh_all(conn)
