"""About the map (`/over`) and the accessibility statement (`/toegankelijkheid`)."""

from flask import render_template

from .. import pages


@pages.get("/over")
def over():
    return render_template("over.html")


@pages.get("/toegankelijkheid")
def toegankelijkheid():
    return render_template("toegankelijkheid.html")
