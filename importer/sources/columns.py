"""Which columns of a sample of rows hold phone numbers, judged by cells and headers.

One detector for ``mapping suggest`` (which column is the phone) and ``sheet: auto``
(which sheet holds the leads): a cell counts only when the phone normaliser accepts
it as a valid number (IL default region), and a column only when enough of its cells
do, so the counts of a pivot table (12, 7, 19) never make a phone column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from importer.headers import MAX_HEADER_CHARS, normalize_header
from importer.phones import PhoneNormalizer, PhonePolicy
from importer.phones.normalizer import PHONE_TYPES
from importer.sources.model import SourceInfo, SourceRow

__all__ = [
    "CALLER_ID",
    "NATIONAL_ID",
    "ColumnProfile",
    "has_word",
    "phone_columns",
    "profile_columns",
]

PHONE_SHARE = 0.6           # share of non-empty cells that must be phone numbers

_PHONE_WORDS = ("phone", "mobile", "cell", "tel", "טלפון", "נייד", "סלולרי", "פלאפון", "טל")
_MOBILE_WORDS = ("mobile", "cell", "נייד", "סלולר", "פלאפון")
NATIONAL_ID = {"תז", "תעודתזהות", "מספרזהות", "idnumber", "nationalid", "ssn", "passport"}
# Numbers that can look like phone numbers (a customer number 18094000049 is a valid +1 809
# number) in columns whose header says what they are.
_NOT_PHONE = ("id", "zip", "postal", "מיקוד", "code", "מזהה", "date", "time", "תאריך", "sum",
              "customer", "client", "account", "order", "invoice", "לקוח", "הזמנה", "חשבון",
              "fax", "פקס")
# The number the lead sees, never the one dialled.
CALLER_ID = {"callerid", "מספרמזוהה", "מספריוצא"}


@dataclass(slots=True)
class ColumnProfile:
    """What the sampled cells of one column look like."""

    index: int
    header: str
    key: str                                  # normalised header
    values: list[str] = field(default_factory=list)
    numeric: int = 0
    phones: int = 0                           # cells that are valid phone numbers
    mobiles: int = 0

    @property
    def filled(self) -> int:
        """Non-empty sampled cells."""
        return len(self.values)

    @property
    def phone_share(self) -> float:
        """Share of non-empty cells that are valid phone numbers."""
        return self.phones / self.filled if self.filled else 0.0

    def share(self, test: Callable[[str], object]) -> float:
        """Share of non-empty cells for which ``test(value)`` is true."""
        if not self.filled:
            return 0.0
        return sum(1 for v in self.values if test(v)) / self.filled


def profile_columns(
    info: SourceInfo, rows: list[SourceRow], region: str = "IL"
) -> list[ColumnProfile]:
    """Profile every column from a sample of rows."""
    policy = PhonePolicy(default_region=region, allow_types=frozenset(PHONE_TYPES))
    checker = PhoneNormalizer(policy)
    profiles = [
        ColumnProfile(i, h, normalize_header(h))
        for i, h in enumerate(info.columns)
        if len(h) <= MAX_HEADER_CHARS  # a pasted blob, not a header: never suggested
    ]
    for row in rows:
        for prof in profiles:
            value = row.cells[prof.index].strip() if prof.index < len(row.cells) else ""
            if not value:
                continue
            prof.values.append(value)
            numeric = prof.index in row.numeric
            prof.numeric += numeric
            result = checker.normalize(value, numeric=numeric)
            if result.e164:
                prof.phones += 1
                prof.mobiles += result.number_type == "mobile"
    return profiles


def has_word(key: str, words: tuple[str, ...]) -> bool:
    """True when one of ``words`` occurs in the normalised header ``key``."""
    return any(w in key for w in words)


def phone_columns(
    profiles: list[ColumnProfile], *, named_fallback: bool = True
) -> list[ColumnProfile]:
    """The phone columns, mobiles first; by content, or by a phone word with some numbers.

    With ``named_fallback`` a column named like a phone whose cells are not numbers
    (damaged by Excel: 9.72501E+11) is returned when nothing better is found.
    """
    picked: list[ColumnProfile] = []
    named_only: list[ColumnProfile] = []
    for prof in profiles:
        if prof.key in NATIONAL_ID or prof.key in CALLER_ID:
            continue
        named = has_word(prof.key, _PHONE_WORDS) and not has_word(prof.key, ("id", "מזהה"))
        by_content = prof.phone_share >= PHONE_SHARE and not (
            has_word(prof.key, _NOT_PHONE) and not named
        )
        if by_content or (named and (prof.filled == 0 or prof.phone_share >= 0.2)):
            picked.append(prof)
        elif named:
            named_only.append(prof)
    if not picked and named_fallback:
        # A "Phone" column full of damaged numbers (9.72501E+11) is still the phone column:
        # its rows are reported invalid_phone, each with how to fix it, not "no phone column".
        picked = named_only

    def mobile_first(prof: ColumnProfile) -> tuple[int, int]:
        mobile = has_word(prof.key, _MOBILE_WORDS) or (
            prof.phones > 0 and prof.mobiles / prof.phones >= 0.5
        )
        return (0 if mobile else 1, prof.index)

    return sorted(picked, key=mobile_first)
