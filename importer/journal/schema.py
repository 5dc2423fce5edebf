"""The journal's SQLite schema, its migrations, and the checks done when opening it.

The schema version lives in ``PRAGMA user_version``; ``PRAGMA application_id``
marks the file as a lead-importer journal.  A file from a newer version, a
foreign database or a damaged file is reported, never reset.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from importer.errors import ImporterError, JournalError, StorageError

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "check_version",
    "configure",
    "damaged_message",
    "migrate",
    "translate_error",
]

APPLICATION_ID = 0x4C494D50          # "LIMP": lead-importer
SCHEMA_VERSION = 5

# MIGRATIONS[n] brings a version n-1 journal to version n.  Append, never edit.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE runs (
            run_id TEXT NOT NULL UNIQUE,
            file_sha256 TEXT NOT NULL,
            mapping_sha256 TEXT NOT NULL,
            campaign_key TEXT NOT NULL,
            mode TEXT NOT NULL,
            source_file TEXT NOT NULL,
            source_path TEXT NOT NULL,
            campaign_name TEXT NOT NULL,
            mapping_name TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            counts_json TEXT NOT NULL DEFAULT '{}',
            report_paths_json TEXT NOT NULL DEFAULT '{}',
            field_names_json TEXT NOT NULL DEFAULT '[]'
        )""",
        "CREATE INDEX runs_by_key ON runs (file_sha256, mapping_sha256, campaign_key, mode)",
        # A rowid table: rows carry JSON payloads, too wide for WITHOUT ROWID to pay off.
        """CREATE TABLE run_rows (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            sheet TEXT,
            row INTEGER NOT NULL,
            phone_raw TEXT NOT NULL,
            phone TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            error_code INTEGER,
            import_ref TEXT,
            chunk_no INTEGER,
            fields_json TEXT NOT NULL,
            target_json TEXT
        )""",
        "CREATE UNIQUE INDEX run_rows_by_seq ON run_rows (run_id, seq)",
        """CREATE TABLE chunks (
            run_id TEXT NOT NULL,
            chunk_no INTEGER NOT NULL,
            state TEXT NOT NULL,
            seqs_json TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            done_at TEXT,
            attempts INTEGER NOT NULL,
            PRIMARY KEY (run_id, chunk_no)
        ) WITHOUT ROWID""",
        """CREATE TABLE history (
            phone TEXT NOT NULL,
            campaign_key TEXT NOT NULL,
            campaign_name TEXT NOT NULL,
            run_id TEXT NOT NULL,
            source_file TEXT NOT NULL,
            row INTEGER NOT NULL,
            added_at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX history_once ON history (phone, campaign_key, run_id)",
        "CREATE INDEX history_recent ON history (campaign_key, added_at)",
        # Salt for campaign fingerprints, so a short code cannot be found by hashing guesses.
        "INSERT INTO meta (key, value) VALUES ('salt', lower(hex(randomblob(16))))",
    ),
    2: (
        # What an upsert replaced: a pending call's details before its UpdateCall, as a
        # JSON object under the API's field names, kept so a later undo can restore them.
        # Its own table, so version-1 journals gain it without rewriting run_rows.
        """CREATE TABLE replaced (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            phone TEXT NOT NULL,
            previous_json TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        )""",
    ),
    3: (
        # What the importer did to the number: "added" (AddCallsBulk) or "updated" (an
        # upsert's UpdateCall); rows of older journals were all recorded as added.
        "ALTER TABLE history ADD COLUMN action TEXT NOT NULL DEFAULT 'added'",
    ),
    4: (
        # `runs undo`: the undo a run got (it is then never resumed nor "already imported"),
        # and the run whose rejects file this run imported.
        "ALTER TABLE runs ADD COLUMN undone_by TEXT",
        "ALTER TABLE runs ADD COLUMN rejects_of TEXT",
        # The rejects files a run wrote; ``base`` is "<stem>.<UTC ts>", the part of the
        # name that survives Excel's "Save as" (another extension).
        """CREATE TABLE rejects_files (
            run_id TEXT NOT NULL,
            base TEXT NOT NULL,
            path TEXT NOT NULL,
            rows INTEGER NOT NULL,
            written_at TEXT NOT NULL,
            PRIMARY KEY (run_id, path)
        )""",
        "CREATE INDEX rejects_by_base ON rejects_files (base)",
        # What a --mode sync run removed, with the call's details (API field names), so an
        # undo can add it back; "removing" is written before the RemoveCall is sent.
        """CREATE TABLE sync_removed (
            run_id TEXT NOT NULL,
            phone TEXT NOT NULL,
            api_phone TEXT NOT NULL,
            previous_json TEXT NOT NULL,
            state TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (run_id, phone)
        )""",
        """CREATE TABLE undos (
            undo_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            counts_json TEXT NOT NULL DEFAULT '{}',
            report_paths_json TEXT NOT NULL DEFAULT '{}'
        )""",
        # One line per number an undo looks at; ``state`` planned -> sending -> done.
        """CREATE TABLE undo_items (
            undo_id TEXT NOT NULL,
            item INTEGER NOT NULL,
            kind TEXT NOT NULL,
            sheet TEXT,
            row INTEGER NOT NULL,
            phone TEXT NOT NULL,
            phone_raw TEXT NOT NULL,
            import_ref TEXT,
            fields_json TEXT NOT NULL,
            detail_json TEXT,
            state TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (undo_id, item)
        ) WITHOUT ROWID""",
    ),
    5: (
        # A reason's notes (codes and values, ``Reason.to_json``) beside its English text, so
        # a report rebuilt from the journal shows it in any language with its reason_code;
        # NULL for rows of older versions (their English text is shown, code "text").
        "ALTER TABLE run_rows ADD COLUMN reason_json TEXT",
        "ALTER TABLE undo_items ADD COLUMN reason_json TEXT",
    ),
}

_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_SQLITE_FULL = 13
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_CANTOPEN = 14
_SQLITE_IOERR = 10
_SQLITE_PERM = 3
# Extended I/O error codes of writes: a full disk or a file-size limit often shows up as
# one of these rather than as SQLITE_FULL (SQLite reports FULL only for ENOSPC).
_SQLITE_IOERR_WRITES = frozenset({
    _SQLITE_IOERR | (3 << 8),    # IOERR_WRITE
    _SQLITE_IOERR | (4 << 8),    # IOERR_FSYNC
    _SQLITE_IOERR | (5 << 8),    # IOERR_DIR_FSYNC
    _SQLITE_IOERR | (6 << 8),    # IOERR_TRUNCATE
    _SQLITE_IOERR | (19 << 8),   # IOERR_SHMSIZE
})


def damaged_message(path: Path, detail: str) -> str:
    """The one-paragraph explanation for a damaged or foreign journal file."""
    return (
        f"the run journal {path} is damaged or is not a lead-importer journal ({detail}). "
        "lead-importer will not reset it, because it holds the state needed to resume "
        "interrupted imports and the import history. Restore it from a backup, or move it "
        "aside (together with any -wal/-shm files next to it) to start an empty journal; "
        "unfinished runs and history recorded in it are then forgotten."
    )


def translate_error(exc: sqlite3.Error, path: Path) -> ImporterError:
    """Turn an SQLite error into a JournalError (or StorageError) that says what to do."""
    extended = getattr(exc, "sqlite_errorcode", None) or 0
    code = extended & 0xFF
    if code in {_SQLITE_CORRUPT, _SQLITE_NOTADB}:
        return JournalError(damaged_message(path, str(exc)))
    if code == _SQLITE_FULL:
        return StorageError(
            f"the disk is full: the run journal {path} cannot grow ({exc})", folder=path.parent
        )
    if extended in _SQLITE_IOERR_WRITES:
        return StorageError(
            f"the run journal {path} cannot be written ({exc}): the disk may be full or failing",
            folder=path.parent,
        )
    if code in {_SQLITE_BUSY, _SQLITE_LOCKED}:
        return JournalError(
            f"the run journal {path} stayed locked by another process ({exc}); "
            "try again when the other lead-importer has finished"
        )
    if code in {_SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_PERM, _SQLITE_IOERR}:
        return JournalError(
            f"the run journal {path} cannot be read or written ({exc}); check the state "
            "directory's permissions and free space, or choose another with --state-dir"
        )
    return JournalError(f"the run journal {path} failed: {exc}")


def configure(conn: sqlite3.Connection, path: Path) -> str:
    """Set the pragmas every connection uses; return the journal mode in effect.

    ``synchronous=FULL``: the WAL is fsynced at every commit, so a chunk marked
    "sent" survives a power cut or a hard reboot, not only a killed process.
    That costs one fsync per transaction (the pipeline commits per chunk of
    thousands of rows), which is negligible next to the HTTP request.
    """
    row = conn.execute("PRAGMA journal_mode=WAL").fetchone()
    mode = str(row[0]).lower() if row else ""
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA temp_store=MEMORY")
    # WAL is impossible on some network shares; SQLite then keeps its rollback
    # journal, which is still transactional, only slower for concurrent readers.
    return mode


def check_version(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a journal from a newer version or another application, before touching it."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"the run journal {path} was written by a newer lead-importer (journal "
            f"version {version}; this version understands up to {SCHEMA_VERSION}). "
            "Upgrade lead-importer, or use another --state-dir; the journal was left "
            "unchanged."
        )
    if app_id not in {0, APPLICATION_ID}:
        raise JournalError(damaged_message(path, f"application id {app_id:#x}"))


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Check the file is ours and bring its schema to SCHEMA_VERSION (one transaction)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Again inside the write transaction: another process may have migrated meanwhile.
        check_version(conn, path)
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version == 0:
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
            if tables:
                raise JournalError(damaged_message(path, "it holds unrelated tables"))
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
