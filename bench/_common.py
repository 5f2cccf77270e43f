"""Shared by the benchmarks: the machine line, and scratch databases on the embedded cluster."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geoservice.localdb import ScratchDatabases  # noqa: E402

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


def scratch_databases() -> ScratchDatabases:
    """Benchmark databases: GEOSERVICE_BENCH_DATABASE_URL's server, else the embedded one."""
    return ScratchDatabases("GEOSERVICE_BENCH_DATABASE_URL")
