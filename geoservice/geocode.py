"""Address or postcode -> point: PDOK Locatieserver online, the shipped PC4 centroids as fallback."""

from __future__ import annotations

import csv
import http.client
import json
import logging
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .errors import GeocodeNotFound, GeocoderUnavailable, InvalidParameter

log = logging.getLogger(__name__)

CACHE_SIZE = 10_000
ADDRESS_MAX = 300
RESPONSE_MAX_BYTES = 1_000_000  # one doc is a few hundred bytes; anything larger is not a PDOK answer
FIELDS = "weergavenaam,centroide_ll,postcode,gemeentecode"
PC4_COLUMNS = ("postcode", "place_name", "gemeentecode", "province", "latitude", "longitude")
USER_AGENT = "geoservice (Samenkaart)"
# After this many failures in a row, skip the Locatieserver for a while: an import of a thousand
# rows must not wait a timeout per row while PDOK is down.
BREAKER_FAILURES = 3
BREAKER_COOLDOWN_S = 30.0

_POSTCODE = re.compile(r"(\d{4})\s*([A-Z]{2})?")
# Only an upper-case PC6 in free text: "Dorpsstraat 1001 te Baarn" must not yield PC4 1001.
_PC6_IN_TEXT = re.compile(r"\b([1-9]\d{3}) ?([A-Z]{2})\b")
_WKT_POINT = re.compile(r"\s*POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*", re.IGNORECASE)

UNAVAILABLE_ADDRESS = ("Zoeken op adres lukt nu niet: de adreszoeker van PDOK is niet bereikbaar. "
                       "Zoeken op postcode werkt wel.")
OFFLINE_ADDRESS = "Zoeken op adres staat op deze server uit. Zoeken op postcode werkt wel."


def normalise_postcode(raw: str) -> str:
    """'1234 ab' -> '1234AB', '1234' -> '1234'; InvalidParameter for anything else."""
    text = raw.strip() if isinstance(raw, str) else ""
    match = _POSTCODE.fullmatch(text.upper())
    if match is None or match.group(1).startswith("0"):
        raise InvalidParameter(
            f"'{text[:20]}' is geen postcode; verwacht bijvoorbeeld 3741AB, 3741 AB of 3741.")
    return match.group(1) + (match.group(2) or "")


def looks_like_postcode(raw: str) -> bool:
    """True for '3741AB', '3741 ab' or '3741': a search field's text that is a postcode, not an address."""
    return isinstance(raw, str) and _POSTCODE.fullmatch(raw.strip().upper().replace(" ", "")) is not None


@dataclass(frozen=True)
class Located:
    """A geocoded point (WGS84) and how it was found."""

    lon: float
    lat: float
    precision: str  # "address" | "postcode"
    label: str
    source: str  # "pdok" | "pc4"


@dataclass(frozen=True)
class Pc4:
    """One row of the shipped PC4 table."""

    postcode: str
    place_name: str
    gemeentecode: str
    province: str
    lat: float
    lon: float


class _Unavailable(Exception):
    """The online geocoder gave no usable answer (never cached)."""


class _LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        """(True, value) when cached, else (False, None)."""
        with self._lock:
            if key not in self._items:
                return False, None
            self._items.move_to_end(key)
            return True, self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class _Breaker:
    """Counts failures in a row; after BREAKER_FAILURES, says "skip" for BREAKER_COOLDOWN_S."""

    def __init__(self):
        self.failures = 0
        self.open_until = 0.0
        self._lock = threading.Lock()

    def allows(self) -> bool:
        with self._lock:
            return time.monotonic() >= self.open_until

    def succeeded(self) -> None:
        with self._lock:
            self.failures = 0

    def failed(self, url: str) -> None:
        with self._lock:
            self.failures += 1
            # Not reset when opening: after the cool-down, one more failure opens it again.
            if self.failures >= BREAKER_FAILURES:
                self.open_until = time.monotonic() + BREAKER_COOLDOWN_S
                log.warning("Locatieserver %s failed %d times in a row; postcodes only for %.0f s",
                            url, self.failures, BREAKER_COOLDOWN_S)


