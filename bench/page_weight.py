"""What a page costs a phone: bytes over the wire (compressed as sent) per page, summed in headless Chromium.

Loads the shipped CBS map and the demo data into a scratch database, serves the app on a free local port
without a base map (tiles "none": base-map tiles are not counted anyway), opens each page at the view it opens
with, waits until every map layer has loaded and the network is idle, and sums the encoded body and header
sizes of every response (Playwright's request.sizes()). A second visit in the same browser shows what a
returning visitor fetches again (static files with long-lived cache headers are not asked for again).

Usage: .venv/bin/python bench/page_weight.py [--keep-db] [--budget-kb 500]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections import defaultdict

from _common import ROOT, machine, scratch_databases

DB_NAME = "geoservice_bench_page_weight"
PAGES = [("Amsterdam-dashboard", "/gemeente/GM0363"), ("Baarn-dashboard", "/gemeente/GM0308"),
         ("gemeenten", "/gemeenten"), ("zoeken 3741", "/?q=3741"), ("voorpagina", "/")]
BUDGET_PAGE = "/gemeente/GM0363"


def load(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    geoservice = str(ROOT / ".venv" / "bin" / "geoservice")
    for args in (["load-cbs"], ["demo"]):
        subprocess.run([geoservice, *args], env=env, check=True, stdout=subprocess.DEVNULL)


def kind_of(url: str, content_type: str) -> str:
    if "/static/" in url:
        return "static"
    if "/tiles/" in url:
        return "tiles"
    if "json" in content_type:
        return "json"
    return "html" if "html" in content_type else "other"


def measure(page, base: str, path: str) -> dict:
    from tests.browser_support import registered_layers, wait_for_layer

    responses = []

    def record(response) -> None:
        responses.append(response)

    page.on("response", record)
    page.goto(base + path, wait_until="load")
    for kind in sorted(registered_layers(page.content())):
        wait_for_layer(page, kind, timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", record)
    totals, raw = defaultdict(int), 0
    for response in responses:
        sizes = response.request.sizes()
        size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        totals[kind_of(response.url, response.headers.get("content-type", ""))] += size
        if response.headers.get("content-encoding"):
            raw += len(response.body())
        else:
            raw += sizes["responseBodySize"]
    return {"total": sum(totals.values()), "requests": len(responses), "by_kind": dict(totals), "raw_body": raw}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-db", action="store_true", help=f"keep (and next time reuse) database {DB_NAME}")
    parser.add_argument("--budget-kb", type=float, default=500, help="the Amsterdam dashboard's budget in KB")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from geoservice import create_app
    from geoservice.config import Settings
    from tests.browser_support import VIEWPORT, LiveServer, launch_chromium

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = scratch_databases()
    url = server.url(DB_NAME)
    if not (args.keep_db and server.exists(DB_NAME)):
        if server.exists(DB_NAME):
            server.drop(DB_NAME)
        server.create(DB_NAME)
        print("loading the shipped CBS map and the demo data …", flush=True)
        load(url)
    print(f"machine: {machine()}")
    ok = True
    try:
        env = {**os.environ, "DATABASE_URL": url, "GEOSERVICE_GEOCODER": "offline", "GEOSERVICE_TILES": "none"}
        app = create_app(Settings.from_env(env))
        with LiveServer(app) as live, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            print(f"{'page':<22} {'first visit':>12} {'uncompressed':>13} {'again':>9} {'requests':>9}  by kind (first)")
            for name, path in PAGES:
                context = browser.new_context(viewport=VIEWPORT, locale="nl-NL")
                page = context.new_page()
                first = measure(page, live.url, path)
                again = measure(page, live.url, path)
                kinds = ", ".join(f"{k} {v / 1024:.0f}" for k, v in sorted(first["by_kind"].items()))
                print(f"{name:<22} {first['total'] / 1024:>9.0f} KB {first['raw_body'] / 1024:>10.0f} KB "
                      f"{again['total'] / 1024:>6.0f} KB {first['requests']:>9}  {kinds}")
                if path == BUDGET_PAGE:
                    verdict = "PASS" if first["total"] <= args.budget_kb * 1024 else "FAIL"
                    ok = verdict == "PASS"
                    budget_line = (f"{verdict}: {name} transfers {first['total'] / 1024:.0f} KB at its opening "
                                   f"zoom (budget {args.budget_kb:.0f} KB, base-map tiles not counted)")
                context.close()
            browser.close()
        print(budget_line)
    finally:
        if not args.keep_db:
            server.drop(DB_NAME)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
