"""Moderation: pending submissions with possible duplicates, stale initiatives, and the actions of a moderator
(publish, edit, reject, archive, verify), each audited with who, when and {field: [old, new]}. No Flask;
the caller commits.

Statuses and what may happen to them (anything else is an InvalidTransition, 409):

    pending   -> published (publish), rejected (reject, with a reason)
    published -> archived (archive; it no longer exists), stays published when verified (verify)
    archived  -> published (publish: it turned out to be active again)
    rejected  -> final: nothing but reading; a new submission is the way back

Publishing counts as a check, so it sets last_verified to today. Edits are allowed in every status but
`rejected`; a moved point sets location_precision to 'manual' and derives gemeente/wijk/buurt again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from difflib import SequenceMatcher

from sqlalchemy.orm import Session

from .. import accounts
from ..errors import GeoserviceError, InvalidParameter, NotFound
from ..models import User
from ..queries import moderation as queries
from .submissions import FIELDS, POINT_FIELDS, SubmissionInvalid, clean_fields, clean_point, point_label
from .validation import Invalid, clean_text, fold_name

STALE_AFTER_MONTHS = 12  # published initiatives not verified for longer than this are listed as stale
SAME_NAME_RADIUS_M = 1000  # the same (folded) name this close: probably the same initiative
SIMILAR_NAME_RADIUS_M = 50  # a similar name this close: probably the same initiative
# difflib's ratio of the folded names (lower case, no accents, punctuation or spaces): 'Buurthuis De Brink' and
# 'Buurthuis De Brug' score 0.84, 'Repair Café Baarn' and 'Repaircafe Baarn' 1.0, 'Taalcafé Baarn' and
# 'Tafeltennis Baarn' 0.62, 'Speeltuin Oost' and 'Speeltuinvereniging Oost' 0.72. At 0.8 a flag means "look",
# and a moderator decides.
SIMILARITY_MIN = 0.8
REASON_MAX = 1000
ACTIONS = ("publish", "reject", "archive", "verify")
STATUS_WORDS = {"pending": "in behandeling", "published": "gepubliceerd", "archived": "gearchiveerd",
                "rejected": "afgewezen"}


class InvalidTransition(GeoserviceError):
    """The action does not apply to the initiative's current status."""

    status = 409
    code = "Conflict"


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier (the month's last day when it is shorter: 31 May -> 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def stale_cutoff(today: dt.date | None = None) -> dt.date:
    """Initiatives last verified before this day are stale."""
    return months_before(today or dt.date.today(), STALE_AFTER_MONTHS)


def _name_key(name: str) -> str:
    return fold_name(name).replace("-", "")


def duplicate_reason(name: str, other: str, distance_m: float) -> str | None:
    """'same_name' (within SAME_NAME_RADIUS_M), 'similar_name' (within SIMILAR_NAME_RADIUS_M), or None."""
    a, b = _name_key(name), _name_key(other)
    if a and a == b and distance_m <= SAME_NAME_RADIUS_M:
        return "same_name"
    if distance_m <= SIMILAR_NAME_RADIUS_M and SequenceMatcher(None, a, b).ratio() >= SIMILARITY_MIN:
        return "similar_name"
    return None


def duplicates(session: Session, items: list[dict]) -> dict[int, list[dict]]:
    """Per item id: the published or pending initiatives that may be the same one (id, name, status,
    distance_m, reason), nearest first. Candidates come from PostGIS (ST_DWithin), names are compared here."""
    names = {item["id"]: item["name"] for item in items}
    found: dict[int, list[dict]] = {item_id: [] for item_id in names}
    for row in queries.duplicate_candidates(session, list(names), SAME_NAME_RADIUS_M):
        reason = duplicate_reason(names[row["for_id"]], row["name"], row["distance_m"])
        if reason is not None:
            found[row["for_id"]].append({"id": row["id"], "name": row["name"], "status": row["status"],
                                         "distance_m": round(row["distance_m"], 1), "reason": reason})
    return found


def pending(session: Session, *, limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]:
    """(number pending, a page of them, oldest first), each with `duplicates`."""
    matched, items = queries.pending(session, limit=limit, offset=offset)
    flags = duplicates(session, items)
    return matched, [{**item, "duplicates": flags[item["id"]]} for item in items]


def stale(session: Session, *, today: dt.date | None = None, limit: int = 100,
          offset: int = 0) -> tuple[int, list[dict]]:
    """(number stale, a page of them): published, never verified or not for STALE_AFTER_MONTHS months."""
    return queries.stale(session, stale_cutoff(today), limit=limit, offset=offset)


def get(session: Session, initiative_id: int, *, lock: bool = False) -> dict:
    """One initiative in any status, with the private contact; NotFound otherwise."""
    item = queries.get_item(session, initiative_id, lock=lock)
    if item is None:
        raise NotFound(f"Er is geen initiatief met id {initiative_id}.")
    return item


def history(session: Session, initiative_id: int) -> list[dict]:
    """The audit entries of an existing initiative, oldest first."""
    if not queries.initiative_exists(session, initiative_id):
        raise NotFound(f"Er is geen initiatief met id {initiative_id}.")
    return accounts.history(session, "initiative", initiative_id)


def _refuse(item: dict, action: str, allowed: tuple[str, ...], hint: str = "") -> None:
    if item["status"] in allowed:
        return
    what = {"publish": "gepubliceerd", "reject": "afgewezen", "archive": "gearchiveerd",
            "verify": "als gecontroleerd gemarkeerd", "edit": "bewerkt"}[action]
    may = " of ".join(STATUS_WORDS[s] for s in allowed)
    raise InvalidTransition(
        f"Initiatief {item['id']} is {STATUS_WORDS[item['status']]} en kan daarom niet worden {what}; "
        f"dat kan alleen als het {may} is.{(' ' + hint) if hint else ''}")


def _write(session: Session, item: dict, action: str, actor: User, values: dict, *,
           reason: str | None = None) -> tuple[dict, dict]:
    queries.durable(session)
    changes = accounts.changes_between({k: item[k] for k in values}, values)
    queries.update_initiative(session, item["id"], values)
    entry = accounts.record(session, "initiative", item["id"], action, actor, changes=changes, reason=reason)
    return get(session, item["id"]), entry.changes  # as stored: JSON values, dates as ISO text


def publish(session: Session, initiative_id: int, actor: User, *, today: dt.date | None = None) -> tuple[dict, dict]:
    """pending or archived -> published, verified today. Returns (the initiative, its changes)."""
    item = get(session, initiative_id, lock=True)
    _refuse(item, "publish", ("pending", "archived"),
            "Een gepubliceerd initiatief markeer je als gecontroleerd." if item["status"] == "published" else "")
    return _write(session, item, "publish", actor,
                  {"status": "published", "last_verified": today or dt.date.today()})


def reject(session: Session, initiative_id: int, actor: User, reason: str | None) -> tuple[dict, dict]:
    """pending -> rejected, with a reason (required, kept in the audit log)."""
    try:
        text = clean_text(reason, REASON_MAX) if isinstance(reason, str) else None
    except Invalid as exc:
        raise InvalidParameter(f"De reden {exc}.") from None
    if not text:
        raise InvalidParameter("Geef een reden voor de afwijzing.", code="MissingParameterValue")
    item = get(session, initiative_id, lock=True)
    _refuse(item, "reject", ("pending",),
            "Archiveer een gepubliceerd initiatief dat niet meer bestaat." if item["status"] == "published" else "")
    return _write(session, item, "reject", actor, {"status": "rejected"}, reason=text)


def archive(session: Session, initiative_id: int, actor: User) -> tuple[dict, dict]:
    """published -> archived (it no longer exists; it leaves the map but stays in the database)."""
    item = get(session, initiative_id, lock=True)
    _refuse(item, "archive", ("published",),
            "Wijs een aanmelding af in plaats van haar te archiveren." if item["status"] == "pending" else "")
    return _write(session, item, "archive", actor, {"status": "archived"})


def verify(session: Session, initiative_id: int, actor: User, *, today: dt.date | None = None) -> tuple[dict, dict]:
    """A published initiative was checked: last_verified = today."""
    item = get(session, initiative_id, lock=True)
    _refuse(item, "verify", ("published",),
            "Publiceren telt ook als controle." if item["status"] == "pending" else "")
    return _write(session, item, "verify", actor, {"last_verified": today or dt.date.today()})


def _same_point(item: dict, lon: float, lat: float) -> bool:
    # forms show 6 decimals (about 10 cm): a point sent back unchanged is no move
    return round(item["lon"], 6) == round(lon, 6) and round(item["lat"], 6) == round(lat, 6)


def edit(session: Session, initiative_id: int, actor: User, raw: Mapping[str, object]) -> tuple[dict, dict]:
    """Change any public field given in `raw` (FIELDS, and lat+lon to move the point); only what differs is
    written and audited. SubmissionInvalid (nothing written) names every wrong or unknown field."""
    unknown = [name for name in raw if name not in FIELDS and name not in POINT_FIELDS]
    problems = {name: "dit veld bestaat niet of kan niet worden bewerkt (status: gebruik publiceren, afwijzen, "
                      "archiveren of controleren)" for name in unknown}
    values, wrong = clean_fields(raw, [name for name in FIELDS if name in raw])
    problems.update(wrong)
    point = None
    if "lat" in raw or "lon" in raw:
        try:
            point = clean_point(raw.get("lat"), raw.get("lon"))
            if point is None:
                raise Invalid("een initiatief heeft altijd een plek; geef lat én lon")
        except Invalid as exc:
            problems["lat"] = str(exc)
    if problems:
        raise SubmissionInvalid(problems)
    item = get(session, initiative_id, lock=True)
    _refuse(item, "edit", ("pending", "published", "archived"))
    changes = accounts.changes_between({k: item[k] for k in values}, values)
    moved = point is not None and not _same_point(item, point.lon, point.lat)
    if not changes and not moved:
        return item, {}
    queries.durable(session)
    update = {name: values[name] for name in changes}
    if moved:
        update["location_precision"] = "manual"
    queries.update_initiative(session, item["id"], update, (point.lon, point.lat) if moved else None)
    after = get(session, item["id"])
    if moved:
        changes["location"] = [point_label(item["lon"], item["lat"]), point_label(after["lon"], after["lat"])]
        for name in ("location_precision", "gemeentecode", "wijkcode", "buurtcode"):
            if item[name] != after[name]:
                changes[name] = [item[name], after[name]]
    entry = accounts.record(session, "initiative", item["id"], "edit", actor, changes=changes)
    return after, entry.changes


def apply(session: Session, action: str, initiative_id: int, actor: User, *,
          reason: str | None = None) -> tuple[dict, dict]:
    """One of ACTIONS by name (for the API and the pages)."""
    if action == "reject":
        return reject(session, initiative_id, actor, reason)
    if action not in ACTIONS:
        raise NotFound(f"Onbekende handeling '{action[:30]}'.")
    return {"publish": publish, "archive": archive, "verify": verify}[action](session, initiative_id, actor)

