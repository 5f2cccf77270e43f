#!/usr/bin/env python3
"""Benchmark: a partner's planning page (/partner/<id>) and its map layer (the outreach GeoJSON), first and repeat.

Usage: .venv/bin/python bench/partner_page.py [--repeat N]
Builds a scratch database (shipped CBS map + `geoservice demo` data: "(voorbeeld)") on the embedded cluster (or
GEOSERVICE_BENCH_DATABASE_URL's server), serves it in-process (Flask test client, no HTTP), and for every demo
partner with a service area times the page, then the map layer it links, then both again (p50 of --repeat).
The analysis behind both is made once per data version (analysis.outreach.REGIONS); the budget for a repeat is
150 ms. Prints the machine, and drops the scratch database again.
"""

from __future__ import annotations

import argparse
import re
import time
from html import unescape

from _common import DATA, machine, percentile, scratch_databases
from sqlalchemy import text

from geoservice import create_app, db
from geoservice.cbs.loader import load_cbs, shipped_files
from geoservice.config import Settings
from geoservice.demo import load_demo

BUDGET_MS = 150
NAME = "geoservice_bench_partner"


def timed(client, path: str) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.get(path)
    return (time.perf_counter() - start) * 1000, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = scratch_databases()
    print(f"machine: {machine()}")
    url = server.create(NAME)
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        load_cbs(engine, shipped_files(DATA))
        load_demo(engine)
        with engine.connect() as conn:
            partners = conn.execute(text("SELECT p.id, p.name FROM partner AS p WHERE EXISTS (SELECT 1 FROM "
                                         "service_area AS sa WHERE sa.partner_id = p.id) ORDER BY p.id")).all()
        engine.dispose()
        app = create_app(Settings(database_url=url, tiles="none"))
        client = app.test_client()
        client.get("/healthz")  # the pool's first connection
        worst = 0.0
        for partner_id, name in partners:
            page = f"/partner/{partner_id}"
            first_page, status = timed(client, page)
            html = client.get(page).get_data(as_text=True)
            found = re.search(r'Samenkaart\.loadLayer\([^,]+, "(/api/v1/outreach\?[^"]+)"', html)
            layer = unescape(found.group(1)).replace("\\u0026", "&") if found else None
            first_layer = timed(client, layer)[0] if layer else None
            pages = [timed(client, page)[0] for _ in range(args.repeat)]
            layers = [timed(client, layer)[0] for _ in range(args.repeat)] if layer else []
            repeat = max(percentile(pages, 50), percentile(layers, 50) if layers else 0)
            worst = max(worst, repeat)
            print(f"partner {partner_id} ({name}): page {status}, first {first_page:.0f} ms, map layer after it "
                  f"{first_layer:.0f} ms; repeat p50 page {percentile(pages, 50):.0f} ms, "
                  f"map layer {percentile(layers, 50) if layers else 0:.0f} ms")
        print(f"repeat answers: worst p50 {worst:.0f} ms — {'PASS' if worst <= BUDGET_MS else 'FAIL'} "
              f"(budget {BUDGET_MS} ms)")
    finally:
        server.drop(NAME)


if __name__ == "__main__":
    main()
