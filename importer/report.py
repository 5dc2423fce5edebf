"""Per-row results, the run summary, and the report writers (csv, xlsx, json).

INTERFACE STUB for the writers: Status, RowResult and Summary are the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["BASE_COLUMNS", "RowResult", "Status", "Summary"]


class Status(StrEnum):
    """Row statuses of the report contract (design.md)."""

    ADDED = "added"
    UPDATED = "updated"
    WOULD_ADD = "would_add"
    DUPLICATE_IN_BATCH = "duplicate_in_batch"
    DUPLICATE_PENDING = "duplicate_pending"
    DUPLICATE_HISTORY = "duplicate_history"
    SUPPRESSED = "suppressed"
    MISSING_PHONE = "missing_phone"
    INVALID_PHONE = "invalid_phone"
    TYPE_REJECTED = "type_rejected"
    REJECTED = "rejected"
    FAILED = "failed"
    REMOVED = "removed"


BASE_COLUMNS: tuple[str, ...] = (
    "source_file",
    "sheet",
    "row",
    "phone_raw",
    "phone",
    "status",
    "reason",
    "error_code",
    "campaign",
)


@dataclass(slots=True)
class RowResult:
    """One report row: an input data row and what happened to it."""

    source_file: str
    sheet: str | None
    row: int
    phone_raw: str
    phone: str                       # E.164 or ""
    status: Status
    reason: str = ""
    error_code: int | None = None
    campaign: str = ""               # campaign NAME, never its code
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Summary:
    """Counts and facts about one file's run, written to the JSON summary and Summary sheet."""

    source_file: str
    campaign: str
    mode: str
    dry_run: bool
    started_at: str                  # ISO-8601 UTC
    finished_at: str = ""
    run_id: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    total_rows: int = 0
    notes: list[str] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)   # format -> path
