"""The gap-status colours stay apart for every colour vision (issue 13): CIEDE2000 ≥ 15 between any two statuses,
normal and under simulated deuteranopia, protanopia and tritanopia (Machado et al. 2009), opaque as in the legend
and the table, and blended as the map fills its units; each with 3:1 contrast against white."""

from __future__ import annotations

import itertools

import pytest

from web.maps import STATUS_COLOURS, STATUS_FILL_OPACITY, map_config

from .colour_vision import VISIONS, ciede2000, contrast_ratio, difference, hex_to_rgb, over_white, simulate

MIN_DELTA_E = 15
PAIRS = list(itertools.combinations(STATUS_COLOURS, 2))


@pytest.mark.parametrize(("lab1", "lab2", "expected"), [  # Sharma, Wu & Dalal (2005), table 1: pairs 1, 7, 17
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
])
def test_ciede2000_matches_the_published_test_data(lab1, lab2, expected):
    assert ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)


def test_the_simulation_takes_red_green_apart_for_dichromats_only():
    red, green = hex_to_rgb("#d62728"), hex_to_rgb("#2ca02c")
    assert difference(red, green) > 50
    assert difference(red, green, "deuteranopia") < 20 and difference(red, green, "protanopia") < 25
    assert difference(red, green, "tritanopia") > 40  # blue-yellow blindness keeps red and green apart
    assert simulate((0.5, 0.5, 0.5), "deuteranopia") == pytest.approx((0.5, 0.5, 0.5), abs=0.01)  # greys stay


def test_the_old_palette_would_fail():
    """The colours before issue 13: 'witte vlek' and 'in orde' looked alike with deuteranopia."""
    old = {"white_spot": "#b2182b", "ok": "#1b7837"}
    assert difference(hex_to_rgb(old["white_spot"]), hex_to_rgb(old["ok"]), "deuteranopia") < MIN_DELTA_E


@pytest.mark.parametrize("vision", VISIONS)
@pytest.mark.parametrize("shown", ["opaque", "map fill"])
def test_every_two_statuses_differ_by_at_least_15(vision, shown):
    def rgb(colour):
        return hex_to_rgb(colour) if shown == "opaque" else over_white(colour, STATUS_FILL_OPACITY)

    close = [(a, b, round(difference(rgb(STATUS_COLOURS[a]), rgb(STATUS_COLOURS[b]), vision), 1))
             for a, b in PAIRS
             if difference(rgb(STATUS_COLOURS[a]), rgb(STATUS_COLOURS[b]), vision) < MIN_DELTA_E]
    assert close == [], f"status colours too alike ({vision}, {shown})"


def test_every_status_colour_has_3_to_1_contrast_with_white():
    weak = {s: round(contrast_ratio(hex_to_rgb(c), (1, 1, 1)), 2) for s, c in STATUS_COLOURS.items()
            if contrast_ratio(hex_to_rgb(c), (1, 1, 1)) < 3}
    assert weak == {}


def test_the_map_gets_the_colours_and_opacity_that_were_checked():
    config = map_config()
    assert config["colours"] == STATUS_COLOURS and config["statusOpacity"] == STATUS_FILL_OPACITY
