"""Outreach region outlines are clean: the union of generalised neighbouring wijken leaves slivers, holes and specks
(they do not share their borders exactly); a region's outline keeps none under 1 ha, and still covers its units."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import text

from geoservice.analysis.gaps import GapParams
from geoservice.analysis.outreach import outreach_regions

HECTARE = 10_000
TO_RD = Transformer.from_crs(4326, 28992, always_xy=True)
# gemeenten whose wijken, united as stored, have dozens of holes under 1 ha (Rotterdam also a speck)
GEMEENTEN = ("GM0599", "GM0014", "GM0080")


def _small_pieces(conn, gemeente: str) -> tuple[int, int]:
    """(holes, parts) under 1 ha in the plain union of a gemeente's wijken: what cleaning must remove."""
    row = conn.execute(text("""
        WITH d AS (SELECT (ST_Dump(ST_Union(geom))).geom AS p FROM wijk WHERE jaar = 2024 AND gemeentecode = :g)
        SELECT sum((SELECT count(*) FROM generate_series(1, ST_NumInteriorRings(p)) AS k
                    WHERE ST_Area(ST_MakePolygon(ST_InteriorRingN(p, k))) < 10000)),
               count(*) FILTER (WHERE ST_Area(p) < 10000)
        FROM d"""), {"g": gemeente}).one()
    return int(row[0]), int(row[1])


@pytest.fixture
def conn(shared_db_url, engine_for):
    with engine_for(shared_db_url).connect() as connection:
        yield connection


@pytest.mark.parametrize("gemeente", GEMEENTEN)
def test_regions_of_generalised_wijken_have_no_specks_or_pinholes(conn, gemeente):
    holes, _ = _small_pieces(conn, gemeente)
    assert holes >= 10  # the raw union is as untidy as the issue says
    # no initiatives and no partners in the shared database: every wijk with inhabitants is a white spot
    regions = outreach_regions(conn, gemeente=gemeente, cluster_m=500, params=GapParams(level="wijk"))
    assert regions
    for region in regions:
        outline = shapely.transform(shape(json.loads(region["geometry"])),
                                    lambda xy: np.column_stack(TO_RD.transform(xy[:, 0], xy[:, 1])))
        parts = list(getattr(outline, "geoms", [outline]))
        assert all(p.area >= HECTARE for p in parts[1:]), [p.area for p in parts]  # the largest may be small
        for part in parts:
            assert all(shapely.Polygon(ring).area >= HECTARE for ring in part.interiors)
        # still the same place: the outline and the units' area differ by the slivers filled, not by more
        assert outline.area == pytest.approx(region["area_m2"], rel=0.02)
