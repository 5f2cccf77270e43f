"""The OpenAPI paths and schemas of GET /api/v1/support (Hulp bij je plan)."""

from __future__ import annotations

from ..partners import support
from .initiatives import ADDRESS_MAX
from .openapi import CBS_CODE, integer, nullable, obj, ok, operation, param, ref, terms


def paths() -> dict:
    parameters = [
        param("lat", "Breedtegraad (WGS84) van de plek; samen met lon.",
              {"type": "number", "minimum": -90, "maximum": 90}),
        param("lon", "Lengtegraad (WGS84) van de plek; samen met lat.",
              {"type": "number", "minimum": -180, "maximum": 180}),
        param("postcode", "Of: een postcode (1234AB, 1234 AB of 1234); niet samen met lat/lon.",
              {"type": "string", "pattern": r"^\s*[1-9]\d{3}\s*([A-Za-z]{2})?\s*$"}),
        param("address", "Of: een adres (straat en huisnummer, eventueel met plaats), zoals bij nearby.",
              {"type": "string", "maxLength": ADDRESS_MAX}),
        param("service", "Wat het plan nodig heeft: sleutel of label van een dienst; herhaalbaar of gescheiden "
                         "door ; (minstens een van deze). Zonder: elke dienst.", terms("Service", "dienst")),
        param("theme", "Waar het plan over gaat: één thema (sleutel of label). Partners zonder thema's helpen "
                       "bij elk thema.", {"anyOf": [ref("Theme"), {"type": "string"}]}),
        param("reach_m", "Ook partners met een werkgebied binnen zoveel meter van de plek; en zo ver zoeken we "
                         "initiatieven.", integer(**support.REACH_M)),
    ]
    return {"/api/v1/support": operation(
        "support", "Partners",
        "Hulp bij je plan: partners en fondsen die een plek bedienen met wat het plan nodig heeft.",
        parameters,
        {"200": ok(f"Eerst de partners met een werkgebied op de plek, dan de andere binnen reach_m op afstand, "
                   f"bij gelijke afstand op naam (hoogstens {support.MAX_PARTNERS}); daarna hoogstens "
                   f"{support.NEARBY_INITIATIVES} initiatieven met het thema in de buurt.", ref("Support"))},
        errors=("400", "404", "503"))}


def schemas() -> dict:
    text, number = {"type": "string"}, {"type": "number"}
    code = {"type": "string", "pattern": CBS_CODE}
    partner = obj({
        "id": integer(), "name": text, "kind": ref("PartnerKind"),
        "services": {"type": "array", "items": ref("Service")},
        "themes": {"type": "array", "items": ref("Theme"), "description": "Leeg: helpt bij elk thema."},
        "matched_services": {"type": "array", "items": ref("Service"),
                             "description": "De gevraagde diensten die de partner biedt."},
        "covers": {"type": "boolean", "description": "Een werkgebied van de partner bevat de plek."},
        "distance_m": {**number, "minimum": 0,
                       "description": "0 als de partner de plek bedient, anders meters (RD) tot zijn dichtstbijzijnde "
                                      "werkgebied."},
        **{name: nullable(text) for name in ("website", "email", "phone")},
    })
    initiative = obj({"id": integer(), "name": text, "kind": ref("InitiativeKind"),
                      "themes": {"type": "array", "items": ref("Theme")}, "website": nullable(text),
                      "distance_m": {**number, "description": "Meters (WGS84-ellipsoïde), op 0,1 m."}})
    return {"Support": obj({
        "searched": obj({"lat": number, "lon": number,
             "precision": {"type": "string", "enum": ["coordinates", "address", "postcode"]},
             "label": text, "source": {"type": "string", "enum": ["request", "pdok", "pc4"]}}),
        "buurt": nullable(obj({"code": code, "naam": nullable(text), "gemeente": nullable(obj(
            {"code": code, "naam": nullable(text)}))}, description="null waar geen buurten geladen zijn.")),
        "partners": {"type": "array", "items": partner},
        "initiatives": {"type": "array", "items": initiative},
    })}
