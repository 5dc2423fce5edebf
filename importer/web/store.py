"""The web workspace's own state in SQLite (``web.db`` in its data folder).

Sessions (by the SHA-256 of their token, never the token), uploads and their
files (original names for display only), and jobs: enough that a restarted
server still shows finished jobs and knows which ones it left running.
Every statement takes parameters; nothing is pasted into SQL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["JobRecord", "SessionRecord", "UploadFile", "UploadRecord", "WebStore", "utc_now"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
    created_at TEXT NOT NULL, seen_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, user TEXT NOT NULL, created_at TEXT NOT NULL,
    sheet TEXT, mapping_yaml TEXT);
CREATE TABLE IF NOT EXISTS upload_files (
    upload_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,
    stored TEXT NOT NULL, size INTEGER NOT NULL, info_json TEXT NOT NULL,
    PRIMARY KEY (upload_id, idx));
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, user TEXT NOT NULL,
    upload_id TEXT, request_json TEXT NOT NULL, state TEXT NOT NULL,
    run_id TEXT, result_json TEXT NOT NULL DEFAULT '{}', error_json TEXT,
    rows_done INTEGER NOT NULL DEFAULT 0, rows_total INTEGER,
    created_at TEXT NOT NULL, finished_at TEXT, language TEXT);
CREATE INDEX IF NOT EXISTS jobs_run ON jobs(run_id);
CREATE TABLE IF NOT EXISTS job_runs (
    job_id TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (job_id, run_id));
"""

#: Job states: the API's four, and ``interrupted`` for a job the server stopped or lost.
ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "interrupted")


