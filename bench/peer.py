#!/usr/bin/env python3
"""Peer benchmark: this service and pygeoapi (or tipg) on the same PostGIS table, same requests, one run.

Usage: .venv/bin/python bench/peer.py [--peer pygeoapi|tipg] [--seconds 10] [--connections 16] [--workers N]
                                      [--peer-workers N] [--boxes 50] [--rounds 5]
                                      [--generator auto|wrk|python] [--pg-options OPTS] [--profile]
--peer tipg: see bench/peer_tipg.py (bbox, item, initiative tiles and buurt tiles; PASS/FAIL per kind).
Uses the database from bench/generate.py (100,000 synthetic initiatives; built first when missing).
pygeoapi (pinned below) is installed on first run into its own venv bench/.venv-pygeoapi (git-ignored)
and serves the initiatives through its PostgreSQL provider from a VIEW in the bench database only
(WGS84 geometry, published rows, public columns) with a GiST index on the same expression, so its
bbox filter is index-backed like ours; both are dropped at the end. Both services run under gunicorn
with the same number of sync workers on 127.0.0.1. Before any timing every request is sent to both
and must return the same feature ids (and numberMatched); then each scenario runs for a fixed time.
Prints requests/s, p50/p99, the ratio and PASS/FAIL against the target: ≥ 3× pygeoapi's throughput
on bbox listings at equal correctness — the same request both serve, OGC API Features
/collections/initiatives/items?bbox= (our /ogc); the ratio of our own /api/v1 listing (another shape of
answer: more properties, other envelope) is printed beside it for information. Exits 1 on FAIL. Loopback only. --pg-options gives both services
the same PostgreSQL session settings (e.g. no parallel workers); --profile adds a cProfile of our bbox listing.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import math
import os
import pstats
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _common import (
    CITY_BOX,
    ROOT,
    default_workers,
    drop_peer_objects,
    machine,
    nearby_path,
    percentile,
    pinned_venv,
    sample_points,
    scratch_databases,
    start_gunicorn,
    start_gunicorn_app,
    stop_gunicorn,
)
from generate import bench_database_url
from load import with_python, with_wrk
from sqlalchemy import make_url, text

from geoservice import db

# pygeoapi 0.22+ needs Python ≥ 3.12; 0.21.0 is the newest for the project's Python 3.11.
PINS = ("pygeoapi==0.21.0", "psycopg2-binary==2.9.13", "GeoAlchemy2==0.20.0", "gunicorn==27.0.1")
PEER_VENV = ROOT / "bench" / ".venv-pygeoapi"
VIEW = "peer_pygeoapi_initiatives"  # in the bench database only, never in the service's schema
INDEX = "peer_pygeoapi_initiative_geom_4326"
PUBLIC_COLUMNS = ("id, name, kind, themes, description, website, address, postcode, gemeentecode, wijkcode, "
                  "buurtcode, last_verified, location_precision")
TARGET = 3.0
TARGET_LABEL = "ours-ogc"  # the target compares the same request: OGC API Features items with a bbox


# -- pygeoapi: venv, view, config ---------------------------------------------------------------------------
def peer_version(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import pygeoapi; print(pygeoapi.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def create_view(url: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE OR REPLACE VIEW {VIEW} AS SELECT {PUBLIC_COLUMNS}, "
                          "ST_Transform(location, 4326) AS geom FROM initiative WHERE status = 'published'"))
        # pygeoapi filters ST_Intersects(envelope, geom) on the view: without this index on the same
        # expression it would transform and test every row, and the comparison would flatter us.
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS {INDEX} ON initiative USING gist (ST_Transform(location, 4326))"))
        conn.execute(text("ANALYZE initiative"))
    engine.dispose()


def peer_config(url: str) -> str:
    """pygeoapi's YAML (JSON is YAML) for one collection `initiatives` on the view."""
    u = make_url(url)
    data = {"host": u.query.get("host") or u.host or "127.0.0.1", "port": int(u.query.get("port") or u.port or 5432),
            "dbname": u.database, "user": u.username, "search_path": ["public"]}
    if u.password:
        data["password"] = u.password
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": 5000}, "url": "http://127.0.0.1:5000",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "languages": ["nl-NL"],
                   "limits": {"default_items": 10, "max_items": 1000}, "pretty_print": False, "admin": False,
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "peer benchmark", "description": "synthetic initiatives",
                                        "keywords": ["bench"], "keywords_type": "theme",
                                        "terms_of_service": "none", "url": "http://127.0.0.1"},
                     "license": {"name": "synthetic", "url": "http://127.0.0.1"},
                     "provider": {"name": "bench", "url": "http://127.0.0.1"},
                     "contact": {"name": "bench", "position": "bench", "address": "-", "city": "-",
                                 "stateorprovince": "-", "postalcode": "-", "country": "-", "phone": "-",
                                 "fax": "-", "email": "bench@example.org", "url": "http://127.0.0.1",
                                 "hours": "-", "instructions": "-", "role": "pointOfContact"}},
        "resources": {"initiatives": {
            "type": "collection", "title": "initiatives", "description": "synthetic initiatives (bench)",
            "keywords": ["bench"], "links": [],
            "extents": {"spatial": {"bbox": [3.2, 50.7, 7.3, 53.6],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "PostgreSQL", "data": data, "id_field": "id",
                           "table": VIEW, "geom_field": "geom"}],
        }},
    }
    return json.dumps(config, indent=1)


