"""Row outcomes: every status a row can end in, the in-flight states, and the sets built on them.

The one home of these words, with no dependency inside lead-importer: readers, mapping, dedupe,
push, the journal and the report writers all speak of rows in these terms, and the report
writers only write them.  The status values are the report contract (README "Statuses and exit
codes"): CSV and JSON carry them as they are, whatever the language people read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from importer.i18n import N_, _

__all__ = [
    "ADDED_GROUP",
    "ATTENTION_STATUSES",
    "DONE_STATUSES",
    "IMPORT_STATUSES",
    "PLANNED",
    "PUSHED",
    "QUIET_STATUSES",
    "REJECTS_STATUSES",
    "ROW_STATUSES",
    "SENT",
    "SETTLED",
    "SKIPPED_GROUP",
    "STATUS_NAMES",
    "SUCCESS_STATUSES",
    "UNDO_ONLY_STATUSES",
    "UNDO_STATUSES",
    "UPDATED_GROUP",
    "UPDATING",
    "Note",
    "RowResult",
    "Status",
    "Summary",
    "shown_note",
    "status_name",
]


class Status(StrEnum):
    """Row statuses of the report contract (docs/design.md)."""

    ADDED = "added"
    UPDATED = "updated"
    WOULD_ADD = "would_add"
    WOULD_UPDATE = "would_update"
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
    # A group title, repeated header, report footer or blank row inside the data: counted
    # apart from the leads, never a problem (not_leads.py says which rows).
    NOT_A_LEAD = "not_a_lead"
    # `runs undo`: what happened to each number the run added or updated.
    ALREADY_DIALLED = "already_dialled"      # no longer pending: left alone
    KEPT_ADDED_LATER = "kept_added_later"    # another run (or someone) added it again: kept
    RESTORED = "restored"                    # an upsert's previous details, or a sync removal, back


class Note(str):
    """A summary note: its English text (JSON, logs), and its catalogue entry and values, so
    the console and the XLSX report can show it in their language (:func:`shown_note`).

    Built as ``Note(N_("{rows} row(s) to fix are in {file}: ..."), rows=..., file=...)``.
    """

    message_id: str
    values: dict[str, object]

    def __new__(cls, message_id: str, /, **values: object) -> Note:
        """The note's English text, remembering how it was made."""
        self = super().__new__(cls, message_id.format_map(values) if values else message_id)
        self.message_id = message_id
        self.values = values
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # copy/deepcopy (dataclasses.asdict) and pickle rebuild it from its parts.
        return (_note, (self.message_id, self.values))

    def shown(self) -> str:
        """The note in the current language."""
        values = {k: shown_note(v) if isinstance(v, Note) else v for k, v in self.values.items()}
        return _(self.message_id, **values)


def _note(message_id: str, values: dict[str, object]) -> Note:
    return Note(message_id, **values)


def shown_note(note: str) -> str:
    """A note in the current language (a plain text note: its catalogue entry, if any)."""
    return note.shown() if isinstance(note, Note) else _(note)


#: Each status's name for people (the English name is the code itself; ``_()`` translates).
STATUS_NAMES: dict[str, str] = {
    # TRANSLATORS: status names label rows in reports and the console; short, like a label.
    Status.ADDED: N_("added"),
    Status.UPDATED: N_("updated"),
    Status.WOULD_ADD: N_("would_add"),
    Status.WOULD_UPDATE: N_("would_update"),
    Status.DUPLICATE_IN_BATCH: N_("duplicate_in_batch"),
    Status.DUPLICATE_PENDING: N_("duplicate_pending"),
    Status.DUPLICATE_HISTORY: N_("duplicate_history"),
    Status.SUPPRESSED: N_("suppressed"),
    Status.MISSING_PHONE: N_("missing_phone"),
    Status.INVALID_PHONE: N_("invalid_phone"),
    Status.TYPE_REJECTED: N_("type_rejected"),
    Status.REJECTED: N_("rejected"),
    Status.FAILED: N_("failed"),
    Status.REMOVED: N_("removed"),
    Status.NOT_A_LEAD: N_("not_a_lead"),
    Status.ALREADY_DIALLED: N_("already_dialled"),
    Status.KEPT_ADDED_LATER: N_("kept_added_later"),
    Status.RESTORED: N_("restored"),
}


