"""Every spatial select and spatial write of the service, one module per concept. No Flask here."""

from .areas import active_year, area_counts, assign_initiative_areas, lookup_point  # noqa: F401
