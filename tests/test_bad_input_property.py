"""Bad input, tried systematically (hypothesis): mutated CSV, XLSX, GeoJSON, HSDS, YAML and JSON files fed to every
importer, and mutated tables of CBS figures fed to load-cbs-figures, never give a traceback; a refusal is a Dutch
message (a whole-file reason, or the row and the field of every bad value); nothing saved means an exit code other
than 0, and then the stored data is exactly as before.

Kept small (a few examples per format, no deadline) so the module runs in well under a minute.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from geoservice.cli import main
from geoservice.registry.exports import select_initiatives, to_hsds

from .helpers import scalar

FIXTURES = Path(__file__).parent / "fixtures"
DATA = Path(__file__).resolve().parents[1] / "data" / "cbs_wijken"
# More examples, each run different: GEOSERVICE_FUZZ_EXAMPLES=200 pytest tests/test_bad_input_property.py
EXAMPLES = int(os.environ.get("GEOSERVICE_FUZZ_EXAMPLES", "12"))
# No shrinking (each example is a real import): a failure is reported as found, and quickly.
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize="GEOSERVICE_FUZZ_EXAMPLES" not in os.environ,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TABLES = ("initiative", "partner", "service_area", "gap_counts")
# "rij 3: lat/lon: ..." (initiatives) or "partner 2, website: ..." (partners): the row or item, the field, the reason
PROBLEM = re.compile(r"^(rij [^:]+: .+?|partner .+, .+?): \S.*$", re.DOTALL)
DUTCH = ("Fout:", "Niets opgeslagen", "niets opgeslagen")


@pytest.fixture(scope="module")
def db_url(pg_server, template_db):
    """One database for the module, with the basic initiatives and the example partners in it."""
    name = f"geoservice_test_badinput_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    env = {"DATABASE_URL": url, "GEOSERVICE_GEOCODER": "offline"}
    for kind, path in (("initiatives", FIXTURES / "initiatives_basic.csv"),
                       ("partners", FIXTURES / "partners_example.yaml")):
        result = CliRunner().invoke(main, ["import", kind, str(path)], env=env)
        assert result.exit_code == 0, result.output
    yield url
    pg_server.drop(name)


def digests(url: str) -> dict[str, str]:
    """A digest of every row of the tables an import writes (and of the counts it keeps)."""
    sql = "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {} t"
    return {table: scalar(url, sql.format(table)) for table in TABLES}


def check_import(url: str, kind: str, path: Path) -> None:
    """One import of a (mutated) file, and every property the issue asks for."""
    before = digests(url)
    result = CliRunner().invoke(main, ["import", kind, str(path)], env={"DATABASE_URL": url,
                                                                        "GEOSERVICE_GEOCODER": "offline"})
    output = result.output
    # never a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit), (result.exception, output)
    assert "Traceback" not in output
    problems = [line for line in output.splitlines() if line.startswith(("rij ", "partner "))]
    assert all(PROBLEM.match(line) for line in problems), problems  # each names its row and its field
    if result.exit_code != 0:
        assert result.exit_code == 1, output
        # a Dutch reason: the file's, or the row and field of each bad value
        assert problems or "Fout: " in output, output
        assert any(marker in output for marker in DUTCH), output
        assert digests(url) == before, output  # nothing saved: the stored data is exactly as it was
    else:
        assert "Fout:" not in output and "niets opgeslagen" not in output.lower(), output


# --- mutations ---------------------------------------------------------------------------------------------

def mutate_bytes(data: bytes, draw) -> bytes:
    """A few random edits: replace, insert or delete bytes."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        # a fraction of the length: a workbook's bytes differ from save to save (its timestamp)
        position = draw(st.integers(0, 10**6)) * len(data) // (10**6 + 1)
        action = draw(st.sampled_from(("replace", "insert", "delete")))
        chunk = draw(st.binary(min_size=1, max_size=4))
        if action == "replace":
            data[position:position + len(chunk)] = chunk
        elif action == "insert":
            data[position:position] = chunk
        else:
            del data[position:position + len(chunk)]
    return bytes(data)


