"""Shared by the benchmarks: the machine line, and scratch databases on the embedded cluster."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geoservice.config import Settings  # noqa: E402
from geoservice.localdb import LocalCluster  # noqa: E402

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


class ScratchServer:
    """Creates and drops benchmark databases: GEOSERVICE_BENCH_DATABASE_URL's server, else the embedded one."""

    def __init__(self):
        url = os.environ.get("GEOSERVICE_BENCH_DATABASE_URL")
        if url:
            self.base = make_url(url).set(drivername="postgresql+psycopg")
        else:
            cluster = LocalCluster(Settings())
            cluster.start()
            self.base = make_url(cluster.url("postgres"))

    def url(self, dbname: str) -> str:
        return self.base.set(database=dbname).render_as_string(hide_password=False)

    def _admin(self):
        url = self.base.set(drivername="postgresql", database="postgres")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def exists(self, dbname: str) -> bool:
        with self._admin() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None

    def create(self, dbname: str) -> str:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def drop(self, dbname: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
