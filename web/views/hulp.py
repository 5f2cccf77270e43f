"""Hulp bij je plan (`/hulp`): partners and funds that serve a place with what a plan needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, render_template, request

from geoservice.partners import support
from geoservice.db import ENGINE, get_session
from geoservice.errors import GeoserviceError, InvalidParameter
from geoservice.geocode import ADDRESS_MAX
from geoservice.params import LonLat
from geoservice.vocab import THEMES

from .. import pages
from .initiative import contact
from .search import Search, locate

# The services in plain words, in the order a person thinks of them (keys of vocab.SERVICES).
SERVICE_CHOICES = {
    "advies": "Advies",
    "financiering": "Geld (financiering)",
    "ruimte_locatie": "Een ruimte",
    "vrijwilligers": "Vrijwilligers",
    "juridisch": "Juridische hulp",
    "training": "Training",
    "netwerk_kennisdeling": "Contact met anderen",
}


@dataclass
class HulpForm:
    """The form as submitted: where (q, or lat/lon from an initiative's link), what, and about what."""

    q: str = ""
    lat: str = ""
    lon: str = ""
    services: list[str] = field(default_factory=list)
    theme: str = ""

    @classmethod
    def from_args(cls, args) -> "HulpForm":
        return cls(q=(args.get("q") or "").strip()[:ADDRESS_MAX + 1], lat=(args.get("lat") or "").strip(),
                   lon=(args.get("lon") or "").strip(), services=[s[:100] for s in args.getlist("service")],
                   theme=(args.get("theme") or "").strip()[:100])

    @property
    def submitted(self) -> bool:
        return bool(self.q or self.lat or self.lon)


def _card(partner: dict) -> dict:
    return {**partner, "contact": contact(partner)}


@pages.get("/hulp")
def hulp():
    form = HulpForm.from_args(request.args)
    status, error, point, found, fallback = 200, None, None, None, []
    question = support.Question()
    try:
        question = support.parse_question(request.args.getlist("service"), request.args.getlist("theme"),
                                          request.args.get("reach_m"))
        if question.theme:
            form.theme = question.theme
        form.services = list(question.services)
    except InvalidParameter as exc:
        status, error = exc.status, exc.description
    if form.submitted and error is None:
        try:
            # a typed place wins over the point an initiative's link brought along
            from_point = not form.q
            point = locate(Search(q=form.q, lat=form.lat if from_point else "", lon=form.lon if from_point else ""))
            if from_point:
                point["label"] = "de plek die je koos"
            session = get_session()
            here = LonLat(lon=point["lon"], lat=point["lat"])
            found = support.find_support(session, here, question)
            if not found["partners"]:
                gemeente = found["place"]["gemeente"]
                fallback = support.fallback_partners(session, here, gemeente["code"] if gemeente else None)
            support.count_search(current_app.extensions[ENGINE], found["place"], question.services)
        except GeoserviceError as exc:
            # a person gets the page back with the reason, never a bare error page
            status, error, point, found = exc.status, exc.description, None, None
    return render_template(
        "hulp.html", form=form, question=question, error=error, point=point, found=found,
        partners=[_card(p) for p in found["partners"]] if found else [],
        fallback=[_card(p) for p in fallback], initiatives=found["initiatives"] if found else [],
        place=found["place"] if found else None, service_choices=SERVICE_CHOICES, themes=THEMES,
    ), status
