"""Signing in: sessions in an HttpOnly SameSite=Strict cookie, CSRF tokens, rate limits.

A session token is 256 random bits; ``web.db`` keeps only its SHA-256.  Every
session has its own CSRF token: the pages carry it in a ``<meta>`` tag and
send it as ``X-CSRF-Token`` with every non-GET ``/api/*`` request, which a
page on another site cannot do.  Failed sign-ins are counted per user name and
per client address; past the limit the answer is 429 until the window passes.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from importer.web.store import SessionRecord, WebStore

__all__ = ["COOKIE", "LoginLimiter", "Sessions", "client_address"]

COOKIE = "li_session"
CSRF_HEADER = "x-csrf-token"


def client_address(request: Request) -> str:
    """The client's address (uvicorn has applied X-Forwarded-For from a trusted proxy)."""
    return request.client.host if request.client else "?"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The user of a request and the session's CSRF token."""

    user: str
    csrf: str
    token: str


class Sessions:
    """Create, find and end sessions."""

    def __init__(self, store: WebStore, idle: timedelta) -> None:
        """``idle``: a session unused this long ends."""
        self.store = store
        self.idle = idle

    def create(self, user: str) -> tuple[str, str]:
        """A new session for ``user``: (token, csrf token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.store.add_session(token, user, csrf)
        return token, csrf

    def of(self, request: Request) -> SignedIn | None:
        """The request's session, if its cookie names a live one."""
        token = request.cookies.get(COOKIE, "")
        if not token or len(token) > 100:
            return None
        found: SessionRecord | None = self.store.session(token, self.idle)
        return SignedIn(found.user, found.csrf, token) if found else None

    @staticmethod
    def csrf_ok(request: Request, signed_in: SignedIn) -> bool:
        """Whether the request carries the session's CSRF token in its header."""
        sent = request.headers.get(CSRF_HEADER, "")
        return bool(sent) and hmac.compare_digest(sent.encode(), signed_in.csrf.encode())

    def set_cookie(self, response: Response, token: str, *, secure: bool) -> None:
        """The session cookie: HttpOnly, SameSite=Strict, Secure behind HTTPS."""
        response.set_cookie(
            COOKIE, token, max_age=int(self.idle.total_seconds()), path="/", httponly=True,
            samesite="strict", secure=secure,
        )

    @staticmethod
    def clear_cookie(response: Response, *, secure: bool) -> None:
        """Remove the session cookie."""
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)


class LoginLimiter:
    """At most ``per_user`` failed sign-ins per name and ``per_address`` per client a window."""

    def __init__(self, per_user: int = 5, per_address: int = 20, window: float = 900.0) -> None:
        """Limits, and the window in seconds."""
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def retry_after(self, user: str, address: str) -> int:
        """Seconds until another attempt is allowed (0: now)."""
        now = time.monotonic()
        waits = []
        with self._lock:
            for key, limit in ((("user", user.casefold()), self.per_user),
                               (("address", address), self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(int(times[0] + self.window - now) + 1)
        return max(waits, default=0)

    def failed(self, user: str, address: str) -> None:
        """Count a failed attempt."""
        now = time.monotonic()
        with self._lock:
            self._recent(("user", user.casefold()), now).append(now)
            self._recent(("address", address), now).append(now)

    def succeeded(self, user: str) -> None:
        """A right password clears the name's failures."""
        with self._lock:
            self._failures.pop(("user", user.casefold()), None)
