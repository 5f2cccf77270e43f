"""The pages people see: a Flask blueprint with Jinja templates and static files."""

from flask import Blueprint, render_template

pages = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/static/web")


def render_error(status: int, message: str) -> str:
    return render_template("error.html", status=status, message=message)


from . import views  # noqa: E402,F401
