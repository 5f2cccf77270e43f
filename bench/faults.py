#!/usr/bin/env python3
"""Fault script: stop PostGIS under load, start it again; the service answers 503 meanwhile and recovers by itself.

Usage: .venv/bin/python bench/faults.py [--before 5] [--outage 5] [--after 10] [--connections 8] [--initiatives 10000]
Everything runs on a private PostGIS cluster in a temporary folder (never the developer's `.pgdata` or the
shared bench database): the shipped CBS map plus synthetic initiatives and partners (bench/generate.py).
gunicorn (2 × cores + 1 workers) serves it on 127.0.0.1 while the Python load generator sends the load.py mix
plus a search page. After `--before` s the cluster is stopped (pg_ctl stop -m fast: open connections are cut),
after `--outage` s started again; gunicorn is never touched. Prints a timeline per second and checks:
during the outage only 503s (JSON error shape with Retry-After for the API, the Dutch page for the search
page), no 500, no request without an answer within --timeout; 200s again within --recover-within s of the
restart, with the same gunicorn workers. Exits 1 when a check fails.

Alongside the load a submitter POSTs /api/v1/submissions (--submit-every s, each from its own address via
X-Forwarded-For, so the per-client limit does not interfere). After the restart every submission that was
acknowledged (201) must be in the database and none answered 503 may be; the counts are printed.
`--stop-mode immediate` stops PostGIS like a crash (no shutdown checkpoint): with the embedded cluster's
synchronous_commit = off only the submissions' own `SET LOCAL synchronous_commit = on` keeps them.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import NamedTuple

from _common import (ScratchDatabases, default_workers, machine, run_load, sample_points, start_gunicorn,
                     stop_gunicorn)
from generate import build
from load import mixed_requests

from geoservice import db
from geoservice.config import Settings
from geoservice.localdb import LocalCluster

SERVER_ENV = "GEOSERVICE_FAULTS_DATABASE_URL"  # how ScratchDatabases finds the private cluster
DESCRIPTION = "De database is even niet bereikbaar. Probeer het over een minuut opnieuw."
PAGE_EVERY = 10  # one search page among every 10 requests


def page_path(lon: float, lat: float) -> str:
    return f"/?lat={lat:.5f}&lon={lon:.5f}"


def shape_ok(sample) -> bool:
    """A 503 as promised: the JSON error shape with Retry-After for the API, the Dutch page for people."""
    if sample.label == "page":
        return sample.content_type.startswith("text/html") and b'lang="nl"' in sample.body
    try:
        body = json.loads(sample.body)
    except ValueError:
        return False
    return (sample.content_type.startswith("application/json") and sample.retry_after.isdigit()
            and body == {"code": "ServiceUnavailable", "description": DESCRIPTION})


def worker_pids(master: int) -> set[int]:
    """The processes whose parent is gunicorn's master: its workers."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == master:
            pids.add(int(stat.parent.name))
    return pids


def timeline(samples, events: dict[str, float]) -> None:
    """One line per second: answers by status, and what happened to PostGIS in that second."""
    per_second: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    slowest: dict[int, float] = collections.defaultdict(float)
    for sample in samples:
        second = int(sample.at + sample.seconds)  # when the answer came
        per_second[second][sample.status or "no answer"] += 1
        slowest[second] = max(slowest[second], sample.seconds)
    marks = collections.defaultdict(list)
    for name, at in events.items():
        marks[int(at)].append(f"{name} at {at:.2f} s")
    print(f"{'second':>6}  answers by status{'':<22} slowest   PostGIS")
    for second in range(0, max(per_second) + 1):
        counts = ", ".join(f"{status}×{n}" for status, n in sorted(per_second[second].items(), key=str))
        print(f"{second:>6}  {counts:<39} {slowest[second] * 1000:>6.0f} ms  {'; '.join(marks[second])}")


SUBMIT_AT = (5.2878, 52.2165)  # Baarn: the submissions' points, jittered by a few hundred metres


class Submitted(NamedTuple):
    at: float  # when it was sent, seconds after t0
    name: str
    status: int  # 0: no HTTP answer
    seconds: float
    body: bytes


def submitter(port: int, stop_at: float, every: float, timeout_s: float, t0: float, run: str,
              out: list[Submitted]) -> None:
    """POST a new submission every `every` seconds until `stop_at`, each from its own client address."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    n = 0
    while time.perf_counter() < stop_at:
        n += 1
        name = f"Storingstest {run} {n:04d}"
        body = json.dumps({"name": name, "kind": "overig", "lon": SUBMIT_AT[0] + (n % 20) * 0.0002,
                           "lat": SUBMIT_AT[1] + (n % 13) * 0.0002, "contact": {"email": f"test{n}@example.org"}})
        address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
        sent = time.perf_counter()
        status, answer = 0, b""
        try:
            conn.request("POST", "/api/v1/submissions", body=body, headers=headers)
            response = conn.getresponse()
            status, answer = response.status, response.read()[:2000]
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        out.append(Submitted(sent - t0, name, status, time.perf_counter() - sent, answer))
        time.sleep(max(0.0, sent + every - time.perf_counter()))


def stored_names(url: str, run: str) -> set[str]:
    """The names of this run's submissions that are in the database."""
    from sqlalchemy import text

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(text("SELECT name FROM initiative WHERE source = 'aanmelding' AND name LIKE :p"),
                                    {"p": f"Storingstest {run} %"}))
    finally:
        engine.dispose()


