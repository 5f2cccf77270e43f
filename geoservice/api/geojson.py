"""Serialisation helpers: GeoJSON features and collections, paging links, safe CSV."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from flask import current_app, request

from ..registry.exports import XLSX, csv_text, xlsx_bytes  # one CSV/XLSX writer (and formula rule), shared with the CLI

GEOJSON = "application/geo+json"
JSON = "application/json"
CSV = "text/csv"


def feature(feature_id, geometry: dict | str | None, properties: dict) -> dict:
    """A GeoJSON Feature; geometry may be the text of ST_AsGeoJSON."""
    if isinstance(geometry, str):
        geometry = json.loads(geometry)
    return {"type": "Feature", "id": feature_id, "geometry": geometry, "properties": properties}


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


def collection(features: list[dict], **members) -> dict:
    return {"type": "FeatureCollection", **members, "features": features}


def page_url(**changes) -> str:
    """This request's absolute URL with some query parameters replaced (None removes one)."""
    args = request.args.to_dict(flat=False)
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = [str(value)]
    query = urlencode(args, doseq=True)
    return request.base_url + (f"?{query}" if query else "")


def page_links(*, offset: int, limit: int, matched: int, media_type: str) -> list[dict]:
    """self, plus next when more items follow and prev when this is not the first page."""
    links = [{"href": page_url(), "rel": "self", "type": media_type, "title": "Deze pagina"}]
    if offset + limit < matched:
        links.append({"href": page_url(offset=offset + limit), "rel": "next", "type": media_type,
                      "title": "Volgende pagina"})
    if offset > 0:
        links.append({"href": page_url(offset=max(offset - limit, 0)), "rel": "prev", "type": media_type,
                      "title": "Vorige pagina"})
    return links


def link_header(links: list[dict]) -> str:
    """The same links as an RFC 8288 Link header (for CSV, which has no place for them)."""
    return ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"' for link in links if link["rel"] != "self")


def respond(body: dict, media_type: str = JSON, status: int = 200):
    return current_app.response_class(current_app.json.dumps(body), status=status, mimetype=media_type)


def plain(value):
    """A JSON-ready value: dates as ISO 8601 text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def csv_response(columns: list[str], rows: list[dict], filename: str, links: list[dict] | None = None):
    return _download(csv_text(columns, rows), CSV, filename, links)


def table_response(output: str, columns: list[str], rows: list[dict], name: str, links: list[dict] | None = None):
    """The rows as a CSV (output 'csv') or Excel (output 'xlsx') download called name.csv or name.xlsx."""
    if output == "xlsx":
        return _download(xlsx_bytes(columns, rows), XLSX, f"{name}.xlsx", links)
    return csv_response(columns, rows, f"{name}.csv", links)


def _download(body, mimetype: str, filename: str, links: list[dict] | None):
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if links and link_header(links):
        response.headers["Link"] = link_header(links)
    return response
