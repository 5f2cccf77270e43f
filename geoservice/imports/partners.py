"""Import partners and their service areas from YAML or JSON: validate, build in PostGIS, write in one transaction.

The file (YAML, or the same structure in JSON; chosen by the extension .yaml/.yml/.json, else sniffed):

    partners:
      - name: Stichting Voorbeeld            # required; a re-import matches the partner on its name …
        id: voorbeeld-1                      # … or, when given, on this stable id (so a rename keeps the partner)
        kind: regionale_ondersteuner         # key or Dutch label of vocab.PARTNER_KINDS
        services: [advies, netwerk en kennisdeling]  # keys or labels of vocab.SERVICES (or "advies; training")
        themes: [energie_klimaat, Wonen]     # keys or labels of vocab.THEMES it supports; absent or []: every theme
        description: Ondersteunt bewonersinitiatieven in de regio.
        website: https://example.org         # http(s) only
        email: info@example.org
        phone: "030 123 45 67"               # quoted: YAML would read 0301234567 as a number
        service_areas:                       # absent: the partner's areas stay as they are; []: all removed
          - {name: Heel Baarn, codes: [GM0308]}            # CBS gemeente/wijk/buurt codes, levels may be mixed
          - {name: Rond het kantoor, point: {lat: 52.21, lon: 5.29}, radius_m: 3000}   # 1 to 100,000 m
          - {name: Getekend gebied, geojson: {type: Polygon, coordinates: [[[5.28, 52.20], ...]]}}  # WGS84

A bare list of partners (without the `partners:` key) is read the same way. Service areas are synced
by name: new names are added, changed definitions rebuilt, names missing from the file removed.
Any invalid partner or service area refuses the whole file; importing the same file again changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import Connection, Engine, func, insert, select, update

from ..db import retrying
from ..errors import ImportRefused
from ..models import CbsJaar, Partner
from ..partners.validation import (SOURCE, WRITE_COLUMNS, AreaDefinition, CleanPartner, area_label, fold_name,
                        partner_label, validate_partner)
from ..queries.gaps import refresh_coverage
from ..queries.service_areas import (BuiltArea, build_service_area, delete_service_areas, insert_service_area,
                                     stored_service_areas, update_service_area)
from .report import ImportReport, Problem
from .tables import read_utf8

YAML_SUFFIXES = (".yaml", ".yml")
LOCK_KEY = "geoservice.import.partners"  # two imports at once would match partners against stale rows


@dataclass
class AreaCounts:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


@dataclass
class PartnerImportReport(ImportReport):
    """The import report with service-area counts; problems name the partner instead of a row."""

    areas: AreaCounts = field(default_factory=AreaCounts)

    def counts_text(self) -> str:
        a = self.areas
        return (f"partners: {super().counts_text()}; werkgebieden: {a.added} toegevoegd, {a.changed} gewijzigd, "
                f"{a.removed} verwijderd, {a.unchanged} ongewijzigd")

    def lines(self) -> list[str]:
        return ([f"partner {p.row}, {p.field}: {p.reason}" for p in self.problems]
                + self.notes + [self.summary_line()])


@dataclass
class _Plan:
    """What the import will do with one valid partner."""

    partner: CleanPartner
    label: str
    partner_id: int | None = None  # None: a new partner
    changed: bool = False
    builds: list[tuple[AreaDefinition, int | None, BuiltArea]] = field(default_factory=list)  # (area, id, built)
    unchanged_areas: int = 0
    removed: list[int] = field(default_factory=list)


def read_partner_file(path: Path) -> tuple[list, list[str]]:
    """The raw partner mappings of a YAML or JSON file, plus notes; ImportRefused when the file is unusable."""
    content = read_utf8(path)
    suffix = path.suffix.lower()
    as_json = suffix == ".json" or (suffix not in YAML_SUFFIXES and content.lstrip().startswith(("{", "[")))
    doc = _parse_json(content, path.name) if as_json else _parse_yaml(content, path.name)
    notes = []
    if isinstance(doc, dict):
        if "partners" not in doc:
            raise ImportRefused(f"{path.name}: verwacht een lijst onder 'partners:'.")
        notes += [f"veld bovenaan niet gebruikt: {str(k)[:40]}" for k in doc if k != "partners"]
        doc = doc["partners"] if doc["partners"] is not None else []
    if not isinstance(doc, list):
        raise ImportRefused(f"{path.name}: verwacht een lijst van partners (onder 'partners:').")
    if not doc:
        notes.append(f"{path.name} bevat geen partners")
    return doc, notes


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one block (plain YAML silently keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen = set()
    for key_node, _value in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"veld '{key_node.value[:40]}' staat twee keer in één blok", key_node.start_mark)
            seen.add(key_node.value)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _value in pairs]
    twice = next((key for key in keys if keys.count(key) > 1), None)
    if twice is not None:
        raise _DuplicateKey(f"veld '{twice[:40]}' staat twee keer in één object")
    return dict(pairs)


def _parse_json(content: str, filename: str):
    try:
        return json.loads(content, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ImportRefused(f"{filename} is geen leesbare JSON: {exc.msg} (regel {exc.lineno}).") from None
    except _DuplicateKey as exc:
        raise ImportRefused(f"{filename}: {exc}.") from None


def _parse_yaml(content: str, filename: str):
    try:
        doc = yaml.load(content, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (regel {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "onleesbaar"
        raise ImportRefused(f"{filename} is geen leesbare YAML{where}: {problem}.") from None
    if doc is None:
        raise ImportRefused(f"{filename} is leeg.")
    return doc


def import_partners(engine: Engine, path: str | Path, *, dry_run: bool = False,
                    progress=None) -> PartnerImportReport:
    """Read a partner file and apply it in one transaction: everything, or nothing when anything is wrong."""
    raws, notes = read_partner_file(Path(path))
    reports = []

    def apply(conn) -> None:
        # A fresh report for each attempt: db.retrying runs this again after a deadlock.
        reports.append(PartnerImportReport(dry_run=dry_run, notes=list(notes)))
        apply_partners(conn, raws, reports[-1], progress=progress)
        if dry_run or not reports[-1].applied:
            conn.rollback()
            reports[-1].applied = False

    with engine.connect() as conn:
        retrying(conn, apply)
    return reports[-1]


def apply_partners(conn: Connection, raws: list, report: PartnerImportReport | None = None, *,
                   source: str = SOURCE, progress=None) -> PartnerImportReport:
    """Validate, build and write partners inside the caller's transaction; nothing is written when any is wrong."""
    say = progress or (lambda _message: None)
    report = report if report is not None else PartnerImportReport()
    problems: list[tuple[int, Problem]] = []
    labels = {n: partner_label(n, raw) for n, raw in enumerate(raws, start=1)}

    def reject(number: int, field_name: str, reason: str) -> None:
        problems.append((number, Problem(labels[number], field_name, reason)))

    cleans = _validate(raws, reject)
    for clean in cleans:
        clean.values["source"] = source
    conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(LOCK_KEY))))
    plans = _match(conn, cleans, labels, reject)
    _plan_areas(conn, plans, report, reject, say)
    problems.sort(key=lambda item: item[0])  # stable: per partner, in the order they were found
    report.problems += [problem for _number, problem in problems]
    report.rejected = len({number for number, _problem in problems})
    if problems:
        report.applied = False
        return report
    _write(conn, plans, report)
    refresh_coverage(conn)  # the gap analysis' stored coverage: once for the whole file (see queries.gaps)
    return report


