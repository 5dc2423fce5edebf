"""The run journal: every run's and every row's state in SQLite, and the import history.

A run killed halfway (reboot, OOM, Ctrl-C) is finished by running the same
command again: the pipeline finds the unfinished run by its ``RunKey``, skips
confirmed rows, reconciles the chunks whose answer never came back
(``unknown_chunks``) and resends only what is left.

Durability: the file is in WAL mode with ``synchronous=FULL`` and every write
method is one ``BEGIN IMMEDIATE`` transaction, so ``mark_chunk_sent`` is on
disk before the request goes out.  One ``Journal`` may be shared by the
threads of one run (calls are serialised); separate processes coordinate
with ``importer.locking.StateLock`` (one importer per ``RunKey.lock_name``).
Codes are never stored: campaigns appear as a fingerprint (``campaign_key``).
"""

from __future__ import annotations

import hmac
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from importer.errors import ConfigError, JournalError
from importer.i18n.reasons import Reason, ReasonKind
from importer.journal.models import (
    FINISHED,
    OUTCOMES,
    ChunkRecord,
    HistoryEntry,
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
from importer.journal.schema import check_version, configure, migrate, translate_error
from importer.outcomes import PLANNED, ROW_STATUSES, SENT, SETTLED, UPDATING, RowResult, Status

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

Clock = Callable[[], datetime]
RowUpdate = tuple[int, str, str, int | None]

JOURNAL_FILENAME = "journal.sqlite3"
# Rows an unfinished run left (a rebuilt report shows them as failed, saying why).
NOT_SENT_YET = ReasonKind("not_sent_yet", "not sent yet: the run did not finish (re-run it)")()
SENT_UNRECORDED = ReasonKind(
    "sent_unrecorded", "sent, answer not recorded: the run did not finish (a re-run checks it)"
)()
UPDATE_UNRECORDED = ReasonKind(
    "update_unrecorded",
    "update sent, answer not recorded: the run did not finish (a re-run updates it again)",
)()
_PAGE = 2000                       # rows fetched per query when streaming

_RUN_COLUMNS = (
    "run_id, file_sha256, mapping_sha256, campaign_key, mode, source_file, source_path, "
    "campaign_name, mapping_name, dry_run, started_at, finished_at, outcome, counts_json, "
    "report_paths_json, field_names_json"
)
_ROW_COLUMNS = (
    "seq, sheet, row, phone_raw, phone, status, reason, error_code, import_ref, chunk_no, "
    "fields_json, target_json, reason_json"
)
_KEY_WHERE = "file_sha256 = ? AND mapping_sha256 = ? AND campaign_key = ? AND mode = ?"
# History actions of an import (dedupe's history_days counts them); an undo marks the
# lines it took back "undone" and adds its own ("removed", "restored").
_IMPORT_ACTIONS = "'added', 'updated'"
_UNDO_ITEM_COLUMNS = (
    "item, kind, sheet, row, phone, phone_raw, import_ref, fields_json, detail_json, state, "
    "status, reason"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_dumps = _ENCODER.encode          # one shared encoder: json.dumps' set-up per call adds up


def _run_from(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        run_id=row[0],
        key=RunKey(row[1], row[2], row[3], row[4]),
        source_file=row[5],
        source_path=row[6],
        campaign_name=row[7],
        mapping_name=row[8],
        mode=row[4],
        dry_run=bool(row[9]),
        started_at=row[10],
        finished_at=row[11],
        outcome=row[12],
        counts={str(k): int(v) for k, v in json.loads(row[13]).items()},
        report_paths={str(k): str(v) for k, v in json.loads(row[14]).items()},
        field_names=[str(name) for name in json.loads(row[15])],
    )


def _reason_json(reason: str) -> str | None:
    """A reason's notes for the ``reason_json`` column (None for no reason or plain text)."""
    return reason.to_json() if reason and isinstance(reason, Reason) else None


@lru_cache(maxsize=4096)
def _reason_from(english: str, notes: str | None) -> str:
    """The reason a row was stored with: its notes again, else its English text."""
    return Reason.from_json(notes, english) if notes else english


def _status_batch(run_id: str, updates: Iterable[RowUpdate]) -> list[tuple[Any, ...]]:
    """(status, reason, reason_json, code, run_id, seq) parameters for _set_statuses,
    statuses checked."""
    batch = [
        (status, reason, _reason_json(reason), code, run_id, seq)
        for seq, status, reason, code in updates
    ]
    for item in batch:
        _check_status(item[0])
    return batch


def _row_from(row: Sequence[Any]) -> JournalRow:
    return JournalRow(
        seq=row[0],
        sheet=row[1],
        row=row[2],
        phone_raw=row[3],
        phone=row[4],
        status=row[5],
        reason=_reason_from(row[6], row[12]),
        error_code=row[7],
        import_ref=row[8],
        chunk_no=row[9],
        fields=json.loads(row[10]),
        target_json=row[11],
    )


def _check_status(status: str) -> None:
    if status not in ROW_STATUSES:
        raise ValueError(f"unknown journal row status {status!r}")


def _check_target(target_json: str | None, seq: int) -> None:
    # Cheap substring test first; parse only the rare target that mentions the key.
    if target_json is None or '"Campaign"' not in target_json:
        return
    obj = json.loads(target_json)
    if isinstance(obj, dict) and "Campaign" in obj:
        raise ValueError(
            f"row seq {seq}: target_json holds a 'Campaign' key; the journal never stores "
            "campaign codes (store the target without it and add the code when sending)"
        )


class Journal:
    """The SQLite run journal and import history under a state directory."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock, mode: str) -> None:
        """Wrap an open, migrated connection; use ``Journal.open``."""
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self.journal_mode = mode          # "wal", or what SQLite fell back to
        self._clock = clock
        self._lock = threading.RLock()

    # -- opening and closing -------------------------------------------------------

    @staticmethod
    def path_for(state_dir: Path) -> Path:
        """Where the journal of a state directory lives."""
        return Path(state_dir) / JOURNAL_FILENAME

    @classmethod
    def open(
        cls,
        state_dir: Path,
        *,
        clock: Clock | None = None,
        busy_timeout: float = 30.0,
    ) -> Journal:
        """Open (creating if needed) the journal under ``state_dir``.

        Raises JournalError for a damaged file, a file from a newer version or
        an unusable directory; the file is never reset.
        """
        state_dir = Path(state_dir)
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"cannot create the state directory {state_dir} ({exc.strerror}); choose "
                "another with --state-dir or LEAD_IMPORTER_STATE_DIR"
            ) from None
        path = cls.path_for(state_dir)
        if path.exists() and not path.is_file():
            raise JournalError(f"the run journal {path} is not a file; move it aside")
        try:
            conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise translate_error(exc, path) from None
        try:
            check_version(conn, path)
            mode = configure(conn, path)
            migrate(conn, path)
        except sqlite3.Error as exc:
            conn.close()
            raise translate_error(exc, path) from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, clock or _utc_now, mode)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Journal:
        """Use the journal as a context manager that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the journal."""
        self.close()

    # -- plumbing ----------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"the run journal {self.path} is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One serialised write transaction; SQLite errors become JournalError."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from None

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from None

    def now(self) -> str:
        """The journal clock's current time as ISO-8601 UTC."""
        return _iso(self._clock())

    def check(self) -> list[str]:
        """Run SQLite's quick integrity check; an empty list means the file is sound."""
        problems = [str(r[0]) for r in self._query("PRAGMA quick_check")]
        return [] if problems == ["ok"] else problems

    def campaign_key(self, campaign_code: str) -> str:
        """A non-secret, salted fingerprint of a campaign code, for ``RunKey.campaign_key``."""
        salt = self._query("SELECT value FROM meta WHERE key = 'salt'")[0][0]
        mac = hmac.new(str(salt).encode(), campaign_code.encode("utf-8"), "sha256")
        return mac.hexdigest()[:16]

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        key: RunKey,
        *,
        source_file: str,
        source_path: str,
        campaign_name: str,
        mapping_name: str,
        dry_run: bool,
        field_names: Sequence[str] = (),
    ) -> RunRecord:
        """Record the start of a new run and return it."""
        moment = self._clock()
        started = _iso(moment)
        stamp = moment.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        for _attempt in range(20):
            run_id = f"{stamp}-{secrets.token_hex(2)}"
            with self._write() as conn:
                taken = conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                if taken:
                    continue
                conn.execute(
                    f"INSERT INTO runs ({_RUN_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, '{}', '{}', ?)",
                    (
                        run_id, key.file_sha256, key.mapping_sha256, key.campaign_key,
                        key.mode, source_file, source_path, campaign_name, mapping_name,
                        int(dry_run), started, _dumps(list(field_names)),
                    ),
                )
            return RunRecord(
                run_id=run_id, key=key, source_file=source_file, source_path=source_path,
                campaign_name=campaign_name, mapping_name=mapping_name, mode=key.mode,
                dry_run=dry_run, started_at=started, field_names=list(field_names),
            )
        raise JournalError(f"could not allocate a run id in {self.path}")  # pragma: no cover

    def finish_run(
        self,
        run_id: str,
        outcome: str,
        counts: dict[str, int],
        report_paths: dict[str, str] | None = None,
    ) -> None:
        """Record how a run ended; a "finished" run drops its resend payloads."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown run outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET outcome = ?, finished_at = ?, counts_json = ? WHERE run_id = ?",
                (outcome, self.now(), _dumps(dict(counts)), run_id),
            )
            if report_paths is not None:
                conn.execute(
                    "UPDATE runs SET report_paths_json = ? WHERE run_id = ?",
                    (_dumps({k: str(v) for k, v in report_paths.items()}), run_id),
                )
            if outcome == FINISHED:
                # Nothing of a finished run is ever resent (a re-run needs --again and
                # starts a new run), so its targets only cost disk space.
                conn.execute(
                    "UPDATE run_rows SET target_json = NULL "
                    "WHERE run_id = ? AND target_json IS NOT NULL",
                    (run_id,),
                )

    def set_report_paths(self, run_id: str, report_paths: dict[str, str]) -> None:
        """Record where a run's reports were written."""
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET report_paths_json = ? WHERE run_id = ?",
                (_dumps({k: str(v) for k, v in report_paths.items()}), run_id),
            )

    def set_field_names(self, run_id: str, field_names: Sequence[str]) -> None:
        """Record the mapped field names (report column order) of a run."""
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET field_names_json = ? WHERE run_id = ?",
                (_dumps(list(field_names)), run_id),
            )

    def _latest(self, key: RunKey, dry_run: bool, extra: str = "") -> RunRecord | None:
        found = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {_KEY_WHERE} AND dry_run = ? {extra} "
            # An undone run is neither resumed nor "already imported": its file may come again.
            "AND undone_by IS NULL ORDER BY rowid DESC LIMIT 1",
            (key.file_sha256, key.mapping_sha256, key.campaign_key, key.mode, int(dry_run)),
        )
        return _run_from(found[0]) if found else None

    def find_unfinished(self, key: RunKey, *, dry_run: bool = False) -> RunRecord | None:
        """The run to resume: the latest run with ``key`` when it did not finish.

        A run that ended "failed" or "interrupted", or was killed (outcome None),
        is resumed; once a later run with the same key finished, older unfinished
        ones are not.  Dry runs and real runs never resume each other.
        """
        latest = self._latest(key, dry_run)
        return latest if latest is not None and latest.resumable else None

    def find_finished(self, key: RunKey, *, dry_run: bool = False) -> RunRecord | None:
        """The latest finished run with ``key`` (the file was already imported)."""
        return self._latest(key, dry_run, "AND outcome = 'finished'")

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""
        found = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY rowid DESC LIMIT ?", (max(0, limit),)
        )
        return [_run_from(r) for r in found]

    def get_run(self, run_id: str) -> RunRecord:
        """One run by id or unambiguous id prefix; ConfigError when there is none."""
        wanted = run_id.strip().lower()
        found = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (wanted,))
        if not found and wanted:
            found = self._query(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE substr(run_id, 1, ?) = ? "
                "ORDER BY rowid DESC LIMIT 6",
                (len(wanted), wanted),
            )
        if not found:
            raise ConfigError(
                f"no run {run_id!r} in the journal {self.path}; "
                "'lead-importer runs' lists the recent runs"
            )
        if len(found) > 1:
            ids = ", ".join(r[0] for r in found[:5])
            raise ConfigError(f"run id {run_id!r} is ambiguous: it starts {ids}, ...")
        return _run_from(found[0])

    def status_counts(self, run_id: str) -> dict[str, int]:
        """How many rows of a run are in each status, counted from the rows."""
        found = self._query(
            "SELECT status, count(*) FROM run_rows WHERE run_id = ? GROUP BY status", (run_id,)
        )
        return {str(status): int(n) for status, n in found}

    # -- rows --------------------------------------------------------------------------

    def add_rows(self, run_id: str, rows: Iterable[JournalRow]) -> int:
        """Insert (or, when resuming, re-plan) rows in one transaction; returns the count.

        A row already in the journal is replaced, except one that is settled
        (``sent``, ``added``, ``updated``, ``rejected``): that one is kept as it
        is, and planning it again ("planned"/"sent") raises ValueError, because
        sending it again could dial a lead twice.
        """
        batch = []
        for r in rows:
            _check_status(r.status)
            _check_target(r.target_json, r.seq)
            batch.append((
                run_id, r.seq, r.sheet, r.row, r.phone_raw, r.phone, r.status, r.reason,
                r.error_code, r.import_ref, r.chunk_no, _dumps(r.fields), r.target_json,
                _reason_json(r.reason),
            ))
        if not batch:
            return 0
        seqs = [b[1] for b in batch]
        marks = ", ".join("?" * len(SETTLED))
        with self._write() as conn:
            settled = dict(
                conn.execute(
                    f"SELECT seq, status FROM run_rows WHERE run_id = ? AND seq BETWEEN ? AND ? "
                    f"AND status IN ({marks})",
                    (run_id, min(seqs), max(seqs), *sorted(SETTLED)),
                ).fetchall()
            )
            if settled:
                for b in batch:
                    if b[1] in settled and b[6] in {PLANNED, SENT}:
                        raise ValueError(
                            f"run {run_id}: row seq {b[1]} is already {settled[b[1]]!r} in the "
                            "journal and must not be planned again (that could dial it twice)"
                        )
                batch = [b for b in batch if b[1] not in settled]
            conn.executemany(
                f"INSERT OR REPLACE INTO run_rows (run_id, {_ROW_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
        return len(batch)

    def update_rows(self, run_id: str, updates: Iterable[RowUpdate]) -> None:
        """Set (status, reason, error_code) of rows by seq, in one transaction.

        Rows that become ``added`` are recorded in the import history in the
        same transaction (unless the run is a dry run).
        """
        batch = _status_batch(run_id, updates)
        if not batch:
            return
        with self._write() as conn:
            self._set_statuses(conn, run_id, batch)

    def _set_statuses(
        self, conn: sqlite3.Connection, run_id: str, batch: list[tuple[Any, ...]]
    ) -> None:
        """Apply a ``_status_batch``; rows that became ``added`` enter the history."""
        conn.executemany(
            "UPDATE run_rows SET status = ?, reason = ?, reason_json = ?, error_code = ? "
            "WHERE run_id = ? AND seq = ?",
            batch,
        )
        self._record_added(conn, run_id, [b[5] for b in batch if b[0] == Status.ADDED])

    def _page(self, run_id: str, where: str, params: Sequence[Any]) -> Iterator[JournalRow]:
        # Keyset paging: each page is its own short query, so a consumer may be slow
        # (writing a report) while other threads keep writing.
        last = -1
        while True:
            found = self._query(
                f"SELECT {_ROW_COLUMNS} FROM run_rows WHERE run_id = ? AND seq > ? {where} "
                "ORDER BY seq LIMIT ?",
                (run_id, last, *params, _PAGE),
            )
            for r in found:
                yield _row_from(r)
            if len(found) < _PAGE:
                return
            last = found[-1][0]

    def rows(self, run_id: str) -> Iterator[JournalRow]:
        """Every row of a run in input order, streamed page by page."""
        return self._page(run_id, "", ())

    def rows_with_status(self, run_id: str, statuses: Collection[str]) -> Iterator[JournalRow]:
        """The rows of a run whose status is one of ``statuses``, in input order."""
        wanted = sorted(set(statuses))
        if not wanted:
            return iter(())
        marks = ", ".join("?" * len(wanted))
        return self._page(run_id, f"AND status IN ({marks})", wanted)

    def rows_in_chunk(self, run_id: str, chunk_no: int) -> list[JournalRow]:
        """The rows last sent in a chunk (to reconcile or resend them)."""
        found = self._query(
            f"SELECT {_ROW_COLUMNS} FROM run_rows WHERE run_id = ? AND seq IN "
            "(SELECT value FROM json_each((SELECT seqs_json FROM chunks "
            "WHERE run_id = ? AND chunk_no = ?))) ORDER BY seq",
            (run_id, run_id, chunk_no),
        )
        return [_row_from(r) for r in found]

    def max_seq(self, run_id: str) -> int:
        """The highest row seq recorded for a run, -1 when none: where planning resumes."""
        found = self._query("SELECT max(seq) FROM run_rows WHERE run_id = ?", (run_id,))
        return -1 if found[0][0] is None else int(found[0][0])

    # -- chunks ------------------------------------------------------------------------

    def mark_chunk_sent(
        self,
        run_id: str,
        chunk_no: int,
        seqs: Sequence[int],
        updates: Sequence[int] = (),
        replaced: Iterable[tuple[int, str, str]] = (),
    ) -> None:
        """Durably record, BEFORE sending, that a chunk's rows are about to go out.

        ``updates`` (a subset of ``seqs``) are UpdateCalls, recorded as "updating";
        ``replaced`` holds (seq, phone, previous details JSON) of those calls.
        Resending a chunk (same ``chunk_no``) replaces its seqs and counts an attempt.
        """
        seq_list = [int(s) for s in seqs]
        now = self.now()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO chunks (run_id, chunk_no, state, seqs_json, sent_at, done_at, "
                "attempts) VALUES (?, ?, 'sent', ?, ?, NULL, 1) "
                "ON CONFLICT (run_id, chunk_no) DO UPDATE SET state = 'sent', "
                "seqs_json = excluded.seqs_json, sent_at = excluded.sent_at, done_at = NULL, "
                "attempts = chunks.attempts + 1",
                (run_id, chunk_no, _dumps(seq_list), now),
            )
            conn.execute(
                "UPDATE run_rows SET status = 'sent', reason = '', reason_json = NULL, "
                "error_code = NULL, chunk_no = ? WHERE run_id = ? AND seq IN "
                "(SELECT value FROM json_each(?))",
                (chunk_no, run_id, _dumps(seq_list)),
            )
            if updates:
                conn.execute(
                    f"UPDATE run_rows SET status = '{UPDATING}' WHERE run_id = ? AND seq IN "
                    "(SELECT value FROM json_each(?))",
                    (run_id, _dumps([int(s) for s in updates])),
                )
            # The first recording wins: a resumed run reads details its first attempt
            # may already have changed, and those are not what an undo should restore.
            conn.executemany(
                "INSERT OR IGNORE INTO replaced (run_id, seq, phone, previous_json, "
                "recorded_at) VALUES (?, ?, ?, ?, ?)",
                [(run_id, seq, phone, previous, now) for seq, phone, previous in replaced],
            )

    def mark_chunk_done(
        self, run_id: str, chunk_no: int, results: Iterable[RowUpdate]
    ) -> list[int]:
        """Record a chunk's answer (rows' final status) in one transaction.

        The chunk becomes "done" when none of its rows is still "sent" or "updating";
        rows the answer did not cover stay so and are returned (the chunk then stays
        unknown, to be reconciled).  Rows that became ``added`` enter the history.
        """
        batch = _status_batch(run_id, results)
        with self._write() as conn:
            self._set_statuses(conn, run_id, batch)
            unsettled = [
                int(r[0])
                for r in conn.execute(
                    f"SELECT seq FROM run_rows WHERE run_id = ? AND status IN ('{SENT}', "
                    f"'{UPDATING}') AND seq IN "
                    "(SELECT value FROM json_each((SELECT seqs_json FROM chunks "
                    "WHERE run_id = ? AND chunk_no = ?))) ORDER BY seq",
                    (run_id, run_id, chunk_no),
                )
            ]
            if not unsettled:
                conn.execute(
                    "UPDATE chunks SET state = 'done', done_at = ? "
                    "WHERE run_id = ? AND chunk_no = ?",
                    (self.now(), run_id, chunk_no),
                )
        return unsettled

    def replaced(self, run_id: str) -> list[ReplacedEntry]:
        """What the run's upserts replaced (details before the first UpdateCall), by seq."""
        found = self._query(
            "SELECT seq, phone, previous_json, recorded_at FROM replaced WHERE run_id = ? "
            "ORDER BY seq",
            (run_id,),
        )
        return [ReplacedEntry(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in found]

    def _chunks(self, run_id: str, where: str) -> list[ChunkRecord]:
        found = self._query(
            "SELECT run_id, chunk_no, state, seqs_json, sent_at, attempts, done_at FROM chunks "
            f"WHERE run_id = ? {where} ORDER BY chunk_no",
            (run_id,),
        )
        return [
            ChunkRecord(r[0], r[1], r[2], [int(s) for s in json.loads(r[3])], r[4], r[5], r[6])
            for r in found
        ]

    def chunks(self, run_id: str) -> list[ChunkRecord]:
        """Every chunk of a run, by number."""
        return self._chunks(run_id, "")

    def unknown_chunks(self, run_id: str) -> list[ChunkRecord]:
        """Chunks sent whose answer was never recorded (outcome unknown)."""
        return self._chunks(run_id, f"AND state = '{SENT}'")

    def max_chunk_no(self, run_id: str) -> int:
        """The highest chunk number used by a run, -1 when none."""
        found = self._query("SELECT max(chunk_no) FROM chunks WHERE run_id = ?", (run_id,))
        return -1 if found[0][0] is None else int(found[0][0])

    def next_chunk_no(self, run_id: str) -> int:
        """The first unused chunk number of a run."""
        return self.max_chunk_no(run_id) + 1

    # -- history -----------------------------------------------------------------------

    def _record_added(self, conn: sqlite3.Connection, run_id: str, seqs: list[int]) -> None:
        if not seqs:
            return
        run = conn.execute(
            "SELECT campaign_key, campaign_name, source_file, dry_run FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if run is None or run[3]:
            return
        conn.execute(
            "INSERT OR IGNORE INTO history (phone, campaign_key, campaign_name, run_id, "
            "source_file, row, added_at) SELECT phone, ?, ?, run_id, ?, row, ? FROM run_rows "
            "WHERE run_id = ? AND seq IN (SELECT value FROM json_each(?)) AND phone != ''",
            (run[0], run[1], run[2], self.now(), run_id, _dumps(seqs)),
        )

    def record_history(
        self,
        campaign_key: str,
        campaign_name: str,
        entries: Iterable[tuple[str, int, str]],
        *,
        run_id: str,
        source_file: str,
    ) -> None:
        """Remember (phone, row, action) confirmed added or updated; idempotent per run."""
        now = self.now()
        batch = [
            (phone, campaign_key, campaign_name, run_id, source_file, row, now, action)
            for phone, row, action in entries
            if phone
        ]
        if not batch:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO history (phone, campaign_key, campaign_name, run_id, "
                "source_file, row, added_at, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )

    def recently_added(
        self, campaign_key: str, days: int, *, exclude_run: str | None = None
    ) -> set[str]:
        """E.164 numbers this importer added to the campaign in the last ``days`` days."""
        if days <= 0:
            return set()
        cutoff = _iso(self._clock() - timedelta(days=days))
        found = self._query(
            "SELECT DISTINCT phone FROM history WHERE campaign_key = ? AND added_at >= ? "
            # An undo's own lines, and the imports it took back, are not imports.
            f"AND run_id != ? AND action IN ({_IMPORT_ACTIONS})",
            (campaign_key, cutoff, exclude_run or ""),
        )
        return {str(r[0]) for r in found}

    def _history(self, where: str, param: str) -> list[HistoryEntry]:
        found = self._query(
            "SELECT phone, campaign_key, campaign_name, run_id, source_file, row, added_at, "
            f"action FROM history WHERE {where} ORDER BY added_at DESC, rowid DESC",
            (param,),
        )
        return [HistoryEntry(*r) for r in found]

    def history(self, phone_e164: str) -> list[HistoryEntry]:
        """Every import of a number (E.164), newest first."""
        return self._history("phone = ?", phone_e164)

    def history_matching(self, digits: str) -> list[HistoryEntry]:
        """Imports of numbers whose E.164 ends with ``digits`` (leading zeros ignored)."""
        suffix = "".join(ch for ch in digits if ch.isdigit()).lstrip("0")
        if len(suffix) < 6:
            return []
        return self._history("phone LIKE ?", f"%{suffix}")

    def prune(self, older_than_days: int, history_older_than_days: int | None = None) -> int:
        """Forget row detail of finished runs older than the given age.

        Run records (counts, report paths, undos) are kept; the details their upserts
        replaced or their syncs removed, and their undos' items, go with the rows.
        Returns the number of runs whose rows were dropped.  The import history,
        which dedupe reads, is kept unless ``history_older_than_days`` is given:
        forgetting it lets numbers imported then be dialled again, so it must stay
        longer than every mapping's ``dedupe.history_days``.
        """
        cutoff = _iso(self._clock() - timedelta(days=max(0, older_than_days)))
        with self._write() as conn:
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT run_id FROM runs WHERE outcome = 'finished' AND started_at < ?",
                    (cutoff,),
                )
            ]
            for run_id in old:
                conn.execute("DELETE FROM run_rows WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM chunks WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM replaced WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM sync_removed WHERE run_id = ?", (run_id,))
                conn.execute(
                    "DELETE FROM undo_items WHERE undo_id IN "
                    "(SELECT undo_id FROM undos WHERE run_id = ?)",
                    (run_id,),
                )
            if history_older_than_days is not None:
                history_cutoff = _iso(
                    self._clock() - timedelta(days=max(0, history_older_than_days))
                )
                conn.execute("DELETE FROM history WHERE added_at < ?", (history_cutoff,))
        return len(old)

    # -- reports -----------------------------------------------------------------------

    def field_names(self, run_id: str) -> list[str]:
        """The run's mapped field names, or those found in its rows (first-seen order)."""
        run = self.get_run(run_id)
        if run.field_names:
            return run.field_names
        seen: dict[str, None] = {}
        for r in self.rows(run.run_id):
            for name in r.fields:
                seen.setdefault(name, None)
        return list(seen)

    def regenerate_report_rows(self, run_id: str) -> Iterator[RowResult]:
        """Report rows rebuilt from the journal, in input order.

        Rows still "planned" or "sent" (an unfinished run) appear as ``failed``
        with a reason saying a re-run will finish them.
        """
        run = self.get_run(run_id)
        for r in self.rows(run.run_id):
            reason: str
            if r.status == PLANNED:
                status, reason = Status.FAILED, NOT_SENT_YET
            elif r.status == SENT:
                status, reason = Status.FAILED, SENT_UNRECORDED
            elif r.status == UPDATING:
                status, reason = Status.FAILED, UPDATE_UNRECORDED
            else:
                status, reason = Status(r.status), r.reason
            yield RowResult(
                source_file=run.source_file,
                sheet=r.sheet,
                row=r.row,
                phone_raw=r.phone_raw,
                phone=r.phone,
                status=status,
                reason=reason,
                error_code=r.error_code,
                campaign=run.campaign_name,
                fields=dict(r.fields),
            )


    # -- rejects files -----------------------------------------------------------------

    def record_rejects_file(self, run_id: str, base: str, path: str, rows: int) -> None:
        """Remember a rejects file a run wrote (``base``: its "<stem>.<UTC ts>" name part)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO rejects_files (run_id, base, path, rows, written_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, base, path, rows, self.now()),
            )

    def rejects_files(self, run_id: str) -> list[RejectsFile]:
        """The rejects files a run wrote."""
        found = self._query(
            "SELECT run_id, base, path, rows, written_at FROM rejects_files WHERE run_id = ? "
            "ORDER BY written_at, path",
            (run_id,),
        )
        return [RejectsFile(*r) for r in found]

    def rejects_origin(self, base: str) -> str | None:
        """The run that wrote the rejects file named ``base`` ("<stem>.<UTC ts>"), if any."""
        found = self._query(
            "SELECT run_id FROM rejects_files WHERE base = ? ORDER BY rowid DESC LIMIT 1", (base,)
        )
        return str(found[0][0]) if found else None

    def link_rejects(self, run_id: str, origin_run_id: str) -> None:
        """Record that ``run_id`` imported a rejects file of ``origin_run_id``."""
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET rejects_of = ? WHERE run_id = ?", (origin_run_id, run_id)
            )

    def run_links(self, run_id: str) -> dict[str, Any]:
        """What points from and to a run: its undo, its rejects' origin and re-imports."""
        found = self._query(
            "SELECT undone_by, rejects_of FROM runs WHERE run_id = ?", (run_id,)
        )
        undone_by, rejects_of = found[0] if found else (None, None)
        again = self._query(
            "SELECT run_id FROM runs WHERE rejects_of = ? ORDER BY rowid", (run_id,)
        )
        return {
            "undone_by": undone_by,
            "rejects_of": rejects_of,
            "rejects_imported_by": [str(r[0]) for r in again],
        }

    # -- sync removals -----------------------------------------------------------------

    def record_sync_removals(
        self, run_id: str, calls: Iterable[tuple[str, str, str]]
    ) -> None:
        """Before removing: (E.164, phone as the API lists it, details JSON) of each call."""
        now = self.now()
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO sync_removed (run_id, phone, api_phone, previous_json, "
                "state, recorded_at) VALUES (?, ?, ?, ?, 'removing', ?)",
                [(run_id, phone, api, details, now) for phone, api, details in calls],
            )

    def mark_sync_removed(self, run_id: str, phone: str, state: str) -> None:
        """After a RemoveCall: "removed", or "failed" (the call is still pending)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE sync_removed SET state = ? WHERE run_id = ? AND phone = ?",
                (state, run_id, phone),
            )

    # -- undo --------------------------------------------------------------------------

    def undo_of(self, run_id: str) -> UndoRecord | None:
        """The undo of a run, finished or not."""
        found = self._query(
            "SELECT undo_id, run_id, started_at, finished_at, outcome, counts_json, "
            "report_paths_json FROM undos WHERE run_id = ?",
            (run_id,),
        )
        if not found:
            return None
        r = found[0]
        return UndoRecord(
            r[0], r[1], r[2], r[3], r[4],
            {str(k): int(v) for k, v in json.loads(r[5]).items()},
            {str(k): str(v) for k, v in json.loads(r[6]).items()},
        )

    def start_undo(self, run_id: str) -> UndoRecord:
        """Begin (or find the unfinished) undo of a run, with one item per number to look at.

        Items: every row the run added (or sent without a recorded answer) is to be
        removed; every row it updated, with the details the update replaced, restored;
        every call a sync run removed, added back.  The run is marked undone at once,
        so it is never resumed and its file is not "already imported" any more.
        """
        existing = self.undo_of(run_id)
        if existing is not None:
            return existing
        undo_id = f"undo-{run_id}"
        with self._write() as conn:
            conn.execute(
                "INSERT INTO undos (undo_id, run_id, started_at) VALUES (?, ?, ?)",
                (undo_id, run_id, self.now()),
            )
            conn.execute("UPDATE runs SET undone_by = ? WHERE run_id = ?", (undo_id, run_id))
            conn.execute(
                f"INSERT INTO undo_items (undo_id, {_UNDO_ITEM_COLUMNS}) "
                "SELECT :undo, item, kind, sheet, row, phone, phone_raw, import_ref, "
                f"fields_json, detail_json, 'planned', '', '' FROM ({_UNDO_CANDIDATES})",
                {"undo": undo_id, "run": run_id},
            )
        started = self.undo_of(run_id)
        assert started is not None
        return started

    def undo_candidates(self, run_id: str, after: int = -1) -> list[UndoItem]:
        """The items an undo of the run would look at, a page from ``after`` (a dry run)."""
        found = self._query(
            f"SELECT {_UNDO_ITEM_COLUMNS}, NULL FROM (SELECT *, 'planned' AS state, '' AS status, "
            f"'' AS reason FROM ({_UNDO_CANDIDATES})) WHERE item > :after ORDER BY item "
            "LIMIT :limit",
            {"run": run_id, "after": after, "limit": _PAGE},
        )
        return [_undo_item(r) for r in found]

    def undo_items(self, undo_id: str, after: int = -1) -> list[UndoItem]:
        """A page of an undo's items, from ``after``, in order."""
        found = self._query(
            f"SELECT {_UNDO_ITEM_COLUMNS}, reason_json FROM undo_items WHERE undo_id = ? "
            "AND item > ? "
            "ORDER BY item LIMIT ?",
            (undo_id, after, _PAGE),
        )
        return [_undo_item(r) for r in found]

    def mark_undo_sending(self, undo_id: str, items: Sequence[int]) -> None:
        """Durably record, BEFORE the requests, that these items' writes go out."""
        with self._write() as conn:
            conn.execute(
                "UPDATE undo_items SET state = 'sending' WHERE undo_id = ? AND item IN "
                "(SELECT value FROM json_each(?))",
                (undo_id, _dumps(list(items))),
            )

    def mark_undo_done(
        self,
        undo: UndoRecord,
        campaign: tuple[str, str],
        source_file: str,
        results: Sequence[tuple[UndoItem, str, str]],
    ) -> None:
        """Record items' outcomes (item, status, reason) and what they change in the history.

        A number the undo removed or restored stops counting as imported by the run
        (its history line becomes "undone", so dedupe lets it in again), and the undo
        adds its own line ("removed" or "restored").  ``campaign`` is (key, name).
        """
        now = self.now()
        with self._write() as conn:
            conn.executemany(
                "UPDATE undo_items SET state = 'done', status = ?, reason = ?, reason_json = ? "
                "WHERE undo_id = ? AND item = ?",
                [(status, reason, _reason_json(reason), undo.undo_id, it.item)
                 for it, status, reason in results],
            )
            took_back = [
                it.phone for it, status, _ in results
                if status in {Status.REMOVED.value, Status.RESTORED.value} and it.kind != "readd"
            ]
            conn.executemany(
                "UPDATE history SET action = 'undone' WHERE run_id = ? AND phone = ?",
                [(undo.run_id, phone) for phone in took_back],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO history (phone, campaign_key, campaign_name, run_id, "
                "source_file, row, added_at, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (it.phone, campaign[0], campaign[1], undo.undo_id, source_file, it.row, now,
                     status)
                    for it, status, _ in results
                    if status in {Status.REMOVED.value, Status.RESTORED.value}
                ],
            )

    def set_undo_reports(self, undo_id: str, reports: dict[str, str]) -> None:
        """Where an undo's reports are being written (known from its start)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE undos SET report_paths_json = ? WHERE undo_id = ?",
                (_dumps(reports), undo_id),
            )

    def sync_removals(self, run_id: str) -> int:
        """How many calls a sync run recorded removing (before it removed them)."""
        found = self._query("SELECT count(*) FROM sync_removed WHERE run_id = ?", (run_id,))
        return int(found[0][0])

    def run_of_file(self, file_sha256: str) -> str | None:
        """The latest real (not dry) run of a file with this SHA-256."""
        found = self._query(
            "SELECT run_id FROM runs WHERE file_sha256 = ? AND dry_run = 0 "
            "ORDER BY rowid DESC LIMIT 1",
            (file_sha256,),
        )
        return str(found[0][0]) if found else None

    def retry_failed_undo_items(self, undo_id: str) -> None:
        """Plan an incomplete undo's failed items again (a re-run retries them)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE undo_items SET state = 'planned', status = '', reason = '', "
                "reason_json = NULL "
                "WHERE undo_id = ? AND status = ?",
                (undo_id, Status.FAILED.value),
            )

    def finish_undo(
        self, undo_id: str, outcome: str, counts: dict[str, int], reports: dict[str, str]
    ) -> None:
        """Record how an undo ended ("finished", "incomplete" with failed items, "interrupted")."""
        with self._write() as conn:
            conn.execute(
                "UPDATE undos SET outcome = ?, finished_at = ?, counts_json = ?, "
                "report_paths_json = ? WHERE undo_id = ?",
                (outcome, self.now(), _dumps(counts), _dumps(reports), undo_id),
            )

    def changed_later(self, run_id: str) -> dict[str, str]:
        """Numbers of the run that a later run added or updated again: phone -> that run."""
        found = self._query(
            "SELECT h1.phone, max(h2.run_id) FROM history h1 JOIN history h2 "
            "ON h2.phone = h1.phone AND h2.campaign_key = h1.campaign_key "
            "AND h2.rowid > h1.rowid AND h2.run_id != h1.run_id "
            f"AND h2.action IN ({_IMPORT_ACTIONS}) WHERE h1.run_id = ? GROUP BY h1.phone",
            (run_id,),
        )
        return {str(r[0]): str(r[1]) for r in found}


