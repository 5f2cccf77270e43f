"""Public submissions: check the proposed fields, locate the initiative, store it as `pending` with the
submitter's private contact and an audit entry. No Flask; the caller commits (and only then says "ontvangen").

The checks are the importer's cleaners (geoservice.registry.validation) per field, with Dutch reasons per form field;
moderation reuses `clean_fields` for edits.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .. import accounts, vocab
from ..errors import GeocodeNotFound, GeoserviceError, InvalidParameter
from ..geocode import ADDRESS_MAX, Geocoder, normalise_postcode
from ..models import WGS84
from ..params import LonLat, looks_swapped_in_nl
from ..queries import moderation as queries
from ..queries.initiatives_write import place_points
from .corrections import forget_old_contacts
from .validation import MAX_LENGTH, NL_BOX_WGS84, Invalid, clean_email, clean_phone, clean_text, clean_website

SOURCE = "aanmelding"  # initiative.source of public submissions
TEXT_LIMIT = 500  # fields without a limit of their own (as the importer's DEFAULT_MAX_LENGTH)
# The public fields a submission (and a moderator's edit) may set, with their Dutch labels for messages.
FIELDS = {
    "name": "Naam", "kind": "Soort", "themes": "Thema's", "description": "Beschrijving", "website": "Website",
    "email": "E-mailadres van het initiatief", "phone": "Telefoonnummer van het initiatief",
    "address": "Adres", "postcode": "Postcode",
}
POINT_FIELDS = {"lat": "Breedtegraad", "lon": "Lengtegraad"}
# The submitter's own contact: private (moderators only), never public, never exported.
CONTACT_FIELDS = {"contact_name": "Je naam", "contact_email": "Je e-mailadres", "contact_phone": "Je telefoonnummer"}
LABELS = {**FIELDS, **POINT_FIELDS, **CONTACT_FIELDS, "location": "Plek"}


class SubmissionInvalid(InvalidParameter):
    """One or more fields are wrong; `problems` maps each form field to its Dutch reason."""

    def __init__(self, problems: dict[str, str]):
        self.problems = dict(problems)
        listed = "; ".join(f"{LABELS.get(name, name)}: {reason}" for name, reason in self.problems.items())
        super().__init__(f"Niet alles is goed ingevuld. {listed}.")


@dataclass(frozen=True)
class Submission:
    """A checked submission: public column values, the point when one was chosen, the private contact."""

    values: dict
    point: LonLat | None
    contact: dict


def _as_text(raw: object) -> str | None:
    """Form and JSON text; None when absent or blank. Invalid for numbers, lists or objects."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise Invalid("verwacht tekst")
    return raw.replace("\r\n", "\n").replace("\r", "\n")  # a textarea sends CRLF; clean_text refuses CR


def _clean_one(name: str, raw: object):
    """The clean value of one public field (None when empty); Invalid/ValueError with the Dutch reason."""
    if name == "themes":
        if raw is None or raw == "" or raw == []:
            return []
        if isinstance(raw, str):
            raw = raw.replace(",", ";").split(";")
        if not isinstance(raw, (list, tuple)) or not all(isinstance(t, str) for t in raw):
            raise Invalid("verwacht een lijst van thema's")
        return vocab.themes(list(raw))
    text = _as_text(raw)
    limit = ADDRESS_MAX if name == "address" else MAX_LENGTH.get(name, TEXT_LIMIT)
    value = clean_text(text, limit) if text is not None else None
    if name == "name" and value is None:
        raise Invalid("is leeg; elk initiatief heeft een naam nodig")
    if name == "kind":
        if value is None:
            raise Invalid(f"kies een soort: {', '.join(vocab.INITIATIVE_KINDS.values())}")
        return vocab.kind(value)
    if value is None:
        return None
    if name == "website":
        return clean_website(value)
    if name in ("email", "contact_email"):
        return clean_email(value)
    if name in ("phone", "contact_phone"):
        return clean_phone(value)
    if name == "postcode":
        try:
            return normalise_postcode(value)
        except GeoserviceError as exc:
            raise Invalid(exc.description.rstrip(".")) from None
    return value


def _number(raw: object) -> float:
    if isinstance(raw, bool):
        raise Invalid("is geen getal")
    try:
        value = float(raw) if isinstance(raw, (int, float)) else float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise Invalid(f"'{str(raw).strip()[:30]}' is geen getal") from None
    if not math.isfinite(value):
        raise Invalid("is geen eindig getal")
    return value


def _present(raw: object) -> bool:
    return raw is not None and not (isinstance(raw, str) and not raw.strip())


def clean_point(raw_lat: object, raw_lon: object) -> LonLat | None:
    """The WGS84 point of lat/lon (both, or neither: None); Invalid when wrong or outside the Netherlands."""
    if not _present(raw_lat) and not _present(raw_lon):
        return None
    if not (_present(raw_lat) and _present(raw_lon)):
        raise Invalid("geef breedtegraad én lengtegraad (lat én lon), of kies een punt op de kaart")
    lat, lon = _number(raw_lat), _number(raw_lon)
    point = LonLat(lon=lon, lat=lat)
    if looks_swapped_in_nl(point):
        raise Invalid("breedtegraad en lengtegraad (lat en lon) lijken omgewisseld")
    box = NL_BOX_WGS84
    if not (box.minx <= lon <= box.maxx and box.miny <= lat <= box.maxy):
        raise Invalid(f"het punt {lat}, {lon} ligt niet in Nederland")
    return point


