"""Answers kept per data version: they change only when a committed write of map data bumps it (migration 0006)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..queries.common import data_version


class PerDataVersion:
    """Values per database, data version and key, in this process (the latest `size`).

    The version is read before the value is made: a write committed in between can only make the value newer
    than its key, never older, and the next request after it sees the new version. The value is shared: callers
    must not change it (SummaryCache hands out copies).
    """

    def __init__(self, size: int = 16):
        self.size = size
        self._values: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn, key, make):
        bind = conn.get_bind() if hasattr(conn, "get_bind") else conn.engine
        full_key = (str(bind.url), data_version(conn), key)
        with self._lock:
            value = self._values.get(full_key)
            if value is not None:
                self._values.move_to_end(full_key)
                return value
        value = make()
        with self._lock:
            self._values[full_key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value
