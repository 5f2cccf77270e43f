"""Logging in (`/inloggen`) and out (`/uitloggen`) for moderators, admins and partner editors."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from geoservice import accounts
from geoservice.auth import current_user, login_user, logout_user, safe_next
from geoservice.db import get_session
from geoservice.serving import ratelimit

from .. import pages

WRONG_CREDENTIALS = "Dit e-mailadres en wachtwoord horen niet bij elkaar, of het account is niet actief."
MAX_EMAIL = 320


@pages.route("/inloggen", methods=["GET", "POST"])
def inloggen():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        # logged in already: the page says as whom, with the way out (and on)
        return render_template("inloggen.html", next=target, email="", error=None, user=current_user())
    ratelimit.enforce(ratelimit.LOGIN)
    email = request.form.get("email", "").strip()[:MAX_EMAIL]
    user = accounts.authenticate(get_session(), email, request.form.get("password", ""))
    if user is None:
        return render_template("inloggen.html", next=target, email=email, error=WRONG_CREDENTIALS, user=None), 401
    login_user(user)
    return redirect(target, code=303)


@pages.post("/uitloggen")
def uitloggen():
    logout_user()
    return redirect(url_for("web.index"), code=303)
