"""When and how long to retry a Dialer call: one small policy shared by the client and the pipeline.

The client retries only reads with it.  Writes are never retried blindly (a
write whose answer was lost may have been applied); the pipeline reuses the
same policy for its chunk retries after deciding a retry is safe.  An HTTP 429
is not retried here: it stored nothing, so the client's shared rate limiter
(``importer.dialer.ratelimit``) sends it again, for reads and writes alike.
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
from tenacity.stop import stop_base

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
    # While every request is answered 429, keep waiting and re-sending up to this many seconds
    # (a rate limit makes a run slower, not fail); past it the rows fail or the run stops.
    max_rate_limited: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        waits = (self.initial_wait, self.max_wait, self.max_total, self.max_retry_after,
                 self.max_rate_limited)
        if min(waits) < 0:
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
NO_RETRY = RetryPolicy(max_attempts=1, max_rate_limited=0.0)


def is_retryable(exc: BaseException) -> bool:
    """True for failures that a later attempt may not repeat: connection, timeout, 5xx.

    Only decides for idempotent calls.  For writes, a 5xx (and a timeout) may
    hide an applied write: reconcile before resending.  A 429 that reaches a
    caller was already re-sent by the client's rate limiter until its patience
    (``max_rate_limited``) ran out: retrying it again would only multiply waits.
    """
    if isinstance(exc, AuthorizationError | RateLimitedError):
        return False
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


class _StopBeforeDelay(stop_base):
    """tenacity's ``stop_before_delay``, not counting the seconds spent in ``paused``.

    ``paused()`` is how long the calling thread has waited for the rate limit so
    far: that wait has its own bound (``max_rate_limited``), and a slow but
    working server must not use up the time kept for retrying failures.
    """

    def __init__(self, max_delay: float, paused: Callable[[], float]) -> None:
        self.max_delay = max_delay
        self.paused = paused
        self.paused_before = paused()

    def __call__(self, retry_state: RetryCallState) -> bool:
        """True when the next attempt would start past ``max_delay`` of our own time."""
        elapsed = retry_state.seconds_since_start or 0.0
        own = elapsed - (self.paused() - self.paused_before)
        return own + retry_state.upcoming_sleep >= self.max_delay


def build_retrying(
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    *,
    retryable: Callable[[BaseException], bool] = is_retryable,
    sleep: Callable[[float], Any] = time.sleep,
    paused: Callable[[], float] | None = None,
) -> Retrying:
    """A tenacity ``Retrying`` for ``policy``; the last exception is re-raised unchanged.

    ``paused``: the calling thread's seconds of rate-limit waits so far (the client's
    ``limiter.thread_waited``); they do not count toward ``max_total``.
    """
    in_time = (
        _stop_before_delay(policy.max_total)
        if paused is None
        else _StopBeforeDelay(policy.max_total, paused)
    )
    return Retrying(
        stop=stop_after_attempt(policy.max_attempts) | in_time,
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
