"""Gap analysis in PostGIS: per CBS unit the initiatives inside and nearby, the nearest one, partner coverage.

One set-based statement per call. The SQL is assembled only from the fixed fragments below
(chosen by which filters are present); every value is a bound parameter.

Partner coverage changes only when service areas or CBS boundaries do, so it is also kept on write:
gap_overlap (per unit and service area) and gap_coverage (per unit), brought up to date by
refresh_coverage with the same fragments the on-the-fly statement uses. Triggers (migration 0004)
mark what a write made stale; while anything is marked, the analysis computes coverage on the fly.

Likewise the initiative figures of the default question (every published initiative, walk_m
STORED_WALK_M): gap_counts per unit, brought up to date by refresh_counts near the points that
triggers (migration 0007) mark when a published initiative appears, moves or goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from .areas import active_year
from .common import POLYGON_DECIMALS, SIMPLIFY_M

FAR_M = 50_000  # nearest_m is null beyond this distance
HALF = 0.5  # a unit is covered, and a partner serves it, from this share on
SHARE_DECIMALS = 6  # shares are compared as shown: 0.4999999999 (floating-point noise) counts as 0.5
STORED_WALK_M = 1000  # gap_counts answers for this walk_m (the analysis' default); others are computed per request

# Settings for the duration of one analysis (restored afterwards, and SET LOCAL never outlives the
# transaction). JIT compilation costs ~0.6 s here and gains nothing: the time goes into PostGIS
# functions, not expression evaluation. The CBS tables are a few MB, below the size at which the
# planner considers parallel workers by default, yet counting initiatives per unit parallelises well.
# At national buurt level (14,500 units × 100,000 initiatives) the ~1M unit–initiative pairs are sorted
# for grouping; with the default 4 MB work_mem that sort spills ~1.5 GB to disk (bench/budgets.py:
# 8 s → 3–4 s with 256 MB). Only this statement gets it, for its transaction.
_TUNING = {"jit": "off", "min_parallel_table_scan_size": "0", "parallel_setup_cost": "100", "work_mem": "256MB"}


@dataclass(frozen=True)
class UnitQuery:
    """What gap_units asks the database; empty tuples do not filter."""

    jaar: int
    level: str | None  # "buurt", "wijk", or None: buurten where a gemeente has them, else wijken
    walk_m: int
    kinds: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    partner_services: tuple[str, ...] = ()
    gemeente: str | None = None
    near_partner: int | None = None
    reach_m: int | None = None
    with_geometry: bool = False
    simplify_m: float = SIMPLIFY_M  # output geometry only (a map at a lower zoom needs fewer vertices)
    stored_coverage: bool = False  # coverage and n_partners from gap_coverage (all partners, kept fresh)
    stored_pieces: bool = False  # coverage from gap_overlap's pieces (kept fresh) of the counting partners
    stored_counts: bool = False  # n_initiatives, n_nearby, nearest_m from gap_counts (default question, kept fresh)

    def __post_init__(self):
        if self.stored_coverage and self.partner_services:
            raise ValueError("gap_coverage holds the coverage by all partners, not by those of some services")
        if self.stored_counts and not counts_are_stored_for(self.walk_m, self.kinds, self.themes):
            raise ValueError(f"gap_counts holds the counts of every published initiative within {STORED_WALK_M} m")


def counts_are_stored_for(walk_m: int, kinds: tuple[str, ...], themes: tuple[str, ...]) -> bool:
    """Does gap_counts answer this question (when fresh)? Only the default one: all initiatives, STORED_WALK_M."""
    return walk_m == STORED_WALK_M and not kinds and not themes


_BUURT_UNITS = """
    SELECT 'buurt' AS level, b.code, b.naam, b.gemeentecode, b.wijkcode, b.aantal_inwoners, b.geom
    FROM buurt AS b WHERE b.jaar = :jaar"""
_WIJK_UNITS = """
    SELECT 'wijk' AS level, w.code, w.naam, w.gemeentecode, NULL AS wijkcode, w.aantal_inwoners, w.geom
    FROM wijk AS w WHERE w.jaar = :jaar"""
_WIJK_WITHOUT_BUURTEN = """
      AND NOT EXISTS (SELECT 1 FROM buurt AS nb WHERE nb.jaar = :jaar AND nb.gemeentecode = w.gemeentecode)"""
_IN_GEMEENTE = " AND {alias}.gemeentecode = :gemeente"
_NEAR_PARTNER = """
      AND EXISTS (SELECT 1 FROM service_area AS ps
                  WHERE ps.partner_id = :near_partner AND ST_DWithin(ps.geom, {alias}.geom, :reach_m))"""

_COUNTED_INITIATIVE = {
    "base": "i.status = 'published'",
    "kinds": " AND i.kind = ANY(CAST(:kinds AS text[]))",
    "themes": " AND i.themes && CAST(:themes AS text[])",
}
_COUNTED_PARTNER = """
        JOIN partner AS p ON p.id = sa.partner_id AND p.services && CAST(:partner_services AS text[])"""

# A join and a GROUP BY rather than a LATERAL per unit: this form can run in parallel workers.
# n_inside counts each initiative in exactly one unit per level: the buurt and wijk its CBS codes name (derived
# from its location, queries.areas.assign_initiative_areas). A point in the overlap of two generalised wijken,
# or in the gap between them, would otherwise count twice or not at all, and a gemeente's total would differ
# between its buurten and its wijken. n_touching (a unit's polygon holds the point) decides nearest_m = 0.
_COUNTS = """
    SELECT coalesce(near.code, mine.code) AS code, coalesce(near.n_nearby, 0) AS n_nearby,
           coalesce(near.n_touching, 0) AS n_touching, coalesce(mine.n_inside, 0) AS n_inside
    FROM (SELECT nu.code, count(*) AS n_nearby, count(*) FILTER (WHERE nu.inside) AS n_touching
          FROM (SELECT cu.code, ST_Intersects(cu.geom, i.location) AS inside
                FROM ({units}) AS cu
                JOIN initiative AS i ON ST_DWithin(i.location, cu.geom, :walk_m) AND {counted}) AS nu
          GROUP BY nu.code) AS near
    FULL JOIN (SELECT own.code, count(*) AS n_inside
               FROM (SELECT i.buurtcode AS code FROM initiative AS i
                     WHERE {counted} AND i.areas_jaar = :jaar AND i.buurtcode IS NOT NULL
                     UNION ALL
                     SELECT i.wijkcode FROM initiative AS i
                     WHERE {counted} AND i.areas_jaar = :jaar AND i.wijkcode IS NOT NULL) AS own
               WHERE own.code IN (SELECT ou.code FROM ({units}) AS ou)
               GROUP BY own.code) AS mine ON mine.code = near.code"""

# KNN (<->) on the GiST index, bounded by ST_DWithin so a unit far from every counted initiative
# stops at the 50 km box instead of walking the whole index. Skipped when one is inside (then 0);
# when one is within walk_m, the search box is that small.
_NEAREST = """
    SELECT ST_Distance(u.geom, i.location) AS d
    FROM initiative AS i
    WHERE coalesce(c.n_touching, 0) = 0 AND {counted}
      AND ST_DWithin(i.location, u.geom, CASE WHEN c.n_nearby > 0 THEN :walk_m ELSE :far_m END)
    ORDER BY i.location <-> u.geom
    LIMIT 1"""

# Coverage in two steps. First, in parallel workers, every (unit, service area) pair that
# intersects (GiST): whether the area covers the whole unit (then -1, no overlay needed), else the
# area of their intersection (_PIECE). Then, per unit and partner, most shares follow from those
# pieces without a union: one area gives the exact share; a piece of half the unit or more means at
# least half; pieces that add up to less than half mean less. Only the rest, and the coverage of a
# unit that several areas overlap without any covering it, need the union (_UNION_SHARE, only then).
_PIECE = """CASE WHEN sa.geom ~ pu.geom AND ST_CoveredBy(pu.geom, sa.geom) THEN -1
                ELSE ST_Area(ST_Intersection(pu.geom, sa.geom)) END"""
_PAIRS = """
    SELECT pu.code, sa.partner_id, ST_Area(pu.geom) AS area, {piece} AS piece
    FROM ({units}) AS pu
    JOIN service_area AS sa ON ST_Intersects(sa.geom, pu.geom){partner_join}"""

_PARTNER_SHARES = """
    SELECT ps.code, ps.partner_id, ps.covers OR ps.max_share >= :half AS surely,
           NOT ps.covers AND ps.max_share < :half AND ps.sum_share >= :half AS undecided,
           CASE WHEN ps.covers THEN 1 WHEN ps.n = 1 THEN ps.sum_share END AS share, ps.n, ps.covers
    FROM (SELECT code, partner_id, count(*) AS n, bool_or(piece < 0) AS covers,
                 round(CAST(max(piece) / nullif(min(area), 0) AS numeric), :share_decimals) AS max_share,
                 round(CAST(sum(greatest(piece, 0)) / nullif(min(area), 0) AS numeric), :share_decimals) AS sum_share
          FROM pairs GROUP BY code, partner_id) AS ps"""

_UNIT_SHARES = """
    SELECT code, sum(n) AS n, bool_or(covers) AS covers, max(share) AS single_share,
           count(*) FILTER (WHERE surely) AS n_surely,
           array_agg(partner_id) FILTER (WHERE undecided) AS undecided
    FROM partner_shares GROUP BY code"""

# The exact share of the unit inside the union of (one partner's, or all counted) service areas.
# Ordered, so that the union (and its last bits of floating point) does not depend on the plan.
_UNION_SHARE = """round(CAST(ST_Area(ST_Intersection(u.geom, (
        SELECT ST_Union(sa.geom ORDER BY sa.id) FROM service_area AS sa{partner_join}
        WHERE ST_Intersects(sa.geom, u.geom){one_partner}))) / nullif(u.area, 0) AS numeric), :share_decimals)"""

_COVERAGE = """CASE WHEN us.code IS NULL THEN 0 WHEN us.covers THEN 1 WHEN us.n = 1 THEN us.single_share
            ELSE {union_share} END"""
_N_PARTNERS = """coalesce(us.n_surely, 0) + CASE WHEN us.undecided IS NULL THEN 0 ELSE (
            SELECT count(*) FROM unnest(us.undecided) AS p(id) WHERE {partner_share} >= :half) END"""

_GEOMETRY = (", ST_AsGeoJSON(ST_ForcePolygonCCW(ST_Transform("
             "ST_Multi(ST_SimplifyPreserveTopology(u.geom, :simplify_m)), 4326)), :decimals) AS geometry")

_UNITS_SQL = """
{ctes}
SELECT u.level, u.code, u.naam, u.gemeentecode, u.wijkcode, u.aantal_inwoners, u.area AS area_m2,
       {n_initiatives} AS n_initiatives, {n_nearby} AS n_nearby, {nearest_m} AS nearest_m,
       {coverage} AS coverage,
       {n_partners} AS n_partners{geometry}