def clean_fields(raw: Mapping[str, object], names) -> tuple[dict, dict[str, str]]:
    """(clean values, {field: reason}) of the named public or contact fields in `raw`."""
    values, problems = {}, {}
    for name in names:
        try:
            values[name] = _clean_one(name, raw.get(name))
        except ValueError as exc:  # Invalid, or the vocabulary's own Dutch message
            problems[name] = str(exc)
    return values, problems


def check(fields: Mapping[str, object], contact: Mapping[str, object]) -> Submission:
    """A checked submission, or SubmissionInvalid naming every wrong field.

    fields: the public fields (FIELDS) plus lat/lon; contact: name, email, phone of the submitter.
    A place is required: a point, or an address and/or postcode. So is a way to reach the submitter.
    """
    values, problems = clean_fields(fields, FIELDS)
    point = None
    try:
        point = clean_point(fields.get("lat"), fields.get("lon"))
    except Invalid as exc:
        problems["lat"] = str(exc)
    if point is None and "lat" not in problems and not (values.get("address") or values.get("postcode")) \
            and "address" not in problems and "postcode" not in problems:
        problems["location"] = "geef een adres of postcode, of kies een punt op de kaart"
    own = {f"contact_{key}": contact.get(key) for key in ("name", "email", "phone")}
    mine, contact_problems = clean_fields(own, CONTACT_FIELDS)
    problems.update(contact_problems)
    if not (mine.get("contact_email") or mine.get("contact_phone")) and not contact_problems:
        problems["contact_email"] = "geef je e-mailadres of telefoonnummer, zodat een moderator je iets kan vragen"
    if problems:
        raise SubmissionInvalid(problems)
    return Submission(values=values, point=point,
                      contact={key.removeprefix("contact_"): value for key, value in mine.items()})


def hash_client(key: str, client: str) -> str:
    """A keyed hash of the client's address: abuse can be traced per client without storing the address."""
    return hmac.new(key.encode("utf-8"), client.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _locate(session: Session, submission: Submission, geocoder: Geocoder | None) -> tuple[LonLat, str]:
    """(point, location_precision): the chosen point, else the geocoded address/postcode."""
    if submission.point is not None:
        point, precision, field = submission.point, "manual", "lat"
    else:
        if geocoder is None:
            raise ValueError("a geocoder is needed for a submission without a point")
        values = submission.values
        field = "address" if values.get("address") else "postcode"
        try:
            found = geocoder.locate(address=values.get("address"), postcode=values.get("postcode"))
        except GeocodeNotFound as exc:
            raise SubmissionInvalid({field: exc.description.rstrip(".")}) from None
        point, precision = LonLat(lon=found.lon, lat=found.lat), found.precision
    placed = place_points(session.connection(), [(point.lon, point.lat, WGS84)])[0]
    box = NL_BOX_WGS84
    outside = not (box.minx <= point.lon <= box.maxx and box.miny <= point.lat <= box.maxy)
    if outside or placed.in_netherlands is False:
        raise SubmissionInvalid({field: "deze plek ligt niet in Nederland"})
    return point, precision


def submit(session: Session, fields: Mapping[str, object], contact: Mapping[str, object],
           client_hash: str | None, *, geocoder: Geocoder | None = None) -> int:
    """Store a public submission as a pending initiative; returns its id.

    Raises SubmissionInvalid (nothing stored), or GeocoderUnavailable when only an address was given and the
    address search is down. The caller commits; this transaction's commit is durable (queries.durable).
    """
    submission = check(fields, contact)
    point, precision = _locate(session, submission, geocoder)
    queries.durable(session)
    values = {**submission.values, "source": SOURCE, "external_id": uuid.uuid4().hex, "status": "pending",
              "location_precision": precision}
    new_id = queries.insert_initiative(session, values, point.lon, point.lat)
    queries.insert_contact(session, new_id, client_hash=client_hash, **submission.contact)
    public = {name: submission.values.get(name) for name in FIELDS}
    changes = {name: [None, value] for name, value in public.items() if value not in (None, [])}
    changes["location"] = [None, point_label(point.lon, point.lat)]
    changes["location_precision"] = [None, precision]
    changes["status"] = [None, "pending"]
    # the audit log is for moderators, but keeps the private contact out all the same
    accounts.record(session, "initiative", new_id, "submit", None, changes=changes)
    forget_old_contacts(session)  # what the privacy statement promises: decided submissions lose their contact
    return new_id


def point_label(lon: float, lat: float) -> dict:
    """A point as the audit log stores it: WGS84 rounded to 6 decimals (about 10 cm)."""
    return {"lat": round(lat, 6), "lon": round(lon, 6)}