def _validate(raws: list, reject) -> list[CleanPartner]:
    cleans, first_of_name, first_of_id = [], {}, {}
    for number, raw in enumerate(raws, start=1):
        clean, found = validate_partner(number, raw)
        for field_name, reason in found:
            reject(number, field_name, reason)
        if clean is None:
            continue
        folded = fold_name(clean.values["name"])
        if folded in first_of_name:
            reject(number, "name", f"dezelfde naam als partner {first_of_name[folded]}")
            continue
        if clean.key is not None and clean.key in first_of_id:
            reject(number, "id", f"id '{clean.key[:40]}' staat ook bij partner {first_of_id[clean.key]}")
            continue
        first_of_name[folded] = number
        if clean.key is not None:
            first_of_id[clean.key] = number
        cleans.append(clean)
    return cleans


def _match(conn: Connection, cleans: list[CleanPartner], labels: dict, reject) -> list[_Plan]:
    """Find each partner's stored row: on its external id when the file gives one, else on its exact name."""
    columns = [Partner.id, *(getattr(Partner, name) for name in WRITE_COLUMNS)]
    stored = [row._mapping for row in conn.execute(select(*columns))]
    by_key = {row["external_id"]: row for row in stored if row["external_id"] is not None}
    by_name = {row["name"]: row for row in stored}
    claimed: dict[int, int] = {}
    plans = []
    for clean in cleans:
        name = clean.values["name"]
        target = by_key.get(clean.key) if clean.key is not None else None
        holder = by_name.get(name)
        if target is None and holder is not None:
            if clean.key is not None and holder["external_id"] is not None:
                reject(clean.number, "name", f"naam is al in gebruik door een andere partner "
                                             f"(id '{holder['external_id'][:40]}')")
                continue
            target = holder
        elif target is not None and holder is not None and holder["id"] != target["id"]:
            reject(clean.number, "name", "naam is al in gebruik door een andere partner")
            continue
        if target is not None and target["id"] in claimed:
            reject(clean.number, "name", f"is dezelfde partner als partner {claimed[target['id']]} "
                                         f"(zelfde naam of id)")
            continue
        plan = _Plan(clean, labels[clean.number])
        if target is not None:
            claimed[target["id"]] = clean.number
            plan.partner_id = target["id"]
            plan.changed = any(target[c] != clean.values[c] for c in WRITE_COLUMNS)
        plans.append(plan)
    return plans


