"""The run journal (SQLite): the store (store), its records (models) and its schema and
migrations (schema).
"""

from __future__ import annotations

from importer.journal.store import (
    ChunkRecord,
    HistoryEntry,
    Journal,
    JournalRow,
    RejectsFile,
    ReplacedEntry,
    RunKey,
    RunRecord,
    UndoItem,
    UndoRecord,
    sha256_file,
    sha256_text,
)

__all__ = [
    "ChunkRecord",
    "HistoryEntry",
    "Journal",
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
