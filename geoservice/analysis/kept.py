"""Every figure the analysis keeps on write, brought up to date in the caller's transaction.

Partner coverage and initiative counts follow service areas and initiatives (queries.gaps.refresh_kept, which
their writers call); need follows the CBS areas (analysis.need.refresh_kept_need). A writer of CBS areas or of
the active year changes all three, and so does a migration that adds such a table: those call refresh_all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..queries import gaps as gap_queries
from . import need as need_analysis


@dataclass(frozen=True)
class KeptRefresh:
    """What refresh_all redid; None for a table nothing had marked."""

    coverage: gap_queries.CoverageRefresh | None
    counts: gap_queries.CountsRefresh | None
    need: int | None  # rows of gap_need written

    @property
    def full(self) -> bool:
        """Was any of them rebuilt as a whole (boundaries, the active year, or a new table)?"""
        return bool((self.coverage and self.coverage.full) or (self.counts and self.counts.full)
                    or self.need is not None)


def refresh_all(conn) -> KeptRefresh:
    coverage, counts = gap_queries.refresh_kept(conn)
    return KeptRefresh(coverage=coverage, counts=counts, need=need_analysis.refresh_kept_need(conn))
