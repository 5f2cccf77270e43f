"""One initiative (`/initiatief/<id>`)."""

from __future__ import annotations

import datetime as dt
import re

from flask import current_app, render_template, url_for

from geoservice.db import get_session
from geoservice.demo import DEMO_SOURCE
from geoservice.errors import NotFound
from geoservice.queries import areas as area_queries
from geoservice.queries import initiatives as initiative_queries
from geoservice.registry import moderation

from .. import maps, pages

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")
# Plain enough to be an address (one @, a dot in the domain, no spaces, quotes or brackets);
# anything else is shown as text, never as a mailto: link.
EMAIL = re.compile(r"[^@\s<>\"'()\[\]\\,;:]+@[^@\s<>\"'()\[\]\\,;:]+\.[A-Za-z]{2,}")
ZOOM = 15
LEVELS = ("buurt", "wijk", "gemeente")


def dutch_date(day: dt.date | None) -> str | None:
    """12 maart 2026."""
    return None if day is None else f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def contact(item: dict) -> dict:
    """Contact details as the page shows them: an e-mail becomes a mailto: link only when it looks like one,
    a phone a tel: link only when it has digits (the website goes through |safe_url in the template)."""
    email = (item.get("email") or "").strip()
    phone = (item.get("phone") or "").strip()
    digits = re.sub(r"[^\d+]", "", phone)
    return {
        "website": (item.get("website") or "").strip() or None,
        "email": email or None,
        "mailto": email if EMAIL.fullmatch(email) else None,
        "phone": phone or None,
        "tel": digits if len(re.sub(r"\D", "", digits)) >= 3 else None,
    }


def places(session, item: dict) -> list[dict]:
    """Its buurt, wijk and gemeente (level, code, naam), finest first; levels without a code are left out."""
    codes = {level: item.get(f"{level}code") for level in LEVELS}
    jaar = area_queries.active_year(session)
    names = area_queries.area_names(session, jaar, codes) if jaar else {}
    return [{"level": level, "code": codes[level], "naam": names.get(level)} for level in LEVELS if codes[level]]


def initiative_map(item: dict, area: dict | None):
    settings = current_app.extensions["geoservice.settings"]
    m = maps.new_map(settings, center=(item["lat"], item["lon"]), zoom=ZOOM)
    if area is not None:
        label = f"{area['level'].capitalize()}: {area['naam'] or area['code']}"
        maps.add_layer(m, label, url_for("api.area_details", code=area["code"]), "area")
    maps.add_layer(m, "Dit initiatief", url_for("api.get_initiative", initiative_id=item["id"]), "initiatives")
    maps.add_layer_control(m)
    return maps.render(m)


@pages.get("/initiatief/<int:initiative_id>")
def initiative(initiative_id: int):
    session = get_session()
    item = initiative_queries.get_initiative(session, initiative_id)
    if item is None:
        raise NotFound(f"Er is geen initiatief met nummer {initiative_id}. Misschien is het verwijderd, "
                       f"of nog niet gepubliceerd.")
    areas = places(session, item)
    # the outline on the map: its buurt, or its wijk where no buurten are loaded
    outline = next((a for a in areas if a["level"] in ("buurt", "wijk")), None)
    return render_template(
        "initiative.html", item=item, contact=contact(item), areas=areas, demo=item["source"] == DEMO_SOURCE,
        verified=dutch_date(item["last_verified"]), map=initiative_map(item, outline),
        stale=item["last_verified"] is not None and item["last_verified"] < moderation.stale_cutoff(),
        stale_months=moderation.STALE_AFTER_MONTHS,
        assets=maps.asset_urls(), map_config=maps.map_config())
