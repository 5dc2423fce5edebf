"""A portable inter-process lock for a state directory (or an inbox), with its holder's name.

Built on ``filelock``: ``flock`` on Linux/macOS and ``msvcrt.locking`` on
Windows, both released by the operating system when the holder dies, so a
lock left by a killed process never blocks the next run.  (Where the
filesystem has no ``flock``, filelock falls back to a lock file with stale-
owner detection.)  Who holds the lock is written next to it, in
``<name>.lock.owner``, so the second importer can say who it waited for.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import filelock

from importer.errors import ConfigError, LockError, StorageError

__all__ = ["LockOwner", "StateLock"]

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
        self._lock = filelock.FileLock(self.path, timeout=timeout, thread_local=False)
        self._depth = 0

    @property
    def is_held(self) -> bool:
        """True while this object holds the lock."""
        return self._depth > 0

    def acquire(self) -> StateLock:
        """Take the lock, waiting up to ``timeout`` seconds; LockError if still taken."""
        if self._depth:
            self._depth += 1
            return self
        try:
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock.acquire()
        except filelock.Timeout:
            raise LockError(self._busy_message()) from None
        except OSError as exc:
            if StorageError.no_room(exc):
                raise StorageError(
                    f"the disk is full: cannot create the lock file {self.path} "
                    f"({exc.strerror or exc})",
                    folder=self.state_dir,
                ) from None
            raise ConfigError(
                f"cannot create the lock file {self.path} ({exc.strerror or exc}); check the "
                "state directory's permissions or choose another with --state-dir"
            ) from None
        self._depth = 1
        self._write_owner()
        return self

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

    def _busy_message(self) -> str:
        owner = self.owner()
        who = f" ({owner.describe()})" if owner else f" (lock file {self.path})"
        return (
            f"another lead-importer run is using {self.state_dir}{who}; waited "
            f"{self.timeout:g} s. Try again when it has finished."
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