def utc_now() -> str:
    """Now, ISO 8601 UTC to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def token_hash(token: str) -> str:
    """What is stored for a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A signed-in browser."""

    user: str
    csrf: str
    seen_at: str


@dataclass(frozen=True, slots=True)
class UploadFile:
    """One uploaded file: its name in the browser (display only) and where we keep it."""

    idx: int
    name: str
    stored: Path
    size: int
    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """An upload: one or more files imported together."""

    upload_id: str
    user: str
    created_at: str
    sheet: str | None
    mapping_yaml: str | None
    files: list[UploadFile]


@dataclass(slots=True)
class JobRecord:
    """A background job: an import, a preview (dry run) or an undo."""

    job_id: str
    kind: str                    # "import" or "undo"
    user: str
    upload_id: str | None
    request: dict[str, Any]
    state: str
    run_id: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None
    rows_done: int = 0
    rows_total: int | None = None
    created_at: str = ""
    finished_at: str | None = None
    language: str | None = None


_JOB_COLUMNS = (
    "job_id, kind, user, upload_id, request_json, state, run_id, result_json, error_json, "
    "rows_done, rows_total, created_at, finished_at, language"
)


def _job(row: tuple[Any, ...]) -> JobRecord:
    return JobRecord(
        job_id=row[0],
        kind=row[1],
        user=row[2],
        upload_id=row[3],
        request=json.loads(row[4]),
        state=row[5],
        run_id=row[6],
        result=json.loads(row[7] or "{}"),
        error=json.loads(row[8]) if row[8] else None,
        rows_done=row[9],
        rows_total=row[10],
        created_at=row[11],
        finished_at=row[12],
        language=row[13],
    )


class WebStore:
    """``web.db``: one connection shared by the server's threads (calls are serialised)."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the database."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    # ------------------------------------------------------------------ sessions

    def add_session(self, token: str, user: str, csrf: str) -> None:
        """Remember a new session."""
        now = utc_now()
        with self._tx() as db:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (token_hash(token), user, csrf, now, now),
            )

    def session(self, token: str, idle: timedelta) -> SessionRecord | None:
        """The session of ``token`` unless it was idle longer than ``idle`` (then it is gone)."""
        key = token_hash(token)
        found = self._all("SELECT user, csrf, seen_at FROM sessions WHERE token_hash = ?", (key,))
        if not found:
            return None
        user, csrf, seen = found[0]
        seen_at = datetime.fromisoformat(seen.replace("Z", "+00:00"))
        now = datetime.now(UTC)
        if now - seen_at > idle:
            self.drop_session(token)
            return None
        if (now - seen_at).total_seconds() > 60:  # a write per minute at most
            with self._tx() as db:
                db.execute(
                    "UPDATE sessions SET seen_at = ? WHERE token_hash = ?", (utc_now(), key)
                )
        return SessionRecord(user, csrf, seen)

    def drop_session(self, token: str) -> None:
        """Forget a session (sign out)."""
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))

    def drop_sessions_of(self, user: str) -> None:
        """Forget every session of a user (removed)."""
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE user = ?", (user,))

    # ------------------------------------------------------------------ uploads

    def add_upload(self, upload_id: str, user: str, files: list[UploadFile]) -> None:
        """Record an upload and its files."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, NULL, NULL)", (upload_id, user, utc_now())
            )
            for f in files:
                db.execute(
                    "INSERT INTO upload_files VALUES (?, ?, ?, ?, ?, ?)",
                    (upload_id, f.idx, f.name, str(f.stored), f.size, json.dumps(f.info)),
                )

    def upload(self, upload_id: str) -> UploadRecord | None:
        """An upload with its files, or None."""
        found = self._all(
            "SELECT upload_id, user, created_at, sheet, mapping_yaml FROM uploads "
            "WHERE upload_id = ?",
            (upload_id,),
        )
        if not found:
            return None
        files = [
            UploadFile(r[0], r[1], Path(r[2]), r[3], json.loads(r[4]))
            for r in self._all(
                "SELECT idx, name, stored, size, info_json FROM upload_files "
                "WHERE upload_id = ? ORDER BY idx",
                (upload_id,),
            )
        ]
        u = found[0]
        return UploadRecord(u[0], u[1], u[2], u[3], u[4], files)

    def set_upload_sheet(
        self, upload_id: str, sheet: str | None, infos: list[dict[str, Any]]
    ) -> None:
        """Another sheet was chosen: what the reader saw in it; the mapping starts again."""
        with self._tx() as db:
            db.execute(
                "UPDATE uploads SET sheet = ?, mapping_yaml = NULL WHERE upload_id = ?",
                (sheet, upload_id),
            )
            for idx, info in enumerate(infos):
                db.execute(
                    "UPDATE upload_files SET info_json = ? WHERE upload_id = ? AND idx = ?",
                    (json.dumps(info), upload_id, idx),
                )

    def set_upload_mapping(self, upload_id: str, mapping_yaml: str) -> None:
        """The mapping the user edited for this upload."""
        with self._tx() as db:
            db.execute(
                "UPDATE uploads SET mapping_yaml = ? WHERE upload_id = ?",
                (mapping_yaml, upload_id),
            )

    def old_uploads(self, before: str) -> list[str]:
        """Ids of uploads made before ``before`` (ISO UTC)."""
        return [r[0] for r in self._all(
            "SELECT upload_id FROM uploads WHERE created_at < ?", (before,)
        )]

    def drop_upload(self, upload_id: str) -> None:
        """Forget an upload (its files are removed by the caller)."""
        with self._tx() as db:
            db.execute("DELETE FROM upload_files WHERE upload_id = ?", (upload_id,))
            db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))

    # ------------------------------------------------------------------ jobs

    def add_job(self, job: JobRecord) -> None:
        """Record a new job."""
        with self._tx() as db:
            db.execute(
                f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                (
                    job.job_id, job.kind, job.user, job.upload_id, json.dumps(job.request),
                    job.state, job.run_id, json.dumps(job.result),
                    json.dumps(job.error) if job.error else None, job.rows_done, job.rows_total,
                    job.created_at or utc_now(), job.finished_at, job.language,
                ),
            )

    def save_job(self, job: JobRecord) -> None:
        """Write a job's state, progress and result."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, run_id = ?, result_json = ?, error_json = ?, "
                "rows_done = ?, rows_total = ?, finished_at = ? WHERE job_id = ?",
                (
                    job.state, job.run_id, json.dumps(job.result),
                    json.dumps(job.error) if job.error else None, job.rows_done,
                    job.rows_total, job.finished_at, job.job_id,
                ),
            )
            for run_id in job.result.get("run_ids", []):
                db.execute("INSERT OR IGNORE INTO job_runs VALUES (?, ?)", (job.job_id, run_id))

    def job(self, job_id: str) -> JobRecord | None:
        """A job by id."""
        found = self._all(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
        return _job(found[0]) if found else None

    def jobs(self, limit: int = 50) -> list[JobRecord]:
        """The latest jobs, newest first."""
        return [_job(r) for r in self._all(
            f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (limit,),
        )]

    def jobs_of_runs(self, run_ids: list[str]) -> dict[str, JobRecord]:
        """For each run id, the web job that made it (imports only)."""
        if not run_ids:
            return {}
        marks = ", ".join("?" * len(run_ids))
        found = self._all(
            f"SELECT r.run_id, {', '.join('j.' + c.strip() for c in _JOB_COLUMNS.split(','))} "
            f"FROM job_runs r JOIN jobs j ON j.job_id = r.job_id "
            f"WHERE r.run_id IN ({marks}) AND j.kind = 'import' ORDER BY j.rowid",
            tuple(run_ids),
        )
        return {r[0]: _job(r[1:]) for r in found}

    def import_of_file(self, stored: str) -> tuple[str, JobRecord | None] | None:
        """For a stored upload file: its browser name and the latest real import job of it."""
        found = self._all(
            "SELECT upload_id, name FROM upload_files WHERE stored = ?", (stored,)
        )
        if not found:
            return None
        upload_id, name = found[0]
        jobs = [_job(r) for r in self._all(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE upload_id = ? AND kind = 'import' "
            "ORDER BY rowid DESC",
            (upload_id,),
        )]
        real = [j for j in jobs if not j.request.get("dry_run")]
        return name, (real[0] if real else None)

    def undo_jobs_of(self, run_id: str) -> list[JobRecord]:
        """The undo jobs started for a run, newest first."""
        return [_job(r) for r in self._all(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE kind = 'undo' AND run_id = ? "
            "ORDER BY rowid DESC",
            (run_id,),
        )]

    def interrupt_active(self) -> list[str]:
        """At start: jobs left queued or running by a stopped server become ``interrupted``."""
        with self._tx() as db:
            ids = [r[0] for r in db.execute(
                "SELECT job_id FROM jobs WHERE state IN (?, ?)", ACTIVE
            ).fetchall()]
            db.execute(
                "UPDATE jobs SET state = 'interrupted', finished_at = ? WHERE state IN (?, ?)",
                (utc_now(), *ACTIVE),
            )
        return ids