_shared: dict[str, tuple[_LRU, _Breaker]] = {}
_shared_lock = threading.Lock()


def _shared_for(url: str) -> tuple[_LRU, _Breaker]:
    """The cache and breaker shared by every Geocoder on this Locatieserver URL."""
    with _shared_lock:
        return _shared.setdefault(url, (_LRU(CACHE_SIZE), _Breaker()))


def clear_caches() -> None:
    """Forget every cached online answer and failure count (tests, or after changing the Locatieserver)."""
    with _shared_lock:
        _shared.clear()


_tables: dict[Path, dict[str, Pc4]] = {}
_tables_lock = threading.Lock()


def pc4_table(path: Path) -> dict[str, Pc4]:
    """The PC4 table from its TSV file, read once per path."""
    path = Path(path).resolve()
    with _tables_lock:
        if path not in _tables:
            _tables[path] = _read_pc4(path)
        return _tables[path]


def _read_pc4(path: Path) -> dict[str, Pc4]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if tuple(reader.fieldnames or ()) != PC4_COLUMNS:
                raise ValueError(f"header {reader.fieldnames} is not {PC4_COLUMNS}")
            return {
                row["postcode"]: Pc4(row["postcode"], row["place_name"], row["gemeentecode"],
                                     row["province"], float(row["latitude"]), float(row["longitude"]))
                for row in reader
            }
    except (OSError, ValueError, TypeError) as exc:
        # A deployment error, not the user's: say so in the log, keep the message plain.
        log.error("postcode file %s unusable: %s", path, exc)
        raise GeocoderUnavailable("Zoeken op postcode lukt nu niet: het postcodebestand ontbreekt.") from None


