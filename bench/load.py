#!/usr/bin/env python3
"""Benchmark: gunicorn under a mix of `nearby`, bbox listing and `gaps`, 32 connections for 30 s.

Usage: .venv/bin/python bench/load.py [--seconds 30] [--connections 32] [--workers N] [--generator auto|wrk|python]
Uses the database from bench/generate.py (100,000 synthetic initiatives; built first when missing) and
brings its schema up to date. gunicorn runs on 127.0.0.1 with 2 × cores + 1 sync workers (the README's
rule). The load comes from `wrk` (Debian: apt-get install wrk) with a Lua script for the mix, or, without
wrk, from the bounded Python generator in _common.py. Prints requests/s, p50/p99 per endpoint and
overall, and the errors (the target is none); exits 1 when there were errors.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from _common import (bbox_path, default_workers, machine, nearby_path, percentile, run_load, sample_points,
                     scratch_databases, start_gunicorn, stop_gunicorn)
from generate import bench_database_url
from sqlalchemy import text

from geoservice import db

# Out of every 20 requests: 9 nearby, 9 bbox listings, 2 gap analyses (one gemeente each, in turn).
MIX = (("nearby", 9), ("bbox", 9), ("gaps", 2))
# Baarn at buurt level; Utrecht, Rotterdam, Den Haag, Amersfoort at wijk level. Not Amsterdam: its shipped
# buurten have no population, so its answer (0.5 MB of unknown units) measures serialisation, not analysis.
GAP_GEMEENTEN = ("GM0308", "GM0344", "GM0599", "GM0518", "GM0307")

# wrk's Lua: one connection per thread, so request() and response() alternate and the time between them
# is that request's latency. done() prints every thread's samples (endpoint, status, ms) for load.py.
WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads, counter = {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local labels, paths, i, sent_at, sent_label = {}, {}, 0, 0, nil
samples = {} -- flat: wrk's thread:get() copies flat tables only (nested ones crash wrk 4.1)
function init(args)
  for line in io.lines(args[1]) do
    local label, path = line:match("^(%S+)\t(.+)$")
    labels[#labels + 1], paths[#paths + 1] = label, path
  end
  i = (id * 7919) % #paths
end

function request()
  i = i % #paths + 1
  sent_label, sent_at = labels[i], now()
  return wrk.format("GET", paths[i])
end

function response(status, headers, body)
  samples[#samples + 1] = string.format("%s %d %.3f", sent_label, status, (now() - sent_at) * 1000)
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for _, sample in ipairs(thread:get("samples")) do io.write("@@sample ", sample, "\n") end
  end
  local e = summary.errors
  io.write(string.format("@@wrk %d %d %d %d %d\n", summary.duration, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass
class Result:
    generator: str
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))  # ms
    errors: collections.Counter = field(default_factory=collections.Counter)  # "nearby 503", "timeout", ...

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def mixed_requests(points: list[tuple[float, float]]) -> list[tuple[str, str]]:
    """(label, path) in the MIX proportions, interleaved so every stretch of the list has the mix."""
    requests, gaps = [], 0
    per_round = sum(weight for _, weight in MIX)
    for n, (lon, lat) in enumerate(points):
        slot = n % per_round
        if slot < MIX[0][1]:
            requests.append(("nearby", nearby_path(lon, lat)))
        elif slot < MIX[0][1] + MIX[1][1]:
            requests.append(("bbox", bbox_path(lon, lat)))
        else:
            requests.append(("gaps", f"/api/v1/gaps?gemeente={GAP_GEMEENTEN[gaps % len(GAP_GEMEENTEN)]}"))
            gaps += 1
    return requests


def with_wrk(wrk: str, port: int, requests, seconds: float, connections: int, timeout_s: float) -> Result:
    version = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    result = Result(generator=(version.stdout + version.stderr).split("[")[0].strip() or "wrk")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        script, listing = Path(tmp) / "mix.lua", Path(tmp) / "requests.tsv"
        script.write_text(WRK_SCRIPT)
        listing.write_text("".join(f"{label}\t{path}\n" for label, path in requests))
        out = subprocess.run(
            [wrk, "-t", str(connections), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", f"{timeout_s:g}s",
             "-s", str(script), f"http://127.0.0.1:{port}", "--", str(listing)],
            capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "@@sample":
            label, status, ms = rest.split()
            result.latencies[label].append(float(ms))
            if status != "200":
                result.errors[f"{label} {status}"] += 1
        elif kind == "@@wrk":
            duration_us, *counts = map(int, rest.split())
            result.seconds = duration_us / 1e6
            for name, n in zip(("connect", "read", "write", "timeout"), counts):
                if n:
                    result.errors[name] += n
    return result


def with_python(port: int, requests, seconds: float, connections: int, timeout_s: float) -> Result:
    samples, elapsed = run_load(port, requests, seconds, connections, timeout_s)
    result = Result(generator="Python generator (bench/_common.py)", seconds=elapsed)
    for sample in samples:
        if sample.status == 0:
            result.errors["no answer (connection error or timeout)"] += 1
            continue
        result.latencies[sample.label].append(sample.seconds * 1000)
        if sample.status != 200:
            result.errors[f"{sample.label} {sample.status}"] += 1
    return result


def warm_up(port: int, requests, workers: int) -> None:
    """Each worker opens its connection and loads its code before the clock runs."""
    firsts = {}
    for label, path in requests:
        firsts.setdefault(label, path)
    run_load(port, list(firsts.items()), seconds=2, connections=workers)


def report(result: Result) -> None:
    print(f"{'endpoint':<10} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    every = [ms for label, _ in MIX for ms in result.latencies[label]]
    rows = [(label, result.latencies[label]) for label, _ in MIX] + [("all", every)]
    for label, times in rows:
        errors = (result.error_count if label == "all"
                  else sum(n for key, n in result.errors.items() if key.startswith(label + " ")))
        print(f"{label:<10} {len(times):>9} {len(times) / result.seconds:>8.1f} "
              f"{percentile(times, 0.5):>8.1f} {percentile(times, 0.99):>8.1f} {errors:>7}")
    if result.errors:
        print("errors: " + ", ".join(f"{key}: {n}" for key, n in sorted(result.errors.items())))
    else:
        print("errors: none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="How long the load runs.")
    parser.add_argument("--connections", type=int, default=32, help="Concurrent connections.")
    parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn workers (2 × cores + 1).")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="wrk when installed (auto), or the Python generator.")
    parser.add_argument("--timeout", type=float, default=10, help="Seconds after which a request counts as an error.")
    args = parser.parse_args()
    wrk = shutil.which("wrk") if args.generator != "python" else None
    if args.generator == "wrk" and not wrk:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")

    print(f"machine: {machine()}")
    url = bench_database_url(scratch_databases())
    db.upgrade(url)  # as `geoservice serve` does: the code expects the newest schema
    engine = db.make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM initiative WHERE status = 'published'")).scalar()
    engine.dispose()
    print(f"database: {count} published initiatives (synthetic, source=bench)")
    requests = mixed_requests(sample_points(url, 2000, seed=11))
    proc, port = start_gunicorn(url, args.workers)
    try:
        warm_up(port, requests, args.workers)
        mix = ", ".join(f"{label} {weight * 100 // sum(w for _, w in MIX)} %" for label, weight in MIX)
        print(f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port}; {args.connections} connections for "
              f"{args.seconds:g} s; mix {mix} (gaps of {', '.join(GAP_GEMEENTEN)})")
        if wrk:
            result = with_wrk(wrk, port, requests, args.seconds, args.connections, args.timeout)
        else:
            result = with_python(port, requests, args.seconds, args.connections, args.timeout)
        print(f"load generator: {result.generator}")
        report(result)
    finally:
        stop_gunicorn(proc)
    raise SystemExit(1 if result.error_count else 0)


if __name__ == "__main__":
    main()
