"""Controlled vocabularies: stable keys with Dutch labels, and parsers that accept either."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

INITIATIVE_KINDS = {
    "bewonersinitiatief": "Bewonersinitiatief",
    "vrijwilligersgroep": "Vrijwilligersgroep",
    "wijkcooperatie": "Wijkcoöperatie",
    "lokaal_fonds": "Lokaal fonds",
    "wijkbedrijf": "Wijkbedrijf",
    "wooncooperatie": "Wooncoöperatie",
    "energiecooperatie": "Energiecoöperatie",
    "zorgcooperatie": "Zorgcoöperatie (zorgzaam initiatief)",
    "overig": "Overig",
}

THEMES = {
    "zorg_welzijn": "Zorg en welzijn",
    "energie_klimaat": "Energie en klimaat",
    "wonen": "Wonen",
    "groen_natuur": "Groen en natuur",
    "voedsel": "Voedsel",
    "ontmoeting": "Ontmoeting",
    "armoede_schulden": "Armoede en schulden",
    "jeugd": "Jeugd",
    "ouderen": "Ouderen",
    "cultuur": "Cultuur",
    "sport_bewegen": "Sport en bewegen",
    "mobiliteit": "Mobiliteit",
    "werk_economie": "Werk en economie",
    "veiligheid": "Veiligheid",
    "openbare_ruimte": "Openbare ruimte",
    "digitaal": "Digitaal",
}

PARTNER_KINDS = {
    "landelijk_netwerk": "Landelijk netwerk",
    "regionale_ondersteuner": "Regionale ondersteuner",
    "lokale_ondersteuner": "Lokale ondersteuner",
    "fonds": "Fonds",
    "gemeente": "Gemeente",
    "woningcorporatie": "Woningcorporatie",
    "welzijnsorganisatie": "Welzijnsorganisatie",
    "overig": "Overig",
}

SERVICES = {
    "advies": "Advies",
    "financiering": "Financiering",
    "juridisch": "Juridisch",
    "netwerk_kennisdeling": "Netwerk en kennisdeling",
    "training": "Training",
    "ruimte_locatie": "Ruimte en locatie",
    "vrijwilligers": "Vrijwilligers",
}

STATUSES = {"pending": "In behandeling", "published": "Gepubliceerd", "archived": "Gearchiveerd",
            "rejected": "Afgewezen"}
PRECISIONS = {"address": "Adres", "postcode": "Postcode", "manual": "Handmatig"}
SERVICE_AREA_TYPES = ("codes", "radius", "geojson")


@lru_cache(maxsize=4096)  # a file repeats the same few kinds and themes on every row
def _fold(text: str) -> str:
    """Case, accents, spaces, dashes and underscores ignored: 'Wijkcoöperatie' == 'wijkcooperatie'."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in plain if c.isalnum())


def _index(vocabulary: dict[str, str]) -> dict[str, str]:
    index = {}
    for key, label in vocabulary.items():
        index[_fold(key)] = key
        index[_fold(label)] = key
    return index


_INDEXES: dict[int, dict[str, str]] = {}


def parse_term(vocabulary: dict[str, str], raw: str, what: str) -> str:
    """The key for a key or label; ValueError (Dutch, listing the options) otherwise."""
    index = _INDEXES.get(id(vocabulary))
    if index is None:  # built once per vocabulary (the vocabularies are module constants)
        index = _INDEXES[id(vocabulary)] = _index(vocabulary)
    key = index.get(_fold(raw or ""))
    if key is None:
        options = ", ".join(vocabulary)
        raise ValueError(f"onbekend(e) {what} '{(raw or '').strip()[:60]}'; kies uit: {options}")
    return key


def parse_terms(vocabulary: dict[str, str], raw: str | list | tuple | None, what: str,
                separator: str = ";") -> list[str]:
    """A sorted, de-duplicated list of keys from 'a;b' or a list; empty input gives []."""
    if raw is None:
        return []
    items = raw.split(separator) if isinstance(raw, str) else list(raw)
    keys = {parse_term(vocabulary, str(item), what) for item in items if str(item).strip()}
    return sorted(keys)


def kind(raw: str) -> str:
    return parse_term(INITIATIVE_KINDS, raw, "soort")


def themes(raw) -> list[str]:
    return parse_terms(THEMES, raw, "thema")


def partner_kind(raw: str) -> str:
    return parse_term(PARTNER_KINDS, raw, "soort partner")


def services(raw) -> list[str]:
    return parse_terms(SERVICES, raw, "dienst")