class Geocoder:
    """Locates an address and/or postcode; one per app, so that lookups share a cache."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.base_url = settings.locatieserver_url.rstrip("/")
        self.cache, self.breaker = _shared_for(self.base_url)

    def locate(self, *, address: str | None = None, postcode: str | None = None) -> Located:
        """The point of an address (with or without postcode) or of a postcode."""
        address = address.strip() if isinstance(address, str) and address.strip() else None
        pc = normalise_postcode(postcode) if isinstance(postcode, str) and postcode.strip() else None
        if address is None and pc is None:
            raise InvalidParameter("Geef een adres of een postcode op.", code="MissingParameterValue")
        if address is not None and len(address) > ADDRESS_MAX:
            raise InvalidParameter(f"Het adres is te lang (meer dan {ADDRESS_MAX} tekens).")
        if address is None:
            return self._locate_postcode(pc)
        return self._locate_address(address, pc)

    def _locate_postcode(self, pc: str) -> Located:
        # A PC4 is an area, not a point: the Locatieserver has nothing better than our centroid.
        if self.settings.geocoder == "offline" or len(pc) == 4:
            return self._pc4(pc)
        try:
            found = self._search(pc, "postcode")
        except _Unavailable:
            return self._pc4(pc)
        # The free search may answer a neighbouring PC6 for one that does not exist.
        if found is None or (found[1] and found[1] != pc):
            return self._pc4(pc)
        return found[0]

    def _locate_address(self, address: str, pc: str | None) -> Located:
        fallback = pc or _postcode_in(address)
        if self.settings.geocoder == "offline":
            if fallback:
                return self._pc4(fallback)
            raise GeocoderUnavailable(OFFLINE_ADDRESS)
        query = address
        if pc and pc not in re.sub(r"\s", "", address.upper()):
            query = f"{address} {pc}"
        try:
            found = self._search(query, "adres")
        except _Unavailable:
            if fallback:
                return self._pc4(fallback)
            raise GeocoderUnavailable(UNAVAILABLE_ADDRESS) from None
        # The free search always returns its best guess; one in another PC4 than given is no match.
        if found is not None and (fallback is None or _same_pc4(found, fallback)):
            return found[0]
        if fallback:
            return self._pc4(fallback)
        raise GeocodeNotFound(
            f"Het adres '{address[:80]}' is niet gevonden. Controleer het adres, of zoek op postcode.")

    def _pc4(self, pc: str) -> Located:
        row = pc4_table(self.settings.postcode_file).get(pc[:4])
        if row is None:
            raise GeocodeNotFound(f"Postcode {pc} is niet gevonden. Klopt de postcode?")
        return Located(lon=row.lon, lat=row.lat, precision="postcode",
                       label=f"postcode {row.postcode} ({row.place_name})", source="pc4")

    def _search(self, query: str, kind: str) -> tuple[Located, str] | None:
        """(located, its postcode) of the best Locatieserver match, None when there is none."""
        key = (kind, query.lower())
        hit, value = self.cache.get(key)
        if hit:
            return value
        if not self.breaker.allows():
            raise _Unavailable()
        try:
            value = _parse(self._fetch(query, kind), kind)
        except _Unavailable:
            self.breaker.failed(self.base_url)
            raise
        self.breaker.succeeded()
        self.cache.put(key, value)
        return value

    def _fetch(self, query: str, kind: str) -> dict:
        params = urllib.parse.urlencode({"q": query, "fq": f"type:{kind}", "rows": 1, "fl": FIELDS})
        request = urllib.request.Request(f"{self.base_url}/free?{params}",
                                         headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.settings.geocoder_timeout_s) as response:
                body = response.read(RESPONSE_MAX_BYTES + 1)
        # URLError, HTTPError and timeouts are OSErrors; ValueError: a malformed configured URL
        except (OSError, http.client.HTTPException, ValueError) as exc:
            log.warning("Locatieserver %s failed: %s", self.base_url, exc)
            raise _Unavailable() from None
        if len(body) > RESPONSE_MAX_BYTES:
            log.warning("Locatieserver %s: answer larger than %d bytes", self.base_url, RESPONSE_MAX_BYTES)
            raise _Unavailable()
        try:
            return json.loads(body)
        except ValueError:
            log.warning("Locatieserver %s: answer is not JSON", self.base_url)
            raise _Unavailable() from None


def _parse(data, kind: str) -> tuple[Located, str] | None:
    """The first doc of a Locatieserver answer; _Unavailable when the answer is malformed."""
    try:
        docs = data["response"]["docs"]
        if not isinstance(docs, list):
            raise TypeError("docs is not a list")
        if not docs:
            return None
        doc = docs[0]
        lon, lat = _wkt_point(doc["centroide_ll"])
        label = str(doc.get("weergavenaam") or "").strip()
        postcode = str(doc.get("postcode") or "").replace(" ", "").upper()
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        log.warning("Locatieserver answer malformed: %s", exc)
        raise _Unavailable() from None
    precision = "address" if kind == "adres" else "postcode"
    return Located(lon=lon, lat=lat, precision=precision, label=label or postcode, source="pdok"), postcode


def _wkt_point(text) -> tuple[float, float]:
    """(lon, lat) of a WKT 'POINT(lon lat)'."""
    match = _WKT_POINT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a WKT point: {str(text)[:60]!r}")
    lon, lat = float(match.group(1)), float(match.group(2))
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"point out of range: {lon} {lat}")
    return lon, lat


def _same_pc4(found: tuple[Located, str], pc: str) -> bool:
    """Whether a match lies in the given postcode's PC4 (true when the answer has no postcode)."""
    return not found[1] or found[1][:4] == pc[:4]


def _postcode_in(address: str) -> str | None:
    """A PC6 written in the address text ('Laanstraat 1, 3743 BA Baarn' -> '3743BA')."""
    match = _PC6_IN_TEXT.search(address)
    return match.group(1) + match.group(2) if match else None


def app_geocoder(app) -> Geocoder:
    """The app's one Geocoder, made on first use (its cache lives as long as the app)."""
    found = app.extensions.get("geoservice.geocoder")
    if found is None:
        found = Geocoder(app.extensions["geoservice.settings"])
        app.extensions["geoservice.geocoder"] = found
    return found
