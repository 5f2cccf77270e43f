"""Shared by the benchmarks: the machine line, scratch databases, gunicorn on loopback and a load generator."""

from __future__ import annotations

import http.client
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from geoservice import db  # noqa: E402
from geoservice.localdb import ScratchDatabases  # noqa: E402

DATA = ROOT / "data" / "cbs_wijken"


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, Python {platform.python_version()}, {platform.system()}"


def scratch_databases() -> ScratchDatabases:
    """Benchmark databases: GEOSERVICE_BENCH_DATABASE_URL's server, else the embedded one."""
    return ScratchDatabases("GEOSERVICE_BENCH_DATABASE_URL")


# -- HTTP benchmarks: gunicorn on loopback and a bounded load generator (api.py, load.py, faults.py) --------
CITY_BOX = (0.07, 0.045)  # degrees lon/lat: about 4.8 × 5 km, a city district to a small city


def default_workers() -> int:
    """gunicorn's rule of thumb, as in the README: 2 × cores + 1 sync workers."""
    return 2 * (os.cpu_count() or 1) + 1


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def percentiles(samples: list[float]) -> str:
    pick = lambda p: percentile(samples, p) * 1000  # noqa: E731
    return f"p50 {pick(0.50):.1f} ms, p95 {pick(0.95):.1f} ms, p99 {pick(0.99):.1f} ms"


def pinned_venv(venv: Path, pins: tuple[str, ...]) -> Path:
    """A git-ignored venv of a peer with the pinned packages; (re)built when missing or when the pins changed."""
    marker = venv / "peer-pins.txt"
    if marker.exists() and marker.read_text() == "\n".join(pins):
        return venv
    print(f"installing {', '.join(pins)} into {venv.relative_to(ROOT)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", *pins],
                   check=True)
    marker.write_text("\n".join(pins))
    return venv


def drop_peer_objects(url: str, views: tuple[str, ...], indexes: tuple[str, ...]) -> None:
    """Drop what a peer comparison made in the bench database (its views, then the indexes they used)."""
    engine = db.make_engine(url)
    with engine.begin() as conn:
        for view in views:
            conn.execute(text(f"DROP VIEW IF EXISTS {view}"))
        for index in indexes:
            conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
    engine.dispose()


def seeded_points(url: str, points_sql: str, n: int, seed: int) -> list[tuple[float, float]]:
    """n (lon, lat) rows of points_sql (a SELECT of ST_X, ST_Y ordered by random() with LIMIT :n), the same for
    the same seed."""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": seed / 1000})
        rows = conn.execute(text(points_sql), {"n": n}).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def sample_points(url: str, n: int, seed: int) -> list[tuple[float, float]]:
    """Points near real (synthetic) initiatives, so searches land where people live."""
    rows = seeded_points(url, "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(location, 4326) AS p "
                              "FROM initiative ORDER BY random() LIMIT :n) s", n, seed)
    rng = random.Random(seed)
    return [(lon + rng.uniform(-0.005, 0.005), lat + rng.uniform(-0.003, 0.003)) for lon, lat in rows]


def nearby_path(lon: float, lat: float) -> str:
    return f"/api/v1/initiatives/nearby?lat={lat:.5f}&lon={lon:.5f}&radius_m=2000"


