"""OGC API – Features routes (being built)."""

from flask import Blueprint

ogc = Blueprint("ogc", __name__, url_prefix="/ogc")