def start_peer(venv: Path, url: str, workers: int, tmp: Path, log, pg_env: dict[str, str]):
    config, openapi = tmp / "pygeoapi-config.yml", tmp / "pygeoapi-openapi.yml"
    config.write_text(peer_config(url))
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi), **pg_env}
    subprocess.run([str(venv / "bin" / "pygeoapi"), "openapi", "generate", str(config), "--output-file", str(openapi)],
                   env={**env, "PATH": "/usr/bin:/bin"}, check=True, stdout=log, stderr=log)
    return start_gunicorn_app(venv / "bin" / "gunicorn", "pygeoapi.flask_app:APP", workers, env,
                              "/collections/initiatives?f=json", log=log)


# -- requests and correctness --------------------------------------------------------------------------------
def boxes(points) -> list[str]:
    dx, dy = CITY_BOX[0] / 2, CITY_BOX[1] / 2
    return [f"{lon - dx:.5f},{lat - dy:.5f},{lon + dx:.5f},{lat + dy:.5f}" for lon, lat in points]


def scenarios(url: str, n_boxes: int) -> dict[str, dict[str, list[str]]]:
    """{request type: {server label: paths}}; the paths of one type ask the same thing of every server."""
    bbs = boxes(sample_points(url, n_boxes, seed=21))
    engine = db.make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        ids = conn.execute(text("SELECT id FROM initiative WHERE status = 'published' ORDER BY random() LIMIT 200"))
        ids = [row.id for row in ids]
    engine.dispose()
    return {
        "bbox": {"pygeoapi": [f"/collections/initiatives/items?f=json&bbox={b}&limit=100" for b in bbs],
                 "ours-ogc": [f"/ogc/collections/initiatives/items?bbox={b}&limit=100" for b in bbs],
                 "ours-api": [f"/api/v1/initiatives?bbox={b}&limit=100" for b in bbs]},
        "item": {"pygeoapi": [f"/collections/initiatives/items/{i}?f=json" for i in ids],
                 "ours-ogc": [f"/ogc/collections/initiatives/items/{i}" for i in ids],
                 "ours-api": [f"/api/v1/initiatives/{i}" for i in ids]},
        "nearby": {"ours-api": [nearby_path(lon, lat) for lon, lat in sample_points(url, 200, seed=23)]},
    }


