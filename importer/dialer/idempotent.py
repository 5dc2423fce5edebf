"""Retrying writes: which failures allow another attempt, and a runner for writes safe to repeat.

A write whose answer was lost may have been applied.  AddCallsBulk must be
reconciled before it is sent again (``importer.push``); UpdateCall and
RemoveCall only set fields or remove a number, so repeating them is harmless
and an unanswered attempt is simply tried again (``idempotent_call``).
"""

from __future__ import annotations

from collections.abc import Callable

from importer.dialer.retry import RetryPolicy, build_retrying
from importer.errors import (
    AmbiguousWriteError,
    ApiError,
    AuthorizationError,
    BadResponseError,
    DialerConnectionError,
    DialerError,
    DialerTimeoutError,
    HTTPStatusError,
    RateLimitedError,
)

__all__ = ["idempotent_call", "is_ambiguous", "retryable_write"]


def is_ambiguous(exc: BaseException) -> bool:
    """True when a failed write may nevertheless have been applied by the server."""
    if isinstance(exc, AmbiguousWriteError | DialerTimeoutError | BadResponseError):
        return True
    return isinstance(exc, HTTPStatusError) and exc.status >= 500


def retryable_write(exc: BaseException) -> bool:
    """True when a write may be attempted again (after reconciling if it was ambiguous).

    Not a 429: the client's rate limiter has re-sent it already, for as long as its
    patience allowed; what reaches us means the server refused everything that long.
    """
    if isinstance(exc, AuthorizationError | RateLimitedError):
        return False
    if isinstance(exc, DialerConnectionError):
        return True
    return is_ambiguous(exc)


def idempotent_call(
    func: Callable[[], None], policy: RetryPolicy, *, paused: Callable[[], float] | None = None
) -> tuple[bool, str]:
    """Run an idempotent write (UpdateCall, RemoveCall) with retries; return (ok, error).

    Repeating these is harmless, so unlike AddCallsBulk an unanswered attempt is
    simply tried again.  An API refusal (ApiError) is raised to the caller.
    ``paused`` is the client's ``limiter.thread_waited`` (see ``build_retrying``).
    """
    try:
        build_retrying(policy, retryable=retryable_write, paused=paused)(func)
    except ApiError:
        raise
    except DialerError as exc:
        return False, str(exc)
    return True, ""