FROM (SELECT units.*, ST_Area(units.geom) AS area FROM ({units}) AS units) AS u
{counts_join}
{coverage_join}
ORDER BY u.code"""

_COVERAGE_CTES = """
pairs AS MATERIALIZED ({pairs}),
partner_shares AS ({partner_shares}),
unit_shares AS ({unit_shares})"""
_COMPUTED = {"join": "LEFT JOIN unit_shares AS us ON us.code = u.code"}
_STORED = {"join": "LEFT JOIN gap_coverage AS gc ON gc.jaar = :jaar AND gc.code = u.code",
           "coverage": "coalesce(gc.coverage, 0)", "n_partners": "coalesce(gc.n_partners, 0)"}
_COMPUTED_COUNTS = {"cte": "counts AS MATERIALIZED ({counts})",
                    "join": "LEFT JOIN counts AS c ON c.code = u.code\nLEFT JOIN LATERAL ({nearest}) AS n ON true",
                    "n_initiatives": "coalesce(c.n_inside, 0)", "n_nearby": "coalesce(c.n_nearby, 0)",
                    "nearest_m": "CASE WHEN c.n_touching > 0 THEN 0 ELSE n.d END"}
_STORED_COUNTS = {"join": "LEFT JOIN gap_counts AS gn ON gn.jaar = :jaar AND gn.code = u.code",
                  "n_initiatives": "coalesce(gn.n_inside, 0)", "n_nearby": "coalesce(gn.n_nearby, 0)",
                  "nearest_m": "gn.nearest_m"}


def _units_sql(q: UnitQuery) -> str:
    """The units of the analysis, from fixed fragments."""
    parts = []
    if q.level in (None, "buurt"):
        parts.append(_BUURT_UNITS + _unit_filters(q, "b"))
    if q.level in (None, "wijk"):
        parts.append(_WIJK_UNITS + (_WIJK_WITHOUT_BUURTEN if q.level is None else "") + _unit_filters(q, "w"))
    return "\n    UNION ALL".join(parts)


def _unit_filters(q: UnitQuery, alias: str) -> str:
    sql = _IN_GEMEENTE.format(alias=alias) if q.gemeente else ""
    return sql + (_NEAR_PARTNER.format(alias=alias) if q.near_partner is not None else "")


def _counted_sql(q: UnitQuery) -> str:
    return (_COUNTED_INITIATIVE["base"] + (_COUNTED_INITIATIVE["kinds"] if q.kinds else "")
            + (_COUNTED_INITIATIVE["themes"] if q.themes else ""))


def _coverage_fragments(partner_join: str = "") -> dict[str, str]:
    """coverage and n_partners of a unit u from its unit_shares row us (see _COVERAGE, _N_PARTNERS)."""
    union_share = _UNION_SHARE.format(partner_join=partner_join, one_partner="")
    partner_share = _UNION_SHARE.format(partner_join="", one_partner=" AND sa.partner_id = p.id")
    return {"coverage": _COVERAGE.format(union_share=union_share),
            "n_partners": _N_PARTNERS.format(partner_share=partner_share)}


def units_statement(q: UnitQuery):
    units, counted = _units_sql(q), _counted_sql(q)
    ctes = []
    if q.stored_counts:
        counts = _STORED_COUNTS
    else:
        counts = {**_COMPUTED_COUNTS, "join": _COMPUTED_COUNTS["join"].format(nearest=_NEAREST.format(counted=counted))}
        ctes.append(counts["cte"].format(counts=_COUNTS.format(units=units, counted=counted)))
    if q.stored_coverage:
        coverage = _STORED
    else:
        partner_join = _COUNTED_PARTNER if q.partner_services else ""
        coverage = {**_COMPUTED, **_coverage_fragments(partner_join)}
        # the pieces kept on write (when fresh) are the same numbers _PIECE computes: only the shares remain
        pairs = (_STORED_PAIRS.format(units=units, partner_join=_COUNTED_PIECE_PARTNER if q.partner_services else "")
                 if q.stored_pieces else _PAIRS.format(units=units, piece=_PIECE, partner_join=partner_join))
        ctes.append(_COVERAGE_CTES.format(pairs=pairs, partner_shares=_PARTNER_SHARES, unit_shares=_UNIT_SHARES))
    sql = _UNITS_SQL.format(
        ctes="WITH " + ",".join(ctes) if ctes else "",
        units=units,
        counts_join=counts["join"],
        coverage_join=coverage["join"],
        n_initiatives=counts["n_initiatives"], n_nearby=counts["n_nearby"], nearest_m=counts["nearest_m"],
        coverage=coverage["coverage"],
        n_partners=coverage["n_partners"],
        geometry=_GEOMETRY if q.with_geometry else "",
    )
    params = {"jaar": q.jaar, "walk_m": q.walk_m, "far_m": FAR_M, "half": HALF, "share_decimals": SHARE_DECIMALS,
              "kinds": list(q.kinds), "themes": list(q.themes), "partner_services": list(q.partner_services),
              "gemeente": q.gemeente, "near_partner": q.near_partner, "reach_m": q.reach_m,
              "simplify_m": q.simplify_m, "decimals": POLYGON_DECIMALS}
    return text(sql), params


def _tuned(conn, run):
    """run() with _TUNING set for this transaction only, then the previous values back."""
    names = list(_TUNING)
    previous = conn.execute(text("SELECT " + ", ".join(f"current_setting(:n{k})" for k in range(len(names)))),
                            {f"n{k}": name for k, name in enumerate(names)}).one()
    _set_local(conn, dict(zip(names, _TUNING.values())))
    result = run()
    # Only on success: after an error the transaction is aborted, and its rollback undoes SET LOCAL.
    _set_local(conn, dict(zip(names, previous)))
    return result


def _set_local(conn, settings: dict[str, str]) -> None:
    sql = "SELECT " + ", ".join(f"set_config(:n{k}, :v{k}, true)" for k in range(len(settings)))
    params = {}
    for k, (name, value) in enumerate(settings.items()):
        params[f"n{k}"], params[f"v{k}"] = name, value
    conn.execute(text(sql), params)


def unit_rows(conn, q: UnitQuery) -> list[dict]:
    """One row per unit with its raw figures (see _UNITS_SQL), ordered by code."""
    stmt, params = units_statement(q)
    rows = _tuned(conn, lambda: conn.execute(stmt, params).all())
    return [dict(row._mapping) for row in rows]


# --- coverage kept on write: gap_overlap and gap_coverage ----------------------------------------

EVERYTHING = 0  # the stale mark for "every unit": CBS boundaries or the active year changed (migration 0004)
_REFRESH_LOCK = "geoservice.gap_coverage"  # one refresh at a time: two would write the same units

# Every buurt and wijk of the year (either level may be asked for), or those with the given codes.
_ALL_UNITS = """
    SELECT b.code, b.geom FROM buurt AS b WHERE b.jaar = :jaar{only}
    UNION ALL
    SELECT w.code, w.geom FROM wijk AS w WHERE w.jaar = :jaar{only}"""
_ONLY_CODES = " AND code = ANY(CAST(:codes AS text[]))"

# The pieces go through a temporary table: CREATE TABLE AS may use parallel workers, INSERT may not.
_NEW_PIECES = """
CREATE TEMPORARY TABLE gap_new_pieces ON COMMIT DROP AS
SELECT CAST(:jaar AS smallint) AS jaar, pu.code, sa.id AS service_area_id, sa.partner_id, {piece} AS piece
FROM ({units}) AS pu
JOIN service_area AS sa ON ST_Intersects(sa.geom, pu.geom){only_marked}"""

_STORED_PAIRS = """
    SELECT o.code, o.partner_id, ST_Area(pu.geom) AS area, o.piece
    FROM gap_overlap AS o JOIN ({units}) AS pu ON pu.code = o.code{partner_join}
    WHERE o.jaar = :jaar"""
_COUNTED_PIECE_PARTNER = """
    JOIN partner AS p ON p.id = o.partner_id AND p.services && CAST(:partner_services AS text[])"""

# Per unit from its stored pieces, with the fragments of the on-the-fly statement: the same figures.
_ADD_COVERAGE = """
WITH pairs AS MATERIALIZED ({pairs}),
partner_shares AS ({partner_shares}),
unit_shares AS ({unit_shares})
INSERT INTO gap_coverage (jaar, code, coverage, n_partners)
SELECT :jaar, u.code, {coverage}, {n_partners}
FROM (SELECT units.*, ST_Area(units.geom) AS area FROM ({units}) AS units) AS u
JOIN unit_shares AS us ON us.code = u.code"""

# A mark is cleared only if no one re-marked it meanwhile (same xid) and no open transaction holds
# it (SKIP LOCKED: that writer will be seen by the next refresh; waiting for it could deadlock).
_CLEAR_MARKS = """
DELETE FROM gap_coverage_stale WHERE ctid IN (
    SELECT s.ctid FROM gap_coverage_stale AS s
    JOIN unnest(CAST(:ids AS integer[]), CAST(:xids AS bigint[])) AS seen(id, xid)
      ON seen.id = s.service_area_id AND seen.xid = s.marked_xid
    FOR UPDATE OF s SKIP LOCKED)"""


@dataclass(frozen=True)
class CoverageRefresh:
    """What refresh_coverage did: everything, or the marked service areas and the units they touch."""

    full: bool
    service_areas: int  # marked service areas redone (0 when full)
    units: int  # units whose coverage was recomputed (those overlapped by some area)


@dataclass(frozen=True)
class KeptFresh:
    """Which tables kept on write the analysis may read: none while a write is marked that no refresh has seen."""

    coverage: bool  # gap_coverage and gap_overlap
    counts: bool  # gap_counts


def kept_fresh(conn) -> KeptFresh:
    """Both freshness checks in one round trip (the analysis and every area tile ask)."""
    row = conn.execute(text("SELECT NOT EXISTS (SELECT 1 FROM gap_coverage_stale), "
                            "NOT EXISTS (SELECT 1 FROM gap_counts_stale)")).one()
    return KeptFresh(coverage=bool(row[0]), counts=bool(row[1]))


def stored_coverage_is_fresh(conn) -> bool:
    """May the analysis read gap_coverage? Not while any write is marked that no refresh has seen."""
    return kept_fresh(conn).coverage


def mark_coverage_stale(conn) -> None:
    """Mark every unit stale, as a change of boundaries does: the next refresh_coverage rebuilds everything."""
    conn.execute(text("INSERT INTO gap_coverage_stale VALUES (:everything, txid_current()) "
                      "ON CONFLICT (service_area_id) DO UPDATE SET marked_xid = EXCLUDED.marked_xid"),
                 {"everything": EVERYTHING})


def refresh_coverage(conn) -> CoverageRefresh | None:
    """Bring gap_overlap and gap_coverage up to date with the service areas and the active CBS year.

    Only what the stale marks name is redone: the pieces of the marked service areas and the coverage
    of every unit they touched before or touch now; all of it after a change of boundaries or of the
    active year. Runs in the caller's transaction; None when nothing was marked.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _REFRESH_LOCK})
    marks = conn.execute(text("SELECT service_area_id, marked_xid FROM gap_coverage_stale")).all()
    if not marks:
        return None
    jaar = active_year(conn)
    marked = sorted({m.service_area_id for m in marks} - {EVERYTHING})
    full = jaar is None or any(m.service_area_id == EVERYTHING for m in marks)
    result = _tuned(conn, lambda: _refresh(conn, jaar, None if full else marked))
    conn.execute(text(_CLEAR_MARKS), {"ids": [m.service_area_id for m in marks],
                                      "xids": [m.marked_xid for m in marks]})
    return result


