"""Export partners in the format of the partner import (YAML or JSON): export, edit, import again."""

from __future__ import annotations

import json

import yaml

from ..demo import DEMO_SOURCE
from ..queries.partners import partners_with_definitions

FORMATS = ("yaml", "json")


def _area(area: dict) -> dict:
    definition = area["definition"] or {}
    if area["definition_type"] == "codes":
        return {"name": area["name"], "codes": definition.get("codes", [])}
    if area["definition_type"] == "radius":
        return {"name": area["name"], "point": definition.get("point"), "radius_m": definition.get("radius_m")}
    return {"name": area["name"], "geojson": definition.get("geojson")}


def partner_documents(conn, *, with_demo: bool = False) -> list[dict]:
    """Each partner as a mapping of the import file; empty optional fields are left out."""
    out = []
    for partner in partners_with_definitions(conn, skip_source=None if with_demo else DEMO_SOURCE):
        doc = {"name": partner["name"]}
        if partner["external_id"]:
            doc["id"] = partner["external_id"]
        doc.update(kind=partner["kind"], services=list(partner["services"]), themes=list(partner["themes"]))
        for name in ("description", "website", "email", "phone"):
            if partner[name]:
                doc[name] = partner[name]
        doc["service_areas"] = [_area(area) for area in partner["service_areas"]]
        out.append(doc)
    return out


def render(partners: list[dict], fmt: str) -> str:
    """The partners as the text of an import file."""
    doc = {"partners": partners}
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)
    raise ValueError(f"unknown export format {fmt!r}")
