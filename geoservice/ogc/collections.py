"""The fixed whitelist of OGC API collections: ids, titles, feature-id kinds and property schemas."""

from __future__ import annotations

from dataclasses import dataclass

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# Fallback extent when a collection has no rows yet: the Netherlands, generously.
NL_BBOX = (3.2, 50.7, 7.3, 53.7)


@dataclass(frozen=True)
class Field:
    """One feature property: name, JSON schema type (string, integer, number, boolean, array, date)."""

    name: str
    type: str
    title: str
    nullable: bool = True

    def schema(self) -> dict:
        """OpenAPI 3.0 schema of the property."""
        if self.type == "array":
            schema = {"type": "array", "items": {"type": "string"}}
        elif self.type == "date":
            schema = {"type": "string", "format": "date"}
        else:
            schema = {"type": self.type}
        return {**schema, "title": self.title, **({"nullable": True} if self.nullable else {})}


@dataclass(frozen=True)
class Collection:
    """A collection's metadata; the SQL that reads it lives in geoservice.queries.ogc."""

    id: str
    title: str
    description: str
    id_type: str  # "string" (CBS codes) or "integer" (database ids)
    geometry_type: str  # GeoJSON geometry type of every feature
    fields: tuple[Field, ...]

    @property
    def property_names(self) -> list[str]:
        return [f.name for f in self.fields]


_AREA_FIGURES = (
    Field("jaar", "integer", "CBS-jaar van de kaart", nullable=False),
    Field("aantal_inwoners", "integer", "Aantal inwoners"),
    Field("aantal_huishoudens", "integer", "Aantal huishoudens"),
    Field("pct_0_15", "number", "% inwoners van 0 tot 15 jaar"),
    Field("pct_65plus", "number", "% inwoners van 65 jaar en ouder"),
    Field("bevolkingsdichtheid", "number", "Inwoners per km²"),
    Field("oppervlakte_land_ha", "number", "Oppervlakte land in hectare"),
    Field("water", "boolean", "Vooral water"),
)
_CODE = Field("code", "string", "CBS-code", nullable=False)
_NAAM = Field("naam", "string", "Naam")
_GM = Field("gemeentecode", "string", "Code van de gemeente", nullable=False)
_WK = Field("wijkcode", "string", "Code van de wijk", nullable=False)
# An initiative's areas are derived from its location; outside every loaded area they are null.
_AREA_CODES = (Field("gemeentecode", "string", "Code van de gemeente waarin het ligt"),
               Field("wijkcode", "string", "Code van de wijk waarin het ligt"),
               Field("buurtcode", "string", "Code van de buurt waarin het ligt (null waar geen buurten geladen zijn)"))
_SOURCE = "Bron: CBS / Kadaster, Wijk- en Buurtkaart (CC BY 4.0)."

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(
        "gemeenten", "Gemeenten",
        f"Alle gemeenten van het actieve CBS-jaar, met kerncijfers. {_SOURCE}",
        "string", "MultiPolygon", (_CODE, _NAAM, *_AREA_FIGURES),
    ),
    Collection(
        "wijken", "Wijken",
        f"De wijken van het actieve CBS-jaar, met kerncijfers. {_SOURCE}",
        "string", "MultiPolygon", (_CODE, _NAAM, _GM, *_AREA_FIGURES),
    ),
    Collection(
        "buurten", "Buurten",
        f"De geladen buurten van het actieve CBS-jaar, met kerncijfers. {_SOURCE}",
        "string", "MultiPolygon", (_CODE, _NAAM, _WK, _GM, *_AREA_FIGURES),
    ),
    Collection(
        "initiatives", "Initiatieven",
        "Gepubliceerde initiatieven: bewonersinitiatieven, wijkcoöperaties, lokale fondsen en meer. "
        "De gemeente-, wijk- en buurtcode horen bij het actieve CBS-jaar.",
        "integer", "Point", (
            Field("id", "integer", "Nummer van het initiatief", nullable=False),
            Field("name", "string", "Naam", nullable=False),
            Field("kind", "string", "Soort initiatief", nullable=False),
            Field("themes", "array", "Thema's", nullable=False),
            Field("description", "string", "Beschrijving"),
            Field("website", "string", "Website"),
            Field("address", "string", "Adres"),
            Field("postcode", "string", "Postcode"),
            *_AREA_CODES,
            Field("last_verified", "date", "Laatst gecontroleerd"),
            Field("location_precision", "string", "Nauwkeurigheid van de locatie (address, postcode, manual)",
                  nullable=False),
        ),
    ),
    Collection(
        "service_areas", "Werkgebieden van partners",
        "Waar ondersteunende organisaties werken: per partner een of meer werkgebieden.",
        "integer", "MultiPolygon", (
            Field("id", "integer", "Nummer van het werkgebied", nullable=False),
            Field("partner_id", "integer", "Nummer van de partner", nullable=False),
            Field("partner_name", "string", "Naam van de partner", nullable=False),
            Field("partner_services", "array", "Diensten van de partner", nullable=False),
            Field("partner_themes", "array", "Thema's waarbij de partner helpt; leeg: alle thema's", nullable=False),
            Field("name", "string", "Naam van het werkgebied", nullable=False),
            Field("definition_type", "string", "Hoe het gebied is bepaald (codes, radius, geojson)", nullable=False),
        ),
    ),
)}

