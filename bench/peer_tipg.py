"""bench/peer.py --peer tipg: this service and tipg (FastAPI + asyncpg under uvicorn) on the same bench database.

tipg (pinned below) is installed on first run into its own venv bench/.venv-tipg (git-ignored). It serves two
VIEWs made in the bench database only and dropped at the end: the published initiatives with their public
columns and the geometry in WGS84 (a GiST index on that expression, so that its bbox filter is index-backed
and it returns exactly our ids per box; on the RD table it pads the box), and the buurten of the active year
with the gap figures our buurt tiles carry, read from the same tables kept on write (gap_counts,
gap_coverage, gap_need) — an equivalent view. tipg runs at its best fair setting: TIPG_CATALOG_TTL=0 (no catalog
refresh), its tiles asked for our tile properties only (?properties=…), `--peer-workers` uvicorn workers
(2 on 2 cores was its best). Ours runs under gunicorn with `--workers` sync workers, twice: once with the
tile cache off (cold: every tile made by PostGIS) and once with it on (warm), side by side.

Before any timing every request goes to both and must agree: the same ids (and numberMatched) per bbox, the
same item by id (position within 1e-6°), the same initiative points per tile (tipg adds no tile buffer, so
ours count only inside the tile), and the same buurten with the same gap figures per tile (ours may add
buurten that touch only the buffer). Then interleaved rounds; requests/s, p50/p99 and CPU per request
(server processes plus the database's backends, from /proc), and PASS/FAIL per kind against the targets.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from _common import (ROOT, drop_peer_objects, free_port, machine, percentile, pinned_venv, sample_points,
                     seeded_points, start_gunicorn, stop_gunicorn)
from _mvt import EXTENT, decode, first_point, points_inside
from sqlalchemy import make_url, text

from geoservice import db
from geoservice.queries import tiles as tiles_queries
from geoservice.tiles import tile_at

PINS = ("tipg==1.6.1", "uvicorn[standard]==0.55.0", "asyncpg==0.32.0", "fastapi==0.165.0", "starlette==1.10.0")
VENV = ROOT / "bench" / ".venv-tipg"
INITIATIVES, BUURTEN = "peer_tipg_initiatives", "peer_tipg_buurten"
INDEX = "peer_tipg_initiative_geom_4326"
PUBLIC_COLUMNS = ("id, name, kind, themes, description, website, address, postcode, gemeentecode, wijkcode, "
                  "buurtcode, last_verified, location_precision")
TILE_PROPERTIES = {"initiatives": "id,name,kind,themes",
                   "buurten": "code,naam,aantal_inwoners,status,n_initiatives,n_nearby,coverage,need,priority"}
# ours / tipg, median requests/s over the rounds; the tile targets are judged with our caches cold.
TARGETS = {"bbox": 2.0, "item": 1.5, "tile": 1.5, "buurt-tile": 1.5}
ZOOMS = (12, 13, 14)


def tipg_version(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import tipg; print(tipg.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


# The status of the gap analysis (analysis.gaps.status_of) with its default parameters, in SQL.
# The status as our tiles compute it (queries.tiles.STORED_STATUS, over a unit `a` and the kept tables gn, gc).
_STATUS = tiles_queries.STORED_STATUS


def create_views(url: str) -> None:
    from geoservice.analysis import gaps as analysis

    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE OR REPLACE VIEW {INITIATIVES} AS SELECT {PUBLIC_COLUMNS}, "
                          "CAST(ST_Transform(location, 4326) AS geometry(Point, 4326)) AS geom "
                          "FROM initiative WHERE status = 'published'"))
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS {INDEX} ON initiative "
                          "USING gist ((CAST(ST_Transform(location, 4326) AS geometry(Point, 4326))))"))
        status = _STATUS.replace(":min_inwoners", str(int(analysis.MIN_INWONERS["default"]))).replace(
            ":covered", repr(float(analysis.COVERED)))
        conn.execute(text(f"""CREATE OR REPLACE VIEW {BUURTEN} AS
            SELECT a.code, a.naam, a.aantal_inwoners, {status} AS status,
                   coalesce(gn.n_inside, 0) AS n_initiatives, coalesce(gn.n_nearby, 0) AS n_nearby,
                   CAST(round(CAST(least(greatest(coalesce(gc.coverage, 0), 0), 1) AS numeric), 3) AS float8) AS coverage,
                   nd.need, CASE WHEN {status} = 'white_spot' THEN nd.white_spot_priority END AS priority,
                   a.geom
            FROM buurt AS a JOIN cbs_jaar AS j ON j.jaar = a.jaar AND j.is_active
            LEFT JOIN gap_counts AS gn ON gn.jaar = a.jaar AND gn.code = a.code
            LEFT JOIN gap_coverage AS gc ON gc.jaar = a.jaar AND gc.code = a.code
            LEFT JOIN gap_need AS nd ON nd.jaar = a.jaar AND nd.code = a.code"""))
        conn.execute(text("ANALYZE initiative"))
    engine.dispose()


def tipg_database_url(url: str) -> str:
    """asyncpg's form of the bench database URL: a unix socket goes percent-encoded into the host part."""
    u = make_url(url)
    host = u.query.get("host") or u.host or "127.0.0.1"
    port = u.query.get("port") or u.port or 5432
    auth = quote(u.username or "", safe="") + (f":{quote(u.password, safe='')}" if u.password else "")
    return f"postgresql://{auth}@{quote(str(host), safe='')}:{port}/{u.database}"