def stop_cluster(cluster: LocalCluster, mode: str) -> None:
    """fast: pg_ctl stop -m fast (open connections are cut, a shutdown checkpoint is written);
    immediate: SIGQUIT to the postmaster, as pg_ctl -m immediate (no checkpoint; recovery on the next start)."""
    if mode == "fast":
        cluster.stop()
        return
    pid = int((cluster.datadir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGQUIT)
    deadline = time.time() + 30
    while cluster.is_running() and time.time() < deadline:
        time.sleep(0.05)


def report_submissions(submitted: list[Submitted], stored: set[str], events: dict[str, float]) -> bool:
    """Counts of the submissions and the durability checks; True when they hold."""
    by_status = collections.Counter(s.status or "no answer" for s in submitted)
    acked = [s for s in submitted if s.status == 201]
    refused = [s for s in submitted if s.status == 503]
    lost = [s for s in acked if s.name not in stored]
    phantom = [s for s in refused if s.name in stored]
    unclear = [s for s in submitted if s.status not in (201, 503)]
    after = [s for s in acked if s.at >= events["started"]]
    counts = ", ".join(f"{k}×{n}" for k, n in sorted(by_status.items(), key=str))
    print(f"submissions: {len(submitted)} sent: {counts}")
    print(f"  acknowledged (201): {len(acked)}, of which in the database after the restart: {len(acked) - len(lost)}")
    print(f"  answered 503: {len(refused)}, of which in the database: {len(phantom)}")
    if unclear:
        print(f"  other answers: {len(unclear)}, of which in the database: {sum(s.name in stored for s in unclear)}")
    checks = [
        ("every acknowledged submission survived the restart", not lost, f"{len(lost)} lost"),
        ("no submission answered 503 was stored", not phantom, f"{len(phantom)} stored anyway"),
        ("submissions answered 503 during the outage", bool(refused), "none"),
        ("submissions acknowledged again after the restart", bool(after), "none"),
        ("no other answers (500, no answer)", not unclear, f"{len(unclear)}"),
    ]
    for label, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {label}{'' if ok else ': ' + detail}")
    return all(ok for _, ok, _ in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=float, default=5, help="Seconds of normal load before PostGIS stops.")
    parser.add_argument("--outage", type=float, default=5, help="Seconds PostGIS stays down.")
    parser.add_argument("--after", type=float, default=10, help="Seconds of load after PostGIS is started again.")
    parser.add_argument("--connections", type=int, default=8, help="Concurrent connections (moderate load).")
    parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn workers (2 × cores + 1).")
    parser.add_argument("--initiatives", type=int, default=10_000,
                        help="Synthetic initiatives in the private database.")
    parser.add_argument("--timeout", type=float, default=10,
                        help="A request without an answer after this many seconds hangs.")
    parser.add_argument("--recover-within", type=float, default=10,
                        help="Seconds after the restart by which every request must answer 200 again.")
    parser.add_argument("--submit-every", type=float, default=0.1,
                        help="Seconds between two submissions (POST /api/v1/submissions) during the run.")
    parser.add_argument("--stop-mode", choices=("fast", "immediate"), default="fast",
                        help="How PostGIS is stopped: fast (pg_ctl -m fast) or immediate (like a crash).")
    args = parser.parse_args()
    print(f"machine: {machine()}")

    scratch = Path(tempfile.mkdtemp(prefix="geoservice-faults-"))
    cluster = LocalCluster(Settings(pgdata=scratch / "pgdata", pg_port=54393))
    proc = None
    log = open(scratch / "gunicorn.log", "wb")  # gunicorn's output, read for tracebacks at the end
    try:
        cluster.start()
        print(f"private PostGIS cluster: {cluster.datadir}")
        os.environ[SERVER_ENV] = cluster.url("postgres")
        url = build(ScratchDatabases(SERVER_ENV), args.initiatives, seed=1, partners=20, areas_per_partner=3)
        points = sample_points(url, 400, seed=3)
        requests = []
        for n, request in enumerate(mixed_requests(points)):
            requests.append(request)
            if n % PAGE_EVERY == PAGE_EVERY - 1:
                lon, lat = points[n]
                requests.append(("page", page_path(lon, lat)))
        os.environ["GEOSERVICE_TRUSTED_PROXIES"] = "1"  # each submission comes "from" its own address
        proc, port = start_gunicorn(url, args.workers, log=log)
        run_load(port, requests[: args.workers * 4], seconds=2, connections=args.workers)  # warm up
        workers_before = worker_pids(proc.pid)
        print(f"gunicorn: master {proc.pid}, {len(workers_before)} workers on 127.0.0.1:{port}; "
              f"{args.connections} connections + a submission every {args.submit_every:g} s; PostGIS stops "
              f"({args.stop_mode}) at {args.before:g} s for {args.outage:g} s")

        total = args.before + args.outage + args.after
        t0 = time.perf_counter()
        result: dict = {}

        def load() -> None:
            result["samples"], _elapsed = run_load(port, requests, total, args.connections, args.timeout, t0=t0)

        loader = threading.Thread(target=load)
        loader.start()
        run_id, submitted = uuid.uuid4().hex[:8], []
        poster = threading.Thread(target=submitter, args=(port, t0 + total, args.submit_every, args.timeout, t0,
                                                          run_id, submitted))
        poster.start()
        events = {}
        time.sleep(max(0.0, t0 + args.before - time.perf_counter()))
        events["stop"] = time.perf_counter() - t0
        stop_cluster(cluster, args.stop_mode)
        events["stopped"] = time.perf_counter() - t0
        time.sleep(max(0.0, t0 + args.before + args.outage - time.perf_counter()))
        events["start"] = time.perf_counter() - t0
        cluster.start()
        events["started"] = time.perf_counter() - t0
        loader.join()
        poster.join()
        stored = stored_names(url, run_id)
        workers_after = worker_pids(proc.pid)
        logged = (scratch / "gunicorn.log").read_text(errors="replace")
    finally:
        if proc is not None:
            stop_gunicorn(proc)
        log.close()
        cluster.stop()
        shutil.rmtree(cluster.home, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)

    samples = sorted(result["samples"], key=lambda s: s.at + s.seconds)
    timeline(samples, events)
    verdict = report(samples, events, args)
    verdict = report_submissions(sorted(submitted, key=lambda s: s.at), stored, events) and verdict
    tracebacks = logged.count("Traceback (most recent call last)")
    print(f"gunicorn log: {logged.count('database unavailable on')} × 'database unavailable' (one line each), "
          f"{tracebacks} tracebacks")
    verdict = verdict and tracebacks == 0
    same = workers_before == workers_after and bool(workers_before)
    print(f"gunicorn workers after the outage: {'the same ' + str(len(workers_after)) if same else 'CHANGED'} "
          f"(before {sorted(workers_before)}, after {sorted(workers_after)})")
    raise SystemExit(0 if verdict and same else 1)


def report(samples, events: dict[str, float], args) -> bool:
    """Counts per phase and the checks; True when all hold."""
    stop, started = events["stop"], events["started"]
    answered = lambda s: s.at + s.seconds  # noqa: E731
    phases = {"before": [s for s in samples if answered(s) < stop],
              "outage": [s for s in samples if stop <= answered(s) < started],
              "after": [s for s in samples if answered(s) >= started]}
    for name, group in phases.items():
        counts = collections.Counter(s.status or "no answer" for s in group)
        by_status = ", ".join(f"{k}×{n}" for k, n in sorted(counts.items(), key=str))
        print(f"{name:>7}: {len(group):>6} requests  {by_status}")
    errors = [s for s in samples if s.status not in (200, 503)]
    bad_503 = [s for s in samples if s.status == 503 and not shape_ok(s)]
    slowest = max((s.seconds for s in samples), default=0.0)
    first_200 = next((s.at + s.seconds for s in phases["after"] if s.status == 200), None)
    last_bad = max((s.at + s.seconds for s in phases["after"] if s.status != 200), default=None)
    recovered = (last_bad or started) - started
    pages = sum(s.status == 503 and s.label == "page" for s in samples)
    api = sum(s.status == 503 and s.label != "page" for s in samples)
    back = (f"200 again {first_200 - started:.2f} s after the restart" if first_200 is not None
            else "no 200 after the restart")
    back += ("; every answer after it was 200" if last_bad is None
             else f"; the last other answer {recovered:.2f} s after it")
    checks = [
        ("only 200 and 503 (no 500, no request without an answer)", not errors,
         f"{len(errors)} others: " + ", ".join(sorted({str(s.status or 'no answer') for s in errors}))),
        (f"every 503 in the promised shape ({api} JSON with Retry-After, {pages} Dutch pages)", not bad_503,
         f"{len(bad_503)} not"),
        (f"no request hung (slowest {slowest * 1000:.0f} ms, limit {args.timeout:g} s)", slowest < args.timeout, ""),
        ("503s during the outage", any(s.status == 503 for s in phases["outage"]), "none seen"),
        (f"{back} (limit {args.recover_within:g} s)", first_200 is not None and recovered <= args.recover_within, ""),
    ]
    for text, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}{'' if ok or not detail else ': ' + detail}")
    return all(ok for _, ok, _ in checks)


if __name__ == "__main__":
    main()
