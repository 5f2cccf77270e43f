"""Service areas in PostGIS: build a MultiPolygon (EPSG:28992) from a definition, check it, write it, rebuild it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from ..models import ServiceArea

if TYPE_CHECKING:  # the CBS loader imports this module; it need not load the partner validation
    from ..partners.validation import AreaDefinition

# 32 segments per quarter circle: the polygon's area is within 0.05 % of π·r² (8 would be 0.6 % short).
# RD New's scale error is at most about 0.01 %, so metres in RD are metres on the ground here.
QUAD_SEGS = 32

# GEOS validity reasons (English) in words a reader of the report understands.
_REASONS = {
    "self-intersection": "de rand snijdt zichzelf",
    "ring self-intersection": "een ring raakt zichzelf",
    "too few points": "te weinig punten",
    "hole lies outside shell": "een gat ligt buiten de buitenrand",
    "nested holes": "gaten liggen in elkaar",
    "interior is disconnected": "het binnengebied is in stukken gesneden",
    "nested shells": "buitenranden liggen in elkaar",
    "duplicate rings": "dubbele ringen",
    "invalid coordinate": "ongeldige coördinaat",
    "ring is not closed": "een ring is niet gesloten",
}


def _codes_union(codes: str, jaar: str) -> str:
    """SQL of the union of the CBS areas whose code is in `codes` (a text[] expression) in year `jaar`.

    Only trusted SQL fragments are passed in (bound parameters or column names), never input.
    The ordered aggregate keeps ST_Union deterministic, so rebuilding unchanged boundaries changes nothing.
    """
    return f"""
        SELECT ST_Multi(ST_CollectionExtract(ST_Union(parts.geom ORDER BY parts.code), 3)) AS geom,
               array_agg(parts.code ORDER BY parts.code) AS found_codes
        FROM (
            SELECT code, geom FROM gemeente WHERE jaar = {jaar} AND code = ANY({codes})
            UNION ALL SELECT code, geom FROM wijk WHERE jaar = {jaar} AND code = ANY({codes})
            UNION ALL SELECT code, geom FROM buurt WHERE jaar = {jaar} AND code = ANY({codes})
        ) AS parts"""


_BUILT = {
    "codes": f"""
        SELECT u.geom, true AS valid, NULL::text AS reason, u.found_codes
        FROM ({_codes_union("CAST(:codes AS text[])", ":jaar")}) AS u""",
    "radius": """
        SELECT ST_Multi(ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992),
                                  :radius, 'quad_segs=%d')) AS geom,
               true AS valid, NULL::text AS reason, NULL::text[] AS found_codes""" % QUAD_SEGS,
    "geojson": """
        SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(g.given), 3)) AS geom,
               ST_IsValid(g.given) AS valid, ST_IsValidReason(g.given) AS reason, NULL::text[] AS found_codes
        FROM (SELECT ST_Force2D(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:geojson), 4326), 28992)) AS given) AS g""",
}

_CHECKED = """
WITH built AS ({built})
SELECT ST_AsEWKB(b.geom) AS ewkb,
       b.geom IS NULL OR ST_IsEmpty(b.geom) OR ST_Area(b.geom) = 0 AS empty,
       coalesce(ST_Area(b.geom), 0) AS area_m2,
       b.valid, b.reason, b.found_codes,
       EXISTS (SELECT 1 FROM gemeente AS g WHERE g.jaar = :jaar AND ST_Intersects(g.geom, b.geom)) AS in_nl
