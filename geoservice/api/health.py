"""GET /healthz: is the database reachable, which CBS year is active, how many areas per level."""

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .. import queries
from ..db import get_session

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    session = get_session()
    try:
        jaar = queries.active_year(session)
        counts = queries.area_counts(session, jaar) if jaar else {}
    except SQLAlchemyError as exc:
        body = {"status": "error", "database": "unreachable",
                "description": str(exc.orig or exc).splitlines()[0][:200]}
        return jsonify(body), 503
    status = "ok" if jaar else "no_data"
    return jsonify({"status": status, "database": "ok", "cbs_jaar": jaar, "counts": counts})