ODD_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "=1+1", "'", '"', ";", ",", "\n", "\x00", "\x1b[31m", "nan", "inf", "-1e309",
                     "9" * 40, "52,2", "2025-02-30", "javascript:alert(1)", "<script>x</script>", "Één;coöperatie",
                     "x" * 6000, "GM0308", "\ufeff", "\u202e", "1234", "1234 AB"]),
)
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False), ODD_TEXT)
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                          max_leaves=6)


def paths_of(value, prefix=()):
    """Every path (tuple of keys and indexes) to a value inside a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths_of(item, (*prefix, index))


def mutate_json(doc, draw):
    """The document with a few values (anywhere, the root too) replaced by odd JSON, or removed."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(paths_of(doc))
        path = draw(st.sampled_from(paths))
        new = draw(JSON_VALUE)
        if not path:
            doc = new
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = new
    return doc


def csv_rows() -> list[list[str]]:
    text = (FIXTURES / "initiatives_basic.csv").read_text(encoding="utf-8-sig")
    return [line.split(";") for line in text.splitlines()]  # the fixture quotes no ';' inside the first cells


# --- the properties, one per format and importer -----------------------------------------------------------

@PROPERTY
@given(data=st.data(), encoding=st.sampled_from(("utf-8", "utf-8-sig", "cp1252")))
def test_mutated_csv(db_url, tmp_path_factory, data, encoding):
    original = (FIXTURES / "initiatives_basic.csv").read_text(encoding="utf-8-sig")
    if data.draw(st.booleans()):
        raw = mutate_bytes(original.encode(encoding), data.draw)
    else:  # cell level: odd text in random cells (quoted as Excel would)
        lines = [line.split(";") for line in original.splitlines()]
        for _ in range(data.draw(st.integers(1, 4))):
            row = data.draw(st.integers(0, len(lines) - 1))
            column = data.draw(st.integers(0, len(lines[row]) - 1))
            lines[row][column] = '"' + data.draw(ODD_TEXT).replace('"', '""') + '"'
        raw = "\r\n".join(";".join(cells) for cells in lines).encode(encoding, errors="replace")
    path = tmp_path_factory.mktemp("csv") / "initiatieven.csv"
    path.write_bytes(raw)
    check_import(db_url, "initiatives", path)


@PROPERTY
@given(data=st.data())
def test_mutated_xlsx(db_url, tmp_path_factory, data):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in csv_rows():
        sheet.append([cell.strip('"') or None for cell in row])
    cell_value = st.one_of(ODD_TEXT.map(lambda t: re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "?", t)[:32000]),
                           st.none(), st.booleans(), st.integers(-10**15, 10**15), st.floats(allow_nan=False),
                           st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)))
    for _ in range(data.draw(st.integers(1, 5))):
        sheet.cell(row=data.draw(st.integers(1, 7)), column=data.draw(st.integers(1, 18)), value=data.draw(cell_value))
    buffer = io.BytesIO()
    book.save(buffer)
    raw = buffer.getvalue()
    if data.draw(st.integers(0, 4)) == 0:
        raw = mutate_bytes(raw, data.draw)  # a damaged workbook now and then
    path = tmp_path_factory.mktemp("xlsx") / "initiatieven.xlsx"
    path.write_bytes(raw)
    check_import(db_url, "initiatives", path)


@PROPERTY
@given(data=st.data())
def test_mutated_geojson(db_url, tmp_path_factory, data):
    doc = json.loads((FIXTURES / "initiatives_basic.geojson").read_text(encoding="utf-8"))
    path = tmp_path_factory.mktemp("geojson") / "initiatieven.geojson"
    path.write_text(json.dumps(mutate_json(doc, data.draw), ensure_ascii=False), encoding="utf-8")
    check_import(db_url, "initiatives", path)