FROM built AS b
"""

FIELD = {"codes": "codes", "radius": "point", "geojson": "geojson"}


@dataclass(frozen=True)
class BuiltArea:
    """A service-area geometry built in PostGIS, or the reason it was refused."""

    ewkb: bytes | None  # EPSG:28992 MultiPolygon; None when refused
    area_m2: float = 0.0
    cbs_jaar: int | None = None
    problem: tuple[str, str] | None = None  # (field, Dutch reason)
    repaired: str | None = None  # Dutch description of what was wrong with a repaired polygon


@dataclass(frozen=True)
class StoredArea:
    id: int
    partner_id: int
    name: str
    definition_type: str
    definition: dict
    cbs_jaar: int | None


def _params(area: AreaDefinition, jaar: int) -> dict:
    d = area.definition
    if area.definition_type == "codes":
        return {"codes": d["codes"], "jaar": jaar}
    if area.definition_type == "radius":
        return {"lon": d["point"]["lon"], "lat": d["point"]["lat"], "radius": float(d["radius_m"]), "jaar": jaar}
    return {"geojson": json.dumps(d["geojson"]), "jaar": jaar}


def _repair_reason(reason: str | None) -> str:
    base = (reason or "").split("[", 1)[0].strip()
    return _REASONS.get(base.lower(), base or "ongeldige geometrie")


def build_service_area(conn: Connection, area: AreaDefinition, jaar: int) -> BuiltArea:
    """Build one definition against CBS year `jaar`: unknown codes, empty areas and areas abroad are refused."""
    where = FIELD[area.definition_type]
    try:
        # A savepoint: PostGIS may still refuse odd input, and that must not end the import's transaction.
        with conn.begin_nested():
            row = conn.execute(text(_CHECKED.format(built=_BUILT[area.definition_type])),
                               _params(area, jaar)).one()
    except DBAPIError as exc:
        diag = getattr(exc.orig, "diag", None)
        detail = (diag.message_primary if diag is not None and diag.message_primary else str(exc.orig))[:120]
        return BuiltArea(None, problem=(where, f"PostGIS kan deze geometrie niet lezen ({detail})"))
    if area.definition_type == "codes":
        missing = sorted(set(area.definition["codes"]) - set(row.found_codes or ()))
        if missing:
            shown = ", ".join(missing[:10]) + (f" en nog {len(missing) - 10}" if len(missing) > 10 else "")
            return BuiltArea(None, problem=(where, f"onbekende code(s) in CBS-jaar {jaar}: {shown}"))
    if row.empty:
        return BuiltArea(None, problem=(where, "het gebied is leeg: er blijft geen oppervlakte over"))
    if not row.in_nl:
        return BuiltArea(None, problem=(where, f"ligt buiten Nederland: raakt geen gemeente (CBS-jaar {jaar})"))
    return BuiltArea(bytes(row.ewkb), float(row.area_m2),
                     cbs_jaar=jaar if area.definition_type == "codes" else None,
                     repaired=None if row.valid else _repair_reason(row.reason))


def stored_service_areas(conn: Connection, partner_ids: list[int]) -> dict[int, list[StoredArea]]:
    """The service areas of these partners (without geometry), per partner id."""
    out: dict[int, list[StoredArea]] = {i: [] for i in partner_ids}
    if partner_ids:
        sa = ServiceArea
        rows = conn.execute(select(sa.id, sa.partner_id, sa.name, sa.definition_type, sa.definition, sa.cbs_jaar)
                            .where(sa.partner_id.in_(partner_ids)).order_by(sa.id))
        for row in rows:
            out[row.partner_id].append(StoredArea(*row))
    return out


def _written(area: AreaDefinition, built: BuiltArea) -> dict:
    return {"name": area.name, "definition_type": area.definition_type, "definition": area.definition,
            "cbs_jaar": built.cbs_jaar, "geom": func.ST_GeomFromEWKB(built.ewkb)}


# Every write to service_area is marked by a trigger (migration 0004) for the gap analysis' stored
# coverage. A writer calls queries.gaps.refresh_coverage(conn) once after its writes, in the same
# transaction, as the partner import and the CBS loader do; until then the analysis computes coverage
# on the fly, so forgetting it costs speed, never correctness.

def insert_service_area(conn: Connection, partner_id: int, area: AreaDefinition, built: BuiltArea) -> int:
    return conn.execute(insert(ServiceArea).values(partner_id=partner_id, **_written(area, built))
                        .returning(ServiceArea.id)).scalar_one()


def update_service_area(conn: Connection, area_id: int, area: AreaDefinition, built: BuiltArea) -> None:
    conn.execute(update(ServiceArea).where(ServiceArea.id == area_id)
                 .values(**_written(area, built), updated_at=func.now()))


def delete_service_areas(conn: Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(delete(ServiceArea).where(ServiceArea.id.in_(ids)))


# Every codes-defined area, rebuilt from the active year; an area is only rebuilt when all its codes exist.
_REBUILT = f"""
WITH active AS (SELECT jaar FROM cbs_jaar WHERE is_active),
wanted AS (
    SELECT sa.id, a.jaar,
           ARRAY(SELECT DISTINCT upper(c) FROM jsonb_array_elements_text(sa.definition -> 'codes') AS c) AS codes
    FROM service_area AS sa CROSS JOIN active AS a
    WHERE sa.definition_type = 'codes' AND jsonb_typeof(sa.definition -> 'codes') = 'array'
),
built AS (
    SELECT w.id, w.jaar, w.codes, u.geom, u.found_codes
    FROM wanted AS w CROSS JOIN LATERAL ({_codes_union("w.codes", "w.jaar")}) AS u
)
"""


def rebuild_code_service_areas(conn: Connection) -> int:
    """Rebuild every codes-defined service area from the active CBS year; the number of areas that changed.

    An area naming a code that the active year lacks (a gemeente merged away, a buurt renumbered)
    keeps its old geometry and year, so it never silently shrinks: see stale_code_service_areas.
    """
    return conn.execute(text(_REBUILT + """
        UPDATE service_area AS sa SET geom = b.geom, cbs_jaar = b.jaar, updated_at = now()
        FROM built AS b
        WHERE sa.id = b.id AND cardinality(b.found_codes) = cardinality(b.codes) AND NOT ST_IsEmpty(b.geom)
          AND (sa.cbs_jaar IS DISTINCT FROM b.jaar OR ST_AsEWKB(sa.geom) <> ST_AsEWKB(b.geom))
    """)).rowcount


def stale_code_service_areas(conn: Connection) -> list[dict]:
    """Codes-defined areas that name codes the active CBS year does not have: id, partner_id, name, missing."""
    rows = conn.execute(text(_REBUILT + """
        SELECT b.id, sa.partner_id, sa.name, sa.cbs_jaar,
               ARRAY(SELECT c FROM unnest(b.codes) AS c
                     WHERE c <> ALL(coalesce(b.found_codes, '{}')) ORDER BY c) AS missing
        FROM built AS b JOIN service_area AS sa ON sa.id = b.id
        WHERE cardinality(b.found_codes) IS DISTINCT FROM cardinality(b.codes)
        ORDER BY sa.partner_id, sa.name
    """))
    return [dict(row._mapping) for row in rows]