def _plan_areas(conn: Connection, plans: list[_Plan], report: PartnerImportReport, reject, say) -> None:
    """Decide per service area: unchanged, rebuilt, added or removed; build the geometries that are needed."""
    jaar = conn.execute(select(CbsJaar.jaar).where(CbsJaar.is_active)).scalar()
    stored = stored_service_areas(conn, [p.partner_id for p in plans if p.partner_id is not None])
    wanted: list[tuple[_Plan, int, AreaDefinition, int | None]] = []
    for plan in plans:
        if plan.partner.areas is None:
            continue
        by_name = {area.name: area for area in stored.get(plan.partner_id, [])}
        for number, area in enumerate(plan.partner.areas, start=1):
            old = by_name.pop(area.name, None)
            if (old is not None and old.definition_type == area.definition_type
                    and old.definition == area.definition
                    and (area.definition_type != "codes" or old.cbs_jaar == jaar)):
                plan.unchanged_areas += 1
                continue
            wanted.append((plan, number, area, old.id if old is not None else None))
        plan.removed = [area.id for area in by_name.values()]
    if wanted and jaar is None:
        raise ImportRefused("Er is geen actief CBS-jaar, dus werkgebieden kunnen niet worden gecontroleerd; "
                            "laad eerst de CBS-kaart (geoservice load-cbs).")
    if len(wanted) > 20:
        say(f"  {len(wanted)} werkgebieden opbouwen …")
    for plan, number, area, area_id in wanted:
        built = build_service_area(conn, area, jaar)
        where = area_label(number, {"name": area.name})
        if built.problem is not None:
            field_name, reason = built.problem
            reject(plan.partner.number, f"{where}, {field_name}", reason)
            continue
        if built.repaired:
            report.notes.append(f"partner {plan.label}, {where}: ongeldige polygoon hersteld ({built.repaired})")
        plan.builds.append((area, area_id, built))


def _write(conn: Connection, plans: list[_Plan], report: PartnerImportReport) -> None:
    values_of = {name: None for name in WRITE_COLUMNS}
    for plan in plans:
        values = {**values_of, **plan.partner.values}
        if plan.partner_id is None:
            plan.partner_id = conn.execute(insert(Partner).values(**values).returning(Partner.id)).scalar_one()
            report.inserted += 1
        elif plan.changed:
            conn.execute(update(Partner).where(Partner.id == plan.partner_id)
                         .values(**values, updated_at=func.now()))
            report.updated += 1
        else:
            report.unchanged += 1
        delete_service_areas(conn, plan.removed)
        report.areas.removed += len(plan.removed)
        report.areas.unchanged += plan.unchanged_areas
        for area, area_id, built in plan.builds:
            if area_id is None:
                insert_service_area(conn, plan.partner_id, area, built)
                report.areas.added += 1
            else:
                update_service_area(conn, area_id, area, built)
                report.areas.changed += 1
