"""CBS area codes: GM0344 (gemeente), WK034401 (wijk), BU03440101 (buurt)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The wijk and buurt parts are usually digits, but Amsterdam uses letters (BU0363AA01).
_PATTERNS = {
    "gemeente": re.compile(r"GM\d{4}"),
    "wijk": re.compile(r"WK\d{4}[0-9A-Z]{2}"),
    "buurt": re.compile(r"BU\d{4}[0-9A-Z]{2}[0-9A-Z]{2}"),
}
_PREFIX_LEVEL = {"GM": "gemeente", "WK": "wijk", "BU": "buurt"}


@dataclass(frozen=True)
class CbsCode:
    code: str
    level: str

    @property
    def gemeentecode(self) -> str:
        return "GM" + self.code[2:6]

    @property
    def wijkcode(self) -> str | None:
        return None if self.level == "gemeente" else "WK" + self.code[2:8]


def parse_code(value: object) -> CbsCode | None:
    """The CBS code in value (case and surrounding space ignored), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    level = _PREFIX_LEVEL.get(text[:2])
    if level and _PATTERNS[level].fullmatch(text):
        return CbsCode(text, level)
    return None
