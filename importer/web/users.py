"""The users of the web workspace: a JSON file of names and scrypt password hashes.

The file holds no password, only ``scrypt$N$r$p$salt$hash`` (standard library
``hashlib.scrypt``, a random 16-byte salt per password) and is written
atomically, readable by its owner only.  It is read again whenever it changes on
disk, so ``lead-importer users add/remove`` take effect on a running server.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from importer.errors import ConfigError

__all__ = ["User", "UserStore", "hash_password", "valid_user_name", "verify_password"]

log = logging.getLogger(__name__)

# scrypt's cost: 16 MiB of memory and ~50 ms a check; the parameters are stored per hash.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_MAXMEM = 64 * 1024 * 1024
_NAME = re.compile(r"^[\w.@-]{1,64}$")
MIN_PASSWORD = 8
# Checked when a name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = "scrypt$16384$8$1$" + "A" * 22 + "$" + "A" * 43


def valid_user_name(name: str) -> bool:
    """Letters, digits, ``. _ @ -``; at most 64 characters."""
    return bool(_NAME.fullmatch(name))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` for a new password (random salt)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM
    )
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected) or _DKLEN,
            maxmem=_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return kind == "scrypt" and hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class User:
    """A user as the server knows it."""

    name: str
    created_at: str
    language: str | None = None


class UserStore:
    """The users file: add, remove, list, check a password."""

    def __init__(self, path: Path) -> None:
        """Nothing is read until it is needed."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, dict[str, Any]] = {}

    def _load(self) -> dict[str, dict[str, Any]]:
        """The users, read again when the file changed."""
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._users = None, {}
                return self._users
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._users = self._read()
                self._stamp = stamp
            return self._users

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.path}: cannot read the users file ({exc})").with_hint(
                "Recreate it with `lead-importer users add NAME`."
            ) from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise ConfigError(f"{self.path}: this is not a users file").with_hint(
                "Recreate it with `lead-importer users add NAME`."
            )
        return {str(k): v for k, v in users.items() if isinstance(v, dict)}

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        """Replace the file atomically, owner-only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"users": users}, ensure_ascii=False, indent=2, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            Path(tmp).replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise
        with self._lock:
            self._stamp = None

    def names(self) -> list[str]:
        """Every user name, sorted."""
        return sorted(self._load())

    def get(self, name: str) -> User | None:
        """The user called ``name``, if any."""
        entry = self._load().get(name)
        if entry is None:
            return None
        return User(name, str(entry.get("created_at", "")), entry.get("language"))

    def add(self, name: str, password: str) -> bool:
        """Add a user or set a new password; True when the user is new."""
        if not valid_user_name(name):
            raise ConfigError(
                f"{name!r} cannot be a user name: use letters, digits, '.', '_', '@' or '-' "
                "(at most 64)"
            ).with_hint("")
        if len(password) < MIN_PASSWORD:
            raise ConfigError(
                f"the password is too short: use at least {MIN_PASSWORD} characters"
            ).with_hint("")
        users = dict(self._load())
        new = name not in users
        entry = dict(users.get(name, {}))
        entry["password"] = hash_password(password)
        entry.setdefault("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
        users[name] = entry
        self._write(users)
        return new

    def set_language(self, name: str, language: str) -> None:
        """Remember the user's language (a read-only users file keeps only the cookie's)."""
        users = dict(self._load())
        if name in users and users[name].get("language") != language:
            users[name] = {**users[name], "language": language}
            try:
                self._write(users)
            except OSError as exc:
                log.warning("cannot save %s's language in %s (%s)", name, self.path,
                            exc.strerror or exc)

    def remove(self, name: str) -> bool:
        """Remove a user; False when there was none."""
        users = dict(self._load())
        if users.pop(name, None) is None:
            return False
        self._write(users)
        return True

    def check(self, name: str, password: str) -> bool:
        """Whether the name and password match a user (as slow for unknown names)."""
        entry = self._load().get(name)
        stored = str(entry.get("password", "")) if entry else ""
        ok = verify_password(password, stored or _DUMMY)
        return ok and bool(stored)