# Items of an undo, by kind: "remove" (rows the run added, or sent without a recorded
# answer), "restore" (rows it updated, with what the update replaced) and "readd" (calls a
# sync run removed).  Rows keep their seq as item number; re-adds come after the last row.
_UNDO_CANDIDATES = (
    "SELECT r.seq AS item, CASE WHEN r.status IN ('added', 'sent') THEN 'remove' "
    "ELSE 'restore' END AS kind, r.sheet AS sheet, r.row AS row, r.phone AS phone, "
    "r.phone_raw AS phone_raw, r.import_ref AS import_ref, r.fields_json AS fields_json, "
    "p.previous_json AS detail_json FROM run_rows r LEFT JOIN replaced p "
    "ON p.run_id = r.run_id AND p.seq = r.seq WHERE r.run_id = :run AND r.phone != '' AND "
    "(r.status IN ('added', 'sent') OR (r.status IN ('updated', 'updating') "
    "AND p.previous_json IS NOT NULL)) "
    "UNION ALL SELECT (SELECT coalesce(max(seq), -1) FROM run_rows WHERE run_id = :run) "
    "+ row_number() OVER (ORDER BY s.rowid), 'readd', NULL, 0, s.phone, s.api_phone, NULL, "
    "'{}', s.previous_json FROM sync_removed s WHERE s.run_id = :run "
    "AND s.state IN ('removing', 'removed')"
)


def _undo_item(r: Sequence[Any]) -> UndoItem:
    return UndoItem(
        item=int(r[0]), kind=str(r[1]), sheet=r[2], row=int(r[3]), phone=str(r[4]),
        phone_raw=str(r[5]), import_ref=r[6], fields=json.loads(r[7]), detail_json=r[8],
        state=str(r[9]), status=str(r[10]), reason=_reason_from(str(r[11]), r[12]),
    )
