"""Read the Open Referral HSDS 3.0 JSON that `export --format hsds` writes back into raw initiative records.

One record per organization (numbered from 1 in the file's order), completed from the records that point at
it: its service (status, assured date, kind and themes through the service's attributes), its location
(latitude, longitude), the location's address (address_1, postal_code) and its phone. The organization's id is
the record's external id, so importing the same document twice changes nothing.
"""

from __future__ import annotations

from ..errors import ImportRefused
from ..registry.validation import RawRecord
from ..vocab import INITIATIVE_KINDS

TABLES = ("organizations", "services", "locations", "addresses", "phones", "attributes", "taxonomy_terms",
          "taxonomies")
# HSDS service status -> our status: an inactive service is not shown until a moderator has looked at it.
STATUS = {"active": "published", "inactive": "pending", "defunct": "archived", "temporarily closed": "pending"}
# Where each field comes from, as the report names it.
COLUMNS = {"external_id": "organizations.id", "name": "organizations.name", "description": "organizations.description",
           "website": "organizations.website", "email": "organizations.email", "status": "services.status",
           "last_verified": "services.assured_date", "kind": "attributes (kind)", "themes": "attributes (theme)",
           "lat": "locations.latitude", "lon": "locations.longitude", "address": "addresses.address_1",
           "postcode": "addresses.postal_code", "phone": "phones.number"}


def is_hsds(doc: object) -> bool:
    """An HSDS document: a JSON object with HSDS tables (organizations, services) and no GeoJSON type."""
    return (isinstance(doc, dict) and "type" not in doc
            and any(name in doc for name in ("organizations", "services")))


def _table(doc: dict, name: str, filename: str) -> list[dict]:
    items = doc.get(name, [])
    if items is None:
        return []
    if not isinstance(items, list):
        raise ImportRefused(f"{filename}: '{name}' is geen lijst.")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ImportRefused(f"{filename}: {name}[{number}] is geen object.")
    return items


def _key(value: object) -> str | int | None:
    """An id or reference as a lookup key; anything else (a list, an object, true) refers to nothing."""
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _by(items: list[dict], key: str) -> dict[object, dict]:
    """The first item per value of key (a reference such as organization_id)."""
    found: dict[object, dict] = {}
    for item in items:
        value = _key(item.get(key))
        if value is not None and value not in found:
            found[value] = item
    return found


def _text(value: object) -> object:
    """Strings and numbers pass (the validation judges them); other JSON values become their text."""
    if value is None or isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    return str(value)


def read_hsds(doc: dict, filename: str):
    """ReadResult of an HSDS document; ImportRefused when its shape is not HSDS at all."""
    from .initiative_files import ReadResult

    tables = {name: _table(doc, name, filename) for name in TABLES}
    organizations = tables["organizations"]
    if not organizations:
        if tables["services"]:
            raise ImportRefused(f"{filename}: HSDS zonder 'organizations'; elk initiatief is een organisatie "
                                f"met een naam.")
        return ReadResult([], [f"{filename} bevat geen organisaties"])
    services = _by(tables["services"], "organization_id")
    locations = _by(tables["locations"], "organization_id")
    addresses = _by(tables["addresses"], "location_id")
    phones = _by(tables["phones"], "organization_id")
    terms = {_key(term.get("id")): term for term in tables["taxonomy_terms"]}
    taxonomies = {_key(item.get("id")): str(item.get("name") or "") for item in tables["taxonomies"]}
    attributes: dict[object, list[dict]] = {}
    for attribute in tables["attributes"]:
        if attribute.get("link_entity", "service") == "service" and _key(attribute.get("link_id")) is not None:
            attributes.setdefault(attribute["link_id"], []).append(attribute)

    records = []
    for number, organization in enumerate(organizations, start=1):
        org_id = _key(organization.get("id"))
        service = services.get(org_id, {})
        location = locations.get(org_id, {})
        address = addresses.get(_key(location.get("id")), {})
        phone = phones.get(org_id, {})
        kinds, themes = _terms(attributes.get(_key(service.get("id")), []), terms, taxonomies)
        description = _text(organization.get("description"))
        if isinstance(description, str) and description in INITIATIVE_KINDS.values() and kinds \
                and INITIATIVE_KINDS.get(kinds[0]) == description:
            description = None  # the export writes the kind's label where an initiative has no description
        status = service.get("status")
        values = {
            "external_id": _text(organization.get("id")), "name": _text(organization.get("name")),
            "description": description,
            "website": _text(organization.get("website") or service.get("url")),
            "email": _text(organization.get("email") or service.get("email")),
            "status": STATUS.get(status.strip().lower(), status) if isinstance(status, str) else _text(status),
            "last_verified": _text(service.get("assured_date")),
            "kind": kinds[0] if len(kinds) == 1 else ";".join(kinds) or None, "themes": themes,
            "lat": _text(location.get("latitude")), "lon": _text(location.get("longitude")),
            "address": _text(address.get("address_1")) or None, "postcode": _text(address.get("postal_code")) or None,
            "phone": _text(phone.get("number")),
        }
        records.append(RawRecord(number, values, dict(COLUMNS)))
    return ReadResult(records, [f"gelezen als Open Referral HSDS {doc.get('hsds_version') or '3.0'}: "
                                f"{len(records)} organisaties"])


def _terms(attributes: list[dict], terms: dict, taxonomies: dict) -> tuple[list[str], list[str]]:
    """The kind and theme codes of a service's attributes (by link_type, else by the term's taxonomy)."""
    kinds, themes = [], []
    for attribute in attributes:
        term = terms.get(_key(attribute.get("taxonomy_term_id")))
        if not isinstance(term, dict):
            continue
        code = term.get("code") or term.get("name")
        if not isinstance(code, str) or not code.strip():
            continue
        link_type = attribute.get("link_type")
        if link_type not in ("kind", "theme"):
            taxonomy = taxonomies.get(_key(term.get("taxonomy_id")), "") or str(term.get("taxonomy") or "")
            link_type = "kind" if "soort" in taxonomy.lower() else "theme"
        (kinds if link_type == "kind" else themes).append(code)
    return kinds, themes
