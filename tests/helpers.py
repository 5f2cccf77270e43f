"""Small helpers shared by tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import geopandas as gpd
from sqlalchemy import create_engine, text

DATA = Path(__file__).resolve().parents[1] / "data" / "cbs_wijken"
TABLES = ("cbs_jaar", "gemeente", "wijk", "buurt")


def fingerprint(url: str) -> dict[str, str]:
    """A digest of every row of the CBS tables, to prove that nothing changed."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: conn.execute(text(
                    f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                    f"FROM {table} t")).scalar()
                for table in TABLES
            }
    finally:
        engine.dispose()


def scalar(url: str, sql: str, **params):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def shipped(name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / name)


def write_geojson(frame: gpd.GeoDataFrame, path: Path, *, crs_member: bool = False) -> Path:
    """GeoJSON as PDOK exports it: WGS84, no crs member unless asked."""
    data = json.loads(frame.to_crs(4326).to_json(drop_id=True))
    if not crs_member:
        data.pop("crs", None)
    path.write_text(json.dumps(data))
    return path


def make_initiative(conn, *, lon: float = 5.2878, lat: float = 52.2165, **overrides) -> int:
    """Insert one initiative (published, in Baarn unless told otherwise) and derive its areas.

    conn: a SQLAlchemy Connection or Session, inside a transaction the caller commits or rolls back.
    """
    import uuid

    from sqlalchemy import func, insert
    from sqlalchemy.orm import Session

    from geoservice.models import Initiative
    from geoservice.queries import assign_initiative_areas

    values = {
        "source": "test",
        "external_id": uuid.uuid4().hex,
        "name": "Testinitiatief",
        "kind": "bewonersinitiatief",
        "themes": ["ontmoeting"],
        "location_precision": "manual",
        "status": "published",
        "location": func.ST_Transform(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), 28992),
        **overrides,
    }
    new_id = conn.execute(insert(Initiative).values(**values).returning(Initiative.id)).scalar_one()
    connection = conn.connection() if isinstance(conn, Session) else conn
    assign_initiative_areas(connection, [new_id])
    return new_id


def add_partner(conn, name: str, *, kind: str = "regionale_ondersteuner", services=("advies",), **extra) -> int:
    """Insert one partner directly (tests of reads, not of the import)."""
    from sqlalchemy import insert

    from geoservice.models import Partner

    values = {"name": name, "kind": kind, "services": list(services), "source": "test", **extra}
    return conn.execute(insert(Partner).values(**values).returning(Partner.id)).scalar_one()


def add_service_area(conn, partner_id: int, name: str, geom_sql: str, *, definition: dict | None = None,
                     definition_type: str = "geojson", **params) -> int:
    """A service area whose RD geometry is the SQL expression geom_sql (fixed test SQL, bound params)."""
    return conn.execute(text(f"""
        INSERT INTO service_area (partner_id, name, definition_type, definition, cbs_jaar, geom)
        SELECT :partner_id, :name, :definition_type, CAST(:definition AS jsonb), 2024, ST_Multi({geom_sql})
        RETURNING id
    """), {"partner_id": partner_id, "name": name, "definition_type": definition_type,
           "definition": json.dumps(definition or {"geojson": {"type": "Polygon", "coordinates": []}}),
           **params}).scalar_one()


BUURT_GEOM = "(SELECT geom FROM buurt WHERE jaar = 2024 AND code = :code)"


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def csrf_token(client, path: str = "/inloggen") -> str:
    """The CSRF token of the form on `path`, as a browser would have it before posting."""
    return csrf_of(client.get(path).get_data(as_text=True))


def seeded_database(pg_server, template_db, label: str, seed):
    """A context manager for a module's own copy of the loaded template, `geoservice_test_{label}_{pid}`:
    `seed(session)` runs in one committed transaction, the manager yields (url, what seed returned) and drops
    the database afterwards."""
    import os
    from contextlib import contextmanager

    from sqlalchemy.orm import Session

    from geoservice import db

    @contextmanager
    def database():
        name = f"geoservice_test_{label}_{os.getpid()}"
        url = pg_server.create(name, template=template_db)
        try:
            engine = db.make_engine(url)
            try:
                with Session(engine) as session, session.begin():
                    seeded = seed(session)
            finally:
                engine.dispose()
            yield url, seeded
        finally:
            pg_server.drop(name)

    return database()


