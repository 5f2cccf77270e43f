"""The newest published initiatives for the Atom feeds: of a listing's filter, or near a partner's service areas."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from .initiatives import PUBLIC_COLUMNS, InitiativeFilter, _as_dict, _list_filters, _LIST_FILTERS

_COLUMNS = ", ".join(f"i.{name}" for name in PUBLIC_COLUMNS)
_RECENT = """
SELECT {columns}, ST_X(ST_Transform(i.location, 4326)) AS lon, ST_Y(ST_Transform(i.location, 4326)) AS lat
FROM initiative AS i
WHERE i.status = 'published'{where}
ORDER BY i.updated_at DESC, i.id DESC
LIMIT :limit"""
# Inside one of the partner's service areas, or within reach_m of one.
_NEAR_PARTNER = (" AND EXISTS (SELECT 1 FROM service_area AS sa WHERE sa.partner_id = :partner_id"
                 " AND ST_DWithin(sa.geom, i.location, :reach_m))")


def recent_initiatives(session: Session, flt: InitiativeFilter, *, limit: int) -> list[dict]:
    """The last published or updated initiatives matching flt, newest first."""
    names, params = _list_filters(flt)
    where = "".join(_LIST_FILTERS[name] for name in names)
    statement = text(_RECENT.format(columns=_COLUMNS, where=where))
    return [_as_dict(row) for row in session.connection().execute(statement, {**params, "limit": limit})]


def recent_near_partner(session: Session, partner_id: int, *, reach_m: int, limit: int) -> list[dict]:
    """The last published or updated initiatives in or within reach_m of a partner's service areas."""
    statement = text(_RECENT.format(columns=_COLUMNS, where=_NEAR_PARTNER))
    rows = session.connection().execute(statement, {"partner_id": partner_id, "reach_m": reach_m, "limit": limit})
    return [_as_dict(row) for row in rows]
