"""Need and priority: how much the people of a unit are likely to need support nearby, and where to act first.

Definitions (README, "Need and priority"): a unit's score on an indicator is its PostgreSQL percent_rank()
among all units of the same level and CBS year that have that figure, ordered towards more need (0 = least,
1 = most; queries/need.py). need is the weighted mean of the unit's scores on the requested indicators that
it has; a buurt with none of them takes its wijk's scores (need_source "wijk"). priority is
aantal_inwoners × need for a white spot, null otherwise. The scores depend only on the CBS figures, so they
are computed once per data version and year, and each request only weighs them.
"""

from __future__ import annotations


from ..errors import InvalidParameter
from ..queries import need as queries
from ..queries.areas import active_year
from .versioned import PerDataVersion

INDICATOR_KEYS = tuple(i.key for i in queries.INDICATORS)
DEFAULT_NEED = tuple((key, 1.0) for key in INDICATOR_KEYS)
MAX_WEIGHT = 100.0
NEED_DECIMALS = 4
PRIORITY_DECIMALS = 1
HIGH_SCORE = 0.75  # a score from here on (the top quarter of the units of its level) is named in words

# For people: what each indicator means, the CBS fields it reads, its direction; the words for a high score.
DESCRIPTIONS = {
    "ouderen": {"label": "Ouderen", "many": "veel ouderen",
                "description": "Aandeel inwoners van 65 jaar en ouder (%).",
                "derivation": "CBS-kolom percentage_personen_65_jaar_en_ouder, zoals geladen (pct_65plus)."},
    "alleenwonend": {"label": "Alleenwonenden", "many": "veel alleenwonenden",
                     "description": "Aandeel eenpersoonshuishoudens van alle huishoudens (%).",
                     "derivation": "percentage_eenpersoonshuishoudens (PDOK-kerncijfers), anders "
                                   "pct_eenpersoonshhd, anders 100 × eenpersoonshuishoudens / aantal_huishoudens."},
    "lage_inkomens": {"label": "Lage inkomens", "many": "veel lage inkomens",
                      "description": "Aandeel huishoudens met een laag inkomen (%), waar het CBS dat publiceert.",
                      "derivation": "percentage_huishoudens_met_laag_inkomen (PDOK-kerncijfers); het CBS houdt het "
                                    "geheim voor kleine buurten en publiceert het later dan de inwoners."},
    "wmo": {"label": "WMO-cliënten", "many": "veel WMO-cliënten",
            "description": "WMO-cliënten per 1.000 inwoners.",
            "derivation": "aantal_wmo_clienten_per_1000_inwoners (PDOK-kerncijfers), anders "
                          "1000 × aantal_wmo_clienten / aantal_inwoners."},
}


def parse_need(raw) -> tuple[tuple[str, float], ...]:
    """need=ouderen:2,wmo:1 → (("ouderen", 2.0), ("wmo", 1.0)); empty or absent → every indicator, weight 1.

    Also takes a list of such texts (a repeated parameter) and a sequence of (key, weight) pairs.
    """
    if raw is None:
        return DEFAULT_NEED
    if isinstance(raw, (list, tuple)):
        if raw and all(isinstance(part, (list, tuple)) for part in raw):
            pairs = [(str(k), v) for k, v in raw]
            return _checked([(k.strip().lower(), _weight(k, str(w))) for k, w in pairs])
        raw = ",".join(str(part) for part in raw)
    text = str(raw).strip()
    if not text:
        return DEFAULT_NEED
    pairs = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, _, weight = part.partition(":")
        key = key.strip().lower()
        pairs.append((key, _weight(key, weight) if weight.strip() else 1.0))
    return _checked(pairs) if pairs else DEFAULT_NEED