@PROPERTY
@given(data=st.data())
def test_mutated_hsds(db_url, tmp_path_factory, data):
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            doc = to_hsds(select_initiatives(conn, ("published", "pending", "archived"))[:4])
    finally:
        engine.dispose()
    path = tmp_path_factory.mktemp("hsds") / "register.json"
    path.write_text(json.dumps(mutate_json(doc, data.draw), ensure_ascii=False), encoding="utf-8")
    check_import(db_url, "initiatives", path)


@PROPERTY
@given(data=st.data(), as_yaml=st.booleans())
def test_mutated_partners(db_url, tmp_path_factory, data, as_yaml):
    doc = yaml.safe_load((FIXTURES / "partners_example.yaml").read_text(encoding="utf-8"))
    folder = tmp_path_factory.mktemp("partners")
    if as_yaml and data.draw(st.booleans()):
        path = folder / "partners.yaml"
        path.write_bytes(mutate_bytes(yaml.safe_dump(doc, allow_unicode=True).encode("utf-8"), data.draw))
    else:
        mutated = mutate_json(doc, data.draw)
        path = folder / ("partners.yaml" if as_yaml else "partners.json")
        path.write_text(yaml.safe_dump(mutated, allow_unicode=True) if as_yaml else json.dumps(mutated),
                        encoding="utf-8")
    check_import(db_url, "partners", path)



# --- CBS figures (load-cbs-figures) -------------------------------------------------------------------------

AREA_TABLES = ("gemeente", "wijk", "buurt", "gap_counts", "data_version")


def baarn_statline_csv() -> str:
    """Baarn's rows of the shipped CBS inhabitants table (real figures), written as a StatLine download would be:
    ';', space-padded codes, StatLine's column name."""
    rows = [line.split(",") for line in (DATA / "buurten_2024_inwoners.csv").read_text(encoding="utf-8").splitlines()]
    baarn = [(code.strip('"'), count) for _n, code, count in rows[1:] if code.strip('"').startswith("BU0308")]
    assert len(baarn) == 21
    return "\r\n".join(['"WijkenEnBuurten";"AantalInwoners_5"'] + [f'"{code:<10}";{count}' for code, count in baarn])


@PROPERTY
@given(data=st.data(), encoding=st.sampled_from(("utf-8", "cp1252")))
def test_mutated_cbs_figures(db_url, tmp_path_factory, data, encoding):
    original = baarn_statline_csv()
    if data.draw(st.booleans()):
        raw = mutate_bytes(original.encode(encoding), data.draw)
    else:
        lines = [line.split(";") for line in original.splitlines()]
        for _ in range(data.draw(st.integers(1, 3))):
            row = data.draw(st.integers(0, len(lines) - 1))
            lines[row][data.draw(st.integers(0, 1))] = '"' + data.draw(ODD_TEXT).replace('"', '""') + '"'
        raw = "\r\n".join(";".join(cells) for cells in lines).encode(encoding, errors="replace")
    path = tmp_path_factory.mktemp("figures") / "kerncijfers.csv"
    path.write_bytes(raw)
    sql = "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {} t"
    before = {table: scalar(db_url, sql.format(table)) for table in AREA_TABLES}
    result = CliRunner().invoke(main, ["load-cbs-figures", str(path)], env={"DATABASE_URL": db_url})
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (result.exception, output)
    assert "Traceback" not in output
    # every bad value is named by its row and its column (or its code)
    named = re.findall(r"rij \d+[^;\n]*", output)
    assert all(", kolom '" in item or ": code " in item for item in named), named
    if result.exit_code != 0:
        assert result.exit_code == 1, output
        assert "Fout" in output or "niets" in output, output
        assert {table: scalar(db_url, sql.format(table)) for table in AREA_TABLES} == before, output
