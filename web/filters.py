"""Template filters and globals shared by every page: labels, numbers, safe links."""

from __future__ import annotations

from urllib.parse import urlsplit

from geoservice.analysis.gaps import STATUS_LABELS
from geoservice.vocab import INITIATIVE_KINDS, PARTNER_KINDS, SERVICES, THEMES

from . import pages

VOCABULARIES = {"kind": INITIATIVE_KINDS, "theme": THEMES, "partner_kind": PARTNER_KINDS,
                "service": SERVICES, "status": STATUS_LABELS}


@pages.app_template_filter("label")
def label(key: str | None, vocabulary: str) -> str:
    """The Dutch label of a vocabulary key (the key itself when unknown)."""
    if key is None:
        return ""
    return VOCABULARIES[vocabulary].get(key, key)


@pages.app_template_filter("safe_url")
def safe_url(raw: str | None) -> str | None:
    """The URL when it is http(s), else None: a javascript: or data: 'website' never becomes a link."""
    if not raw:
        return None
    parts = urlsplit(raw.strip())
    return raw.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


@pages.app_template_filter("number")
def number(value, decimals: int = 0) -> str:
    """Dutch number notation: 12.345 and 0,5."""
    if value is None:
        return "onbekend"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


@pages.app_template_filter("percent")
def percent(share, decimals: int = 0) -> str:
    return "onbekend" if share is None else number(share * 100, decimals) + " %"


@pages.app_template_filter("metres")
def metres(value) -> str:
    if value is None:
        return ""
    return f"{round(value)} m" if value < 1000 else number(value / 1000, 1) + " km"


@pages.app_template_filter("distance")
def distance(value, precision: str = "point") -> str:
    """A distance as precise as the point it was measured from: from a postcode area's centre to 100 m."""
    if value is None or precision != "postcode":
        return metres(value)
    rounded = round(value, -2)
    return "minder dan 100 m" if rounded < 100 else metres(rounded)