def _weight(key: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = float("nan")
    if not 0 <= value <= MAX_WEIGHT:  # also false for nan
        raise InvalidParameter(f"Parameter 'need': het gewicht van '{key[:30]}' moet een getal tussen 0 en "
                               f"{MAX_WEIGHT:g} zijn, niet '{raw.strip()[:20]}'.")
    return value


def _checked(pairs: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    seen = set()
    for key, _ in pairs:
        if key not in queries.BY_KEY:
            raise InvalidParameter(f"Parameter 'need': onbekende indicator '{key[:30]}'; kies uit: "
                                   f"{', '.join(INDICATOR_KEYS)}.")
        if key in seen:
            raise InvalidParameter(f"Parameter 'need': indicator '{key}' staat er meer dan eens in.")
        seen.add(key)
    if not any(weight > 0 for _, weight in pairs):
        raise InvalidParameter("Parameter 'need': geef minstens één indicator een gewicht groter dan 0.")
    return tuple(pairs)


def need_text(need: tuple[tuple[str, float], ...]) -> str:
    """The need setting as the parameter writes it: ouderen:2,wmo:1 (weights without trailing zeros)."""
    return ",".join(f"{key}:{weight:g}" for key, weight in need)


# --- scores per data version ----------------------------------------------------------------------

# each unit's indicator scores per database, data version and year
SCORES = PerDataVersion(size=4)


def weighted(scores: dict[str, float], need: tuple[tuple[str, float], ...]) -> float | None:
    """The weighted mean of the requested scores present (None when none is, or their weights are all 0)."""
    total = weights = 0.0
    for key, weight in need:
        if key in scores and weight > 0:
            total += weight * scores[key]
            weights += weight
    return total / weights if weights else None


def unit_scores(conn, jaar: int) -> dict[str, dict]:
    """Each unit's indicator scores by level, made once per data version and year."""
    return SCORES.get(conn, jaar, lambda: {level: queries.unit_scores(conn, jaar, level) for level in queries.LEVELS})


def add_need(conn, jaar: int, units: list[dict], need: tuple[tuple[str, float], ...]) -> None:
    """Set need, need_source, need_scores and priority on each unit (dicts from gaps.gap_units), in place."""
    apply_need(unit_scores(conn, jaar), units, need)


def apply_need(scores: dict[str, dict], units: list[dict], need: tuple[tuple[str, float], ...]) -> None:
    """add_need with the scores (unit_scores) given."""
    requested = {key for key, weight in need if weight > 0}
    for unit in units:
        parent, own = scores[unit["level"]].get(unit["code"], (None, {}))
        used, source = own, "buurt" if unit["level"] == "buurt" else "wijk"
        if not requested & own.keys():
            used, source = {}, None
            if unit["level"] == "buurt" and parent is not None:
                wijk = scores["wijk"].get(parent, (None, {}))[1]
                if requested & wijk.keys():
                    used, source = wijk, "wijk"
        value = weighted(used, need)
        counted = {key: round(used[key], NEED_DECIMALS) for key, _ in need if key in used}
        unit["need"] = None if value is None else round(value, NEED_DECIMALS)
        unit["need_source"] = source if value is not None else None
        unit["need_reasons"] = reasons(counted)
        unit["priority"] = (round(unit["aantal_inwoners"] * value, PRIORITY_DECIMALS)
                            if unit["status"] == "white_spot" and value is not None and unit["aantal_inwoners"]
                            else None)
        unit["need_scores"] = counted


def refresh_kept_need(conn) -> int | None:
    """Bring gap_need (migration 0013) up to date with the CBS areas of the active year: every unit's need with
    the default weights and its priority as a white spot, exactly as add_need makes them. Runs in the caller's
    transaction (a writer of CBS areas calls it before committing); None when nothing was marked, else the rows.

    The scores are made here, not taken from SCORES: that memo is keyed by the data version, which a writer's
    transaction bumps only at its commit, so scores of uncommitted areas must never enter it.
    """
    marks = queries.need_marks(conn)
    if not marks:
        return None
    jaar = active_year(conn)
    rows = []
    if jaar is not None:
        scores = {level: queries.unit_scores(conn, jaar, level) for level in queries.LEVELS}
        units = [{"level": level, "code": code, "aantal_inwoners": inwoners, "status": "white_spot"}
                 for level, code, inwoners in queries.unit_populations(conn, jaar)]
        apply_need(scores, units, DEFAULT_NEED)
        rows = [(unit["code"], unit["need"], unit["priority"]) for unit in units]
    return queries.replace_kept_need(conn, jaar, rows, marks)


def reasons(scores: dict[str, float]) -> str:
    """The high scores in words, highest first: 'veel ouderen, veel alleenwonenden'; '' when none is high."""
    high = sorted(((s, k) for k, s in scores.items() if s >= HIGH_SCORE), key=lambda p: (-p[0], p[1]))
    return ", ".join(DESCRIPTIONS[k]["many"] for _, k in high)


def indicators(conn, jaar: int) -> list[dict]:
    """The indicators for /api/v1/gaps/indicators: key, words, CBS fields, direction, units per level having it."""
    counts = queries.indicator_counts(conn, jaar)
    return [{
        "key": i.key, "label": DESCRIPTIONS[i.key]["label"], "description": DESCRIPTIONS[i.key]["description"],
        "cbs_fields": list(i.fields), "derivation": DESCRIPTIONS[i.key]["derivation"],
        "direction": "higher_is_more_need" if i.higher_is_more_need else "lower_is_more_need",
        "units": {level: {"with_figure": counts[level][i.key], "total": counts[level]["units"]}
                  for level in queries.LEVELS},
    } for i in queries.INDICATORS]
