"""Read the Open Referral HSDS 3.0 JSON that `export --format hsds` writes back into raw initiative records."""

from __future__ import annotations


def is_hsds(doc: object) -> bool:
    """An HSDS document: a JSON object with HSDS tables (organizations, services) and no GeoJSON type."""
    return (isinstance(doc, dict) and "type" not in doc
            and any(isinstance(doc.get(name), list) for name in ("organizations", "services")))


def read_hsds(doc: dict, filename: str):
    raise NotImplementedError
