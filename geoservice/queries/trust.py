"""Reads that make the gap figures checkable: initiatives per gemeente by their CBS codes, those outside every unit
of a level, and how many of the initiatives and partners counted are examples (demo or benchmark data).

Each initiative carries the gemeente, wijk and buurt codes its location lies in (queries.areas.
assign_initiative_areas), so every level counts it once and in the same gemeente. No Flask here.
"""

from __future__ import annotations

from sqlalchemy import text

# Generated rows: `geoservice demo` (demo) and the benchmark data builders (bench); see geoservice/demo.py.
EXAMPLE_SOURCES = ("demo", "bench")

_COUNTED = "i.status = 'published'{kinds}{themes}"


def _counted(kinds: tuple[str, ...], themes: tuple[str, ...]) -> str:
    return _COUNTED.format(kinds=" AND i.kind = ANY(CAST(:kinds AS text[]))" if kinds else "",
                           themes=" AND i.themes && CAST(:themes AS text[])" if themes else "")


def initiatives_per_gemeente(conn, jaar: int, kinds: tuple[str, ...] = (), themes: tuple[str, ...] = (),
                             gemeente: str | None = None) -> dict[str, dict[str, int]]:
    """Per gemeente code: the counted initiatives whose codes name it (n) and how many are examples (n_example)."""
    sql = (f"SELECT i.gemeentecode AS code, count(*) AS n, "
           f"count(*) FILTER (WHERE i.source = ANY(CAST(:examples AS text[]))) AS n_example "
           f"FROM initiative AS i WHERE {_counted(kinds, themes)} AND i.areas_jaar = :jaar "
           f"AND i.gemeentecode IS NOT NULL" + (" AND i.gemeentecode = :gemeente" if gemeente else "")
           + " GROUP BY i.gemeentecode")
    rows = conn.execute(text(sql), {"jaar": jaar, "kinds": list(kinds), "themes": list(themes),
                                    "gemeente": gemeente, "examples": list(EXAMPLE_SOURCES)})
    return {row.code: {"n": int(row.n), "n_example": int(row.n_example)} for row in rows}


_EXAMPLE_PARTNERS_ACTIVE = """
SELECT g.code, count(DISTINCT sa.partner_id) AS n
FROM gemeente AS g
JOIN service_area AS sa ON ST_Intersects(sa.geom, g.geom) AND NOT ST_Touches(sa.geom, g.geom)
JOIN partner AS p ON p.id = sa.partner_id AND p.source = ANY(CAST(:examples AS text[])){services}
WHERE g.jaar = :jaar{in_gemeente}
GROUP BY g.code"""


def example_partners_active(conn, jaar: int, partner_services: tuple[str, ...] = (),
                            gemeente: str | None = None) -> dict[str, int]:
    """Per gemeente code: the example partners among those counted as active there (queries.gaps.partners_active)."""
    sql = _EXAMPLE_PARTNERS_ACTIVE.format(
        services=" AND p.services && CAST(:partner_services AS text[])" if partner_services else "",
        in_gemeente=" AND g.code = :gemeente" if gemeente else "")
    rows = conn.execute(text(sql), {"jaar": jaar, "partner_services": list(partner_services), "gemeente": gemeente,
                                    "examples": list(EXAMPLE_SOURCES)})
    return {row.code: int(row.n) for row in rows}


def example_totals(conn) -> dict[str, int]:
    """Published initiatives and partners with a service area: all of them, and how many are examples."""
    row = conn.execute(text("""
        SELECT (SELECT count(*) FROM initiative WHERE status = 'published') AS initiatives,
               (SELECT count(*) FROM initiative WHERE status = 'published'
                                                   AND source = ANY(CAST(:examples AS text[]))) AS initiatives_example,
               (SELECT count(*) FROM partner AS p WHERE EXISTS (
                    SELECT 1 FROM service_area AS sa WHERE sa.partner_id = p.id)) AS partners,
               (SELECT count(*) FROM partner AS p WHERE p.source = ANY(CAST(:examples AS text[])) AND EXISTS (
                    SELECT 1 FROM service_area AS sa WHERE sa.partner_id = p.id)) AS partners_example
    """), {"examples": list(EXAMPLE_SOURCES)}).one()
    return {key: int(value) for key, value in row._mapping.items()}


_ASTRAY = """
SELECT a.id, a.name, CASE WHEN a.has_unit THEN a.counted_in END AS counted_in, a.counted_in_naam, a.example,
       a.drawn_in
FROM (
    SELECT i.id, i.name, i.{code_column} AS counted_in, cu.code IS NOT NULL AS has_unit, cu.naam AS counted_in_naam,
           i.source = ANY(CAST(:examples AS text[])) AS example,
           coalesce((SELECT array_agg(u.code ORDER BY u.code) FROM {table} AS u
                     WHERE u.jaar = :jaar AND ST_Intersects(u.geom, i.location)), '{{}}') AS drawn_in
    FROM initiative AS i
    LEFT JOIN {table} AS cu ON cu.jaar = :jaar AND cu.code = i.{code_column} AND cu.gemeentecode = :gemeente
    WHERE {counted} AND i.areas_jaar = :jaar AND i.gemeentecode = :gemeente) AS a
WHERE NOT a.has_unit OR a.drawn_in <> ARRAY[a.counted_in]
ORDER BY a.name, a.id"""


def initiatives_astray(conn, jaar: int, gemeente: str, level: str, kinds: tuple[str, ...] = (),
                       themes: tuple[str, ...] = ()) -> list[dict]:
    """The counted initiatives of a gemeente that its units of that level do not hold exactly once on the map.

    A point in the gap between two generalised wijk outlines lies in no wijk; one where two overlap lies in both.
    Each is counted once all the same: in the unit its CBS codes name (counted_in: the wijk of its buurt), or,
    without one (counted_in null), only in the gemeente's total. Each: id, name, counted_in, counted_in_naam,
    example, drawn_in (the codes of the units whose outline holds it).
    """
    table, column = {"buurt": ("buurt", "buurtcode"), "wijk": ("wijk", "wijkcode")}[level]
    sql = _ASTRAY.format(counted=_counted(kinds, themes), table=table, code_column=column)
    rows = conn.execute(text(sql), {"jaar": jaar, "gemeente": gemeente, "kinds": list(kinds),
                                    "themes": list(themes), "examples": list(EXAMPLE_SOURCES)})
    return [{**row._mapping, "drawn_in": list(row.drawn_in)} for row in rows]
