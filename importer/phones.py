"""Phone normalisation, Excel-damage repair and the number-type policy.

INTERFACE STUB: the dataclasses and signatures below are the contract the
mapping stage and the pipeline code against; the implementation is pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "PhoneNormalizer",
    "PhonePolicy",
    "PhoneResult",
    "api_form",
]

# Names are phonenumbers.PhoneNumberType names, lower-cased.
DEFAULT_ALLOWED_TYPES: frozenset[str] = frozenset(
    {"mobile", "fixed_line", "fixed_line_or_mobile", "voip"}
)

Problem = Literal["missing_phone", "invalid_phone", "type_rejected"]


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """The outcome of normalising one raw cell (or several candidate cells)."""

    e164: str | None                     # "+972521234567" when the number is usable
    number_type: str | None = None       # "mobile", "fixed_line", "voip", "toll_free", ...
    problem: Problem | None = None       # None when e164 is usable
    reason: str = ""                     # plain language; repair notes even when ok
    extension: str | None = None

    @property
    def ok(self) -> bool:
        """True when the number can be sent to the dialer."""
        return self.problem is None and self.e164 is not None


@dataclass(frozen=True, slots=True)
class PhonePolicy:
    """What counts as an acceptable number."""

    default_region: str = "IL"
    allow_types: frozenset[str] = field(default=DEFAULT_ALLOWED_TYPES)
    strictness: Literal["valid", "possible"] = "valid"


class PhoneNormalizer:
    """Normalises raw phone text to E.164 with a fast path and a cache."""

    def __init__(self, policy: PhonePolicy | None = None) -> None:
        self.policy = policy or PhonePolicy()

    def normalize(self, raw: str, *, numeric: bool = False) -> PhoneResult:
        """Normalise one cell; ``numeric`` says the workbook stored it as a number."""
        raise NotImplementedError

    def first_usable(self, candidates: list[tuple[str, bool]]) -> tuple[str, PhoneResult]:
        """Return (raw, result) for the first candidate (raw, numeric) that is usable.

        When none is usable, return the most informative failure (an invalid
        number beats a missing one); ``raw`` is "" when every candidate is empty.
        """
        raise NotImplementedError


def api_form(e164: str, form: Literal["digits", "e164", "local"] = "digits") -> str:
    """The form of a number sent as Target: ``972521234567`` by default."""
    raise NotImplementedError
