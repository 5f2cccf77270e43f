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


def insert_radius_service_areas(conn: Connection, partner_ids: list[int], per_partner: int, seed: int,
                                radius_range: tuple[int, int] = (2000, 15000)) -> int:
    """Circles (radius 2-15 km) around random points in well-populated wijken, `per_partner` each."""
    return conn.execute(text("""
        WITH dumped AS (
            -- ST_GeneratePoints may return a few points fewer than asked: ask for more, keep :total.
            SELECT (ST_Dump(ST_GeneratePoints(ST_Union(w.geom), :total + :total / 10 + 10, :seed))).geom AS p
            FROM wijk AS w JOIN cbs_jaar AS y ON y.jaar = w.jaar AND y.is_active
            WHERE w.aantal_inwoners >= 5000
        ),
        centres AS (SELECT row_number() OVER () AS n, p FROM dumped)
        INSERT INTO service_area (partner_id, name, definition_type, definition, geom)
        SELECT (CAST(:partners AS integer[]))[1 + (n - 1) / :per_partner],
               'Werkgebied ' || n,
               'radius',
               jsonb_build_object('point', jsonb_build_object(
                                      'lat', round(ST_Y(ST_Transform(p, 4326))::numeric, 5),
                                      'lon', round(ST_X(ST_Transform(p, 4326))::numeric, 5)),
                                  'radius_m', r),
               ST_Multi(ST_Buffer(p, r, 16))
        FROM (SELECT n, p, :rmin + (abs(hashtext(n::text || CAST(:seed AS text))) % (:rmax - :rmin)) AS r
              FROM centres WHERE n <= :total) AS c
    """), {"total": len(partner_ids) * per_partner, "seed": seed, "partners": partner_ids,
           "per_partner": per_partner, "rmin": radius_range[0], "rmax": radius_range[1]}).rowcount
