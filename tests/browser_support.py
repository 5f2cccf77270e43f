"""Headless Chromium for browser tests and screenshots: Debian's chromium driven by Playwright.

Playwright's own browser download needs the internet, so we always launch /usr/bin/chromium.
Pages run against a live server on 127.0.0.1; every other request is blocked and recorded.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path(os.environ.get("GEOSERVICE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}


def missing_browser() -> str | None:
    """Why browser tests cannot run here, or None when Playwright and Chromium are both present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python package playwright is not installed (scripts/setup-venv test installs it)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (scripts/install-system-deps --browser installs Debian's chromium)"
    return None


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


class LiveServer:
    """A WSGI app served on 127.0.0.1 on a free port from a background thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@dataclass
class Watch:
    """Everything a page did that a person would call broken: JS errors, dialogs, requests elsewhere."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def problems(self) -> dict[str, list[str]]:
        return {name: items for name, items in vars(self).items() if items}


def watch_page(page, base_url: str) -> Watch:
    """Record console errors, uncaught exceptions and dialogs; allow only requests to base_url."""
    watch = Watch()

    def on_console(msg):
        where = msg.location.get("url") or ""
        # Chromium itself asks for /favicon.ico; its 404 is not the page's doing (no page links an icon)
        if msg.type == "error" and not where.endswith("/favicon.ico"):
            watch.console_errors.append(f"{msg.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))

    def on_dialog(dialog):
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)

    def route(r):
        url = r.request.url
        if url == base_url or url.startswith((base_url + "/", "data:", "blob:")):
            r.continue_()
        else:
            watch.outside_requests.append(url)
            r.abort()

    page.route("**/*", route)
    return watch


_DISTANCE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(m|km)\s*$")


def parse_distance(text: str) -> float:
    """Metres from the page's notation: '850 m' or '1,2 km'."""
    found = _DISTANCE.match(text)
    if not found:
        raise ValueError(f"not a distance: {text!r}")
    value = float(found.group(1).replace(",", "."))
    return value * 1000 if found.group(2) == "km" else value


# A function, not an expression: Playwright evaluates a bare expression with eval(), which the pages'
# Content-Security-Policy (no 'unsafe-eval') forbids.
LAYER_LOADED = "kind => document.documentElement.dataset['layer_' + kind] !== undefined"


def wait_for_layer(page, kind: str, timeout: float | None = None) -> int:
    """map.js writes the feature count of a layer to <html data-layer_KIND> once it has loaded."""
    page.wait_for_function(LAYER_LOADED, arg=kind, timeout=timeout)
    return int(page.evaluate("kind => document.documentElement.dataset['layer_' + kind]", kind))


_LOAD_LAYER = re.compile(r'Samenkaart\.loadLayer\([^;]*?"kind": "(\w+)"')


def registered_layers(html: str) -> set[str]:
    """The layer kinds a page asks map.js to load: Samenkaart.loadLayer(group, url, {..."kind": ...})."""
    return set(_LOAD_LAYER.findall(html))
