"""Hulp bij je plan: which partners and funds serve a point with the services and theme a plan needs.

Shared by GET /api/v1/support and the /hulp page. Also the anonymous demand counts: per day, per buurt
(or wijk where no buurten are loaded) and per service, how many /hulp searches asked for it; nothing
else about a search is kept (no text, no point, nothing about the person).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ..errors import InvalidParameter
from ..params import LonLat, parse_int, parse_terms_param
from ..queries import areas as area_queries
from ..queries import initiatives as initiative_queries
from ..queries import support as queries
from ..vocab import SERVICES, THEMES

log = logging.getLogger(__name__)

REACH_M = {"default": 10_000, "minimum": 0, "maximum": 50_000}
MAX_PARTNERS = 100  # a national network and every fund within 50 km fit; more is no longer a useful list
NEARBY_INITIATIVES = 5
FALLBACK_PARTNERS = 5  # when nothing matches: the nearest partners offering anything …
FALLBACK_REACH_M = REACH_M["maximum"]  # … within this distance
DEMAND_DAYS = 90  # the partner page shows this many days; older counts are removed
# The public fields of a partner in the answer, in this order.
PARTNER_FIELDS = ("id", "name", "kind", "services", "themes", "matched_services", "covers", "distance_m",
                  "website", "email", "phone")
SERVICE_ORDER = {key: number for number, key in enumerate(SERVICES)}


@dataclass(frozen=True)
class Question:
    """What a plan needs: services (any when empty), one theme (any when None), how far to look."""

    services: tuple[str, ...] = ()
    theme: str | None = None
    reach_m: int = REACH_M["default"]


def parse_question(services: list[str], themes: list[str], reach_m: str | None) -> Question:
    """The question from request parameters (keys or Dutch labels); InvalidParameter for anything else."""
    chosen = parse_terms_param("service", services, SERVICES, "dienst")
    theme = parse_terms_param("theme", themes, THEMES, "thema")
    if len(theme) > 1:
        raise InvalidParameter("Parameter 'theme': geef één thema, niet meer.")
    reach = parse_int("reach_m", reach_m, **REACH_M)
    return Question(services=tuple(sorted(chosen, key=SERVICE_ORDER.get)), theme=theme[0] if theme else None,
                    reach_m=reach)


def place_of(session: Session, point: LonLat) -> dict:
    """The buurt (code, naam, gemeente {code, naam}) of a point, its gemeente, and the unit demand is counted in.

    buurt is None where no buurten are loaded (the unit is then the wijk); gemeente None outside the CBS map.
    """
    jaar = area_queries.active_year(session)
    found = area_queries.lookup_point(session, point, jaar) if jaar else {}
    buurt, wijk, gemeente = found.get("buurt"), found.get("wijk"), found.get("gemeente")
    gemeente_info = {"code": gemeente.code, "naam": gemeente.naam} if gemeente is not None else None
    unit = buurt or wijk
    return {
        "jaar": jaar,
        "buurt": ({"code": buurt.code, "naam": buurt.naam, "gemeente": gemeente_info}
                  if buurt is not None else None),
        "gemeente": gemeente_info,
        "unit": unit.code if unit is not None else None,
    }


def _matched(partner: dict, question: Question) -> dict:
    wanted = set(question.services)
    return {**partner, "matched_services": [s for s in SERVICES if s in wanted and s in partner["services"]],
            "distance_m": round(partner["distance_m"], 1)}


def find_support(session: Session, point: LonLat, question: Question) -> dict:
    """{place, partners, initiatives}: partners that match (covering first, then nearest, then by name) and up
    to NEARBY_INITIATIVES published initiatives with the theme within reach_m (nearest first)."""
    place = place_of(session, point)
    gemeentecode = place["gemeente"]["code"] if place["gemeente"] else None
    partners = queries.supporting_partners(
        session, point, services=question.services, theme=question.theme, reach_m=question.reach_m,
        limit=MAX_PARTNERS, gemeentecode=gemeentecode)
    initiatives = []
    if question.reach_m > 0:
        _matched_count, initiatives = initiative_queries.nearby(
            session, point, radius_m=question.reach_m, limit=NEARBY_INITIATIVES,
            themes=(question.theme,) if question.theme else ())
    return {"place": place, "partners": [_matched(p, question) for p in partners], "initiatives": initiatives}


def fallback_partners(session: Session, point: LonLat, gemeentecode: str | None) -> list[dict]:
    """When nothing matches: the nearest partners that offer anything, whatever the theme."""
    partners = queries.supporting_partners(session, point, services=(), theme=None, reach_m=FALLBACK_REACH_M,
                                           limit=FALLBACK_PARTNERS, gemeentecode=gemeentecode)
    return [_matched(p, Question()) for p in partners]


def public_partner(partner: dict) -> dict:
    """A partner as the API shows it: exactly PARTNER_FIELDS."""
    return {name: partner[name] for name in PARTNER_FIELDS}


def public_initiative(item: dict) -> dict:
    return {"id": item["id"], "name": item["name"], "kind": item["kind"], "themes": item["themes"],
            "website": item["website"], "distance_m": round(item["distance_m"], 1)}


def count_search(engine: Engine, place: dict, services: tuple[str, ...]) -> bool:
    """Count one /hulp search per asked service in its buurt (or wijk). Never fails the page: False when the
    count could not be written (logged), or when there was nothing to count."""
    if not services or place.get("unit") is None or place.get("jaar") is None:
        return False
    try:
        with engine.begin() as conn:
            queries.count_demand(conn, jaar=place["jaar"], code=place["unit"], services=list(services),
                                 keep_days=DEMAND_DAYS)
    except Exception as exc:  # noqa: BLE001 - a count is not worth a broken page (e.g. a read-only database)
        log.warning("could not count a /hulp search: %s", str(exc).splitlines()[0][:200])
        return False
    return True


def demand(session: Session, partner_id: int) -> list[dict]:
    """Per service (vocabulary order): key, label and the searches of the last DEMAND_DAYS days in its areas."""
    counts = queries.demand_in_partner_areas(session, partner_id, days=DEMAND_DAYS)
    return [{"service": key, "label": label, "n": counts.get(key, 0)} for key, label in SERVICES.items()]
