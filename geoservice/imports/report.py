"""What an import did: per-row problems and the summary counts, shared by every importer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One rejected value: where (row number or item name), which field, and why (Dutch)."""

    row: int | str
    field: str
    reason: str

    def line(self) -> str:
        return f"rij {self.row}: {self.field}: {self.reason}"


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "rij 4: geometrie hersteld"
    dry_run: bool = False
    applied: bool = True  # False when nothing was written (dry run, or refused because of problems)

    def reject(self, row: int | str, field_name: str, reason: str) -> None:
        self.problems.append(Problem(row, field_name, reason))

    def summary_line(self) -> str:
        return self.counts_text() + self.outcome_suffix()

    def counts_text(self) -> str:
        return (f"{self.inserted} nieuw, {self.updated} bijgewerkt, {self.unchanged} ongewijzigd, "
                f"{self.rejected} afgewezen")

    def outcome_suffix(self) -> str:
        if self.dry_run:
            return " (proefdraai: niets opgeslagen)"
        return "" if self.applied else " (niets opgeslagen)"

    def lines(self) -> list[str]:
        return [p.line() for p in self.problems] + self.notes + [self.summary_line()]
