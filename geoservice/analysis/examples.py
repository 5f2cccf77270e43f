"""Saying so when figures count example data: demo initiatives and partners (`geoservice demo`) or benchmark rows.

Gap figures cross borders (an initiative nearby may lie in the next gemeente, a partner's area spans several), so
as soon as the database holds any example initiative or partner every answer of the analysis says so: pages in
a notice, downloads in a `demo_data` column or a `demo` member.
"""

from __future__ import annotations

from ..queries import trust as queries
from .versioned import PerDataVersion

# two counts over every published initiative: asked by every dashboard and download, so kept per data version
TOTALS = PerDataVersion(size=4)


def _number(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _part(examples: int, total: int, one: str, many: str, where: str = "") -> str:
    """'372 van de 372 initiatieven zijn voorbeelden' (where: ' in deze gemeente' after the noun)."""
    verb = "is een voorbeeld" if examples == 1 else "zijn voorbeelden"
    return f"{_number(examples)} van de {_number(total)} {one if total == 1 else many}{where} {verb}"


def example_figures(conn) -> dict:
    """Published initiatives and partners (with a service area), all and examples; demo_data and a Dutch note."""
    totals = TOTALS.get(conn, None, lambda: queries.example_totals(conn))
    demo = bool(totals["initiatives_example"] or totals["partners_example"])
    return {**totals, "demo_data": demo, "note": note(totals) if demo else None}


def note(totals: dict) -> str:
    """'Deze cijfers zijn berekend met voorbeelddata: 372 van de 372 initiatieven zijn voorbeelden, …'."""
    parts = []
    if totals["initiatives_example"]:
        parts.append(_part(totals["initiatives_example"], totals["initiatives"], "initiatief", "initiatieven"))
    if totals["partners_example"]:
        parts.append(_part(totals["partners_example"], totals["partners"], "partner", "partners"))
    return ("Deze cijfers zijn berekend met voorbeelddata: " + " en ".join(parts)
            + ". Ze laten zien wat de kaart kan; het zijn geen echte cijfers.")


def gemeente_note(summary: dict) -> str | None:
    """What of one gemeente's own figures are examples: '25 van de 25 initiatieven in deze gemeente zijn …'."""
    parts = []
    if summary.get("n_initiatives_example"):
        parts.append(_part(summary["n_initiatives_example"], summary["n_initiatives"], "initiatief", "initiatieven",
                           " in deze gemeente"))
    if summary.get("partners_active_example"):
        parts.append(_part(summary["partners_active_example"], summary["partners_active"], "partner", "partners",
                           " die hier werken"))
    return (" en ".join(parts) + ".") if parts else None
