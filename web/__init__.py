"""The pages people see: a Flask blueprint with Folium map builders, Jinja templates and static files."""

from flask import Blueprint, render_template

pages = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/static/web")

ERROR_TITLES = {400: "Dat klopt niet helemaal", 401: "Inloggen nodig", 403: "Geen toegang", 404: "Niet gevonden",
                413: "Bestand te groot", 429: "Even geduld", 503: "Even niet beschikbaar"}


def render_error(status: int, message: str) -> str:
    """A Dutch error page; never a stack trace."""
    return render_template("error.html", status=status, title=ERROR_TITLES.get(status, "Er ging iets mis"),
                           message=message)


from . import assets, filters, views  # noqa: E402,F401
