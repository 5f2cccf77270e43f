"""Typed settings from the environment: one prefix (GEOSERVICE_…) plus DATABASE_URL."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

ENV_PREFIX = "GEOSERVICE_"
DEFAULT_PDOK_CBS_URL = "https://api.pdok.nl/cbs/wijken-en-buurten-{year}/ogc/v1"
DEFAULT_LOCATIESERVER_URL = "https://api.pdok.nl/bzk/locatieserver/search/v3_1"
GEOCODERS = ("pdok", "offline")
# CSP frame-ancestors sources: '*', 'self', or scheme://host[:port] (a leading *. allowed), space-separated;
# nothing that could end the directive (';', ',') or quote another source.
_SOURCE = r"(\*|'self'|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?)"
_EMBED_ORIGINS = re.compile(rf"{_SOURCE}(\s+{_SOURCE})*")
DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
CONTACT_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}")  # plain enough to show as a mailto: link
DEV_SECRET_KEY = "dev-only-change-me"  # the default of Settings.secret_key; refused with secure_cookies
DEFAULT_TILES_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                             'OpenStreetMap</a>-bijdragers')


def project_root() -> Path:
    """The checkout this code runs from, else the current directory.

    A source checkout or editable install has data/cbs_wijken next to the package;
    a non-editable install is run from a checkout (or any folder) and uses the cwd.
    """
    here = Path(__file__).resolve().parents[1]
    if (here / "data" / "cbs_wijken").is_dir():
        return here
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "data" / "cbs_wijken").is_dir():
            return folder
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Everything configurable; built from the environment or explicitly in tests."""

    database_url: str | None = None
    database_read_url: str | None = None  # a streaming replica for read-only requests (GET/HEAD); None: all primary
    pgdata: Path = field(default_factory=lambda: project_root() / ".pgdata")
    pg_port: int = 54329
    host: str = "127.0.0.1"
    port: int = 5000
    secret_key: str = DEV_SECRET_KEY
    cbs_data_dir: Path = field(default_factory=lambda: project_root() / "data" / "cbs_wijken")
    pdok_cbs_url: str = DEFAULT_PDOK_CBS_URL
    http_timeout_s: float = 30.0
    geocoder: str = "pdok"  # "offline": only the shipped PC4 postcode centroids
    locatieserver_url: str = DEFAULT_LOCATIESERVER_URL
    geocoder_timeout_s: float = 3.0
    postcode_file: Path = field(default_factory=lambda: project_root() / "data" / "postcodes" / "pc4_nl.tsv")
    tiles: str = DEFAULT_TILES  # base-map tile URL template; "none" draws no base map (offline, tests)
    tiles_attribution: str = DEFAULT_TILES_ATTRIBUTION
    secure_cookies: bool = False  # true behind HTTPS: session cookies get the Secure flag
    max_upload_mb: float = 5.0  # larger request bodies are refused with 413
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-For is believed (rate limits)
    redis_url: str | None = None  # shared rate-limit counters (and made tiles) for several app servers; None: in this process
    tile_cache_mb: float = 32.0  # made vector tiles kept per worker process, by data version (serving/tile_cache.py); 0: off
    contact_email: str | None = None  # who answers questions about privacy and accessibility (shown on those pages)
    embed_origins: str = "*"  # who may show /embed/kaart in a frame: CSP frame-ancestors sources, space-separated

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535 or not 1 <= self.pg_port <= 65535:
            raise ValueError("port and pg_port must be between 1 and 65535")
        if "{year}" not in self.pdok_cbs_url:
            raise ValueError("GEOSERVICE_PDOK_CBS_URL must contain {year}")
        if self.geocoder not in GEOCODERS:
            raise ValueError(f"GEOSERVICE_GEOCODER must be one of {', '.join(GEOCODERS)}")
        if self.database_url is not None and not self.database_url.startswith("postgresql"):
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        if self.database_read_url is not None and not self.database_read_url.startswith("postgresql"):
            raise ValueError("DATABASE_READ_URL must be a postgresql:// URL")
        if self.tile_cache_mb < 0:
            raise ValueError("GEOSERVICE_TILE_CACHE_MB must be 0 (off) or more")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("GEOSERVICE_REDIS_URL must be a redis://, rediss:// or unix:// URL")
        if self.tiles != "none" and not ("{z}" in self.tiles and "{x}" in self.tiles and "{y}" in self.tiles):
            raise ValueError("GEOSERVICE_TILES must be a URL template with {z}, {x} and {y}, or 'none'")
        if self.secure_cookies and self.secret_key in ("", DEV_SECRET_KEY):
            raise ValueError("GEOSERVICE_SECURE_COOKIES is on: set GEOSERVICE_SECRET_KEY to a long random value")
        if not self.max_upload_mb > 0:
            raise ValueError("GEOSERVICE_MAX_UPLOAD_MB must be more than 0")
        if self.contact_email is not None and not CONTACT_EMAIL.fullmatch(self.contact_email):
            raise ValueError("GEOSERVICE_CONTACT_EMAIL must be an e-mail address")
        if not _EMBED_ORIGINS.fullmatch(self.embed_origins.strip()):
            raise ValueError("GEOSERVICE_EMBED_ORIGINS must be '*' or origins such as https://www.gemeente.nl, "
                             "separated by spaces")
        if not 0 <= self.trusted_proxies <= 10:
            raise ValueError("GEOSERVICE_TRUSTED_PROXIES must be between 0 and 10")

    @property
    def has_base_map(self) -> bool:
        return self.tiles != "none"

    @property
    def uses_embedded_db(self) -> bool:
        return self.database_url is None

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value not in (None, "") else None

        values: dict = {}
        if env.get("DATABASE_URL"):
            values["database_url"] = normalise_database_url(env["DATABASE_URL"])
        if env.get("DATABASE_READ_URL"):
            values["database_read_url"] = normalise_database_url(env["DATABASE_READ_URL"])
        for name, convert in [
            ("PGDATA", Path),
            ("PG_PORT", int),
            ("HOST", str),
            ("PORT", int),
            ("SECRET_KEY", str),
            ("CBS_DATA_DIR", Path),
            ("PDOK_CBS_URL", str),
            ("HTTP_TIMEOUT_S", float),
            ("GEOCODER", str),
            ("LOCATIESERVER_URL", str),
            ("GEOCODER_TIMEOUT_S", float),
            ("POSTCODE_FILE", Path),
            ("TILES", str),
            ("TILES_ATTRIBUTION", str),
            ("SECURE_COOKIES", parse_bool),
            ("MAX_UPLOAD_MB", float),
            ("TRUSTED_PROXIES", int),
            ("REDIS_URL", str),
            ("CONTACT_EMAIL", str),
            ("EMBED_ORIGINS", str),
            ("TILE_CACHE_MB", float),
        ]:
            raw = get(name)
            if raw is not None:
                values[name.lower()] = convert(raw)
        return cls(**values)


def parse_bool(raw: str) -> bool:
    """true/false, 1/0, yes/no, on/off, ja/nee (any case)."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on", "ja"):
        return True
    if value in ("0", "false", "no", "off", "nee"):
        return False
    raise ValueError(f"expected true or false, not {raw!r}")


def normalise_database_url(url: str) -> str:
    """Make plain postgres:// URLs use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
