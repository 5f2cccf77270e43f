"""Read CBS boundary files (GeoPackage, GeoJSON, PDOK exports) into normalised area records.

Reading never touches the database: a load reads and checks every file first and
writes only when all of them are good, so a bad file changes nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon

from ..errors import LoadError
from ..models import RD_NEW
from .codes import CbsCode, parse_code

SENTINEL_MAX = -99995  # CBS: -99995 "geheim/nog niet bekend", -99997 "niet van toepassing", …

# Normalised column names (lower case, only letters and digits) per field, in order of preference.
CODE_COLUMNS = ["statcode", "cbscode", "buurtcode", "bucode", "wijkcode", "wkcode",
                "gemeentecode", "gmcode"]
NAME_COLUMNS = {
    "buurt": ["buurtnaam", "bunaam", "statnaam", "naam"],
    "wijk": ["wijknaam", "wknaam", "statnaam", "naam"],
    "gemeente": ["gemeentenaam", "gmnaam", "statnaam", "naam"],
}
PARENT_COLUMNS = {"wijkcode": ["wijkcode", "wkcode"], "gemeentecode": ["gemeentecode", "gmcode"]}
YEAR_COLUMNS = ["jaar"]
YEAR_CODE_COLUMNS = ["jrstatcode", "jaarstatcode"]
MEASURES = {
    "aantal_inwoners": (int, ["aantalinwoners", "aantinw"]),
    "aantal_huishoudens": (int, ["aantalhuishoudens", "huishoudens", "aanthh"]),
    "pct_0_15": (float, ["percentagepersonen0tot15jaar", "015", "p0014jr"]),
    "pct_65plus": (float, ["percentagepersonen65jaarenouder", "65plus", "p65eojr"]),
    "bevolkingsdichtheid": (float, ["bevolkingsdichtheidinwonersperkm2", "bevolkingsdichtheid",
                                    "bevdicht"]),
    "oppervlakte_land_ha": (float, ["oppervlaktelandinha", "oppland", "oppervlakteland"]),
}
NOT_KERNCIJFERS = {"jaar", "water", "id", "fid", "objectid", "gid", "ogcfid"}

# Plausible extents of the Netherlands (generous: CBS areas reach into the sea).
RD_BOUNDS = (-10_000, 280_000, 310_000, 640_000)
WGS84_BOUNDS = (2.0, 50.0, 8.0, 54.5)


@dataclass
class AreaRecord:
    """One gemeente, wijk or buurt, ready to be written (geometry in EPSG:28992)."""

    level: str
    jaar: int
    code: str
    naam: str | None
    gemeentecode: str
    wijkcode: str | None
    water: bool | None
    measures: dict
    kerncijfers: dict
    geom: MultiPolygon
    source: str
    repaired: bool = False


@dataclass
class LevelReport:
    read: int = 0
    repaired: int = 0
    skipped: Counter = field(default_factory=Counter)


@dataclass
class FileReport:
    path: str
    levels: dict[str, LevelReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def level(self, name: str) -> LevelReport:
        return self.levels.setdefault(name, LevelReport())


def read_cbs_file(path: str | Path, year: int | None = None, progress=None) -> tuple[list[AreaRecord], FileReport]:
    """All gemeenten, wijken and buurten in a file; LoadError (naming file and feature) if unusable."""
    path = str(path)
    say = progress or (lambda _msg: None)
    report = FileReport(path)
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise LoadError(f"{path}: bestand is niet leesbaar ({_short(exc)}).") from None
    spatial = [(name, gtype) for name, gtype in layers if gtype is not None]
    if not spatial:
        raise LoadError(f"{path}: bevat geen laag met geometrieën.")
    records: list[AreaRecord] = []
    for layer, gtype in spatial:
        say(f"  laag '{layer}' lezen …")
        records += _read_layer(path, layer, gtype, year, report)
    seen: dict[tuple, int] = {}
    for index, rec in enumerate(records):
        key = (rec.level, rec.jaar, rec.code)
        if key in seen:
            raise LoadError(f"{path}: code {rec.code} ({rec.jaar}) komt meer dan eens voor.")
        seen[key] = index
    return records, report


def _read_layer(path: str, layer: str, gtype: str, year: int | None, report: FileReport) -> list[AreaRecord]:
    where = f"{path}, laag '{layer}'"
    base_type = gtype.upper().replace("3D ", "").removesuffix(" Z").removesuffix(" M")
    if base_type not in {"POLYGON", "MULTIPOLYGON", "UNKNOWN", "GEOMETRY"}:
        raise LoadError(f"{where}: bevat {gtype}-geometrieën; een CBS-kaart bestaat uit vlakken.")
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:
        raise LoadError(f"{where}: niet leesbaar ({_short(exc)}).") from None
    if len(frame) == 0:
        report.notes.append(f"{where}: leeg")
        return []
    columns = {_norm(c): c for c in frame.columns if c != "geometry"}
    code_column = next((columns[c] for c in CODE_COLUMNS if c in columns), None)
    if code_column is None:
        raise LoadError(
            f"{where}: geen kolom met CBS-codes gevonden (verwacht gemeentecode, wijkcode, buurtcode "
            f"of statcode; gevonden: {', '.join(list(frame.columns)[:12])})."
        )
    geoms = _to_rd(frame, where)
    rows = frame.drop(columns="geometry").to_dict("records")
    records = []
    for number, (row, geom) in enumerate(zip(rows, geoms), start=1):
        feature = f"{where}, object {number}"
        code = parse_code(row.get(code_column))
        if code is None:
            raise LoadError(f"{feature}: '{row.get(code_column)}' in kolom {code_column} is geen CBS-code.")
        level_report = report.level(code.level)
        if geom is None or geom.is_empty:
            level_report.skipped["geen geometrie"] += 1
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
            raise LoadError(f"{feature}: geometrie is een {geom.geom_type}; verwacht een vlak.")
        geom, repaired = _repair(geom)
        if geom is None:
            level_report.skipped["geometrie niet te herstellen"] += 1
            continue
        level_report.read += 1
        level_report.repaired += repaired
        records.append(_record(row, columns, code, geom, repaired, year, feature, path))
    return records


def _record(row, columns, code: CbsCode, geom, repaired, year, feature, path) -> AreaRecord:
    def value(candidates):
        for candidate in candidates:
            if candidate in columns:
                raw = row.get(columns[candidate])
                if not _missing(raw):
                    return raw
        return None

    parents = {}
    for parent, candidates in PARENT_COLUMNS.items():
        given = parse_code(value(candidates))
        derived = getattr(code, parent)
        parents[parent] = given.code if given and given.level == parent.removesuffix("code") else derived
    measures = {}
    used = {c for _, names in MEASURES.values() for c in names}
    for target, (kind, candidates) in MEASURES.items():
        measures[target] = _number(value(candidates), kind)
    kerncijfers = {}
    for norm_name, original in columns.items():
        if norm_name in used or norm_name in NOT_KERNCIJFERS or norm_name in CODE_COLUMNS:
            continue
        raw = row.get(original)
        if isinstance(raw, (bool, np.bool_)) or not isinstance(raw, (int, float, np.integer, np.floating)):
            continue
        kerncijfers[_snake(original)] = _number(raw, float)
    name = value(NAME_COLUMNS[code.level])
    return AreaRecord(
        level=code.level,
        jaar=_year(row, columns, year, feature),
        code=code.code,
        naam=str(name).strip() if name is not None else None,
        gemeentecode=parents["gemeentecode"] if code.level != "gemeente" else code.code,
        wijkcode=parents["wijkcode"] if code.level == "buurt" else None,
        water=_water(value(["water"])),
        measures=measures,
        kerncijfers=kerncijfers,
        geom=geom,
        source=path,
        repaired=bool(repaired),
    )


def _year(row, columns, year: int | None, feature: str) -> int:
    found = None
    for candidate in YEAR_COLUMNS:
        if candidate in columns and not _missing(row.get(columns[candidate])):
            found = int(float(row[columns[candidate]]))
            break
    else:
        for candidate in YEAR_CODE_COLUMNS:
            raw = row.get(columns[candidate]) if candidate in columns else None
            if isinstance(raw, str) and re.match(r"\d{4}", raw):
                found = int(raw[:4])
                break
    if found is not None and year is not None and found != year:
        raise LoadError(f"{feature}: het bestand noemt jaar {found}, maar --year zegt {year}.")
    found = found if found is not None else year
    if found is None:
        raise LoadError(f"{feature}: geen jaar in het bestand (jaar/jrstatcode); geef het op met --year.")
    if not 1990 <= found <= 2100:
        raise LoadError(f"{feature}: jaar {found} is geen CBS-jaar.")
    return found


def _to_rd(frame, where: str) -> list:
    """Geometries in EPSG:28992; refuses data whose coordinate system cannot be told."""
    crs = frame.crs
    if frame.geometry.notna().sum() == 0:
        return list(frame.geometry)
    bounds = tuple(frame.geometry.total_bounds)
    looks_rd, looks_wgs84 = _within(bounds, RD_BOUNDS), _within(bounds, WGS84_BOUNDS)
    if crs is None or (CRS.from_user_input(crs).is_geographic and not looks_wgs84):
        # GeoJSON without a "crs" member is read as WGS84 by GDAL, even when it holds RD metres.
        if looks_rd:
            frame = frame.set_crs(RD_NEW, allow_override=True)
        elif looks_wgs84:
            frame = frame.set_crs(4326, allow_override=True)
        else:
            raise LoadError(
                f"{where}: het coördinatenstelsel is niet aangegeven en de coördinaten "
                f"({_fmt_bounds(bounds)}) zijn geen RD (EPSG:28992) of WGS84 in Nederland. "
                "Sla het bestand op met een CRS-aanduiding."
            )
    if CRS.from_user_input(frame.crs).to_epsg() != RD_NEW:
        frame = frame.to_crs(RD_NEW)
    rd_bounds = tuple(frame.geometry.total_bounds)
    if not _within(rd_bounds, RD_BOUNDS):
        raise LoadError(f"{where}: de geometrieën liggen niet in Nederland ({_fmt_bounds(rd_bounds)} in RD).")
    return list(shapely.force_2d(np.asarray(frame.geometry.values, dtype=object)))


def _repair(geom) -> tuple[MultiPolygon | None, bool]:
    repaired = False
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        repaired = True
    if isinstance(geom, Polygon):
        return MultiPolygon([geom]), repaired
    if isinstance(geom, MultiPolygon):
        return geom, repaired
    # make_valid can yield a collection with stray lines or points: keep the surfaces.
    parts = [p for p in getattr(geom, "geoms", []) if isinstance(p, (Polygon, MultiPolygon))]
    polygons = [q for p in parts for q in (p.geoms if isinstance(p, MultiPolygon) else [p])]
    return (MultiPolygon(polygons), True) if polygons else (None, repaired)


def _within(bounds, extent) -> bool:
    minx, miny, maxx, maxy = bounds
    return extent[0] <= minx and maxx <= extent[2] and extent[1] <= miny and maxy <= extent[3]


def _number(raw, kind):
    if _missing(raw):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= SENTINEL_MAX:
        return None
    return int(round(number)) if kind is int else number


def _water(raw) -> bool | None:
    if raw is None:
        return None
    if isinstance(raw, (bool, np.bool_)):
        return bool(raw)
    text = str(raw).strip().upper()
    return {"JA": True, "NEE": False, "1": True, "0": False, "TRUE": True, "FALSE": False}.get(text)


def _missing(raw) -> bool:
    if raw is None:
        return True
    try:
        return bool(np.isnan(raw)) if isinstance(raw, (float, np.floating)) else False
    except TypeError:
        return False


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _fmt_bounds(bounds) -> str:
    return ", ".join(f"{v:.5g}" for v in bounds)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
