"""'Waar eerst?' on the dashboards: the need controls, the map modes by need or priority, and the ten white spots
to act on first. The figures come from the analysis (geoservice.analysis.need); this module only arranges them.
"""

from __future__ import annotations

from geoservice.analysis import need as need_analysis
from geoservice.errors import InvalidParameter
from geoservice.params import parse_choice

from . import filters

# ?kaart= on a gemeente's dashboard: what colours its units
UNIT_KAARTEN = {"status": "Status", "behoefte": "Behoefte", "prioriteit": "Prioriteit"}
DEFAULT_UNIT_KAART = "status"
KAART_PROPERTY = {"behoefte": "need", "prioriteit": "priority"}
# the weights a page offers per indicator (the API takes any from 0 to 100)
WEIGHTS = {0: "telt niet", 1: "telt", 2: "telt dubbel", 3: "telt driedubbel"}
TOP = 10
MISSING_COLOUR = "#bdbdbd"
# light to dark; the value is always written beside the colour (legend, tooltip, table)
NEED_BINS = [0.2, 0.4, 0.6, 0.8]
COLOURS = ["#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f", "#990000"]


def parse_kaart(args) -> str:
    return parse_choice("kaart", args.get("kaart"), tuple(UNIT_KAARTEN), default=DEFAULT_UNIT_KAART)


def parse_page_need(args) -> tuple[tuple[str, float], ...]:
    """The need setting of a page: a weight field per indicator (need_<key>, from the form), else need=…."""
    fields = {key: args.get(f"need_{key}") for key in need_analysis.INDICATOR_KEYS}
    if all(value is None for value in fields.values()):
        return need_analysis.parse_need(args.get("need"))
    pairs = []
    for key, raw in fields.items():
        try:
            weight = int(raw or 0)
        except ValueError:
            weight = -1
        if weight not in WEIGHTS:
            raise InvalidParameter(f"Kies bij '{need_analysis.DESCRIPTIONS[key]['label']}' een van de gewichten "
                                   f"0 tot {max(WEIGHTS)}.")
        if weight:
            pairs.append((key, float(weight)))
    if not pairs:
        raise InvalidParameter("Laat minstens één indicator van de behoefte meetellen.")
    return tuple(pairs)


def need_arg(need: tuple[tuple[str, float], ...]) -> dict:
    """need=… for URLs, left out when it is the default."""
    return {} if need == need_analysis.DEFAULT_NEED else {"need": need_analysis.need_text(need)}


def need_fields(need: tuple[tuple[str, float], ...]) -> list[dict]:
    """The form's rows: key, label, description, the weight chosen (0 = not counted)."""
    weights = dict(need)
    return [{"key": key, "label": need_analysis.DESCRIPTIONS[key]["label"],
             "description": need_analysis.DESCRIPTIONS[key]["description"],
             "weight": int(round(weights.get(key, 0)))} for key in need_analysis.INDICATOR_KEYS]


def waar_eerst(units: list[dict], top: int = TOP) -> list[dict]:
    """The white spots with the highest priority, highest first (ties: most inhabitants, then code)."""
    ranked = [u for u in units if u["status"] == "white_spot" and u.get("priority") is not None]
    ranked.sort(key=lambda u: (-u["priority"], -(u["aantal_inwoners"] or 0), u["code"]))
    return ranked[:top]


def need_words(unit: dict) -> str:
    """The need in words for a list: 'veel ouderen, veel alleenwonenden', or what the scores say otherwise."""
    if unit.get("need") is None:
        return "onbekend"
    if unit.get("need_reasons"):
        return unit["need_reasons"]
    return "boven het midden, geen uitschieters" if unit["need"] >= 0.5 else "onder het midden"


def _nice(value: float) -> float:
    """A round class bound: value to two significant digits (3,841 → 3,800; 47.2 → 47)."""
    if value < 1:
        return 0
    magnitude = 10 ** max(len(str(int(value))) - 2, 0)
    return int(value // magnitude * magnitude)


def map_mode(kaart: str, units: list[dict]) -> dict | None:
    """Layer options and legend rows for a map by need or priority (None: by status). Priority classes follow
    this gemeente's own priorities (quintiles, rounded), since they scale with the size of its units."""
    prop = KAART_PROPERTY.get(kaart)
    if prop is None:
        return None
    if prop == "need":
        bins, show = NEED_BINS, lambda v: filters.number(v, 1)
        missing = "onbekend (geen cijfers)"
    else:
        values = sorted(u["priority"] for u in units if u.get("priority"))
        bins = []
        for share in (0.2, 0.4, 0.6, 0.8):
            bound = _nice(values[int(share * (len(values) - 1))]) if values else 0
            if bound and (not bins or bound > bins[-1]):
                bins.append(bound)
        bins = bins or [1]
        show = filters.number
        missing = "geen prioriteit (geen witte vlek, of behoefte onbekend)"
    colours = COLOURS[-(len(bins) + 1):]  # fewer classes: the darker ones
    legend = [{"label": f"minder dan {show(bins[0])}", "colour": colours[0]}]
    legend += [{"label": f"{show(low)} tot {show(high)}", "colour": colour}
               for low, high, colour in zip(bins, bins[1:], colours[1:])]
    legend.append({"label": f"{show(bins[-1])} of meer", "colour": colours[len(bins)]})
    legend.append({"label": missing, "colour": MISSING_COLOUR})
    return {"property": prop, "options": {"property": prop, "bins": bins, "colours": colours,
                                          "missing": MISSING_COLOUR}, "legend": legend,
            "title": UNIT_KAARTEN[kaart]}
