"""Writes of the initiative import: place points (RD New, in the Netherlands?, their CBS areas) and one
set-based upsert of every row through a staging table filled with COPY."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from ..models import RD_NEW, WGS84
from .areas import AREA_CODES, AREA_LATERALS

# GM0998 "Buitenland" is a CBS bookkeeping gemeente, not a place in the Netherlands.
NOT_A_PLACE = ("GM0998",)
# The national layers may be generalised (the shipped ones by ~35-55 m, with bits of lakes and
# coast missing), so a point this close to a gemeente or wijk, or inside a buurt, counts as inside.
AREA_MARGIN_M = 500.0
BATCH = 200_000  # points per statement (arrays of float8: about 5 MB)
ANALYZE_FROM = 1000  # rows written from which the table's statistics are refreshed at once
# Compared to tell an unchanged row; everything else (areas, timestamps) follows from them.
COMPARED = ("name", "kind", "themes", "description", "website", "email", "phone", "address", "postcode",
            "location", "location_precision", "status", "last_verified")
# One staged row: what the importer hands to upsert_staged, in this order.
STAGE_COLUMNS = ("n", "source", "external_id", "name", "kind", "themes", "description", "website", "email", "phone",
                 "address", "postcode", "x", "y", "location_precision", "status", "last_verified",
                 "gemeentecode", "wijkcode", "buurtcode", "areas_jaar")


@dataclass(frozen=True)
class PlacedPoint:
    """A point in RD New and WGS84, whether it lies in the CBS areas of the active year, and those areas."""

    x: float
    y: float
    lon: float
    lat: float
    in_netherlands: bool | None  # None: no CBS areas loaded, so only the coarse box can judge
    gemeentecode: str | None = None
    wijkcode: str | None = None
    buurtcode: str | None = None
    areas_jaar: int | None = None


# Containment first (cheap, and it is the answer for nearly every point); only a point in no area is
# measured against the margins. The areas are those assign_initiative_areas would give it.
_PLACE_SQL = text(f"""
WITH p AS MATERIALIZED (  -- transformed once, not in every lateral that uses it
    SELECT u.n,
           CASE WHEN u.srid = :wgs84
                THEN ST_Transform(ST_SetSRID(ST_MakePoint(u.a, u.b), :wgs84), :rd)
                ELSE ST_SetSRID(ST_MakePoint(u.a, u.b), :rd) END AS rd
    FROM unnest(CAST(:a AS float8[]), CAST(:b AS float8[]), CAST(:srid AS integer[]))
         WITH ORDINALITY AS u(a, b, srid, n)
), placed AS (
    SELECT p.n, p.rd, {AREA_CODES}
    FROM p
    {AREA_LATERALS.format(point="p.rd")}
)
SELECT n, ST_X(rd), ST_Y(rd), ST_X(ST_Transform(rd, :wgs84)), ST_Y(ST_Transform(rd, :wgs84)),
       CASE WHEN gemeentecode IS NOT NULL AND gemeentecode <> ALL(CAST(:skip AS text[])) THEN true
       ELSE EXISTS (SELECT 1 FROM gemeente AS g WHERE g.jaar = :jaar AND g.code <> ALL(CAST(:skip AS text[]))
                    AND ST_DWithin(g.geom, rd, :margin))
         OR EXISTS (SELECT 1 FROM wijk AS w WHERE w.jaar = :jaar AND w.gemeentecode <> ALL(CAST(:skip AS text[]))
                    AND ST_DWithin(w.geom, rd, :margin))
         OR EXISTS (SELECT 1 FROM buurt AS b WHERE b.jaar = :jaar AND b.gemeentecode <> ALL(CAST(:skip AS text[]))
                    AND ST_Intersects(b.geom, rd)) END,
       gemeentecode, wijkcode, buurtcode
FROM placed
ORDER BY n
""")

_ACTIVE_SQL = text("""
SELECT j.jaar,
       EXISTS (SELECT 1 FROM gemeente AS g WHERE g.jaar = j.jaar AND g.code <> ALL(CAST(:skip AS text[])))
       OR EXISTS (SELECT 1 FROM wijk AS w WHERE w.jaar = j.jaar)
       OR EXISTS (SELECT 1 FROM buurt AS b WHERE b.jaar = j.jaar)
