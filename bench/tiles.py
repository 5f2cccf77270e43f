"""Vector tiles on the bench database: a buurt tile at z 12 (budget ≤ 50 ms) and a wijken tile at z 8.

In-process (Flask test client, no HTTP server), every request a full render (no If-None-Match), after
one warm-up request; p50/p95 over --repeat requests; plus the 304 answer to a matching If-None-Match.
"""

from __future__ import annotations

import argparse
import os
import time

from _common import machine, percentile, scratch_databases
from generate import bench_database_url
from sqlalchemy import text

from geoservice import create_app
from geoservice.config import Settings
from geoservice.tiles import tile_at

BUDGET_MS = {"buurten": 50}
PLACES = {"Amsterdam centrum": (4.8926, 52.3731), "Utrecht": (5.1214, 52.0907), "Baarn": (5.2878, 52.2165)}


def timed(client, path: str, repeat: int, headers=None) -> tuple[list[float], object]:
    response = client.get(path, headers=headers)  # warm-up: connection, plans, caches
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
    return samples, response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    url = bench_database_url(scratch_databases())
    app = create_app(Settings(database_url=url, secret_key="bench", tiles="none"))
    client = app.test_client()
    with app.extensions["geoservice.engine"].connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM buurt), (SELECT count(*) FROM wijk), "
                                   "(SELECT count(*) FROM initiative), (SELECT count(*) FROM service_area), "
                                   "(SELECT NOT EXISTS (SELECT 1 FROM gap_coverage_stale))")).one()
    print(f"data: {counts[0]} buurten, {counts[1]} wijken, {counts[2]} initiatives, {counts[3]} service areas "
          f"(synthetic); stored gap coverage fresh: {counts[4]}")
    print(f"{'tile':<42} {'features?':>9} {'bytes':>8} {'p50 ms':>8} {'p95 ms':>8}  budget")
    for layer, z in (("buurten", 12), ("wijken", 8), ("initiatives", 12)):
        for place, (lon, lat) in PLACES.items():
            x, y = tile_at(lon, lat, z)
            path = f"/tiles/{layer}/{z}/{x}/{y}.mvt"
            samples, response = timed(client, path, args.repeat)
            p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
            budget = BUDGET_MS.get(layer)
            verdict = "" if budget is None else f"≤ {budget} ms: {'yes' if p95 <= budget else 'NO'} (p95)"
            print(f"{path + ' (' + place + ')':<42} {response.status_code:>9} {len(response.data):>8} "
                  f"{p50:>8.1f} {p95:>8.1f}  {verdict}")
    x, y = tile_at(*PLACES["Amsterdam centrum"], 12)
    path = f"/tiles/buurten/12/{x}/{y}.mvt"
    etag = client.get(path).headers["ETag"]
    samples, response = timed(client, path, args.repeat, headers={"If-None-Match": etag})
    print(f"304 for a matching If-None-Match on {path}: status {response.status_code}, "
          f"p50 {percentile(samples, 0.5):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
