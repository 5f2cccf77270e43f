"""Synthetic initiatives for the demo (source=demo) and benchmarks (source=bench).

Nothing here is real: names end in "(voorbeeld)", descriptions say so, and the
source column tells the rows apart so `geoservice demo --clear` removes exactly them.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import Connection, delete, func, insert, select

from .models import RD_NEW, Initiative, Partner
from .queries.areas import assign_initiative_areas
from .queries.gaps import refresh_kept
from .queries.synthetic import insert_radius_service_areas, population_by_area, random_points
from .vocab import THEMES

DEMO_SOURCE = "demo"
DEMO_MARK = "(voorbeeld)"
DEMO_DESCRIPTION = "Voorbeelddata: dit initiatief bestaat niet. Het laat zien wat de kaart kan."

# Kinds in rough proportion to how often the coalition meets them, each with likely themes.
KIND_WEIGHTS = {
    "bewonersinitiatief": 30, "vrijwilligersgroep": 18, "wijkcooperatie": 8, "lokaal_fonds": 4,
    "wijkbedrijf": 5, "wooncooperatie": 4, "energiecooperatie": 12, "zorgcooperatie": 9, "overig": 10,
}
NAME_STEMS = {
    "bewonersinitiatief": ["Buurtmoestuin", "Bewonersgroep", "Buurtkamer", "Speeltuinvereniging", "Repair Café"],
    "vrijwilligersgroep": ["Taalcafé", "Boodschappendienst", "Maatjesproject", "Huiswerkklas", "Buurtbus"],
    "wijkcooperatie": ["Wijkcoöperatie", "Dorpscoöperatie"],
    "lokaal_fonds": ["Buurtfonds", "Dorpsfonds"],
    "wijkbedrijf": ["Wijkbedrijf", "Buurtwerkplaats"],
    "wooncooperatie": ["Wooncoöperatie", "Knarrenhof-initiatief"],
    "energiecooperatie": ["Energiecoöperatie", "Zonnedak-collectief"],
    "zorgcooperatie": ["Zorgcoöperatie", "Zorgzame buurt"],
    "overig": ["Buurtinitiatief", "Ontmoetingsplek"],
}
KIND_THEMES = {
    "energiecooperatie": ["energie_klimaat"],
    "zorgcooperatie": ["zorg_welzijn", "ouderen"],
    "wooncooperatie": ["wonen"],
    "lokaal_fonds": ["armoede_schulden", "werk_economie"],
    "wijkbedrijf": ["werk_economie", "openbare_ruimte"],
}


@dataclass(frozen=True)
class SpreadPlan:
    """`total` initiatives over the populated wijken/buurten of some gemeenten, weighted by inhabitants."""

    level: str
    total: int
    gemeenten: list[str] | None = None
    exclude_gemeenten: list[str] | None = None


def allocate(weights: dict[str, int], total: int) -> dict[str, int]:
    """Split total over keys in proportion to weights (largest remainder, deterministic)."""
    whole = sum(weights.values())
    if whole <= 0 or total <= 0:
        return {key: 0 for key in weights}
    exact = {key: total * w / whole for key, w in weights.items()}
    counts = {key: int(v) for key, v in exact.items()}
    rest = total - sum(counts.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), k))[:rest]:
        counts[key] += 1
    return counts


def generate_initiatives(conn: Connection, plans: list[SpreadPlan], *, source: str, seed: int,
                         status_mix: bool = True) -> int:
    """Insert synthetic initiatives following the plans; returns how many."""
    rng = random.Random(seed)
    today = dt.date(2026, 1, 1)  # fixed, so the same seed gives the same rows
    rows = []
    for plan_number, plan in enumerate(plans):
        areas = population_by_area(conn, plan.level, gemeenten=plan.gemeenten,
                                   exclude_gemeenten=plan.exclude_gemeenten)
        names = {code: naam for code, naam, _ in areas}
        counts = allocate({code: pop for code, _, pop in areas}, plan.total)
        for code, x, y in random_points(conn, plan.level, counts, seed + plan_number):
            kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
            themes = set(KIND_THEMES.get(kind, [])) or {rng.choice(list(THEMES))}
            themes |= set(rng.sample(list(THEMES), rng.randint(0, 2)))
            number = len(rows) + 1
            rows.append({
                "source": source,
                "external_id": f"{source}-{number:06d}",
                "name": f"{rng.choice(NAME_STEMS[kind])} {names.get(code) or code} {DEMO_MARK}",
                "kind": kind,
                "themes": sorted(themes),
                "description": DEMO_DESCRIPTION,
                "website": f"https://example.org/voorbeeld/{number}",
                "location": from_shape(Point(round(x, 2), round(y, 2)), srid=RD_NEW),
                "location_precision": "manual",
                "status": _status(rng) if status_mix else "published",
                "last_verified": today - dt.timedelta(days=rng.randint(0, 730)),
            })
    for start in range(0, len(rows), 5000):
        conn.execute(insert(Initiative), rows[start:start + 5000])
    assign_initiative_areas(conn)
    return len(rows)


def generate_partners(conn: Connection, partners: int, areas_per_partner: int, *, source: str, seed: int) -> int:
    """Synthetic partners, each with circular service areas where people live; returns the number of areas."""
    rng = random.Random(seed)
    kinds = ["regionale_ondersteuner", "lokale_ondersteuner", "fonds", "welzijnsorganisatie"]
    services = ["advies", "financiering", "training", "netwerk_kennisdeling", "vrijwilligers"]
    rows = [{"name": f"Synthetische partner {n:04d} {DEMO_MARK}", "kind": rng.choice(kinds),
             "services": sorted(rng.sample(services, rng.randint(1, 3))), "source": source,
             "description": DEMO_DESCRIPTION.replace("dit initiatief", "deze organisatie")}
            for n in range(1, partners + 1)]
    ids = list(conn.execute(insert(Partner).returning(Partner.id), rows).scalars())
    return insert_radius_service_areas(conn, ids, areas_per_partner, seed)


def _status(rng: random.Random) -> str:
    # A few pending and archived ones, so moderation and filters have something to show.
    roll = rng.random()
    return "pending" if roll < 0.04 else "archived" if roll < 0.06 else "published"


def remove_initiatives(conn: Connection, source: str) -> int:
    return conn.execute(delete(Initiative).where(Initiative.source == source)).rowcount


DEMO_PLANS = [
    SpreadPlan("buurt", 40, gemeenten=["GM0308"]),          # Baarn, by buurt population
    SpreadPlan("wijk", 120, gemeenten=["GM0363"]),          # Amsterdam (its buurten carry no population)
    SpreadPlan("wijk", 240, exclude_gemeenten=["GM0308", "GM0363"]),  # the rest of the country
]


# Fictional supporters with service areas of every kind of definition; names say "(voorbeeld)".
DEMO_PARTNERS = [
    {"name": "Steunpunt Bewonersinitiatieven Baarn (voorbeeld)", "id": "demo-steunpunt-baarn",
     "kind": "lokale_ondersteuner", "services": ["advies", "netwerk en kennisdeling", "vrijwilligers"], "themes": [],
     "description": DEMO_DESCRIPTION.replace("dit initiatief", "deze organisatie"),
     "website": "https://example.org/voorbeeld/steunpunt-baarn",
     "service_areas": [{"name": "Gemeente Baarn", "codes": ["GM0308"]}]},
    {"name": "Energieloket Eemland (voorbeeld)", "id": "demo-energieloket-eemland",
     "kind": "regionale_ondersteuner", "services": ["advies", "training"], "themes": ["energie_klimaat", "wonen"],
     "description": DEMO_DESCRIPTION.replace("dit initiatief", "deze organisatie"),
     "service_areas": [{"name": "Rond het loket", "point": {"lat": 52.2115, "lon": 5.2860}, "radius_m": 4000}]},
    {"name": "Buurtfonds Amsterdam-Noord (voorbeeld)", "id": "demo-buurtfonds-noord",
     "kind": "fonds", "services": ["financiering"], "themes": ["ontmoeting", "groen_natuur", "jeugd"],
     "description": DEMO_DESCRIPTION.replace("dit initiatief", "deze organisatie"),
     "service_areas": [{"name": "Noord-West", "codes": ["WK0363NA", "WK0363NB", "WK0363NC", "WK0363ND"]},
                       {"name": "Nieuwendam", "codes": ["WK0363NF", "WK0363NG"]}]},
    {"name": "Wijkcoöperatie-netwerk Amsterdam Centrum (voorbeeld)", "id": "demo-netwerk-centrum",
     "kind": "regionale_ondersteuner", "services": ["netwerk en kennisdeling", "juridisch", "training"], "themes": [],
     "description": DEMO_DESCRIPTION.replace("dit initiatief", "deze organisatie"),
     "service_areas": [{"name": "Binnenstad", "codes": ["WK0363AA", "WK0363AB", "WK0363AC", "WK0363AD",
                                                        "WK0363AE", "WK0363AF"]}]},
    {"name": "Woningcorporatie Utrechtse Heuvelrug (voorbeeld)", "id": "demo-corporatie-heuvelrug",
     "kind": "woningcorporatie", "services": ["ruimte en locatie"], "themes": ["wonen", "ontmoeting"],
     "description": DEMO_DESCRIPTION.replace("dit initiatief", "deze organisatie"),
     "service_areas": [{"name": "Werkgebied", "codes": ["GM0308", "GM0355", "GM0345"]}]},
    {"name": "Landelijk Netwerk Zorgzame Buurten (voorbeeld)", "id": "demo-landelijk-zorg",
     "kind": "landelijk_netwerk", "services": ["advies", "netwerk en kennisdeling"],
     "themes": ["zorg_welzijn", "ouderen"],
     "description": DEMO_DESCRIPTION.replace("dit initiatief", "deze organisatie"),
     "service_areas": [{"name": "Drenthe-proef", "codes": ["GM1680", "GM0106", "GM0109", "GM0114"]}]},
    {"name": "Energiefonds Baarn (voorbeeld)", "id": "demo-energiefonds-baarn",
     "kind": "fonds", "services": ["financiering"], "themes": ["energie_klimaat"],
     "description": DEMO_DESCRIPTION.replace("dit initiatief", "deze organisatie"),
     "website": "https://example.org/voorbeeld/energiefonds-baarn", "email": "fonds@example.org",
     "service_areas": [{"name": "Gemeente Baarn", "codes": ["GM0308"]}]},
]


def load_demo(engine, *, seed: int = 2024) -> dict | None:
    """Add the demo initiatives and partners in one transaction; None when they are there already."""
    from .imports.partners import apply_partners

    with engine.begin() as conn:
        present = conn.execute(select(func.count()).select_from(Initiative)
                               .where(Initiative.source == DEMO_SOURCE)).scalar()
        if present:
            return None
        report = apply_partners(conn, DEMO_PARTNERS, source=DEMO_SOURCE)
        if report.problems:  # the demo definitions are ours: a problem here is a bug, not user input
            raise RuntimeError("demo partners refused: " + "; ".join(p.line() for p in report.problems))
        count = generate_initiatives(conn, DEMO_PLANS, source=DEMO_SOURCE, seed=seed)
        refresh_kept(conn)  # the gap analysis' stored figures follow the new initiatives and partners
    return {"initiatives": count, "partners": report.inserted + report.updated + report.unchanged}


def clear_demo(engine) -> dict:
    """Remove everything the demo added (source=demo); service areas go with their partners."""
    with engine.begin() as conn:
        initiatives = remove_initiatives(conn, DEMO_SOURCE)
        partners = conn.execute(delete(Partner).where(Partner.source == DEMO_SOURCE)).rowcount
        refresh_kept(conn)  # the gap analysis' stored figures: their initiatives and service areas went
    return {"initiatives": initiatives, "partners": partners}
