"""Atom 1.0 feeds of newly published and updated initiatives: of a listing's filter, or near a partner."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from flask import Blueprint, current_app, request, url_for

from .db import get_session
from .errors import NotFound
from .params import parse_int
from .queries import feeds as queries
from .queries import partners as partner_queries
from .vocab import INITIATIVE_KINDS, THEMES

feeds = Blueprint("feeds", __name__, url_prefix="/feeds")

ATOM = "application/atom+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
ENTRIES = {"default": 50, "minimum": 1, "maximum": 200}
REACH_M = {"default": 10_000, "minimum": 0, "maximum": 100_000}  # as the outreach planning's reach_m
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)  # "updated" of a feed without entries


def _iso(moment: dt.datetime | None) -> str:
    moment = moment or EPOCH
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.isoformat(timespec="seconds")


def _sub(parent, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: v for k, v in attributes.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _summary(item: dict) -> str:
    kind = INITIATIVE_KINDS.get(item["kind"], item["kind"])
    themes = ", ".join(THEMES.get(theme, theme) for theme in item["themes"] or [])
    parts = [f"{kind}" + (f" · {themes}" if themes else "")]
    if item.get("address") or item.get("postcode"):
        parts.append(" ".join(filter(None, (item.get("address"), item.get("postcode")))))
    if item.get("description"):
        parts.append(item["description"])
    return "\n".join(parts)


def atom(items: list[dict], *, title: str, subtitle: str, alternate: str):
    """The response: an Atom 1.0 feed of the items (newest first), each entry linking to its page."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "nl"})
    _sub(feed, "id", request.url)
    _sub(feed, "title", title)
    _sub(feed, "subtitle", subtitle)
    _sub(feed, "updated", _iso(max((item["updated_at"] for item in items), default=None)))
    _sub(feed, "link", rel="self", type=ATOM, href=request.url)
    _sub(feed, "link", rel="alternate", type="text/html", href=alternate)
    author = _sub(feed, "author")
    _sub(author, "name", "Samenkaart")
    _sub(feed, "generator", "Samenkaart")
    for item in items:
        entry = _sub(feed, "entry")
        page = url_for("web.initiative", initiative_id=item["id"], _external=True)
        _sub(entry, "id", page)
        _sub(entry, "title", item["name"])
        _sub(entry, "updated", _iso(item["updated_at"]))
        _sub(entry, "link", rel="alternate", type="text/html", href=page)
        _sub(entry, "summary", _summary(item))
        _sub(entry, "category", term=item["kind"], label=INITIATIVE_KINDS.get(item["kind"]))
        for theme in item["themes"] or []:
            _sub(entry, "category", term=theme, label=THEMES.get(theme))
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return current_app.response_class(body, mimetype=ATOM)


def _described(args) -> str:
    parts = [f"{name} {args.get(name)}" for name in ("gemeente", "wijk", "buurt", "bbox") if args.get(name)]
    parts += [f"soort {value}" for value in args.getlist("kind")] + [f"thema {v}" for v in args.getlist("theme")]
    return "Nieuwe en bijgewerkte initiatieven" + (f" ({', '.join(parts)})" if parts else " in heel Nederland")


@feeds.get("/initiatieven.atom")
def initiatives_feed():
    from .api.initiatives import _list_filter  # the listing's own parsing of its filters

    args = request.args
    flt = _list_filter(args)
    limit = parse_int("limit", args.get("limit"), **ENTRIES)
    items = queries.recent_initiatives(get_session(), flt, limit=limit)
    search_args = [(name, value) for name in ("kind", "theme") for value in args.getlist(name)]
    alternate = url_for("web.index", _external=True) + ("?" + urlencode(search_args) if search_args else "")
    return atom(items, title="Samenkaart: nieuwe initiatieven", subtitle=_described(args), alternate=alternate)


@feeds.get("/partner/<int:partner_id>.atom")
def partner_feed(partner_id: int):
    args = request.args
    reach_m = parse_int("reach_m", args.get("reach_m"), **REACH_M)
    limit = parse_int("limit", args.get("limit"), **ENTRIES)
    session = get_session()
    partner = partner_queries.get_partner(session, partner_id) if partner_id <= 2**31 - 1 else None
    if partner is None:
        raise NotFound(f"Er is geen partner met id {partner_id}.")
    items = queries.recent_near_partner(session, partner_id, reach_m=reach_m, limit=limit)
    return atom(items, title=f"Samenkaart: nieuwe initiatieven bij {partner['name']}",
                subtitle=f"Nieuwe en bijgewerkte initiatieven in de werkgebieden van {partner['name']} "
                         f"of binnen {reach_m} meter ervan",
                alternate=url_for("web.partner", partner_id=partner_id, _external=True))