def _refresh(conn, jaar: int | None, marked: list[int] | None) -> CoverageRefresh:
    """Redo the pieces of the marked service areas (None: of all) and the coverage of the units concerned."""
    units = _ALL_UNITS.format(only="")
    if marked is None:
        conn.execute(text("DELETE FROM gap_overlap"))
        conn.execute(text("DELETE FROM gap_coverage"))
        if jaar is None:
            return CoverageRefresh(full=True, service_areas=0, units=0)
        params = {"jaar": jaar}
        conn.execute(text(_NEW_PIECES.format(piece=_PIECE, units=units, only_marked="")), params)
    else:
        params = {"jaar": jaar, "areas": marked}
        conn.execute(text(_NEW_PIECES.format(piece=_PIECE, units=units,
                                             only_marked=" AND sa.id = ANY(CAST(:areas AS integer[]))")), params)
        before = conn.execute(text("DELETE FROM gap_overlap WHERE service_area_id = ANY(CAST(:areas AS integer[])) "
                                   "RETURNING code"), params).scalars().all()
        now = conn.execute(text("SELECT code FROM gap_new_pieces")).scalars().all()
        params = {"jaar": jaar, "codes": sorted(set(before) | set(now))}
        units = _ALL_UNITS.format(only=_ONLY_CODES)
        conn.execute(text("DELETE FROM gap_coverage WHERE code = ANY(CAST(:codes AS text[]))"), params)
    conn.execute(text("INSERT INTO gap_overlap SELECT * FROM gap_new_pieces"))
    conn.execute(text("DROP TABLE gap_new_pieces"))  # a second refresh in this transaction makes it again
    added = conn.execute(text(_ADD_COVERAGE.format(
        pairs=_STORED_PAIRS.format(units=units, partner_join=""), partner_shares=_PARTNER_SHARES,
        unit_shares=_UNIT_SHARES,
        units=units, **_coverage_fragments())), {**params, "half": HALF, "share_decimals": SHARE_DECIMALS})
    return CoverageRefresh(full=marked is None, service_areas=len(marked or ()), units=added.rowcount)


