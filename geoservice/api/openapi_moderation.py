"""OpenAPI 3.0 paths and schemas of submissions and moderation (geoservice.api.moderation).

To be merged into the document of geoservice.api.openapi: `paths()` per path AND per method (the path
/api/v1/initiatives/{initiative_id} already has a GET there; this adds its PATCH), `schemas()` into
components.schemas, plus a `bearerAuth` security scheme ({"type": "http", "scheme": "bearer"}).
"""

from __future__ import annotations

from ..geocode import ADDRESS_MAX
from ..registry import moderation, submissions
from ..registry.validation import MAX_LENGTH
from ..vocab import PRECISIONS, STATUSES
from .geojson import JSON
from .moderation import PAGE_LIMIT
from .openapi import integer, nullable, obj, ok, param, ref, vocabulary

BEARER = [{"bearerAuth": []}]
TAG_SUBMIT, TAG_MODERATION = "Aanmelden", "Moderatie"


def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {JSON: {"schema": ref("Error")}}}
    return {**response, "headers": headers} if headers else response


def _errors(*codes: str) -> dict:
    text = {"type": "string"}
    known = {
        "400": _error("Ongeldige invoer: de reden staat in description (per veld, in het Nederlands); er is niets "
                      "veranderd."),
        "401": _error("Geen of een ongeldig token; er is niets veranderd.",
                      {"WWW-Authenticate": {"description": "Bearer realm=\"samenkaart\"", "schema": text}}),
        "403": _error("Het token hoort niet bij een moderator of beheerder; er is niets veranderd."),
        "404": _error("Er is geen initiatief met dit id."),
        "409": _error("De handeling past niet bij de status van het initiatief (zie de beschrijving van de "
                      "statussen); er is niets veranderd."),
        "429": _error("Te veel aanmeldingen van deze client; probeer het later opnieuw.",
                      {"Retry-After": {"description": "Seconden tot een nieuwe poging telt.",
                                       "schema": integer()}}),
        "503": _error("De database of (bij een adres zonder postcode) de adreszoeker is even niet bereikbaar; "
                      "er is niets opgeslagen."),
    }
    return {code: known[code] for code in codes}


def _json_body(schema: str, description: str) -> dict:
    return {"required": True, "description": description, "content": {JSON: {"schema": ref(schema)}}}


def _action(op_id: str, summary: str, *, body: str | None = None, errors=("401", "403", "404", "409")) -> dict:
    initiative_id = param("initiative_id", "Id van het initiatief.", {"type": "integer", "minimum": 1}, where="path")
    operation = {
        "operationId": op_id, "tags": [TAG_MODERATION], "summary": summary, "security": BEARER,
        "parameters": [initiative_id],
        "responses": {"200": ok("Gelukt: het initiatief zoals het nu is, en wat er veranderde.",
                                ref("ModerationResult")), **_errors(*errors)},
    }
    if body:
        operation["requestBody"] = _json_body(body, "Zie het schema.")
    return operation


