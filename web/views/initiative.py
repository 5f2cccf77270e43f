"""One initiative (`/initiatief/<id>`)."""

from .. import pages


@pages.get("/initiatief/<int:initiative_id>")
def initiative(initiative_id: int):
    return "TODO", 501
