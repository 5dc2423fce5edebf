"""The records the run journal stores: runs, rows, chunks and import history."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from importer.outcomes import PLANNED

__all__ = [
    "FINISHED",
    "OUTCOMES",
    "ChunkRecord",
    "HistoryEntry",
    "JournalRow",
    "RejectsFile",
    "ReplacedEntry",
    "RunKey",
    "RunRecord",
    "UndoItem",
    "UndoRecord",
    "sha256_file",
    "sha256_text",
]

FINISHED = "finished"
# "incomplete": reached the end of the file with rows a re-run should retry (``failed``);
# "failed": stopped by an error (API unusable); "interrupted": signal / cancel.
# A killed run keeps outcome None.  Every outcome but "finished" is resumed.
OUTCOMES: frozenset[str] = frozenset({FINISHED, "incomplete", "failed", "interrupted"})


@dataclass(frozen=True, slots=True)
class RunKey:
    """What makes two runs "the same import": file content, mapping, campaign, mode.

    ``campaign_key`` is a non-secret fingerprint of the campaign (never its code).
    """

    file_sha256: str
    mapping_sha256: str
    campaign_key: str
    mode: str

    @property
    def lock_name(self) -> str:
        """A file-name-safe lock name for this key (one importer per key at a time)."""
        digest = sha256_text(
            "\0".join((self.file_sha256, self.mapping_sha256, self.campaign_key, self.mode))
        )
        return f"run-{digest[:20]}"


@dataclass(slots=True)
class RunRecord:
    """One import run of one file as the journal knows it."""

    run_id: str                      # "20261128-143005-ab12" (UTC start time + random)
    key: RunKey
    source_file: str                 # display name
    source_path: str
    campaign_name: str
    mapping_name: str
    mode: str
    dry_run: bool
    started_at: str                  # ISO-8601 UTC, "2026-11-28T14:30:05Z"
    finished_at: str | None = None
    outcome: str | None = None       # see OUTCOMES; None = unfinished (killed or running)
    counts: dict[str, int] = field(default_factory=dict)
    report_paths: dict[str, str] = field(default_factory=dict)
    field_names: list[str] = field(default_factory=list)   # mapped fields, report column order

    @property
    def resumable(self) -> bool:
        """True unless the run finished."""
        return self.outcome != FINISHED


@dataclass(slots=True)
class JournalRow:
    """One input data row and its state in a run.

    ``target_json`` is the exact JSON object a resumed run resends.  It must not
    contain the campaign code: the pipeline stores the target WITHOUT its
    ``Campaign`` key and adds the code when sending (``add_rows`` refuses a
    target with a top-level ``Campaign`` key).
    """

    seq: int                         # 0-based input order across the file (all sheets)
    sheet: str | None
    row: int                         # 1-based row number as the user sees it
    phone_raw: str
    phone: str                       # E.164 or ""
    status: str = PLANNED            # a report Status value, or "planned"/"sent"/"updating"
    reason: str = ""
    error_code: int | None = None
    import_ref: str | None = None    # the reference sent in CustomData, for reconciliation
    chunk_no: int | None = None
    fields: dict[str, str] = field(default_factory=dict)
    target_json: str | None = None


@dataclass(slots=True)
class ChunkRecord:
    """One AddCallsBulk request: its rows and whether its answer was recorded."""

    run_id: str
    chunk_no: int
    state: str                       # "sent" (outcome unknown until "done") | "done"
    seqs: list[int]
    sent_at: str
    attempts: int
    done_at: str | None = None


@dataclass(frozen=True, slots=True)
class ReplacedEntry:
    """What an upsert replaced: a pending call's details before its first UpdateCall."""

    seq: int
    phone: str                       # E.164
    previous_json: str               # CustomerName, Priority, CustomData, ... (API names)
    recorded_at: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A number this importer added to (or updated in) a campaign: when, from which file and row."""

    phone: str
    campaign_key: str
    campaign_name: str
    run_id: str
    source_file: str
    row: int
    added_at: str
    action: str = "added"  # "added", or "updated" by an upsert


@dataclass(frozen=True, slots=True)
class RejectsFile:
    """A rejects file a run wrote: the rows to fix and import again."""

    run_id: str
    base: str                        # "<stem>.<UTC ts>": the name without ".rejects.csv"
    path: str
    rows: int
    written_at: str


@dataclass(frozen=True, slots=True)
class UndoRecord:
    """The undo of one run (``runs undo``); outcome None while it runs or after a kill."""

    undo_id: str
    run_id: str
    started_at: str
    finished_at: str | None
    outcome: str | None
    counts: dict[str, int]
    report_paths: dict[str, str]


@dataclass(frozen=True, slots=True)
class UndoItem:
    """One number an undo looks at: to remove, to restore (upsert) or to add back (sync)."""

    item: int
    kind: str                        # "remove" | "restore" | "readd"
    sheet: str | None
    row: int
    phone: str                       # E.164
    phone_raw: str                   # as in the file; for "readd", as the API listed it
    import_ref: str | None           # what the run sent in CustomData, to know its own call
    fields: dict[str, str]
    detail_json: str | None          # the details to restore or add back (API names)
    state: str                       # "planned" | "sending" | "done"
    status: str                      # a report status once done
    reason: str


def sha256_file(path: Path, *, block_size: int = 1 << 20) -> str:
    """The hex SHA-256 of a file's content, read in blocks (flat memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """The hex SHA-256 of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
