"""Fetch CBS areas from the PDOK OGC API (wijken-en-buurten-{year}) into local GeoJSON files."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..errors import LoadError

COLLECTIONS = ("gemeenten", "wijken", "buurten")
PAGE_SIZE = 1000
MAX_PAGES = 1000  # a safety bound: the whole country at buurt level is ~15 pages


def fetch(base_url_template: str, year: int, folder: Path, *, gemeenten: list[str] | None = None,
          timeout: float = 30.0, progress=None) -> list[Path]:
    """Download every collection (optionally only some gemeenten) and return the GeoJSON files."""
    say = progress or (lambda _msg: None)
    base = base_url_template.format(year=year).rstrip("/")
    files = []
    for collection in COLLECTIONS:
        features: list[dict] = []
        for gemeente in gemeenten or [None]:
            query = {"f": "json", "limit": PAGE_SIZE}
            if gemeente:
                query["gemeentecode"] = gemeente
            url = f"{base}/collections/{collection}/items?{urllib.parse.urlencode(query)}"
            found = _follow_pages(url, timeout, say, collection)
            if gemeente and not found:
                raise LoadError(f"PDOK gaf geen {collection} voor {gemeente} in {year}: bestaat die gemeente in dat jaar?")
            features += found
        target = folder / f"pdok_{collection}_{year}.geojson"
        target.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        say(f"  {collection}: {len(features)} gebieden opgehaald")
        files.append(target)
    return files


def _follow_pages(url: str, timeout: float, say, collection: str) -> list[dict]:
    features: list[dict] = []
    for _page in range(MAX_PAGES):
        page = _get_json(url, timeout)
        if page.get("type") != "FeatureCollection" or not isinstance(page.get("features"), list):
            raise LoadError(f"{url}: antwoord is geen GeoJSON FeatureCollection.")
        features += page["features"]
        say(f"  {collection}: {len(features)} …")
        url = next((link.get("href") for link in page.get("links", [])
                    if link.get("rel") == "next" and link.get("href")), None)
        if not url or not page["features"]:
            return features
    raise LoadError(f"PDOK: meer dan {MAX_PAGES} pagina's voor {collection}; afgebroken.")


def _get_json(url: str, timeout: float) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/geo+json, application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise LoadError(f"PDOK antwoordde {exc.code} op {url}.") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LoadError(f"PDOK is niet bereikbaar ({reason}): {url}") from None
    except json.JSONDecodeError:
        raise LoadError(f"PDOK gaf geen geldige JSON: {url}") from None
