"""About the map (`/over`), the accessibility statement (`/toegankelijkheid`) and the privacy statement (`/privacy`)."""

from flask import current_app, redirect, render_template, url_for

from .. import pages

# when the statements were written and last checked against the pages (change with their content)
STATEMENT_DATE = "2 december 2026"


def contact_email() -> str | None:
    return current_app.extensions["geoservice.settings"].contact_email


@pages.get("/over")
def over():
    return render_template("over.html")


@pages.get("/toegankelijkheid")
def toegankelijkheid():
    return render_template("toegankelijkheid.html", contact_email=contact_email(), date=STATEMENT_DATE)


@pages.get("/privacy")
def privacy():
    from geoservice.registry.corrections import KEEP_CONTACT_DAYS
    from geoservice.serving.ratelimit import SUBMIT

    return render_template("privacy.html", contact_email=contact_email(), date=STATEMENT_DATE,
                           keep_months=round(KEEP_CONTACT_DAYS / 30.4), submit_limit=SUBMIT)


@pages.get("/privacyverklaring")
def privacyverklaring():
    return redirect(url_for("web.privacy"), code=301)
