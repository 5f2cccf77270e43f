"""Spatial SQL for synthetic (demo and benchmark) data: population weights and random points."""

from __future__ import annotations

from sqlalchemy import Connection, text


def population_by_area(conn: Connection, level: str, *, gemeenten: list[str] | None = None,
                       exclude_gemeenten: list[str] | None = None) -> list[tuple[str, str, int]]:
    """(code, naam, aantal_inwoners) of populated wijken or buurten of the active year."""
    table = {"wijk": "wijk", "buurt": "buurt"}[level]  # whitelist: never user text in SQL
    rows = conn.execute(text(f"""
        SELECT a.code, a.naam, a.aantal_inwoners
        FROM {table} AS a JOIN cbs_jaar AS y ON y.jaar = a.jaar AND y.is_active
        WHERE a.aantal_inwoners > 0
          AND (CAST(:only AS text[]) IS NULL OR a.gemeentecode = ANY(CAST(:only AS text[])))
          AND NOT (a.gemeentecode = ANY(CAST(:exclude AS text[])))
        ORDER BY a.code
    """), {"only": gemeenten, "exclude": exclude_gemeenten or []})
    return [tuple(r) for r in rows]


def random_points(conn: Connection, level: str, counts: dict[str, int], seed: int) -> list[tuple[str, float, float]]:
    """(code, x, y) in EPSG:28992: counts[code] points inside each area, the same for the same seed."""
    table = {"wijk": "wijk", "buurt": "buurt"}[level]
    codes = [c for c, n in counts.items() if n > 0]
    rows = conn.execute(text(f"""
        WITH wanted AS (SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:ns AS integer[])) AS w(code, n))
        SELECT a.code, ST_X(p.geom), ST_Y(p.geom)
        FROM wanted
        JOIN {table} AS a ON a.code = wanted.code
        JOIN cbs_jaar AS y ON y.jaar = a.jaar AND y.is_active
        CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(a.geom, wanted.n, :seed + abs(hashtext(a.code)) % 100000)) AS p
        ORDER BY a.code, p.path
    """), {"codes": codes, "ns": [counts[c] for c in codes], "seed": seed})
    return [(r[0], float(r[1]), float(r[2])) for r in rows]
