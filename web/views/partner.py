"""Partners: planning page with service areas, white spots within reach and outreach regions."""

from .. import pages


@pages.get("/partner/<int:partner_id>")
def partner(partner_id: int):
    return "TODO", 501