FROM cbs_jaar AS j WHERE j.is_active
""")


def no_jit(conn: Connection) -> None:
    """Switch PostgreSQL's JIT compiler off for this transaction: the import's statements are estimated as
    costly (a lateral lookup per row), so JIT spent seconds compiling what runs in milliseconds per row."""
    conn.exec_driver_sql("SET LOCAL jit = off")


def place_points(conn: Connection, points: Sequence[tuple[float, float, int]]) -> list[PlacedPoint]:
    """(a, b, srid) points, srid 4326 (lon, lat) or 28992 (x, y), placed in RD New and WGS84, with their areas.

    Callers pass only points inside a coarse box around the Netherlands, where both
    projections are well defined.
    """
    active = conn.execute(_ACTIVE_SQL, {"skip": list(NOT_A_PLACE)}).first()
    jaar, has_areas = (active[0], bool(active[1])) if active else (None, False)
    placed: list[PlacedPoint] = []
    for start in range(0, len(points), BATCH):
        batch = points[start:start + BATCH]
        rows = conn.execute(_PLACE_SQL, {
            "a": [p[0] for p in batch], "b": [p[1] for p in batch], "srid": [p[2] for p in batch],
            "wgs84": WGS84, "rd": RD_NEW, "skip": list(NOT_A_PLACE), "margin": AREA_MARGIN_M, "jaar": jaar,
        }).all()
        placed += [PlacedPoint(x, y, lon, lat, inside if has_areas else None, gemeente, wijk, buurt,
                               jaar if has_areas else None)
                   for _n, x, y, lon, lat, inside, gemeente, wijk, buurt in rows]
    return placed


_STAGE_SQL = """
CREATE TEMPORARY TABLE initiative_import (
    n integer, source text, external_id text, name text, kind text, themes text[], description text,
    website text, email text, phone text, address text, postcode text, x float8, y float8,
    location_precision text, status text, last_verified date, gemeentecode text, wijkcode text, buurtcode text,
    areas_jaar smallint
) ON COMMIT DROP
"""
_STAGED_LOCATION = f"ST_SetSRID(ST_MakePoint(s.x, s.y), {RD_NEW})"
_STAGED_VALUES = ", ".join(_STAGED_LOCATION if name == "location" else f"s.{name}" for name in COMPARED)
# Unchanged rows leave the staging table first: a re-import of the same file then writes nothing at all
# (no trigger runs, the data version and the gap counts stay as they are).
_DROP_UNCHANGED_SQL = f"""
DELETE FROM initiative_import AS s USING initiative AS t
WHERE t.source = s.source AND t.external_id = s.external_id
  AND ({", ".join(f"t.{name}" for name in COMPARED)}) IS NOT DISTINCT FROM ({_STAGED_VALUES})
"""
_WRITTEN = (*COMPARED, "gemeentecode", "wijkcode", "buurtcode", "areas_jaar")
# In the file's order, so new initiatives get ids in the order people listed them (and an export, ordered by id,
# comes back in the same order after a round trip). Two imports sharing rows in opposite orders would deadlock,
# so imports of one source queue for each other first (_LOCK_SOURCES_SQL): only those can share rows, as the key
# is source + external_id. A lock per source rather than per row: a file of 100,000 rows would overflow the lock
# table. Sources are locked in sorted order, so two files with several sources cannot deadlock on these either.
_LOCK_SOURCES_SQL = """
SELECT pg_advisory_xact_lock(hashtext('geoservice.import:' || source))
FROM (SELECT DISTINCT source FROM initiative_import ORDER BY source) AS sources"""
_UPSERT_SQL = f"""
INSERT INTO initiative AS t (source, external_id, {", ".join(_WRITTEN)})
SELECT s.source, s.external_id, {_STAGED_VALUES}, s.gemeentecode, s.wijkcode, s.buurtcode, s.areas_jaar
FROM initiative_import AS s ORDER BY s.n
ON CONFLICT ON CONSTRAINT initiative_source_external_id_key DO UPDATE
SET {", ".join(f"{name} = excluded.{name}" for name in _WRITTEN)}, updated_at = now()
WHERE ({", ".join(f"t.{name}" for name in COMPARED)}) IS DISTINCT FROM ({", ".join(f"excluded.{n}" for n in COMPARED)})
RETURNING t.id, (t.xmax = 0)
"""


def upsert_staged(conn: Connection, rows: Sequence[tuple], *, progress=None, every: int = 1000
                  ) -> tuple[list[tuple[int, bool]], int]:
    """Insert new initiatives and update changed ones (matched on source + external_id) in one statement.

    rows: tuples in STAGE_COLUMNS order; progress(n) is called after every `every` rows sent. Returns
    (id, inserted) of every row written and the number of rows equal to what is stored: those are not
    touched at all, so their updated_at stays.
    """
    if not rows:
        return [], 0
    conn.exec_driver_sql(_STAGE_SQL)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(f"COPY initiative_import ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
            for count, row in enumerate(rows, start=1):
                copy.write_row(row)
                if progress is not None and count % every == 0:
                    progress(count)
    finally:
        cursor.close()
    conn.exec_driver_sql("ANALYZE initiative_import")  # no autovacuum for temporary tables: plan with real counts
    # before comparing with what is stored: another import of the source may change it until then
    conn.exec_driver_sql(_LOCK_SOURCES_SQL)
    unchanged = conn.exec_driver_sql(_DROP_UNCHANGED_SQL).rowcount
    written: list[tuple[int, bool]] = []
    if unchanged < len(rows):
        written = [(row[0], bool(row[1])) for row in conn.exec_driver_sql(_UPSERT_SQL)]
    conn.exec_driver_sql("DROP TABLE initiative_import")  # a second import in the same transaction stages anew
    if len(written) >= ANALYZE_FROM:
        # Autovacuum would analyze the table only after the commit: the gap counts' refresh, in this
        # transaction, would plan its joins for the table as it was (seconds instead of a fraction).
        conn.exec_driver_sql("ANALYZE initiative")
    return written, unchanged