# --- initiative counts kept on write: gap_counts -------------------------------------------------

# More marked points than this and a full rebuild is cheaper than finding the units each one touches.
_FULL_REFRESH_FROM = 500
_COUNTS_LOCK = "geoservice.gap_counts"

# Units whose figures a marked point can change: those within walk_m of it (n_inside, n_nearby), and
# those no farther from it than their stored nearest initiative (it may be nearer, or it was that one;
# 1 mm slack for the floating point of a distance computed twice). A unit without a row counts as far.
_TOUCHED_UNITS = """
SELECT DISTINCT u.code
FROM ({units}) AS u
JOIN gap_counts_stale AS s ON s.id = ANY(CAST(:ids AS bigint[])) AND ST_DWithin(u.geom, s.location, :far_m)
LEFT JOIN gap_counts AS gn ON gn.jaar = :jaar AND gn.code = u.code
WHERE ST_DWithin(u.geom, s.location, greatest(:walk_m, coalesce(gn.nearest_m, :far_m) + 0.001))"""

# The same fragments as the on-the-fly statement, for every published initiative: the same figures.
_ADD_COUNTS = """
WITH counts AS MATERIALIZED ({counts})
INSERT INTO gap_counts (jaar, code, n_inside, n_nearby, nearest_m)
SELECT :jaar, u.code, coalesce(c.n_inside, 0), coalesce(c.n_nearby, 0),
       CASE WHEN c.n_touching > 0 THEN 0 ELSE n.d END
FROM ({units}) AS u
LEFT JOIN counts AS c ON c.code = u.code
LEFT JOIN LATERAL ({nearest}) AS n ON true"""


