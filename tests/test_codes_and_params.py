import pytest

from geoservice.cbs.codes import parse_code
from geoservice.errors import InvalidParameter
from geoservice.params import parse_cbs_code, parse_point


@pytest.mark.parametrize(
    "raw, level, gemeente, wijk",
    [
        ("GM0344", "gemeente", "GM0344", None),
        ("WK034401", "wijk", "GM0344", "WK034401"),
        ("BU03440101", "buurt", "GM0344", "WK034401"),
        ("BU0363AA01", "buurt", "GM0363", "WK0363AA"),
        (" bu0363aa01 ", "buurt", "GM0363", "WK0363AA"),
        ("WK0363AA", "wijk", "GM0363", "WK0363AA"),
    ],
)
def test_codes_give_level_and_parents(raw, level, gemeente, wijk):
    code = parse_code(raw)
    assert (code.level, code.gemeentecode, code.wijkcode) == (level, gemeente, wijk)


@pytest.mark.parametrize("raw", ["", "GM344", "GM03441", "WK0344", "BU034401", "XX0344", "BU0344010A1", None, 344])
def test_non_codes_are_refused(raw):
    assert parse_code(raw) is None


def test_parse_cbs_code_explains_what_is_expected():
    with pytest.raises(InvalidParameter, match="geen CBS-code.*GM0344"):
        parse_cbs_code("Baarn")


@pytest.mark.parametrize(
    "lat, lon, message",
    [
        (None, "5.1", "'lat' ontbreekt"),
        ("52.1", "", "'lon' ontbreekt"),
        ("abc", "5.1", "'lat' moet een getal zijn"),
        ("nan", "5.1", "eindig getal"),
        ("inf", "5.1", "eindig getal"),
        ("91", "5.1", "tussen -90 en 90"),
        ("52", "-180.5", "tussen -180 en 180"),
    ],
)
def test_bad_points_are_refused(lat, lon, message):
    with pytest.raises(InvalidParameter, match=message):
        parse_point(lat, lon)


def test_decimal_comma_is_accepted():
    assert parse_point("52,21", "5,29").lat == pytest.approx(52.21)


from geoservice.params import parse_bbox, parse_int  # noqa: E402


@pytest.mark.parametrize("raw, message", [
    ("1,2,3", "vier getallen"),
    ("5,52,a,53", "getal"),
    ("6,52,5,53", "verkeerde volgorde"),
    ("5,53,6,52", "verkeerde volgorde"),
    ("5,52,190,53", "buiten de wereld"),
    ("5,-95,6,53", "buiten de wereld"),
])
def test_bad_bboxes_are_refused(raw, message):
    with pytest.raises(InvalidParameter, match=message):
        parse_bbox(raw)


def test_bbox_parses_and_absent_is_none():
    assert parse_bbox("5.2,52.1,5.4,52.3").maxy == 52.3
    assert parse_bbox(None) is None and parse_bbox("") is None


@pytest.mark.parametrize("raw, message", [("0", "tussen 1 en 1000"), ("1001", "tussen 1 en 1000"), ("1.5", "geheel getal")])
def test_bad_limits_are_refused(raw, message):
    with pytest.raises(InvalidParameter, match=message):
        parse_int("limit", raw, default=100, minimum=1, maximum=1000)


def test_limit_default():
    assert parse_int("limit", None, default=100, minimum=1, maximum=1000) == 100
