"""Dedupe checks: suppression lists, the batch, the campaign's pending calls, import history.

The first occurrence of a number wins; each later one is skipped with a status
that says why.  The order of the checks matters: a number on a do-not-call list
is ``suppressed`` whatever else is true of it, then a repeat within the run is
``duplicate_in_batch``, then a number already waiting in the campaign is
``duplicate_pending``, then one this importer added recently is
``duplicate_history``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from importer.i18n.reasons import ReasonKind
from importer.outcomes import Status
from importer.phone_lists import read_phone_list
from importer.phones import PhoneNormalizer, pending_key
from importer.phones.number_set import NumberSet

__all__ = ["DedupeChecks", "PendingIndex", "load_suppression"]


@dataclass(slots=True)
class PendingIndex:
    """A campaign's pending numbers (E.164) and the import references they carry."""

    phones: set[str] = field(default_factory=set)
    refs: dict[str, str] = field(default_factory=dict)        # import ref -> E.164

    @classmethod
    def from_numbers(cls, numbers: Iterable[tuple[str, str | None]]) -> PendingIndex:
        """Index (phone as the API returns it, import reference) pairs."""
        index = cls()
        for phone, ref in numbers:
            # A number we cannot canonicalise is kept by its digits: it still blocks a repeat.
            e164 = pending_key(phone)
            index.phones.add(e164)
            if ref is not None:
                index.refs[ref] = e164
        return index

    def __contains__(self, e164: object) -> bool:
        return e164 in self.phones

    def __len__(self) -> int:
        return len(self.phones)


def load_suppression(paths: Iterable[Path], normalizer: PhoneNormalizer) -> set[str]:
    """Read do-not-call lists (CSV/XLSX/...): the numbers of each file's phone column.

    The column is found as ``importer.phone_lists`` describes, so an import report or a
    pending export works as a list as it is.
    """
    numbers: set[str] = set()
    for path in paths:
        numbers |= read_phone_list(path, normalizer, what="suppression list")
    return numbers


# Why a usable number is not sent (the same words in both engines).
SUPPRESSED = ReasonKind("suppressed", "on a suppression (do-not-call) list")()
DUPLICATE_IN_BATCH = ReasonKind("duplicate_in_batch", "same number earlier in this run")()
DUPLICATE_PENDING = ReasonKind("duplicate_pending", "already pending in the campaign")()
DUPLICATE_HISTORY = ReasonKind("duplicate_history", "imported into this campaign recently")()
DUPLICATE_PENDING_ACCOUNT = ReasonKind(
    "duplicate_pending_account", "already pending in another campaign of the account"
)()


@dataclass(slots=True)
class DedupeChecks:
    """The run-wide dedupe state; ``check`` classifies one usable number."""

    batch: bool = True
    suppressed: set[str] = field(default_factory=set)
    pending: PendingIndex | None = None
    history: set[str] = field(default_factory=set)
    # E.164 digits as ints in pages: memory bounded by the number space, not the rows.
    seen: NumberSet = field(default_factory=NumberSet)

    def check(self, e164: str, *, upsert: bool = False) -> tuple[Status | None, str]:
        """Return (skip status, reason), or (None, "") when the number should be sent.

        With ``upsert`` a pending number is not skipped: the caller updates it
        (the returned status is UPDATED as a marker, the reason empty).
        """
        if e164 in self.suppressed:
            return Status.SUPPRESSED, SUPPRESSED
        if not self.seen.add(int(e164[1:])) and self.batch:
            return Status.DUPLICATE_IN_BATCH, DUPLICATE_IN_BATCH
        if self.pending is not None and e164 in self.pending:
            if upsert:
                return Status.UPDATED, ""
            return Status.DUPLICATE_PENDING, DUPLICATE_PENDING
        if e164 in self.history:
            return Status.DUPLICATE_HISTORY, DUPLICATE_HISTORY
        return None, ""

    def mark_seen(self, e164: str) -> None:
        """Record a number handled by an earlier attempt of a resumed run."""
        self.seen.add(int(e164[1:]))
