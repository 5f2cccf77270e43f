"""Partner editors manage their own partner: its public profile and its service areas. No requests or HTML here.

Input is checked with the import's validators (geoservice.partners.validation) and service areas are built with
the import's PostGIS functions (queries.service_areas), so limits, repairs and Dutch messages are the
same. Every change writes an audit_log row in the same transaction. Bad input raises before anything
is written, and the writes themselves run in a savepoint: an error leaves the data as it was.
Callers own the transaction (commit, or roll back on an exception).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import accounts
from ..auth import can_edit_partner
from ..errors import Forbidden, InvalidParameter, NotFound, ServiceUnavailable
from ..models import User
from .validation import PARTNER_FIELDS, fold_name, validate_area, validate_partner
from ..queries import partner_editing as queries
from ..queries.areas import active_year
from ..queries.gaps import refresh_coverage
from ..queries.service_areas import build_service_area, delete_service_areas, insert_service_area

PROFILE_FIELDS = queries.PROFILE_COLUMNS  # name, kind, services, themes, description, website, email, phone
AREA_FIELDS = ("name", "codes", "point", "radius_m", "geojson")
FIELD_LABELS = {
    "name": "Naam", "kind": "Soort", "services": "Diensten", "themes": "Thema's", "description": "Beschrijving", "website": "Website",
    "email": "E-mail", "phone": "Telefoon", "partner": "Partner", "codes": "CBS-gebieden", "point": "Punt",
    "point.lat": "Breedtegraad (lat)", "point.lon": "Lengtegraad (lon)", "radius_m": "Straal",
    "geojson": "GeoJSON", "definitie": "Werkgebied", "werkgebied": "Werkgebied", "bestand": "Bestand",
}
NOT_YOURS = "Je mag alleen de gegevens en werkgebieden van je eigen partner bewerken."
# A GeoJSON definition larger than this is summarised in the audit log (type, number of points, SHA-256)
# instead of copied: an upload may be megabytes, and the definition itself stays on the service area.
AUDIT_GEOJSON_MAX_CHARS = 20_000


class EditRefused(InvalidParameter):
    """Input that cannot be saved, with every (field, Dutch reason); nothing was changed."""

    code = "InvalidParameterValue"

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("Niet opgeslagen. " + " ".join(f"{field_label(f)}: {r.rstrip('.')}." for f, r in problems))

    def by_field(self) -> dict[str, str]:
        """The first reason per field (top-level field name), for messages beside form fields."""
        out: dict[str, str] = {}
        for field_name, reason in self.problems:
            out.setdefault(field_name.split(".", 1)[0], reason)
        return out


def field_label(field_name: str) -> str:
    return FIELD_LABELS.get(field_name, FIELD_LABELS.get(field_name.split(".", 1)[0], field_name))


@dataclass(frozen=True)
class AddedArea:
    """A service area just stored: its id, and what was wrong with a polygon that was repaired."""

    id: int
    repaired: str | None


def _allowed(actor: User | None, partner_id: int) -> None:
    # Checked here as well as in the views: no caller can edit a partner that is not theirs.
    if not can_edit_partner(actor, partner_id):
        raise Forbidden(NOT_YOURS)


def _locked_profile(session: Session, partner_id: int) -> dict:
    profile = queries.partner_profile(session, partner_id, lock=True)
    if profile is None:
        raise NotFound(f"Er is geen partner met nummer {partner_id}.")
    return profile


def update_profile(session: Session, partner_id: int, fields: object, actor: User | None) -> dict:
    """Change some of name, kind, services, themes, description, website, email, phone; {field: [old, new]} changed.

    Fields not given keep their value; None (or empty text) clears an optional field.
    EditRefused lists every problem; Forbidden unless actor may edit this partner.
    """
    _allowed(actor, partner_id)
    if not isinstance(fields, dict):
        raise EditRefused([("partner", "stuur een object met velden, bijvoorbeeld {\"name\": \"…\"}")])
    unknown = [str(k)[:40] for k in fields if k not in PROFILE_FIELDS]
    if unknown:
        known = ", ".join(PROFILE_FIELDS)
        raise EditRefused([(k, f"onbekend veld of niet te wijzigen; wel te wijzigen: {known}") for k in unknown])
    before = _locked_profile(session, partner_id)
    merged = {**before, **fields}
    clean, problems = validate_partner(1, {k: v for k, v in merged.items() if k in PARTNER_FIELDS})
    if problems:
        raise EditRefused(problems)
    after = {name: clean.values[name] for name in PROFILE_FIELDS}
    changes = accounts.changes_between(before, after)
    if not changes:
        return {}
    if "name" in changes:
        _check_unique_name(session, partner_id, after["name"])
    try:
        with session.begin_nested():
            queries.update_partner(session, partner_id, {name: after[name] for name in changes})
            accounts.record(session, "partner", partner_id, "updated", actor, changes=changes)
    except IntegrityError:  # another partner took the name meanwhile (the unique index is exact)
        raise EditRefused([("name", "deze naam is al in gebruik door een andere partner")]) from None
    return changes


def _check_unique_name(session: Session, partner_id: int, name: str) -> None:
    folded = fold_name(name)
    taken = next((other for other in queries.other_partner_names(session, partner_id)
                  if fold_name(other) == folded), None)
    if taken is not None:
        reason = ("deze naam is al in gebruik door een andere partner" if taken == name else
                  f"lijkt te veel op de naam van een andere partner ('{taken[:60]}')")
        raise EditRefused([("name", reason)])


def single_geojson(value: object) -> object:
    """A FeatureCollection of exactly one Feature (what drawing tools save) stands for that Feature."""
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        features = value.get("features")
        if not isinstance(features, list) or len(features) != 1:
            count = len(features) if isinstance(features, list) else 0
            reason = (f"het bestand bevat {count} vormen; een werkgebied is één Polygon of MultiPolygon "
                      f"(voeg losse vormen samen tot één MultiPolygon)")
            raise EditRefused([("geojson", reason)])
        return features[0]
    return value


def read_geojson_file(data: bytes) -> object:
    """The parsed content of an uploaded GeoJSON file; EditRefused (Dutch) when it is not readable JSON."""
    if not data or not data.strip():
        raise EditRefused([("bestand", "het bestand is leeg; kies een .geojson-bestand met een polygoon")])
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EditRefused([("bestand", "het bestand is geen UTF-8-tekst; sla het op als GeoJSON")]) from None
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise EditRefused([("bestand", f"geen leesbare JSON: {exc.msg} (regel {exc.lineno})")]) from None
    except RecursionError:
        raise EditRefused([("bestand", "de JSON is te diep genest")]) from None


def add_service_area(session: Session, partner_id: int, definition: object, actor: User | None) -> AddedArea:
    """Add a service area from {"name", and "codes" | "point" + "radius_m" | "geojson"} (as in the import).

    Codes are gemeenten, wijken and buurten of the active CBS year; the point is WGS84 with a radius in
    metres; a GeoJSON Polygon or MultiPolygon is repaired when invalid (AddedArea.repaired says how).
    """
    _allowed(actor, partner_id)
    _locked_profile(session, partner_id)  # also serialises two additions of the same name
    if isinstance(definition, dict) and definition.get("geojson") is not None:
        definition = {**definition, "geojson": single_geojson(definition["geojson"])}
    try:
        area, problems = validate_area(definition)
    except OverflowError:  # an integer too large for a float (JSON allows 10**400); validation.py does not catch it
        raise EditRefused([("definitie", "een getal is te groot")]) from None
    if problems:
        raise EditRefused(problems)
    folded = fold_name(area.name)
    if any(fold_name(name) == folded for name in queries.service_area_names(session, partner_id)):
        raise EditRefused([("name", "deze partner heeft al een werkgebied met deze naam; kies een andere naam")])
    jaar = active_year(session)
    if jaar is None:
        raise ServiceUnavailable("Er is nog geen CBS-kaart geladen, dus een werkgebied kan niet worden "
                                 "gecontroleerd; laad eerst de CBS-kaart (geoservice load-cbs).")
    conn = session.connection()
    built = build_service_area(conn, area, jaar)
    if built.problem is not None:
        raise EditRefused([built.problem])
    reason = f"ongeldige polygoon hersteld ({built.repaired})" if built.repaired else None
    with session.begin_nested():
        area_id = insert_service_area(conn, partner_id, area, built)
        refresh_coverage(conn)  # the gap analysis' stored coverage follows at once
        accounts.record(session, "service_area", area_id, "created", actor, reason=reason, changes={
            "partner_id": [None, partner_id], "name": [None, area.name],
            "definition_type": [None, area.definition_type],
            "definition": [None, _audited_definition(area.definition)],
            "cbs_jaar": [None, built.cbs_jaar], "area_m2": [None, round(built.area_m2)]})
    return AddedArea(area_id, built.repaired)


def remove_service_area(session: Session, partner_id: int, area_id: int, actor: User | None) -> dict:
    """Remove one of the partner's service areas; the removed area (without geometry)."""
    _allowed(actor, partner_id)
    _locked_profile(session, partner_id)
    area = queries.service_area_summary(session, partner_id, area_id, lock=True)
    if area is None:
        raise NotFound(f"Deze partner heeft geen werkgebied met nummer {area_id}.")
    with session.begin_nested():
        accounts.record(session, "service_area", area_id, "removed", actor, changes={
            "partner_id": [partner_id, None], "name": [area["name"], None],
            "definition_type": [area["definition_type"], None],
            "definition": [_audited_definition(area["definition"]), None],
            "cbs_jaar": [area["cbs_jaar"], None], "area_m2": [round(area["area_m2"]), None]})
        delete_service_areas(session.connection(), [area_id])
        refresh_coverage(session.connection())
    return area


def _audited_definition(definition: dict) -> dict:
    geojson = definition.get("geojson") if isinstance(definition, dict) else None
    if geojson is None:
        return definition
    text = json.dumps(geojson, separators=(",", ":"), sort_keys=True)
    if len(text) <= AUDIT_GEOJSON_MAX_CHARS:
        return definition
    coordinates = geojson.get("coordinates") or []
    polygons = coordinates if geojson.get("type") == "MultiPolygon" else [coordinates]
    points = sum(len(ring) for polygon in polygons for ring in polygon)
    return {"geojson": {"type": geojson.get("type"), "points": points,
                        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}}
