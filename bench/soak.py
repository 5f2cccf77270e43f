#!/usr/bin/env python3
"""Soak: readers and several writers at once through gunicorn; no 5xx, no lost write, a data version that only grows.

Usage: .venv/bin/python bench/soak.py [--seconds 60] [--workers N] [--threads N] [--clients 6] [--importers 2]
Runs on a copy of the bench database (bench/generate.py: 100,000 synthetic initiatives; built first when
missing), made for this run and dropped afterwards, served by gunicorn on 127.0.0.1. For the whole time:
- `--clients` processes each send one request after the other: 40 % reads (API listings and nearby, OGC
  items, initiative and buurt tiles, pages), 25 % moderation PATCHes that move an initiative (half of them their
  own published ones, half the importers' rows, which the importers rewrite meanwhile), 20 % public
  submissions, 15 % partner edits (a new service area around a point, removing one, a new description) by
  their own partner editor (at most one a second: the API allows 60 a minute);
- `--importers` processes import 1,000-row files (synthetic, "(synthetisch)") over and over through the same
  function as `geoservice import-initiatives`; the files share ids in a different order each time, so the
  importers and the moderation writers fight over the same tables and triggers;
- a monitor reads the data version every 20 ms.
Checks, each printed with PASS/FAIL, and exits 1 when any fails: no response of 500 or above; no deadlock or
serialization failure reaching a user (a 5xx, an import error or such a line in the server log); every
acknowledged write present afterwards (moves — of imported rows: their audit entries —, submissions, service
areas added and removed, descriptions, imported rows); the data version never went down. Loopback only,
bounded in time.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import multiprocessing as mp
import os
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _common import default_workers, machine, percentile, sample_points, scratch_databases, start_gunicorn, stop_gunicorn
from generate import BENCH_DB, bench_database_url
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import accounts, db
from geoservice.tiles import tile_at

SOAK_DB = "geoservice_soak"
MIX = (("read", 40), ("move", 25), ("submit", 20), ("partner", 15))
PARTNER_EVERY_S = 1.05  # the API allows a partner editor 60 writes a minute
IMPORT_ROWS = 1000
IMPORT_IDS = 1500  # ids the importers draw their 1,000 rows from: most rows are in both importers' files
SOURCE = "soak"
PASSWORD = "soak-wachtwoord-123"  # noqa: S105 - synthetic users in a throw-away database
TRANSIENT = ("deadlock detected", "could not serialize", "DeadlockDetected", "SerializationFailure")


# -- setup -----------------------------------------------------------------------------------------------
def prepare(url: str, clients: int) -> dict:
    """Users and tokens, the partners and initiatives each client owns, places to read, and the importers' rows
    (imported once beforehand, so that moderators can move them while the importers rewrite them)."""
    engine = db.make_engine(url)
    plan = {"clients": []}
    points = sample_points(url, 200, seed=31)
    with tempfile.TemporaryDirectory(prefix="soak-seed-") as tmp:
        from geoservice.imports.initiatives import import_initiatives

        path = Path(tmp) / "initiatieven.csv"
        write_import(path, range(IMPORT_IDS), random.Random(7), points, "seed")
        import_initiatives(engine, path, source=SOURCE)
    with Session(engine) as session:
        partners = session.execute(text("SELECT id FROM partner ORDER BY id LIMIT :n"), {"n": clients}).scalars().all()
        session.execute(text("SELECT setseed(0.5)"))
        ids = session.execute(text(
            "SELECT id, ST_X(ST_Transform(location, 4326)) AS lon, ST_Y(ST_Transform(location, 4326)) AS lat "
            "FROM initiative WHERE status = 'published' AND source <> :s ORDER BY random() LIMIT :n"),
            {"n": 40 * clients, "s": SOURCE}).all()
        baarn = session.execute(text("SELECT id FROM initiative WHERE gemeentecode = 'GM0308' AND status = 'published' "
                                     "ORDER BY id LIMIT 20")).scalars().all()
        contested = session.execute(text("SELECT id, ST_X(ST_Transform(location, 4326)) AS lon, "
                                         "ST_Y(ST_Transform(location, 4326)) AS lat FROM initiative "
                                         "WHERE source = :s ORDER BY id"), {"s": SOURCE}).all()
        plan["contested"] = [(r.id, r.lon, r.lat) for r in contested]
        for n in range(clients):
            moderator = accounts.create_user(session, f"soak-moderator-{n}@example.nl", role="moderator",
                                             password=PASSWORD)
            editor = accounts.create_user(session, f"soak-editor-{n}@example.nl", role="partner_editor",
                                          password=PASSWORD, partner_id=partners[n])
            plan["clients"].append({
                "moderator": accounts.create_token(session, moderator)[1],
                "editor": accounts.create_token(session, editor)[1], "partner": partners[n],
                "initiatives": [(r.id, r.lon, r.lat) for r in ids[40 * n:40 * (n + 1)]]})
        session.commit()
    plan["points"] = points
    plan["baarn"] = list(baarn)
    engine.dispose()
    return plan


def read_paths(points, baarn, rng: random.Random) -> str:
    lon, lat = rng.choice(points)
    kind = rng.randrange(8)
    if kind == 0:
        return f"/api/v1/initiatives?bbox={lon - 0.03:.5f},{lat - 0.02:.5f},{lon + 0.03:.5f},{lat + 0.02:.5f}&limit=100"
    if kind == 1:
        return f"/api/v1/initiatives/nearby?lat={lat:.5f}&lon={lon:.5f}&radius_m=2000"
    if kind == 2:
        return f"/ogc/collections/initiatives/items?bbox={lon - 0.03:.5f},{lat - 0.02:.5f},{lon + 0.03:.5f},{lat + 0.02:.5f}&limit=100"
    if kind in (3, 4):
        if kind == 4:  # buurten with their gap figures: the bench data has buurten in Baarn (and Amsterdam)
            lon, lat = 5.2878 + rng.uniform(-0.03, 0.03), 52.2165 + rng.uniform(-0.02, 0.02)
        z = 13 if kind == 3 else 12
        x, y = tile_at(lon, lat, z)
        return f"/tiles/{'initiatives' if kind == 3 else 'buurten'}/{z}/{x}/{y}.mvt"
    if kind == 5:
        return f"/initiatief/{rng.choice(baarn)}"
    if kind == 6:
        return "/gemeente/GM0308"
    return "/api/v1/gaps?gemeente=GM0308&level=buurt"


# -- one HTTP client process ------------------------------------------------------------------------------
def client_process(n: int, port: int, plan: dict, stop_at: float, out) -> None:
    rng = random.Random(1000 + n)
    me = plan["clients"][n]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    counts, latencies, failures = Counter(), {}, []
    moved, submitted, areas_added, areas_removed, description = {}, [], [], [], None
    moved_contested: dict[int, int] = {}  # initiative id -> acknowledged moves
    own_areas: list[int] = []
    last_partner_write, k = 0.0, 0
    weights = [w for _, w in MIX]

    def send(method: str, path: str, body=None, token: str | None = None, client: str | None = None):
        nonlocal conn
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if client:
            headers["X-Forwarded-For"] = client
        started = time.perf_counter()
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status, data = 0, repr(exc).encode()
        return status, data, time.perf_counter() - started

    while time.time() < stop_at:
        k += 1
        kind = rng.choices([name for name, _ in MIX], weights)[0]
        if kind == "partner" and time.monotonic() - last_partner_write < PARTNER_EVERY_S:
            kind = "read"
        if kind == "read":
            path = read_paths(plan["points"], plan["baarn"], rng)
            label = "read " + path.split("?")[0].split("/")[1] + ("/" + path.split("/")[2] if path.startswith(("/tiles", "/api")) else "")
            status, data, seconds = send("GET", path)
            ok = status in (200, 204)
        elif kind == "move":
            contested = rng.random() < 0.5  # a row the importers rewrite meanwhile: checked by its audit entry
            initiative_id, lon, lat = rng.choice(plan["contested"] if contested else me["initiatives"])
            point = {"lon": round(lon + rng.uniform(-0.01, 0.01), 6), "lat": round(lat + rng.uniform(-0.006, 0.006), 6)}
            label = "write moderation PATCH (move)"
            status, data, seconds = send("PATCH", f"/api/v1/initiatives/{initiative_id}", point, me["moderator"])
            ok = status == 200
            if ok and contested:
                moved_contested[initiative_id] = moved_contested.get(initiative_id, 0) + 1
            elif ok:
                moved[initiative_id] = (point["lon"], point["lat"])
        elif kind == "submit":
            lon, lat = rng.choice(plan["points"])
            name = f"Soak-aanmelding {n}.{k} (synthetisch)"
            body = {"name": name, "kind": "bewonersinitiatief", "themes": ["ontmoeting"],
                    "description": "Synthetische aanmelding van bench/soak.py.", "lat": round(lat, 6), "lon": round(lon, 6),
                    "contact": {"name": "Soak", "email": "soak@example.nl"}}
            label = "write submission POST"
            # one submitter per request (the API allows 5 an hour per client): loopback-style addresses
            status, data, seconds = send("POST", "/api/v1/submissions", body, client=f"127.{10 + n}.{k // 250}.{k % 250}")
            ok = status == 201
            if ok:
                submitted.append((json.loads(data)["id"], name))
        else:
            last_partner_write = time.monotonic()
            pid = me["partner"]
            action = rng.random()
            if action < 0.45 or len(own_areas) < 2:
                lon, lat = rng.choice(plan["points"])
                body = {"name": f"Soak-werkgebied {n}.{k} (synthetisch)", "point": {"lat": round(lat, 6), "lon": round(lon, 6)},
                        "radius_m": rng.choice((500, 1000, 1500))}
                label = "write partner service area POST"
                status, data, seconds = send("POST", f"/api/v1/partners/{pid}/service-areas", body, me["editor"])
                ok = status == 201
                if ok:
                    own_areas.append(json.loads(data)["id"])
                    areas_added.append(own_areas[-1])
            elif action < 0.75:
                area = own_areas.pop(rng.randrange(len(own_areas)))
                label = "write partner service area DELETE"
                status, data, seconds = send("DELETE", f"/api/v1/partners/{pid}/service-areas/{area}", None, me["editor"])
                ok = status == 204
                if ok:
                    areas_removed.append(area)
                else:
                    own_areas.append(area)
            else:
                text_ = f"Synthetische partner, beschrijving {n}.{k} (bench/soak.py)."
                label = "write partner PATCH"
                status, data, seconds = send("PATCH", f"/api/v1/partners/{pid}", {"description": text_}, me["editor"])
                ok = status == 200
                if ok:
                    description = text_
        counts[label, status] += 1
        latencies.setdefault(label, []).append(seconds)
        if status >= 500 or status == 0 or not ok:
            failures.append((label, status, data[:300].decode("utf-8", "replace")))
    out.put({"counts": counts, "latencies": latencies, "failures": failures, "moved": moved,
             "moved_contested": moved_contested, "moderator": f"soak-moderator-{n}@example.nl",
             "submitted": submitted, "areas_added": areas_added, "areas_removed": areas_removed,
             "description": (me["partner"], description)})


# -- one importer process ---------------------------------------------------------------------------------
def importer_process(n: int, url: str, points, stop_at: float, out) -> None:
    from geoservice.imports.initiatives import import_initiatives

    rng = random.Random(2000 + n)
    engine = db.make_engine(url)
    acked: dict[str, str] = {}  # external id -> the name of the last acknowledged import of it
    imports, rows, seconds, errors = 0, 0, [], []
    with tempfile.TemporaryDirectory(prefix="soak-import-") as tmp:
        path = Path(tmp) / "initiatieven.csv"
        while time.time() < stop_at:
            imports += 1
            chosen = rng.sample(range(IMPORT_IDS), IMPORT_ROWS)  # another subset, in another order, each time
            names = write_import(path, chosen, rng, points, f"r{n}.{imports}")
            started = time.perf_counter()
            try:
                report = import_initiatives(engine, path, source=SOURCE)
            except Exception as exc:  # noqa: BLE001 - counted and printed: a failure of the soak
                errors.append(repr(exc)[:300])
                continue
            seconds.append(time.perf_counter() - started)
            if report.applied and not report.rejected:
                acked.update(names)
                rows += len(names)
            else:
                errors.append("import not applied: " + "; ".join(report.lines()[:3]))
    engine.dispose()
    out.put({"importer": n, "imports": imports, "rows": rows, "seconds": seconds, "errors": errors, "acked": acked})


def write_import(path: Path, chosen, rng: random.Random, points, run: str) -> dict[str, str]:
    """A CSV of synthetic initiatives with ids soak-<n> for n in chosen; returns their names by id."""
    names = {}
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["id", "naam", "soort", "themas", "lat", "lon"])
        for i in chosen:
            lon, lat = rng.choice(points)
            names[f"soak-{i}"] = f"Soak-import {i} {run} (synthetisch)"
            writer.writerow([f"soak-{i}", names[f"soak-{i}"], "bewonersinitiatief", "ontmoeting",
                             f"{lat:.6f}", f"{lon:.6f}"])
    return names


# -- the data version -------------------------------------------------------------------------------------
class VersionMonitor(threading.Thread):
    def __init__(self, url: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.engine, self.stop, self.seen, self.backwards = db.make_engine(url), stop, [], []

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                version = conn.execute(text("SELECT version FROM data_version")).scalar_one()
                conn.rollback()
                if self.seen and version < self.seen[-1]:
                    self.backwards.append((self.seen[-1], version))
                if not self.seen or version != self.seen[-1]:
                    self.seen.append(version)
                time.sleep(0.02)
        self.engine.dispose()


# -- verification ----------------------------------------------------------------------------------------
def verify(url: str, results: list[dict], imports: list[dict]) -> list[str]:
    """What was acknowledged and is not in the database (empty: everything is there)."""
    missing = []
    engine = db.make_engine(url)
    with engine.connect() as conn:
        for r in results:
            for initiative_id, (lon, lat) in r["moved"].items():
                got = conn.execute(text("SELECT ST_X(ST_Transform(location, 4326)), ST_Y(ST_Transform(location, 4326)) "
                                        "FROM initiative WHERE id = :id"), {"id": initiative_id}).one()
                if abs(got[0] - lon) > 2e-6 or abs(got[1] - lat) > 2e-6:
                    missing.append(f"move of initiative {initiative_id} to {lon},{lat}: stored {got[0]:.6f},{got[1]:.6f}")
            for initiative_id, count in r["moved_contested"].items():
                audited = conn.execute(text(
                    "SELECT count(*) FROM audit_log WHERE entity_type = 'initiative' AND entity_id = :id "
                    "AND action = 'edit' AND actor = :actor AND CAST(changes AS jsonb) ? 'location'"),
                    {"id": initiative_id, "actor": r["moderator"]}).scalar()
                if audited < count:
                    missing.append(f"{count} moves of imported initiative {initiative_id}: {audited} in the audit log")
            for new_id, name in r["submitted"]:
                row = conn.execute(text("SELECT name, status FROM initiative WHERE id = :id"), {"id": new_id}).first()
                if row is None or row.name != name or row.status != "pending":
                    missing.append(f"submission {new_id} '{name}': stored {row and tuple(row)}")
            present = set(conn.execute(text("SELECT id FROM service_area WHERE id = ANY(CAST(:ids AS int[]))"),
                                       {"ids": r["areas_added"] + r["areas_removed"]}).scalars())
            missing += [f"service area {a} added, not there" for a in set(r["areas_added"]) - set(r["areas_removed"]) - present]
            missing += [f"service area {a} removed, still there" for a in set(r["areas_removed"]) & present]
            partner_id, description = r["description"]
            if description is not None:
                stored = conn.execute(text("SELECT description FROM partner WHERE id = :id"), {"id": partner_id}).scalar()
                if stored != description:
                    missing.append(f"partner {partner_id} description {description!r}: stored {stored!r}")
        stored = dict(conn.execute(text("SELECT external_id, name FROM initiative WHERE source = :s"), {"s": SOURCE}).all())
        for ext_id in set().union(*(set(i["acked"]) for i in imports)) if imports else ():
            candidates = {i["acked"][ext_id] for i in imports if ext_id in i["acked"]}
            if stored.get(ext_id) not in candidates:  # the last import of it by one importer or the other
                missing.append(f"imported row {ext_id}: stored {stored.get(ext_id)!r}, acknowledged {sorted(candidates)}")
    engine.dispose()
    return missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="How long the load runs.")
    parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn sync workers (2 × cores + 1).")
    parser.add_argument("--threads", type=int, default=0,
                        help="gthread workers with this many threads each instead of sync workers (0: sync).")
    parser.add_argument("--clients", type=int, default=6, help="HTTP client processes (reads, moves, submissions, partner edits).")
    parser.add_argument("--importers", type=int, default=2, help="Processes importing 1,000-row files over and over.")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    server = scratch_databases()
    bench_database_url(server)  # built when missing, migrated to head
    url = server.create(SOAK_DB, template=BENCH_DB)
    print(f"database: a copy of {BENCH_DB} (100,000 synthetic initiatives), dropped afterwards")
    plan = prepare(url, args.clients)
    os.environ.update({"GEOSERVICE_TRUSTED_PROXIES": "1", "GEOSERVICE_SECRET_KEY": "soak-" + os.urandom(8).hex()})
    deadlocks_before = _deadlocks(url)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        log_path = Path(tmp) / "gunicorn.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed after the server
        proc, port = start_gunicorn(url, args.workers, log=log, threads=args.threads)
        stop = threading.Event()
        monitor = VersionMonitor(url, stop)
        try:
            ctx = mp.get_context("fork")
            out = ctx.Queue()
            stop_at = time.time() + args.seconds
            monitor.start()
            procs = [ctx.Process(target=client_process, args=(n, port, plan, stop_at, out)) for n in range(args.clients)]
            procs += [ctx.Process(target=importer_process, args=(n, url, plan["points"], stop_at, out))
                      for n in range(args.importers)]
            kind = f"gthread workers × {args.threads} threads" if args.threads else "sync workers"
            print(f"gunicorn: {args.workers} {kind} on 127.0.0.1; {args.clients} client processes "
                  f"(mix {', '.join(f'{k} {w} %' for k, w in MIX)}), {args.importers} importers of "
                  f"{IMPORT_ROWS:,}-row files; {args.seconds:g} s", flush=True)
            for p in procs:
                p.start()
            got = [out.get(timeout=args.seconds + 300) for _ in procs]
            for p in procs:
                p.join(30)
        finally:
            stop.set()
            monitor.join(5)
            stop_gunicorn(proc)
            log.close()
        server_log = log_path.read_text(errors="replace")
    results = [r for r in got if "counts" in r]
    imports = [r for r in got if "importer" in r]
    counts = sum((r["counts"] for r in results), Counter())
    latencies: dict[str, list[float]] = {}
    for r in results:
        for label, values in r["latencies"].items():
            latencies.setdefault(label, []).extend(values)
    total = sum(counts.values())
    reads = sum(n for (label, _), n in counts.items() if label.startswith("read"))
    print(f"{'request':<36} {'count':>6} {'statuses':<28} {'p50 ms':>7} {'p99 ms':>8}")
    for label in sorted(latencies):
        statuses = ", ".join(f"{s}×{n}" for (lab, s), n in sorted(counts.items()) if lab == label)
        ms = [s * 1000 for s in latencies[label]]
        print(f"{label:<36} {len(ms):>6} {statuses:<28} {percentile(ms, 0.5):>7.1f} {percentile(ms, 0.99):>8.1f}")
    print(f"HTTP requests: {total} ({reads / max(1, total):.0%} reads) in {args.seconds:g} s")
    for i in imports:
        took = sorted(i["seconds"])
        print(f"importer {i['importer']}: {len(took)} imports of {IMPORT_ROWS:,} rows acknowledged "
              f"({i['rows']:,} rows), median {percentile(took, 0.5):.1f} s each, {len(i['errors'])} errors")
    deadlocks = _deadlocks(url) - deadlocks_before
    print(f"deadlocks PostgreSQL detected and broke (each retried inside its transaction boundary): {deadlocks}")
    print(f"data version: {monitor.seen[0] if monitor.seen else '?'} → {monitor.seen[-1] if monitor.seen else '?'} "
          f"({len(monitor.seen)} values seen)")

    server_errors = [f for r in results for f in r["failures"] if f[1] >= 500 or f[1] == 0]
    other = [f for r in results for f in r["failures"] if 0 < f[1] < 500]
    transient_in_log = [line for line in server_log.splitlines() if any(t in line for t in TRANSIENT)]
    import_errors = [e for i in imports for e in i["errors"]]
    missing = verify(url, results, imports)

    def judge(ok: bool, what: str, detail: list[str]) -> None:
        print(f"{'PASS' if ok else 'FAIL'}: {what}")
        for line in detail[:5]:
            print(f"    {line}")
        if not ok:
            failed.append(what)

    judge(not server_errors, f"0 responses of 500 or above (got {len(server_errors)})",
          [f"{label}: {status} {body}" for label, status, body in server_errors])
    judge(not transient_in_log and not import_errors and not any(any(t in f[2] for t in TRANSIENT) for f in other),
          "no deadlock or serialization failure reached a user or an import",
          transient_in_log[:3] + import_errors[:3])
    judge(not missing, f"every acknowledged write is there afterwards "
                       f"({sum(len(r['moved']) for r in results)} moved initiatives, "
                       f"{sum(sum(r['moved_contested'].values()) for r in results)} moves of imported ones, "
                       f"{sum(len(r['submitted']) for r in results)} submissions, "
                       f"{sum(len(r['areas_added']) for r in results)} service areas added and "
                       f"{sum(len(r['areas_removed']) for r in results)} removed, "
                       f"{sum(r['description'][1] is not None for r in results)} partner descriptions, "
                       f"{sum(len(i['acked']) for i in imports)} imported ids)", missing)
    judge(not monitor.backwards and len(monitor.seen) > 1, "the data version only grew",
          [f"{a} → {b}" for a, b in monitor.backwards])
    if other:
        print(f"other answers (not failures of the soak): {Counter((f[0], f[1]) for f in other)}; e.g. {other[0][2][:200]}")
    server.drop(SOAK_DB)
    raise SystemExit(1 if failed else 0)


def _deadlocks(url: str) -> int:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")).scalar()
    engine.dispose()
    return int(value or 0)


if __name__ == "__main__":
    main()
