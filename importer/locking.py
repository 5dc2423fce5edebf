"""Portable inter-process locks, with their holder's name: a state directory's, an inbox's,
and a campaign's (``CampaignLock``, shared by every run on the machine).

Built on ``filelock``: ``flock`` on Linux/macOS and ``msvcrt.locking`` on
Windows, both released by the operating system when the holder dies, so a
lock left by a killed process never blocks the next run.  (Where the
filesystem has no ``flock``, filelock falls back to a lock file with stale-
owner detection.)  Who holds the lock is written next to it, in
``<name>.lock.owner``, so the second importer can say who it waited for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import filelock

from importer.errors import ConfigError, LockError, StorageError
from importer.i18n import N_

__all__ = [
    "CampaignLock",
    "LockOwner",
    "StateLock",
    "campaign_lock_name",
    "default_lock_dir",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class LockOwner:
    """Who holds a lock: process id, host, since when, and what for."""

    pid: int
    host: str
    started_at: str
    purpose: str = ""

    def describe(self) -> str:
        """``pid 123 on host, started at 2026-11-28T14:30:05Z, importing x.csv``."""
        text = f"pid {self.pid} on {self.host}, started at {self.started_at}"
        return f"{text}, {self.purpose}" if self.purpose else text


class StateLock:
    """An exclusive lock named ``name`` under ``state_dir``; a context manager.

    ``acquire`` waits up to ``timeout`` seconds, then raises LockError naming
    the directory and the holder.  Not re-entrant across instances: two
    ``StateLock`` objects on the same name exclude each other, even in one
    process.
    """

    def __init__(
        self,
        state_dir: Path,
        name: str = "journal",
        timeout: float = 10.0,
        *,
        purpose: str = "",
    ) -> None:
        """Describe the lock; nothing is touched until ``acquire``."""
        if not _NAME.match(name):
            raise ValueError(f"lock name {name!r} must be letters, digits, '.', '_' or '-'")
        self.state_dir = Path(state_dir)
        self.name = name
        self.timeout = timeout
        self.purpose = purpose
        self.path = self.state_dir / f"{name}.lock"
        self.owner_path = self.state_dir / f"{name}.lock.owner"
        self._lock = self._file_lock()
        self._depth = 0

    def _file_lock(self) -> filelock.BaseFileLock:
        return filelock.FileLock(self.path, timeout=self.timeout, thread_local=False)

    @property
    def is_held(self) -> bool:
        """True while this object holds the lock."""
        return self._depth > 0

    def acquire(self, timeout: float | None = None) -> StateLock:
        """Take the lock, waiting up to ``timeout`` (default: the lock's) seconds, or LockError."""
        if self._depth:
            self._depth += 1
            return self
        wait = self.timeout if timeout is None else timeout
        try:
            self._make_dir()
            self._lock.acquire(timeout=wait)
        except filelock.Timeout:
            message, values = self._busy_message(wait)
            raise LockError(message, **values) from None
        except OSError as exc:
            if StorageError.no_room(exc):
                raise StorageError(
                    N_("the disk is full: cannot create the lock file {path} ({reason})"),
                    folder=self.state_dir, path=self.path, reason=exc.strerror or exc,
                ) from None
            raise ConfigError(self._unusable_message(exc)) from None
        self._depth = 1
        self._write_owner()
        return self

    def _make_dir(self) -> None:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _unusable_message(self, exc: OSError) -> str:
        return (
            f"cannot create the lock file {self.path} ({exc.strerror or exc}); check the "
            "state directory's permissions or choose another with --state-dir"
        )

    def release(self) -> None:
        """Give the lock back (the outermost release frees it)."""
        if not self._depth:
            return
        self._depth -= 1
        if self._depth:
            return
        with contextlib.suppress(OSError):  # best effort: the next holder overwrites it
            self.owner_path.unlink(missing_ok=True)
        self._lock.release()

    def owner(self) -> LockOwner | None:
        """The recorded holder of the lock, if any (may be stale once released)."""
        try:
            data = json.loads(self.owner_path.read_text(encoding="utf-8"))
            return LockOwner(
                pid=int(data["pid"]),
                host=str(data["host"]),
                started_at=str(data["started_at"]),
                purpose=str(data.get("purpose", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_owner(self) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "purpose": self.purpose,
        }
        tmp = self.owner_path.with_name(f"{self.owner_path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.owner_path)
        except OSError:
            # Only the waiter's message gets poorer; the lock itself is held.
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _holder(self) -> str:
        owner = self.owner()
        return f" ({owner.describe()})" if owner else f" (lock file {self.path})"

    def _busy_message(self, waited: float) -> tuple[str, dict[str, object]]:
        """The message (a catalogue entry) and its values."""
        return (
            N_("another lead-importer run is using {folder}{holder}; waited {seconds} s. "
               "Try again when it has finished."),
            {"folder": self.state_dir, "holder": self._holder(), "seconds": f"{waited:g}"},
        )

    def __enter__(self) -> StateLock:
        """Acquire the lock."""
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release the lock."""
        self.release()


LOCK_DIR_NAME = "lead-importer-locks"
# The lock name must come out the same in every run on every machine that shares the lock
# folder, with no state to agree on first, so the key is fixed; the many rounds make
# guessing a campaign code from a (world-readable) lock file name expensive.
_FINGERPRINT_KEY = b"lead-importer campaign lock v1"
_FINGERPRINT_ROUNDS = 100_000


def default_lock_dir() -> Path:
    """The machine's folder of campaign locks: ``/tmp/lead-importer-locks`` (Windows: %TEMP%)."""
    # A fixed /tmp, not $TMPDIR: two runs of one machine must find the same folder even when
    # their environments differ (cron, a service, a shell), and /tmp is every user's.
    base = Path(tempfile.gettempdir()) if os.name == "nt" else Path("/tmp")  # noqa: S108
    return base / LOCK_DIR_NAME


def campaign_lock_name(campaign_code: str) -> str:
    """The lock name of a campaign: a slow keyed hash of its code, never the code itself."""
    digest = hashlib.pbkdf2_hmac(
        "sha256", campaign_code.encode("utf-8"), _FINGERPRINT_KEY, _FINGERPRINT_ROUNDS
    )
    return f"campaign-{digest.hex()[:32]}"


class CampaignLock(StateLock):
    """One import into a campaign at a time, whatever state directory each run uses.

    The lock lives in ``lock_dir``, a folder several machines may share, or by
    default in ``default_lock_dir()``, which every run and every user of the
    machine share.  Its file name is ``campaign_lock_name(code)``; the campaign
    name appears only in the waiting run's message.
    """

    def __init__(
        self,
        campaign_code: str,
        lock_dir: Path | None = None,
        timeout: float = 10.0,
        *,
        campaign_name: str = "",
        purpose: str = "",
    ) -> None:
        """Describe the lock; nothing is touched until ``acquire``."""
        self.machine_wide = lock_dir is None
        self.campaign_name = campaign_name
        super().__init__(
            default_lock_dir() if lock_dir is None else Path(lock_dir),
            campaign_lock_name(campaign_code),
            timeout,
            purpose=purpose,
        )

    def _file_lock(self) -> filelock.BaseFileLock:
        # Readable and writable by all: another user's run must be able to open it to wait.
        return filelock.FileLock(self.path, timeout=self.timeout, mode=0o666, thread_local=False)

    def _make_dir(self) -> None:
        shared = self.machine_wide and os.name != "nt" and not self.state_dir.is_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if shared:
            # Like /tmp itself: every user may lock there, nobody may remove another's files.
            with contextlib.suppress(OSError):  # another user created it a moment ago
                self.state_dir.chmod(0o1777)

    def _unusable_message(self, exc: OSError) -> str:
        return (
            f"cannot create the campaign lock file {self.path} ({exc.strerror or exc}); check "
            "that folder's permissions or choose another with LEAD_IMPORTER_LOCK_DIR (the "
            "`lock_dir` setting)"
        )

    def _busy_message(self, waited: float) -> tuple[str, dict[str, object]]:
        """The message (a catalogue entry) and its values."""
        values: dict[str, object] = {"holder": self._holder(), "seconds": f"{waited:g}"}
        if self.campaign_name:
            return (
                N_("another lead-importer run is importing into campaign {campaign}{holder}; "
                   "waited {seconds} s. Try again when it has finished."),
                {**values, "campaign": repr(self.campaign_name)},
            )
        return (
            N_("another lead-importer run is importing into this campaign{holder}; waited "
               "{seconds} s. Try again when it has finished."),
            values,
        )