@dataclass(frozen=True)
class CountsRefresh:
    """What refresh_counts did: everything, or the units near the marked points."""

    full: bool
    points: int  # marked points seen
    units: int  # units whose figures were recomputed


def stored_counts_are_fresh(conn) -> bool:
    """May the analysis read gap_counts? Not while any initiative write is marked that no refresh has seen."""
    return kept_fresh(conn).counts


def refresh_counts(conn) -> CountsRefresh | None:
    """Bring gap_counts up to date with the published initiatives and the active CBS year.

    Only the units near the marked points are redone, all of them after a change of boundaries or of
    the active year, or after a bulk write. Runs in the caller's transaction; None when nothing was marked.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _COUNTS_LOCK})
    marks = conn.execute(text("SELECT id, location IS NULL AS everything FROM gap_counts_stale")).all()
    if not marks:
        return None
    jaar = active_year(conn)
    ids = [m.id for m in marks]
    full = jaar is None or len(marks) >= _FULL_REFRESH_FROM or any(m.everything for m in marks)
    params = {"jaar": jaar, "walk_m": STORED_WALK_M, "far_m": FAR_M, "ids": ids}
    if full:
        conn.execute(text("DELETE FROM gap_counts"))
        units = _ALL_UNITS.format(only="")
    else:
        codes = conn.execute(text(_TOUCHED_UNITS.format(units=_ALL_UNITS.format(only=""))), params).scalars().all()
        params["codes"] = list(codes)
        conn.execute(text("DELETE FROM gap_counts WHERE jaar = :jaar AND code = ANY(CAST(:codes AS text[]))"), params)
        units = _ALL_UNITS.format(only=_ONLY_CODES)
    added = 0
    if jaar is not None:
        counted = _COUNTED_INITIATIVE["base"]
        statement = text(_ADD_COUNTS.format(counts=_COUNTS.format(units=units, counted=counted), units=units,
                                            nearest=_NEAREST.format(counted=counted)))
        added = _tuned(conn, lambda: conn.execute(statement, params)).rowcount
    # Marks are rows of their own, never updated: the ones read above are exactly the ones done.
    conn.execute(text("DELETE FROM gap_counts_stale WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": ids})
    return CountsRefresh(full=full, points=sum(not m.everything for m in marks), units=added)


def refresh_kept(conn) -> tuple[CoverageRefresh | None, CountsRefresh | None]:
    """Both tables the analysis keeps on write, brought up to date: what a writer calls before committing."""
    return refresh_coverage(conn), refresh_counts(conn)


# --- small reads the analysis needs ---------------------------------------------------------------

def gemeente_naam(conn, jaar: int, code: str) -> str | None:
    """The name of a gemeente in year jaar; None when there is no such gemeente (or no name)."""
    row = conn.execute(text("SELECT naam FROM gemeente WHERE jaar = :jaar AND code = :code"),
                       {"jaar": jaar, "code": code}).first()
    return None if row is None else (row.naam or "")


def gemeenten(conn, jaar: int, code: str | None = None) -> list[dict]:
    """Code and name of the gemeenten of a year (or of one), ordered by code."""
    sql = "SELECT code, naam FROM gemeente WHERE jaar = :jaar" + (" AND code = :code" if code else "")
    return [dict(r._mapping) for r in conn.execute(text(sql + " ORDER BY code"), {"jaar": jaar, "code": code})]


def has_buurten(conn, jaar: int, gemeente: str | None = None) -> bool:
    """Are buurten loaded for this gemeente (or for any, when None) in year jaar?"""
    sql = "SELECT EXISTS (SELECT 1 FROM buurt WHERE jaar = :jaar" + (
        " AND gemeentecode = :gemeente)" if gemeente else ")")
    return bool(conn.execute(text(sql), {"jaar": jaar, "gemeente": gemeente}).scalar())


def partner_exists(conn, partner_id: int) -> bool:
    return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM partner WHERE id = :id)"),
                             {"id": partner_id}).scalar())


_PARTNERS_ACTIVE = """
SELECT g.code, count(DISTINCT sa.partner_id) AS n
FROM gemeente AS g
JOIN service_area AS sa ON ST_Intersects(sa.geom, g.geom) AND NOT ST_Touches(sa.geom, g.geom){partner_join}
WHERE g.jaar = :jaar{in_gemeente}
GROUP BY g.code"""


def partners_active(conn, jaar: int, partner_services: tuple[str, ...] = (),
                    gemeente: str | None = None) -> dict[str, int]:
    """Per gemeente code: partners (those that count) with a service area overlapping it; touching is not enough."""
    sql = _PARTNERS_ACTIVE.format(partner_join=_COUNTED_PARTNER if partner_services else "",
                                  in_gemeente=" AND g.code = :gemeente" if gemeente else "")
    rows = conn.execute(text(sql), {"jaar": jaar, "partner_services": list(partner_services),
                                    "gemeente": gemeente})
    return {row.code: row.n for row in rows}
