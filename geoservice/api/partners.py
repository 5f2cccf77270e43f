"""Partner endpoints: list, one partner, its service areas as GeoJSON."""

from __future__ import annotations

from flask import request

from ..db import get_session
from ..errors import NotFound
from ..params import parse_int, parse_terms_param
from ..queries import partners as queries
from ..vocab import PARTNER_KINDS, SERVICES
from . import api
from .geojson import GEOJSON, JSON, collection, feature, page_links, respond

PARTNER_LIMIT = {"default": 100, "minimum": 1, "maximum": 1000}
MAX_OFFSET = 10_000_000


@api.get("/partners")
def list_partners():
    args = request.args
    services = parse_terms_param("service", args.getlist("service"), SERVICES, "dienst")
    kinds = parse_terms_param("kind", args.getlist("kind"), PARTNER_KINDS, "soort partner")
    limit = parse_int("limit", args.get("limit"), **PARTNER_LIMIT)
    offset = parse_int("offset", args.get("offset"), default=0, minimum=0, maximum=MAX_OFFSET)
    matched, partners = queries.list_partners(
        get_session(), services=tuple(services), kinds=tuple(kinds), limit=limit, offset=offset)
    return respond({
        "partners": partners,
        "numberMatched": matched,
        "numberReturned": len(partners),
        "links": page_links(offset=offset, limit=limit, matched=matched, media_type=JSON),
    })


def _partner_or_404(partner_id: int) -> dict:
    partner = queries.get_partner(get_session(), partner_id)
    if partner is None:
        raise NotFound(f"Er is geen partner met id {partner_id}.")
    return partner


@api.get("/partners/<int:partner_id>")
def get_partner(partner_id: int):
    return respond(_partner_or_404(partner_id))


@api.get("/partners/<int:partner_id>/service-areas")
def partner_service_areas(partner_id: int):
    partner = _partner_or_404(partner_id)
    areas = queries.service_areas(get_session(), partner_id)
    features = [
        feature(area["id"], area["geometry"], {k: v for k, v in area.items() if k != "geometry"})
        for area in areas
    ]
    return respond(collection(features, partner={"id": partner["id"], "name": partner["name"]},
                              numberReturned=len(features)), GEOJSON)
