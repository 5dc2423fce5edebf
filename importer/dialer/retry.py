"""When and how long to retry a Dialer call: one small policy shared by the client and the pipeline.

The client retries only reads with it.  Writes are never retried blindly (a
write whose answer was lost may have been applied); the pipeline reuses the
same policy for its chunk retries after deciding a retry is safe.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity import stop_before_delay as _stop_before_delay

from importer.errors import (
    AuthorizationError,
    DialerConnectionError,
    DialerTimeoutError,
    HTTPStatusError,
    RateLimitedError,
)
from importer.redact import redact

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "NO_RETRY",
    "RetryAfterWait",
    "RetryPolicy",
    "build_retrying",
    "is_retryable",
    "parse_retry_after",
    "wait_honouring_retry_after",
]

log = logging.getLogger("importer.dialer")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter; Retry-After is honoured up to a cap."""

    max_attempts: int = 5          # total attempts, the first one included
    initial_wait: float = 0.5      # seconds; the backoff's first step
    max_wait: float = 10.0         # one backoff sleep never exceeds this
    max_total: float = 60.0        # no new attempt starts if its sleep would pass this
    max_retry_after: float = 30.0  # a server's Retry-After is obeyed up to this many seconds

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.initial_wait, self.max_wait, self.max_total, self.max_retry_after) < 0:
            raise ValueError("retry waits must not be negative")

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The jittered sleep after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_wait, self.initial_wait * 2.0 ** max(attempt - 1, 0))
        # Full jitter spreads concurrent workers apart; keep a small floor so we never spin.
        jittered = ceiling * rng()
        return max(jittered, min(self.initial_wait, ceiling) / 10)

    def wait_for(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds to sleep before the next attempt after ``exc`` failed attempt ``attempt``."""
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self.max_retry_after)
        return self.backoff(attempt)


DEFAULT_RETRY_POLICY = RetryPolicy()
NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable(exc: BaseException) -> bool:
    """True for failures that a later attempt may not repeat: connection, timeout, 5xx, 429.

    Only decides for idempotent calls.  For writes, a 5xx (and a timeout) may
    hide an applied write: reconcile before resending.
    """
    if isinstance(exc, AuthorizationError):
        return False
    if isinstance(exc, RateLimitedError):
        return True
    if isinstance(exc, HTTPStatusError):
        return exc.status >= 500
    return isinstance(exc, DialerConnectionError | DialerTimeoutError)


class RetryAfterWait:
    """A tenacity wait strategy: the policy's jittered backoff, or the server's Retry-After."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        """Seconds to sleep before the next attempt."""
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        return self.policy.wait_for(exc, retry_state.attempt_number)


def wait_honouring_retry_after(policy: RetryPolicy) -> RetryAfterWait:
    """The tenacity wait strategy for ``policy`` (backoff with jitter, or Retry-After)."""
    return RetryAfterWait(policy)


def _log_before_sleep(retry_state: RetryCallState) -> None:
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    sleep = retry_state.next_action.sleep if retry_state.next_action else 0.0
    # INFO, not WARNING: a retry that works needs nobody's attention (cron mails stderr's
    # warnings); one that keeps failing ends in an error or in failed rows, reported as such.
    log.info(
        "%s; retrying in %.1f s (attempt %d)",
        redact(str(exc)),
        sleep,
        retry_state.attempt_number + 1,
    )


def build_retrying(
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    *,
    retryable: Callable[[BaseException], bool] = is_retryable,
    sleep: Callable[[float], Any] = time.sleep,
) -> Retrying:
    """A tenacity ``Retrying`` for ``policy``; the last exception is re-raised unchanged."""
    return Retrying(
        stop=stop_after_attempt(policy.max_attempts) | _stop_before_delay(policy.max_total),
        wait=RetryAfterWait(policy),
        retry=retry_if_exception(retryable),
        before_sleep=_log_before_sleep,
        sleep=sleep,
        reraise=True,
    )


def parse_retry_after(
    value: str | None, *, now: datetime | None = None, cap: float = 3600.0
) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), capped; None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)