def fetch(port: int, path: str) -> tuple[dict, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Accept": "application/geo+json, application/json"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"FAIL: {path} answered {response.status}: {body[:300]!r}")
    return json.loads(body), len(body)


def summary(doc: dict):
    """What must agree: (numberMatched, the feature ids in order) of a page, or (id, lon, lat) of one feature."""
    if doc.get("type") == "FeatureCollection":
        return doc.get("numberMatched"), [int(f["id"]) for f in doc["features"]]
    lon, lat = doc["geometry"]["coordinates"][:2]
    return int(doc["id"]), lon, lat


def same(a, b) -> bool:
    if len(a) == 3:  # one feature: the id, and the position to 1e-6 degree (about 10 cm)
        return a[0] == b[0] and math.isclose(a[1], b[1], abs_tol=1e-6) and math.isclose(a[2], b[2], abs_tol=1e-6)
    return a == b


def check(ports: dict[str, int], plan) -> dict[tuple[str, str], float]:
    """Every path of bbox and item on every server: same answers as pygeoapi. Returns mean body bytes."""
    sizes = {}
    for kind in ("bbox", "item"):
        per_server = plan[kind]
        features, mismatches = 0, []
        answers = {label: [fetch(ports[label], p) for p in paths] for label, paths in per_server.items()}
        for label, docs in answers.items():
            sizes[kind, label] = sum(n for _, n in docs) / len(docs)
        for n, (peer_doc, _) in enumerate(answers["pygeoapi"]):
            expected = summary(peer_doc)
            features += len(peer_doc.get("features", [None]))
            for label in ("ours-ogc", "ours-api"):
                got = summary(answers[label][n][0])
                if not same(expected, got):
                    mismatches.append(f"{label} {per_server[label][n]}: {got} ≠ pygeoapi {expected}")
        if mismatches:
            raise SystemExit("FAIL: not the same features:\n  " + "\n  ".join(mismatches[:5]))
        print(f"  {kind}: {len(answers['pygeoapi'])} requests, {features} features, same ids on all three"
              + (" and the same numberMatched" if kind == "bbox" else " and positions within 1e-6°"))
    return sizes


# -- timing ---------------------------------------------------------------------------------------------------
def timed(wrk: str | None, port: int, paths: list[str], seconds: float, connections: int):
    """(seconds, latencies in ms, errors, generator name) of one timed slice; wrk when given."""
    requests = [("r", p) for p in paths]
    result = (with_wrk(wrk, port, requests, seconds, connections, 10) if wrk
              else with_python(port, requests, seconds, connections, 10))
    return result.seconds, result.latencies["r"], result.error_count, result.generator


def warm_up(port: int, paths: list[str], connections: int) -> None:
    """Every worker connects and loads its code before the clock runs."""
    with_python(port, [("r", p) for p in paths], 2, connections, 10)


def cpu_seconds(pids) -> dict[int, float]:
    """user + system CPU seconds of each process still alive (Linux /proc)."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


class CpuMeter:
    """CPU spent for one server: its gunicorn processes plus the PostgreSQL backends of the bench database
    (only one server is under load at a time, so the backends' CPU in a slice is that server's)."""

    def __init__(self, url: str):
        self.engine = db.make_engine(url)
        self.conn = self.engine.connect()

    def pids(self, group: int) -> set[int]:
        mine = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == group:
                    mine.add(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        rows = self.conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND pid <> pg_backend_pid()"))
        self.conn.rollback()
        return mine | {row.pid for row in rows}

    def snapshot(self, group: int) -> dict[int, float]:
        return cpu_seconds(self.pids(group))

    def since(self, before: dict[int, float], group: int) -> float:
        after = self.snapshot(group)
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def profile_bbox(url: str, paths: list[str]) -> None:
    """Where our time goes on a bbox listing: in-process (Flask test client, one worker), cProfile."""
    os.environ["DATABASE_URL"] = url
    from geoservice import create_app
    client = create_app().test_client()
    for p in paths[:10]:
        client.get(p)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for p in paths:
        client.get(p)
    profiler.disable()
    per = (time.perf_counter() - started) / len(paths) * 1000
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(25)
    print(f"\nprofile: {len(paths)} × {paths[0].split('?')[0]} in-process, {per:.1f} ms each (profiler on)")
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip())[:6000])
    stats.sort_stats("tottime")
    out.seek(0)
    out.truncate()
    stats.print_stats(15)
    print("by own time:\n" + "\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip())[:4000])


def load_generator(args) -> str | None:
    """wrk's path, or None for the Python load generator; SystemExit when wrk was asked for and is missing."""
    wrk = shutil.which("wrk") if args.generator != "python" else None
    if args.generator == "wrk" and not wrk:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    return wrk


def bench_database() -> str:
    """The bench database's URL (made if missing), after printing how many published initiatives it holds."""
    url = bench_database_url(scratch_databases())
    engine = db.make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM initiative WHERE status = 'published'")).scalar()
    engine.dispose()
    print(f"database: {count} published initiatives (synthetic, source=bench)")
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="How long each scenario runs per server.")
    parser.add_argument("--connections", type=int, default=16, help="Concurrent connections.")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers: against pygeoapi sync workers, the same for both (default 2 × cores "
                             "+ 1); against tipg ours only (default: gthread workers, one per core).")
    parser.add_argument("--boxes", type=int, default=50, help="City-sized boxes (about 4.8 × 5 km) near initiatives.")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="wrk when installed (auto), or the Python generator.")
    parser.add_argument("--pg-options", default="",
                        help="PostgreSQL session settings for both services, as libpq's PGOPTIONS, e.g. "
                             "'-c max_parallel_workers_per_gather=0'. Default: the server's settings.")
    parser.add_argument("--rounds", type=int, default=5, help="Alternating slices per scenario (2 s each by default).")
    parser.add_argument("--profile", action="store_true", help="Also profile our bbox listing in-process.")
    parser.add_argument("--peer", choices=("pygeoapi", "tipg"), default="pygeoapi",
                        help="The peer: pygeoapi (bbox and item, gunicorn) or tipg (bbox, item, initiative and "
                             "buurt tiles, uvicorn; see bench/peer_tipg.py).")
    parser.add_argument("--peer-workers", type=int, default=os.cpu_count() or 1,
                        help="uvicorn workers for tipg (its best on 2 cores was 2); pygeoapi gets --workers.")
    parser.add_argument("--threads", type=int, default=None,
                        help="Our gunicorn as gthread workers with this many threads each (0: sync workers). "
                             "Default: 0 against pygeoapi; against tipg 4, with --workers defaulting to the cores.")
    args = parser.parse_args()
    if args.threads is None:
        args.threads = 4 if args.peer == "tipg" else 0
    if args.workers is None:
        args.workers = (os.cpu_count() or 1) if args.threads else default_workers()
    if args.peer == "tipg":
        import peer_tipg

        peer_tipg.run(args)
        return
    wrk = load_generator(args)
    print(f"machine: {machine()}")
    venv = pinned_venv(PEER_VENV, PINS)
    url = bench_database()
    print(f"pygeoapi {peer_version(venv)} (PostgreSQL provider) on VIEW {VIEW} in the bench database: "
          f"ST_Transform(location, 4326) AS geom, published rows, the public columns; GiST index on that "
          f"expression (bench database only, dropped afterwards)")
    plan = scenarios(url, args.boxes)
    create_view(url)
    procs, rows, verdicts, cpu_verdicts = [], [], [], []
    meter = CpuMeter(url)
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        log = open(Path(tmp) / "servers.log", "w")  # noqa: SIM115 (closed in finally, after the servers)
        try:
            # Session settings for both services alike: libpq (psycopg and psycopg2) reads PGOPTIONS.
            pg_env = {"PGOPTIONS": args.pg_options} if args.pg_options else {}
            peer, peer_port = start_peer(venv, url, args.workers, Path(tmp), log, pg_env)
            procs.append(peer)
            saved = os.environ.get("PGOPTIONS")
            os.environ.update(pg_env)
            try:
                ours, our_port = start_gunicorn(url, args.workers, log=log)
            finally:
                os.environ.pop("PGOPTIONS", None)
                if saved is not None:
                    os.environ["PGOPTIONS"] = saved
            procs.append(ours)
            ports = {"pygeoapi": peer_port, "ours-ogc": our_port, "ours-api": our_port}
            groups = {"pygeoapi": peer.pid, "ours-ogc": ours.pid, "ours-api": ours.pid}  # own sessions
            print(f"PostgreSQL session settings for both: {args.pg_options or 'the server defaults'}")
            print("correctness (before timing):")
            before = load_average()
            sizes = check(ports, plan)
            generator = "?"
            slice_s = max(1, round(args.seconds / args.rounds))  # wrk takes whole seconds
            print(f"gunicorn: {args.workers} sync workers each on 127.0.0.1; {args.connections} connections, "
                  f"{slice_s * args.rounds} s per scenario and server, in {args.rounds} alternating slices of {slice_s} s")
            print(f"{'request':<8} {'server':<9} {'path':<40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
                  f"{'bytes':>7} {'errors':>6} {'× pygeoapi':>10} {'CPU ms':>7} {'× by CPU':>9}")
            names = {"pygeoapi": "/collections/initiatives/items", "ours-ogc": "/ogc/collections/initiatives/items",
                     "ours-api": "/api/v1/initiatives"}
            for kind, per_server in plan.items():
                # Slices alternate between the servers, so other load on the machine falls on all alike.
                totals = {label: [0.0, [], 0, 0.0] for label in per_server}
                for label, paths in per_server.items():
                    warm_up(ports[label], paths, args.connections)
                for _ in range(args.rounds):
                    for label, paths in per_server.items():
                        cpu_before = meter.snapshot(groups[label])
                        elapsed, ms, errors, generator = timed(wrk, ports[label], paths, slice_s, args.connections)
                        totals[label][3] += meter.since(cpu_before, groups[label])
                        totals[label][0] += elapsed
                        totals[label][1].extend(ms)
                        totals[label][2] += errors
                base = base_cpu = None
                for label, (elapsed, ms, errors, cpu) in totals.items():
                    rps, p50, p99 = len(ms) / elapsed, percentile(ms, 0.5), percentile(ms, 0.99)
                    cpu_ms = cpu / max(1, len(ms)) * 1000
                    base = rps if label == "pygeoapi" else base
                    base_cpu = cpu_ms if label == "pygeoapi" else base_cpu
                    cpu_ratio = f"{base_cpu / cpu_ms:>9.2f}" if base_cpu and label != "pygeoapi" else f"{'':>9}"
                    path = names[label] + {"bbox": "?bbox", "item": "/{id}", "nearby": "/nearby"}[kind]
                    ratio = f"{rps / base:>10.2f}" if base and label != "pygeoapi" else f"{'':>10}"
                    size = f"{sizes[kind, label]:>7.0f}" if (kind, label) in sizes else f"{'':>7}"
                    print(f"{kind:<8} {label:<9} {path:<40} {rps:>7.0f} {p50:>7.1f} {p99:>7.1f} {size} {errors:>6} {ratio} {cpu_ms:>7.1f} {cpu_ratio}",
                          flush=True)
                    rows.append((kind, label, rps, errors))
                    if kind == "bbox" and label != "pygeoapi":
                        verdicts.append((label, rps / base, errors))
                        cpu_verdicts.append((label, base_cpu / cpu_ms))
            print("CPU ms: CPU per request of the server's gunicorn processes plus the database's PostgreSQL "
                  "backends; × by CPU: pygeoapi's CPU per request ÷ ours, the throughput ratio to expect when "
                  "the CPU is the limit and nothing else runs")
            print(f"load generator: {generator}; load average before {before}, after {load_average()} "
                  "(other work on the machine shares its cores: compare the ratios, not the absolute figures)")
        finally:
            for proc in procs:
                stop_gunicorn(proc)
            log.close()
            meter.close()
            drop_peer_objects(url, (VIEW,), (INDEX,))
    target = [(label, ratio, e) for label, ratio, e in verdicts if label == TARGET_LABEL]
    failed = [f"{label} {ratio:.2f}×" for label, ratio, _ in target if ratio < TARGET]
    errors = sum(e for *_, e in rows)
    others = ", ".join(f"{label} {ratio:.2f}×" for label, ratio, _ in verdicts if label != TARGET_LABEL)
    if failed or errors:
        short = ", ".join(f"{label} at {ratio:.2f}× ({(TARGET - ratio) / TARGET:.0%} below {TARGET:g}×)"
                          for label, ratio, _ in target if ratio < TARGET)
        print(f"FAIL: target ≥ {TARGET:g}× pygeoapi on bbox listings (the same OGC request) at equal correctness: "
              f"{short or 'met'}; errors {errors}")
    else:
        print(f"PASS: ≥ {TARGET:g}× pygeoapi on bbox listings (the same OGC request) at equal correctness ("
              + ", ".join(f"{label} {ratio:.2f}×" for label, ratio, _ in target) + ")")
    print(f"for information, our other listing of the same boxes: {others}")
    print("by CPU per request: " + ", ".join(f"{label} {ratio:.2f}×" for label, ratio in cpu_verdicts))
    if args.profile:
        if args.pg_options:
            os.environ["PGOPTIONS"] = args.pg_options
        profile_bbox(url, plan["bbox"]["ours-ogc"][:200])
    raise SystemExit(1 if failed or errors else 0)


if __name__ == "__main__":
    main()