def bbox_path(lon: float, lat: float) -> str:
    dx, dy = CITY_BOX[0] / 2, CITY_BOX[1] / 2
    return f"/api/v1/initiatives?bbox={lon - dx:.5f},{lat - dy:.5f},{lon + dx:.5f},{lat + dy:.5f}&limit=100"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, workers: int, timeout_s: float = 60, log=None,
                   threads: int = 0) -> tuple[subprocess.Popen, int]:
    """gunicorn with `workers` sync workers (or gthread workers of `threads` threads each) on a free loopback
    port, serving the database at `url`; its output goes to the file object `log` when given."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    worker_class = ["-k", "gthread", "--threads", str(threads)] if threads else []
    proc = subprocess.Popen(
        [str(gunicorn), "-w", str(workers), *worker_class, "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "geoservice:create_app()"],
        env={**os.environ, "DATABASE_URL": url}, start_new_session=True, stdout=log, stderr=log)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    stop_gunicorn(proc)
    raise SystemExit("gunicorn did not start")


def stop_gunicorn(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass


class Sample(NamedTuple):
    at: float  # when the request was sent: seconds after t0 (by default the start of the run)
    label: str
    status: int  # 0: no HTTP answer (connection error or client timeout)
    seconds: float
    content_type: str = ""
    body: bytes = b""  # kept only for answers other than 200
    retry_after: str = ""


def run_load(port: int, requests: list[tuple[str, str]], seconds: float, connections: int,
             timeout_s: float = 10.0, t0: float | None = None) -> tuple[list[Sample], float]:
    """`connections` threads, each with its own connection, send (label, path) requests round-robin
    for `seconds`; returns every sample and the elapsed time. Bounded: one request in flight per thread.
    Sample times count from `t0` (a time.perf_counter() value), by default the start."""
    samples: list[Sample] = []
    lock = threading.Lock()
    started = time.perf_counter()
    t0 = started if t0 is None else t0
    stop_at = started + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        mine, i = [], offset
        while time.perf_counter() < stop_at:
            label, path = requests[i % len(requests)]
            i += connections
            sent = time.perf_counter()
            status, ctype, body, retry = 0, "", b"", ""
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                data = response.read()
                status, ctype = response.status, response.getheader("Content-Type", "")
                retry = response.getheader("Retry-After", "")
                body = b"" if status == 200 else data[:2000]
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
            mine.append(Sample(sent - t0, label, status, time.perf_counter() - sent, ctype, body, retry))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, time.perf_counter() - started


def start_gunicorn_app(gunicorn: str | Path, app: str, workers: int, env: dict[str, str], health_path: str,
                       timeout_s: float = 60, log=None) -> tuple[subprocess.Popen, int]:
    """gunicorn from any venv with `workers` sync workers serving `app` (module:variable) on a free loopback
    port, once `health_path` answers 200; for a peer service (bench/peer.py). Stop it with stop_gunicorn()."""
    port = free_port()
    proc = subprocess.Popen(
        [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", app],
        env={**os.environ, **env}, start_new_session=True, stdout=log, stderr=log)
    deadline = time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", health_path)
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    stop_gunicorn(proc)
    raise SystemExit(f"gunicorn did not start {app}")


def worker_rss_mb(master_pid: int) -> dict[int, tuple[float, float]]:
    """{pid: (VmRSS, VmHWM) in MB} of the gunicorn master's worker processes, from /proc."""
    children = []
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        try:
            children += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    sizes = {}
    for pid in children:
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue  # a worker that just exited
        rss, peak = (float(fields.get(name, "0 kB").split()[0]) * 1024 / 1e6 for name in ("VmRSS", "VmHWM"))
        sizes[pid] = (rss, peak)
    return sizes


def counts_refresh_after_one_move(engine) -> float:
    """Seconds to bring the gap analysis' stored counts up to date after one published initiative moved
    500 m (queries.gaps.refresh_counts); rolled back, so the data stay as generated."""
    from geoservice.queries.gaps import refresh_counts

    with engine.connect() as conn, conn.begin() as transaction:
        conn.execute(text("UPDATE initiative SET location = ST_Translate(location, 500, 0) WHERE id = "
                          "(SELECT min(id) FROM initiative WHERE status = 'published')"))
        started = time.perf_counter()
        refresh_counts(conn)
        seconds = time.perf_counter() - started
        transaction.rollback()
    return seconds


def nearby_times(session, points, *, radius_m: int = 2000, limit: int = 10) -> list[float]:
    """Seconds of queries.initiatives.nearby in the service for each point, after 20 warm-up calls."""
    from geoservice.params import LonLat
    from geoservice.queries.initiatives import nearby

    for lon, lat in points[:20]:  # warm caches and plans
        nearby(session, LonLat(lon, lat), radius_m=radius_m, limit=limit)
    times = []
    for lon, lat in points:
        started = time.perf_counter()
        nearby(session, LonLat(lon, lat), radius_m=radius_m, limit=limit)
        times.append(time.perf_counter() - started)
    return times