def add_users(session, users: dict, *, password: str) -> tuple[dict[str, int], dict[str, str]]:
    """users: key -> (email, role, partner_id or None). Returns the user ids and a bearer token per key."""
    from geoservice import accounts

    ids, tokens = {}, {}
    for key, (email, role, partner_id) in users.items():
        user = accounts.create_user(session, email, role=role, password=password, partner_id=partner_id)
        ids[key] = user.id
        tokens[key] = accounts.create_token(session, user)[1]
    return ids, tokens


def seed_partner_editing(session, *, password: str) -> tuple[dict[str, int], dict[str, str]]:
    """Partners `baarn` and `utrecht` (Utrecht with one area, `utrecht_area`) and a user per role: `editor` of
    Baarn, `other_editor` of Utrecht, `moderator`, `admin` (emails {key}@example.nl). Returns (ids, tokens)."""
    ids = {"baarn": add_partner(session, "Steunpunt Baarn", website="https://steunpunt.example"),
           "utrecht": add_partner(session, "Wijkfonds Utrecht")}
    ids["utrecht_area"] = add_service_area(session, ids["utrecht"], "Staatsliedenwijk", BUURT_GEOM, code="BU03080102")
    user_ids, tokens = add_users(session, {
        key: (f"{key}@example.nl", role, partner) for key, role, partner in (
            ("editor", "partner_editor", ids["baarn"]), ("other_editor", "partner_editor", ids["utrecht"]),
            ("moderator", "moderator", None), ("admin", "admin", None))}, password=password)
    return ids | user_ids, tokens


# --- the outreach setup shared by test_outreach.py and test_outreach_csv.py ----------------------------------

AMALIAPARK, SCHILDERSWIJK, LAGE_VUURSCHE = "BU03080007", "BU03080103", "BU03080500"
OUTREACH_UNCOVERED = [AMALIAPARK, SCHILDERSWIJK, LAGE_VUURSCHE]
BAARN_EXCEPT = ("(SELECT ST_Union(geom) FROM buurt "
                "WHERE jaar = 2024 AND gemeentecode = 'GM0308' AND code <> ALL(CAST(:skip AS text[])))")


def seed_outreach(session) -> dict[str, int]:
    """A partner serving every buurt of Baarn but OUTREACH_UNCOVERED (by codes), an initiative in Lage Vuursche,
    and a partner without a service area. Returns the partner ids: {"baarn": …, "empty": …}."""
    baarn = add_partner(session, "Steunpunt Baarn")
    covered = [c for (c,) in session.execute(text(
        "SELECT code FROM buurt WHERE jaar = 2024 AND gemeentecode = 'GM0308' AND code <> ALL(:skip) "
        "ORDER BY code"), {"skip": OUTREACH_UNCOVERED})]
    add_service_area(session, baarn, "Baarn", BAARN_EXCEPT, skip=OUTREACH_UNCOVERED,
                     definition_type="codes", definition={"codes": covered})
    lon, lat = session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p "
        "FROM buurt WHERE jaar = 2024 AND code = :code) AS s"), {"code": LAGE_VUURSCHE}).one()
    make_initiative(session, lon=lon, lat=lat, name="Dorpshuis Lage Vuursche")
    return {"baarn": baarn, "empty": add_partner(session, "Nog zonder werkgebied")}


# --- fake HTTP services (PDOK, the Locatieserver) on 127.0.0.1 ------------------------------------------------

class QuietHandler(BaseHTTPRequestHandler):
    """Base of the tests' fake HTTP services: no request log on stderr, and one way to answer with a body."""

    def answer(self, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """handler served by a ThreadingHTTPServer on a free port of 127.0.0.1 (yielded), shut down afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