def paths() -> dict:
    page = [param("limit", "Hoeveel per pagina.", integer(**PAGE_LIMIT)),
            param("offset", "Hoeveel overslaan.", integer(0, 0, 10_000_000))]
    initiative_id = param("initiative_id", "Id van het initiatief.", {"type": "integer", "minimum": 1}, where="path")
    statuses = ("Statussen: pending → published (publish) of rejected (reject, met reden); published → archived "
                "(archive), blijft published bij verify; archived → published (publish); rejected is definitief.")
    return {
        "/api/v1/submissions": {"post": {
            "operationId": "submitInitiative", "tags": [TAG_SUBMIT],
            "summary": "Een initiatief aanmelden (openbaar). Het komt als 'pending' binnen en is pas na controle "
                       "door een moderator zichtbaar. De contactgegevens van de aanmelder blijven privé.",
            "requestBody": _json_body("SubmissionRequest", "Het initiatief en de eigen contactgegevens."),
            "responses": {"201": ok("Ontvangen en duurzaam opgeslagen.", ref("SubmissionReceived")),
                          **_errors("400", "429", "503")}}},
        "/api/v1/moderation/pending": {"get": {
            "operationId": "moderationPending", "tags": [TAG_MODERATION], "security": BEARER,
            "summary": "Aanmeldingen die op een moderator wachten (oudste eerst), met de privé-contactgegevens "
                       "en mogelijke dubbelingen.",
            "parameters": page,
            "responses": {"200": ok("Een pagina aanmeldingen.", ref("ModerationList")),
                          **_errors("400", "401", "403")}}},
        "/api/v1/moderation/stale": {"get": {
            "operationId": "moderationStale", "tags": [TAG_MODERATION], "security": BEARER,
            "summary": f"Gepubliceerde initiatieven die nooit of langer dan {moderation.STALE_AFTER_MONTHS} "
                       "maanden niet gecontroleerd zijn (nooit gecontroleerd eerst, dan de oudste).",
            "parameters": page,
            "responses": {"200": ok("Een pagina initiatieven.", ref("StaleList")), **_errors("400", "401", "403")}}},
        "/api/v1/initiatives/{initiative_id}/publish": {"post": _action(
            "publishInitiative", "Publiceren (pending of archived → published); telt als controle: last_verified "
                                 "wordt vandaag. " + statuses)},
        "/api/v1/initiatives/{initiative_id}/reject": {"post": _action(
            "rejectInitiative", "Afwijzen (pending → rejected), met een verplichte reden. " + statuses,
            body="RejectRequest", errors=("400", "401", "403", "404", "409"))},
        "/api/v1/initiatives/{initiative_id}/archive": {"post": _action(
            "archiveInitiative", "Archiveren (published → archived): het bestaat niet meer. " + statuses)},
        "/api/v1/initiatives/{initiative_id}/verify": {"post": _action(
            "verifyInitiative", "Gecontroleerd (alleen published): last_verified wordt vandaag. " + statuses)},
        "/api/v1/initiatives/{initiative_id}": {"patch": {
            **_action("editInitiative", "Openbare velden wijzigen (alleen wat meegegeven is). lat en lon samen "
                                        "verplaatsen het punt; buurt, wijk en gemeente volgen. Niet voor een "
                                        "afgewezen aanmelding.",
                      body="InitiativePatch", errors=("400", "401", "403", "404", "409"))}},
        "/api/v1/initiatives/{initiative_id}/audit": {"get": {
            "operationId": "initiativeAudit", "tags": [TAG_MODERATION], "security": BEARER,
            "summary": "Het logboek van een initiatief: wie, wanneer, wat (oud → nieuw), oudste eerst.",
            "parameters": [initiative_id],
            "responses": {"200": ok("Het logboek.", ref("AuditLog")), **_errors("401", "403", "404")}}},
    }