def status_name(status: str) -> str:
    """The status as people read it in the current language (its code in English)."""
    name = STATUS_NAMES.get(status)
    return status if name is None else _(name)


#: Statuses of rows that need no attention; big workbooks leave them out.
SUCCESS_STATUSES: frozenset[str] = frozenset({
    Status.ADDED.value, Status.UPDATED.value, Status.WOULD_ADD.value, Status.WOULD_UPDATE.value,
    Status.RESTORED.value,
})
#: Statuses a big workbook's Rows sheet leaves out: nothing to do about these rows.
QUIET_STATUSES: frozenset[str] = SUCCESS_STATUSES | {Status.NOT_A_LEAD.value}
#: Every other status: the rows a big workbook's Rows sheet keeps.
ATTENTION_STATUSES: frozenset[str] = frozenset(s.value for s in Status) - QUIET_STATUSES

# Row states in the journal that mean "this row's number is taken in this run".
DONE_STATUSES = frozenset({Status.ADDED.value, Status.REJECTED.value, Status.UPDATED.value})
# Outcomes that put (or changed) a call in the campaign.
PUSHED = frozenset({Status.ADDED, Status.UPDATED})
#: How `runs` groups the statuses into its columns.
ADDED_GROUP = frozenset({Status.ADDED, Status.WOULD_ADD})
UPDATED_GROUP = frozenset({Status.UPDATED, Status.WOULD_UPDATE, Status.RESTORED})
SKIPPED_GROUP = frozenset({
    Status.DUPLICATE_IN_BATCH, Status.DUPLICATE_PENDING, Status.DUPLICATE_HISTORY,
    Status.SUPPRESSED, Status.MISSING_PHONE, Status.INVALID_PHONE, Status.TYPE_REJECTED,
    Status.ALREADY_DIALLED, Status.KEPT_ADDED_LATER,
})
#: Rows a person can fix and import again: they go to the run's rejects file.
REJECTS_STATUSES: frozenset[str] = frozenset({
    Status.INVALID_PHONE.value, Status.MISSING_PHONE.value, Status.TYPE_REJECTED.value,
    Status.REJECTED.value, Status.FAILED.value,
})
#: Statuses only an undo's report holds: import reports and summaries leave them out (their
#: counts and Summary sheet list the import statuses), so the import contract stays as it was.
UNDO_ONLY_STATUSES: frozenset[Status] = frozenset({
    Status.ALREADY_DIALLED, Status.KEPT_ADDED_LATER, Status.RESTORED,
})
#: The statuses every report's counts list, zeros included, in contract order.
IMPORT_STATUSES: tuple[Status, ...] = tuple(s for s in Status if s not in UNDO_ONLY_STATUSES)
#: The statuses of an undo's report (`runs undo`).
UNDO_STATUSES: frozenset[Status] = frozenset({
    Status.REMOVED, Status.ALREADY_DIALLED, Status.KEPT_ADDED_LATER, Status.RESTORED,
    Status.FAILED,
})

# --- in-flight row states (the journal's, before a row has its outcome) ---------------------

PLANNED = "planned"
SENT = "sent"
# An UpdateCall (upsert of a pending number) about to go out. Unlike an AddCallsBulk
# row it cannot be confirmed by reading the campaign (the number was pending before),
# and it is safe to repeat: a resumed run plans it again instead of reconciling it.
UPDATING = "updating"
# Every status a journal row may hold: the report statuses plus the in-flight ones.
ROW_STATUSES: frozenset[str] = frozenset({PLANNED, SENT, UPDATING, *(s.value for s in Status)})

# Statuses a resumed run must never plan again: confirmed by the API, or sent with the
# answer unknown (those are reconciled against the campaign first).
SETTLED: frozenset[str] = frozenset({SENT, "added", "updated", "rejected"})


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
    dial_after: str = ""             # ISO 8601 with offset when the call waits (calling hours)


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
    exit_code: int | None = None     # written to the JSON only when set
    interrupted: bool = False        # the run stopped before the end of the file
    # Nothing was sent now: the report is the earlier run's, rebuilt from the journal.
    already_imported: bool = False
