"""Municipalities: the national overview (`/gemeenten`) and one gemeente's dashboard (`/gemeente/<code>`)."""

from .. import pages


@pages.get("/gemeenten")
def gemeenten():
    return "TODO", 501


@pages.get("/gemeente/<code>")
def gemeente(code: str):
    return "TODO", 501
