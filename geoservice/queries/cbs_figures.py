"""Reads and writes of CBS figures (kerncijfers) on areas already loaded: no boundaries are touched here."""

from __future__ import annotations

import json

from sqlalchemy import text

from ..models import LEVELS

# The figures kept in their own column; every other figure lives in the jsonb `kerncijfers` of the area.
FIGURE_COLUMNS = {
    "aantal_inwoners": "integer",
    "aantal_huishoudens": "integer",
    "pct_0_15": "double precision",
    "pct_65plus": "double precision",
    "bevolkingsdichtheid": "double precision",
    "oppervlakte_land_ha": "double precision",
}


def _table(level: str) -> str:
    if level not in LEVELS:  # the table name is put into SQL text: only the three known ones
        raise ValueError(f"unknown level {level!r}")
    return level


def year_is_loaded(conn, jaar: int) -> bool:
    return conn.execute(text("SELECT EXISTS (SELECT 1 FROM cbs_jaar WHERE jaar = :jaar)"), {"jaar": jaar}).scalar()


def stored_kerncijfer_keys(conn, jaar: int, candidates: list[str]) -> set[str]:
    """Those of `candidates` that some gemeente, wijk or buurt of `jaar` has as a kerncijfers key."""
    if not candidates:
        return set()
    found: set[str] = set()
    for level in LEVELS:
        found |= set(conn.execute(text(
            f"SELECT DISTINCT k FROM {_table(level)} AS a, jsonb_object_keys(a.kerncijfers) AS k "
            f"WHERE a.jaar = :jaar AND k = ANY(CAST(:keys AS text[]))"), {"jaar": jaar, "keys": candidates}).scalars())
    return found


def current_figures(conn, level: str, jaar: int, codes: list[str], fields: list[str], *,
                    lock: bool = False) -> dict[str, dict]:
    """code -> {field: value or None} for the areas of `level` and `jaar` among `codes` (missing codes left out);
    with lock, those rows stay locked until the transaction ends (the values compared are the values replaced)."""
    if not codes:
        return {}
    selects = [f"a.{name}" if name in FIGURE_COLUMNS else f"a.kerncijfers -> CAST(:k{i} AS text)"
               for i, name in enumerate(fields)]
    params = {"jaar": jaar, "codes": codes, **{f"k{i}": name for i, name in enumerate(fields)}}
    rows = conn.execute(text(
        f"SELECT a.code{''.join(', ' + s for s in selects)} FROM {_table(level)} AS a "
        f"WHERE a.jaar = :jaar AND a.code = ANY(CAST(:codes AS text[])){' FOR UPDATE' if lock else ''}"),
        params).all()
    return {row[0]: dict(zip(fields, row[1:])) for row in rows}


def write_figures(conn, level: str, jaar: int, changes: dict[str, dict]) -> int:
    """Set the given figures (code -> {field: value}) in one statement; fields not given keep their value."""
    if not changes:
        return 0
    rows = [{"code": code,
             "cols": {k: v for k, v in values.items() if k in FIGURE_COLUMNS},
             "kern": {k: v for k, v in values.items() if k not in FIGURE_COLUMNS}}
            for code, values in changes.items()]
    sets = [f"{name} = CASE WHEN u.cols ? '{name}' THEN CAST(u.cols ->> '{name}' AS {kind}) ELSE a.{name} END"
            for name, kind in FIGURE_COLUMNS.items()]
    result = conn.execute(text(
        f"UPDATE {_table(level)} AS a SET {', '.join(sets)}, kerncijfers = a.kerncijfers || u.kern "
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS u(code text, cols jsonb, kern jsonb) "
        f"WHERE a.jaar = :jaar AND a.code = u.code"), {"jaar": jaar, "rows": json.dumps(rows)})
    return result.rowcount


def areas_without(conn, level: str, jaar: int, fields: list[str]) -> tuple[int, dict[str, int]]:
    """How many areas of `level` and `jaar` there are, and per field how many have no figure for it."""
    filters = [f"a.{name} IS NULL" if name in FIGURE_COLUMNS else f"a.kerncijfers ->> CAST(:k{i} AS text) IS NULL"
               for i, name in enumerate(fields)]
    params = {"jaar": jaar, **{f"k{i}": name for i, name in enumerate(fields)}}
    row = conn.execute(text(
        f"SELECT count(*){''.join(f', count(*) FILTER (WHERE {f})' for f in filters)} "
        f"FROM {_table(level)} AS a WHERE a.jaar = :jaar"), params).one()
    return row[0], dict(zip(fields, row[1:]))