def start_tipg(venv: Path, url: str, workers: int, log, pg_env: dict[str, str]):
    port = free_port()
    env = {**os.environ, **pg_env, "DATABASE_URL": tipg_database_url(url), "TIPG_CATALOG_TTL": "0",
           "TIPG_DB_TABLES": json.dumps([f"public.{INITIATIVES}", f"public.{BUURTEN}"]),
           "TIPG_DB_FUNCTIONS": "[]", "TIPG_TABLE_CONFIG__public_peer_tipg_buurten__PK": "code",
           "TIPG_MAX_FEATURES_PER_QUERY": "10000", "TIPG_DEBUG": "FALSE"}
    proc = subprocess.Popen(
        [str(venv / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env=env, start_new_session=True, stdout=log, stderr=log, cwd=tempfile.gettempdir())
    import http.client

    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", f"/collections/public.{INITIATIVES}")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.3)
    stop_gunicorn(proc)
    raise SystemExit("tipg did not start (see its log)")


# -- the requests ---------------------------------------------------------------------------------------------
def buurt_points(url: str, n: int, seed: int) -> list[tuple[float, float]]:
    """A point in each of n buurten of the active year (Baarn and Amsterdam in the bench data)."""
    return seeded_points(url, "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(b.geom), 4326) "
                              "AS p FROM buurt AS b JOIN cbs_jaar AS j ON j.jaar = b.jaar AND j.is_active "
                              "ORDER BY random() LIMIT :n) s", n, seed)


def scenarios(url: str, n_boxes: int) -> dict[str, dict[str, list[str]]]:
    from peer import boxes

    bbs = boxes(sample_points(url, n_boxes, seed=21))
    engine = db.make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        ids = [r.id for r in conn.execute(text(
            "SELECT id FROM initiative WHERE status = 'published' ORDER BY random() LIMIT 200"))]
    engine.dispose()
    points = sample_points(url, 50, seed=27)
    tiles = [(ZOOMS[i % 3], *tile_at(lon, lat, ZOOMS[i % 3])) for i, (lon, lat) in enumerate(points)]
    btiles = sorted({(ZOOMS[i % 3], *tile_at(lon, lat, ZOOMS[i % 3]))
                     for i, (lon, lat) in enumerate(buurt_points(url, 60, seed=29))})[:50]
    coll = f"/collections/public.{INITIATIVES}"
    return {
        "bbox": {"tipg": [f"{coll}/items?bbox={b}&limit=100" for b in bbs],
                 "ours": [f"/ogc/collections/initiatives/items?bbox={b}&limit=100" for b in bbs]},
        "item": {"tipg": [f"{coll}/items/{i}" for i in ids], "ours": [f"/ogc/collections/initiatives/items/{i}" for i in ids]},
        "tile": {"tipg": [f"{coll}/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={TILE_PROPERTIES['initiatives']}"
                          for z, x, y in tiles],
                 "ours": [f"/tiles/initiatives/{z}/{x}/{y}.mvt" for z, x, y in tiles]},
        "buurt-tile": {"tipg": [f"/collections/public.{BUURTEN}/tiles/WebMercatorQuad/{z}/{x}/{y}?properties="
                                f"{TILE_PROPERTIES['buurten']}" for z, x, y in btiles],
                       "ours": [f"/tiles/buurten/{z}/{x}/{y}.mvt" for z, x, y in btiles]},
    }


def fetch(port: int, path: str) -> bytes:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Accept": "application/geo+json, application/json, */*"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status not in (200, 204):
        raise SystemExit(f"FAIL: {path} answered {response.status}: {body[:300]!r}")
    return body


def check(ports: dict[str, int], plan) -> dict[tuple[str, str], float]:
    """Every request of every kind to both: the same answers (see the module's docstring). Returns mean bytes."""
    from peer import same, summary

    sizes = {}
    for kind, per_server in plan.items():
        answers = {label: [fetch(ports[label], p) for p in paths] for label, paths in per_server.items()}
        for label, bodies in answers.items():
            sizes[kind, label] = sum(map(len, bodies)) / len(bodies)
        mismatches, features, extra = [], 0, 0
        for n, (theirs, ours) in enumerate(zip(answers["tipg"], answers["ours"])):
            where = per_server["ours"][n]
            if kind in ("bbox", "item"):
                expected, got = summary(json.loads(theirs)), summary(json.loads(ours))
                features += len(json.loads(theirs).get("features", [None]))
                if not same(expected, got):
                    mismatches.append(f"{where}: ours {got} ≠ tipg {expected}")
            elif kind == "tile":
                t = {f["properties"]["id"]: f for f in decode(theirs).get(f"public.{INITIATIVES}", [])
                     or next(iter(decode(theirs).values()), [])}
                o = {f["properties"]["id"]: f for f in points_inside(decode(ours).get("initiatives", []))}
                # ST_AsMVTGeom snaps to the 4096 grid: a point within half a unit of the edge lands on it from
                # either side, so a point on the edge may be in either tile alone.
                edge = {i for i, f in o.items() if {0, EXTENT} & set(first_point(f["geometry"]))}
                features += len(t)
                if not (set(o) - edge <= set(t) <= set(o)) or not t:
                    mismatches.append(f"{where}: ours {len(o)} points inside the tile, tipg {len(t)}; "
                                      f"only ours {sorted(set(o) - set(t))[:5]}, only tipg {sorted(set(t) - set(o))[:5]}")
                elif any((t[i]["properties"]["name"], t[i]["properties"]["kind"]) !=
                         (o[i]["properties"]["name"], o[i]["properties"]["kind"]) for i in t):
                    mismatches.append(f"{where}: other names or kinds")
            else:
                keys = ("status", "n_initiatives", "n_nearby", "coverage", "aantal_inwoners", "naam", "need", "priority")
                t = {f["properties"]["code"]: f["properties"] for f in next(iter(decode(theirs).values()), [])}
                o = {f["properties"]["code"]: f["properties"] for f in decode(ours).get("buurten", [])}
                features += len(t)
                extra += len(set(o) - set(t))
                if not t or set(t) - set(o):
                    mismatches.append(f"{where}: tipg has buurten ours lacks: {sorted(set(t) - set(o))[:5]}")
                for code in set(t) & set(o):
                    a = tuple(o[code].get(k) for k in keys)
                    b = tuple(t[code].get(k) for k in keys)
                    if a[:2] != b[:2] or a[4:] != b[4:] or abs(a[3] - b[3]) > 1e-9 or a[2] != b[2]:
                        mismatches.append(f"{where} {code}: ours {a} ≠ tipg {b}")
        if mismatches:
            raise SystemExit(f"FAIL: {kind}: not the same answers:\n  " + "\n  ".join(mismatches[:5]))
        what = {"bbox": "same ids in the same order and the same numberMatched",
                "item": "same ids, positions within 1e-6°",
                "tile": "same points inside each tile (ours also carry the 64-unit buffer), same names and kinds",
                "buurt-tile": f"same buurten with the same status, counts, coverage, need and priority (ours {extra} more in "
                              "the tile buffers)"}[kind]
        print(f"  {kind}: {len(answers['tipg'])} requests, {features} features from tipg; {what}")
    return sizes


def run(args) -> None:
    """The tipg comparison (bench/peer.py --peer tipg)."""
    from peer import CpuMeter, bench_database, load_generator, load_average, timed, warm_up

    wrk = load_generator(args)
    print(f"machine: {machine()}")
    venv = pinned_venv(VENV, PINS)
    url = bench_database()
    print(f"tipg {tipg_version(venv)} under uvicorn, {args.peer_workers} workers, TIPG_CATALOG_TTL=0; VIEWs "
          f"{INITIATIVES} (WGS84, GiST index on the expression) and {BUURTEN} (gap figures from the kept tables), "
          "bench database only, dropped afterwards")
    plan = scenarios(url, args.boxes)
    create_views(url)
    procs, meter = [], CpuMeter(url)
    results: dict[str, dict[str, list]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-peer-tipg-") as tmp:
        log = open(Path(tmp) / "servers.log", "w")  # noqa: SIM115 (closed in finally, after the servers)
        try:
            pg_env = {"PGOPTIONS": args.pg_options} if args.pg_options else {}
            peer, peer_port = start_tipg(venv, url, args.peer_workers, log, pg_env)
            procs.append(peer)
            saved = dict(os.environ)
            os.environ.update(pg_env)
            try:
                os.environ["GEOSERVICE_TILE_CACHE_MB"] = "0"
                cold, cold_port = start_gunicorn(url, args.workers, log=log, threads=args.threads)
                procs.append(cold)
                os.environ.pop("GEOSERVICE_TILE_CACHE_MB")
                warm, warm_port = start_gunicorn(url, args.workers, log=log, threads=args.threads)
                procs.append(warm)
            finally:
                os.environ.clear()
                os.environ.update(saved)
            ports = {"tipg": peer_port, "ours": cold_port, "ours-warm": warm_port}
            groups = {"tipg": peer.pid, "ours": cold.pid, "ours-warm": warm.pid}
            print("correctness (before timing):")
            before = load_average()
            sizes = check(ports, plan)
            slice_s = max(1, round(args.seconds / args.rounds))
            kind_of = f"gthread workers × {args.threads} threads" if args.threads else "sync workers"
            print(f"ours: gunicorn, {args.workers} {kind_of}, tile cache off (cold) and on (warm); "
                  f"{args.connections} connections; {args.rounds} interleaved rounds of {slice_s} s per server")
            print(f"{'request':<10} {'server':<9} {'req/s':>7} {'rounds req/s':<22} {'p50 ms':>7} {'p99 ms':>7} "
                  f"{'bytes':>7} {'errors':>6} {'CPU ms':>7} {'× tipg':>7} {'× by CPU':>8}")
            generator = "?"
            for kind, per_server in plan.items():
                servers = {"tipg": per_server["tipg"], "ours": per_server["ours"]}
                if kind in ("tile", "buurt-tile"):
                    servers["ours-warm"] = per_server["ours"]
                totals = {label: {"rps": [], "ms": [], "errors": 0, "cpu": 0.0, "n": 0} for label in servers}
                for label, paths in servers.items():
                    warm_up(ports[label], paths, args.connections)
                for _ in range(args.rounds):
                    for label, paths in servers.items():
                        cpu_before = meter.snapshot(groups[label])
                        elapsed, ms, errors, generator = timed(wrk, ports[label], paths, slice_s, args.connections)
                        totals[label]["cpu"] += meter.since(cpu_before, groups[label])
                        totals[label]["rps"].append(len(ms) / elapsed)
                        totals[label]["ms"] += ms
                        totals[label]["errors"] += errors
                        totals[label]["n"] += len(ms)
                results[kind] = totals
                base = totals["tipg"]
                base_rps = percentile(base["rps"], 0.5)
                base_cpu = base["cpu"] / max(1, base["n"]) * 1000
                for label, t in totals.items():
                    rps = percentile(t["rps"], 0.5)
                    cpu_ms = t["cpu"] / max(1, t["n"]) * 1000
                    ratio = f"{rps / base_rps:>7.2f}" if label != "tipg" else f"{'':>7}"
                    by_cpu = f"{base_cpu / cpu_ms:>8.2f}" if label != "tipg" and cpu_ms else f"{'':>8}"
                    rounds = " ".join(f"{r:.0f}" for r in t["rps"])
                    size = sizes.get((kind, "ours" if label == "ours-warm" else label), 0)
                    print(f"{kind:<10} {label:<9} {rps:>7.0f} {rounds:<22} {percentile(t['ms'], 0.5):>7.1f} "
                          f"{percentile(t['ms'], 0.99):>7.1f} {size:>7.0f} {t['errors']:>6} {cpu_ms:>7.2f} {ratio} {by_cpu}",
                          flush=True)
            print("req/s: the median of the rounds; CPU ms: CPU per request of the server's processes plus the "
                  "database's backends (from /proc); × by CPU: tipg's CPU per request ÷ ours")
            print(f"load generator: {generator}; load average before {before}, after {load_average()} "
                  "(other work on the machine shares its cores: compare the ratios, not the absolute figures)")
        finally:
            for proc in procs:
                stop_gunicorn(proc)
            log.close()
            meter.close()
            drop_peer_objects(url, (INITIATIVES, BUURTEN), (INDEX,))
    failed = []
    for kind, target in TARGETS.items():
        totals = results[kind]
        ratio = percentile(totals["ours"]["rps"], 0.5) / percentile(totals["tipg"]["rps"], 0.5)
        per_round = [o / t for o, t in zip(totals["ours"]["rps"], totals["tipg"]["rps"])]
        errors = sum(t["errors"] for t in totals.values())
        warm = ""
        if "ours-warm" in totals:
            warm = f"; caches warm {percentile(totals['ours-warm']['rps'], 0.5) / percentile(totals['tipg']['rps'], 0.5):.2f}×"
        ok = ratio >= target and not errors
        failed += [] if ok else [kind]
        print(f"{'PASS' if ok else 'FAIL'}: {kind:<10} ours/tipg {ratio:.2f}× (target ≥ {target:g}×"
              f"{', caches cold' if 'tile' in kind else ''}; per round {', '.join(f'{r:.2f}' for r in per_round)})"
              f"{warm}{f'; {errors} errors' if errors else ''}")
    raise SystemExit(1 if failed else 0)
