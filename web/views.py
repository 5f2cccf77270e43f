"""Page handlers: thin, they call queries and render templates."""

from flask import render_template

from geoservice import queries
from geoservice.db import get_session

from . import pages


@pages.get("/")
def index():
    session = get_session()
    jaar = queries.active_year(session)
    counts = queries.area_counts(session, jaar) if jaar else {}
    return render_template("index.html", jaar=jaar, counts=counts)
