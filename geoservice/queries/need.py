"""Need indicators in PostgreSQL: each unit's percent_rank() per indicator among the units of its level and year.

The indicators and their CBS fields are fixed here (analysis.need describes them for people): a figure is a
stored column or a numeric member of the jsonb kerncijfers, CBS sentinels being stored as null. Every value
is a bound parameter; the SQL is assembled only from the fixed fragments below. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

LEVELS = ("buurt", "wijk")


def _kc(name: str) -> str:
    """A numeric kerncijfer of unit t, or null (absent, null, or not a number)."""
    return (f"CASE WHEN jsonb_typeof(t.kerncijfers -> '{name}') = 'number' "
            f"THEN CAST(t.kerncijfers ->> '{name}' AS float8) END")


@dataclass(frozen=True)
class Indicator:
    """One need indicator: the figure it reads (first that is present), and which way more need lies."""

    key: str
    fields: tuple[str, ...]  # the CBS fields read, in order of preference (column or kerncijfers name)
    expression: str  # SQL over unit t: the figure, or null
    higher_is_more_need: bool = True


# Names as the loader stores them (the snake_case names of the PDOK Kerncijfers wijken en buurten release and of
# the geoinzicht extracts shipped in data/cbs_wijken); `load-cbs-figures` maps the StatLine names onto them.
INDICATORS = (
    Indicator("ouderen", ("pct_65plus",), "t.pct_65plus"),
    Indicator("alleenwonend",
              ("percentage_eenpersoonshuishoudens", "pct_eenpersoonshhd",
               "eenpersoonshuishoudens / aantal_huishoudens"),
              f"coalesce({_kc('percentage_eenpersoonshuishoudens')}, {_kc('pct_eenpersoonshhd')}, "
              f"100 * {_kc('eenpersoonshuishoudens')} / nullif(t.aantal_huishoudens, 0))"),
    Indicator("lage_inkomens", ("percentage_huishoudens_met_laag_inkomen",),
              _kc("percentage_huishoudens_met_laag_inkomen")),
    Indicator("wmo", ("aantal_wmo_clienten_per_1000_inwoners", "aantal_wmo_clienten / aantal_inwoners"),
              f"coalesce({_kc('aantal_wmo_clienten_per_1000_inwoners')}, "
              f"1000 * {_kc('aantal_wmo_clienten')} / nullif(t.aantal_inwoners, 0))"),
)
BY_KEY = {indicator.key: indicator for indicator in INDICATORS}

_TABLES = {"buurt": ("buurt", "t.wijkcode"), "wijk": ("wijk", "NULL")}

# percent_rank among the units that have the figure: the units without it form a partition of their own,
# whose ranks are thrown away. Ordered towards more need, so 0 is the least and 1 the most.
_SCORES = """
WITH figures AS (
    SELECT t.code, {parent} AS parent, {figures}
    FROM {table} AS t WHERE t.jaar = :jaar
)
SELECT code, parent, {scores}
FROM figures"""


def _scores_sql(level: str) -> str:
    table, parent = _TABLES[level]
    figures = ", ".join(f"CAST({i.expression} AS float8) AS f_{i.key}" for i in INDICATORS)
    scores = ", ".join(
        f"CASE WHEN f_{i.key} IS NOT NULL THEN percent_rank() OVER "
        f"(PARTITION BY f_{i.key} IS NULL ORDER BY f_{i.key} {'ASC' if i.higher_is_more_need else 'DESC'}) END "
        f"AS s_{i.key}" for i in INDICATORS)
    return _SCORES.format(parent=parent, figures=figures, table=table, scores=scores)


def unit_scores(conn, jaar: int, level: str) -> dict[str, tuple[str | None, dict[str, float]]]:
    """Per unit code of that level and year: (its wijkcode for a buurt, else None; {indicator: score 0..1})."""
    rows = conn.execute(text(_scores_sql(level)), {"jaar": jaar})
    return {row.code: (row.parent, {i.key: float(getattr(row, f"s_{i.key}"))
                                    for i in INDICATORS if getattr(row, f"s_{i.key}") is not None})
            for row in rows}


def unit_figures(conn, jaar: int, level: str, gemeente: str | None = None) -> dict[str, dict[str, float]]:
    """Per unit code: the raw figure of each indicator it has (what the scores rank), e.g. for tests and reports."""
    table, _ = _TABLES[level]
    figures = ", ".join(f"CAST({i.expression} AS float8) AS f_{i.key}" for i in INDICATORS)
    sql = f"SELECT t.code, {figures} FROM {table} AS t WHERE t.jaar = :jaar" + (
        " AND t.gemeentecode = :gemeente" if gemeente else "")
    return {row.code: {i.key: getattr(row, f"f_{i.key}") for i in INDICATORS
                       if getattr(row, f"f_{i.key}") is not None}
            for row in conn.execute(text(sql), {"jaar": jaar, "gemeente": gemeente})}


def indicator_counts(conn, jaar: int) -> dict[str, dict[str, int]]:
    """Per level: the number of units of the year, and per indicator how many have its figure."""
    counts = {}
    for level in LEVELS:
        table, _ = _TABLES[level]
        columns = ", ".join(f"count({i.expression}) AS n_{i.key}" for i in INDICATORS)
        row = conn.execute(text(f"SELECT count(*) AS units, {columns} FROM {table} AS t WHERE t.jaar = :jaar"),
                           {"jaar": jaar}).one()
        counts[level] = {"units": int(row.units), **{i.key: int(getattr(row, f"n_{i.key}")) for i in INDICATORS}}
    return counts


# The nearest counted initiative of each unit (inside counts, at 0 m), by KNN on the GiST index.
_NEAREST_INITIATIVES = """
SELECT u.code, n.id, n.name, n.d AS distance_m
FROM (SELECT b.code, b.geom FROM buurt AS b WHERE b.jaar = :jaar AND b.code = ANY(CAST(:codes AS text[]))
      UNION ALL
      SELECT w.code, w.geom FROM wijk AS w WHERE w.jaar = :jaar AND w.code = ANY(CAST(:codes AS text[]))) AS u