def schemas() -> dict:
    text, number = {"type": "string"}, {"type": "number"}
    code = {"type": "string", "pattern": r"^(GM\d{4}|WK\d{4}[0-9A-Z]{2}|BU\d{4}[0-9A-Z]{4})$"}
    lengths = {"name": MAX_LENGTH["name"], "description": MAX_LENGTH["description"], "address": ADDRESS_MAX}

    def field(name: str, description: str) -> dict:
        return {"type": "string", "maxLength": lengths.get(name, submissions.TEXT_LIMIT), "description": description}

    kind = {"type": "string", "description": "Soort: sleutel (zie InitiativeKind) of Nederlands label."}
    themes = {"oneOf": [{"type": "array", "items": text}, text],
              "description": "Thema's: sleutels of labels, als lijst of gescheiden door ; (zie Theme)."}
    public_input = {
        "name": field("name", "Naam (verplicht bij aanmelden)."), "kind": kind, "themes": nullable(themes),
        "description": nullable(field("description", "Beschrijving.")),
        "website": nullable(field("website", "http(s)-adres; www.voorbeeld.nl krijgt https:// ervoor.")),
        "email": nullable(field("email", "Openbaar e-mailadres van het initiatief.")),
        "phone": nullable(field("phone", "Openbaar telefoonnummer van het initiatief.")),
        "address": nullable(field("address", "Adres (straat, huisnummer, plaats).")),
        "postcode": nullable(field("postcode", "Postcode: 1234AB, 1234 AB of 1234.")),
        "lat": nullable({"type": "number", "minimum": 50.5, "maximum": 53.8,
                         "description": "Breedtegraad (WGS84); samen met lon. Zonder punt: adres en/of postcode."}),
        "lon": nullable({"type": "number", "minimum": 3.0, "maximum": 7.6, "description": "Lengtegraad (WGS84)."}),
    }
    contact_input = obj({
        "name": nullable(field("contact_name", "Naam van de aanmelder.")),
        "email": nullable(field("contact_email", "E-mailadres van de aanmelder.")),
        "phone": nullable(field("contact_phone", "Telefoonnummer van de aanmelder."))},
        [], additionalProperties=False,
        description="De eigen contactgegevens van de aanmelder (e-mail of telefoon verplicht): privé, alleen voor "
                    "moderatoren, nooit openbaar of in exports.")
    initiative = {
        "id": integer(), "name": text, "kind": ref("InitiativeKind"),
        "themes": {"type": "array", "items": ref("Theme")},
        **{name: nullable(text) for name in ("description", "website", "email", "phone", "address", "postcode")},
        "lat": number, "lon": number,
        "location_precision": vocabulary(PRECISIONS, "Hoe precies de plek is."),
        "status": vocabulary(STATUSES, "; ".join(f"{k}: {v}" for k, v in STATUSES.items())),
        "last_verified": nullable({"type": "string", "format": "date"}),
        "gemeentecode": nullable(code), "wijkcode": nullable(code), "buurtcode": nullable(code),
        "source": text, "external_id": text,
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    }
    contact = nullable(obj({"name": nullable(text), "email": nullable(text), "phone": nullable(text),
                            "submitted_at": {"type": "string", "format": "date-time"}},
                           description="Privé-contact van de aanmelder; null als het initiatief niet via een "
                                       "aanmelding binnenkwam."))
    duplicate = obj({
        "id": integer(), "name": text, "status": vocabulary(("pending", "published"), ""),
        "distance_m": {"type": "number", "description": "Meters (RD New), op 0,1 m."},
        "reason": vocabulary(("same_name", "similar_name"),
                             f"same_name: dezelfde naam (hoofdletters, accenten en leestekens tellen niet) binnen "
                             f"{moderation.SAME_NAME_RADIUS_M} m; similar_name: een gelijkende naam (difflib-ratio ≥ "
                             f"{moderation.SIMILARITY_MIN}) binnen {moderation.SIMILAR_NAME_RADIUS_M} m.")})
    change = {"type": "array", "minItems": 2, "maxItems": 2, "items": {},
              "description": "[oud, nieuw]; een plek als {lat, lon}, datums als JJJJ-MM-DD."}
    changes = {"type": "object", "additionalProperties": change, "description": "Per veld: [oud, nieuw]."}
    return {
        "SubmissionRequest": obj({**public_input, "contact": contact_input}, ["name", "kind", "contact"],
                                 additionalProperties=False),
        "SubmissionReceived": obj({"id": integer(), "status": {"type": "string", "enum": ["pending"]},
                                   "message": text}),
        "ModeratorInitiative": obj(initiative),
        "ModeratedInitiative": obj({**initiative, "contact": contact,
                                    "duplicates": {"type": "array", "items": duplicate,
                                                   "description": "Alleen in de lijst van aanmeldingen."}},
                                   [*initiative, "contact"]),
        "ModerationList": obj({"numberMatched": integer(), "numberReturned": integer(),
                               "initiatives": {"type": "array", "items": ref("ModeratedInitiative")}}),
        "StaleList": obj({"numberMatched": integer(), "numberReturned": integer(),
                          "stale_before": {"type": "string", "format": "date",
                                           "description": "Voor deze dag gecontroleerd (of nooit) is verouderd."},
                          "initiatives": {"type": "array", "items": ref("ModeratorInitiative")}}),
        "InitiativePatch": obj({name: public_input[name] for name in (*submissions.FIELDS, "lat", "lon")}, [],
                               additionalProperties=False, minProperties=1),
        "RejectRequest": obj({"reason": {"type": "string", "minLength": 1, "maxLength": moderation.REASON_MAX}}),
        "ModerationResult": obj({"initiative": ref("ModeratedInitiative"), "changes": changes}),
        "AuditLog": obj({"initiative_id": integer(), "entries": {"type": "array", "items": obj({
            "id": integer(), "at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string", "description": "E-mailadres van de gebruiker, of 'aanmelder'."},
            "user_id": nullable(integer()),
            "action": {"type": "string", "description": "submit, publish, reject, archive, verify, edit, …"},
            "changes": changes, "reason": nullable(text)})}}),
    }