CROSS JOIN LATERAL (
    SELECT i.id, i.name, ST_Distance(u.geom, i.location) AS d
    FROM initiative AS i
    WHERE i.status = 'published'{kinds}{themes} AND ST_DWithin(i.location, u.geom, :far_m)
    ORDER BY i.location <-> u.geom
    LIMIT 1) AS n"""


def nearest_initiatives(conn, jaar: int, codes: list[str], kinds: tuple[str, ...] = (),
                        themes: tuple[str, ...] = (), far_m: float = 50_000) -> dict[str, dict]:
    """Per unit code: id, name and distance_m of the nearest counted initiative within far_m; absent beyond."""
    if not codes:
        return {}
    sql = _NEAREST_INITIATIVES.format(kinds=" AND i.kind = ANY(CAST(:kinds AS text[]))" if kinds else "",
                                      themes=" AND i.themes && CAST(:themes AS text[])" if themes else "")
    rows = conn.execute(text(sql), {"jaar": jaar, "codes": list(codes), "kinds": list(kinds),
                                    "themes": list(themes), "far_m": far_m})
    return {row.code: {"id": row.id, "name": row.name, "distance_m": float(row.distance_m)} for row in rows}


# --- need kept on write: gap_need (migration 0013; analysis.need.refresh_kept_need fills it) --------------

_NEED_LOCK = "geoservice.gap_need"  # one refresh at a time: two would write the same units

_POPULATIONS = """
SELECT 'buurt' AS level, code, aantal_inwoners FROM buurt WHERE jaar = :jaar
UNION ALL
SELECT 'wijk', code, aantal_inwoners FROM wijk WHERE jaar = :jaar"""

_ADD_NEED = """
INSERT INTO gap_need (jaar, code, need, white_spot_priority)
SELECT :jaar, * FROM unnest(CAST(:codes AS text[]), CAST(:needs AS float8[]), CAST(:priorities AS float8[]))"""


def need_marks(conn) -> list[int]:
    """The stale marks of gap_need (a change of buurten, wijken or the active year), after taking the refresh lock."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _NEED_LOCK})
    return list(conn.execute(text("SELECT id FROM gap_need_stale")).scalars())


def unit_populations(conn, jaar: int) -> list[tuple[str, str, int | None]]:
    """(level, code, aantal_inwoners) of every buurt and wijk of the year."""
    return [(row.level, row.code, row.aantal_inwoners) for row in conn.execute(text(_POPULATIONS), {"jaar": jaar})]


def replace_kept_need(conn, jaar: int | None, rows: list[tuple[str, float | None, float | None]],
                      marks: list[int]) -> int:
    """gap_need := rows (code, need, white_spot_priority) of year jaar; the marks read are cleared. Returns rows."""
    conn.execute(text("DELETE FROM gap_need"))
    added = 0
    if jaar is not None and rows:
        codes, needs, priorities = (list(column) for column in zip(*rows))
        added = conn.execute(text(_ADD_NEED), {"jaar": jaar, "codes": codes, "needs": needs,
                                               "priorities": priorities}).rowcount
    # Marks are rows of their own, never updated: the ones read are exactly the ones done.
    conn.execute(text("DELETE FROM gap_need_stale WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": marks})
    return added


def kept_need_is_fresh(conn) -> bool:
    """May a reader take need from gap_need? Not while a change of the CBS areas is marked that no refresh saw."""
    return not conn.execute(text("SELECT EXISTS (SELECT 1 FROM gap_need_stale)")).scalar()
