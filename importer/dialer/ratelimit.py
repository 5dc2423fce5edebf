"""One rate limiter per DialerClient: every request of every worker thread passes through it.

An HTTP 429 means "not processed, come back later", so the client sends the
refused request again once the limiter lets it.  What the limiter does so that
a rate-limited import runs slower instead of failing rows:

- **pause**: a 429's ``Retry-After`` (capped at the policy's ``max_retry_after``;
  the policy's jittered backoff when the header is missing) holds back every
  request that has not started yet, not only the refused one.  Workers retrying
  on their own wake together and are refused together.
- **gate**: at most ``limit`` requests in flight.  A 429 halves it, from what was
  really in flight then, once per round (requests that went out together are
  refused together: that is one signal, not eight); every ``limit`` successes
  add one, up to ``max_concurrency``.  Additive increase, multiplicative
  decrease, as TCP does.
- **order**: waiting requests start oldest first, and a re-sent one keeps its
  place, so the oldest chunk (the one the report waits for) is not starved.
- **patience**: when every answer has been a 429 for longer than the policy's
  ``max_rate_limited``, the refused request gives up with ``RateLimitedError``
  (a chunk's rows fail; a read stops the run).  One success restarts the clock,
  so a slow but working server is waited for however long the import takes.
- **cancel**: a request that has to wait raises ``RunInterruptedError`` as soon
  as the run's cancel event is set; one that need not wait is sent as before.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from importer.dialer.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from importer.errors import RateLimitedError, RunInterruptedError

__all__ = ["LimiterStats", "Permit", "RateLimiter"]

log = logging.getLogger("importer.dialer")

# How often a waiting request looks at the cancel event (an Event cannot wake a Condition).
_CANCEL_POLL = 0.05
_SAY_EVERY = 60.0  # seconds between INFO lines about 429s


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to send one request; hand it back with succeeded(), failed() or refused()."""

    order: int  # place in line; pass it to acquire() again to re-send without losing it
    round: int  # the gate's round when the request went out


@dataclass(frozen=True, slots=True)
class LimiterStats:
    """What the rate limit has cost so far."""

    refused: int = 0  # requests answered HTTP 429
    waited: float = 0.0  # seconds during which a pause held every request back


class RateLimiter:
    """A shared pause and AIMD concurrency gate for one client's requests; thread-safe."""

    def __init__(
        self,
        policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        *,
        max_concurrency: int = 16,
        cancel: threading.Event | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._policy = policy
        self._max = max_concurrency
        self._cancel = cancel
        self._cond = threading.Condition()
        self._limit = max_concurrency
        self._in_flight = 0
        self._round = 0
        self._successes = 0  # in this round, toward raising the limit by one
        self._strikes = 0  # rounds in a row ended by a 429 (the backoff's attempt number)
        self._pause_until = 0.0  # time.monotonic() before which no request starts
        self._stalled_since: float | None = None  # first 429 since the last success
        self._waiting: set[int] = set()
        self._next_order = 0
        self._refused = 0
        self._waited = 0.0
        self._last_said = -_SAY_EVERY  # when the last INFO line about a 429 was logged
        self._local = threading.local()  # per thread: seconds spent in acquire()

    @property
    def limit(self) -> int:
        """How many requests may be in flight at once now."""
        with self._cond:
            return self._limit

    @property
    def waiting(self) -> int:
        """How many requests are waiting for their turn now."""
        with self._cond:
            return len(self._waiting)

    def thread_waited(self) -> float:
        """Seconds the calling thread has spent waiting in acquire() so far."""
        waited: float = getattr(self._local, "waited", 0.0)
        return waited

    def stats(self) -> LimiterStats:
        """Refusals and pause time so far."""
        with self._cond:
            return LimiterStats(self._refused, self._waited)

    def acquire(self, order: int | None = None) -> Permit:
        """Wait for the pause to end, a free place and our turn, then take the place."""
        started = time.monotonic()
        try:
            return self._acquire(order)
        finally:
            self._local.waited = self.thread_waited() + time.monotonic() - started

    def _acquire(self, order: int | None) -> Permit:
        with self._cond:
            if order is None:
                order = self._next_order
                self._next_order += 1
            self._waiting.add(order)
            try:
                while (wait := self._wait_before(order)) != 0.0:
                    if self._cancel is not None and self._cancel.is_set():
                        raise RunInterruptedError(
                            "stopped while waiting for the Dialer API's rate limit; what was "
                            "sent is recorded. Run the same command again to finish."
                        )
                    self._cond.wait(self._timeout(wait))
            finally:
                self._waiting.discard(order)
                self._cond.notify_all()  # the next in line may go now
            self._in_flight += 1
            return Permit(order, self._round)

    def succeeded(self, permit: Permit) -> None:
        """The request was answered (not with a 429): the server is taking requests."""
        with self._cond:
            self._in_flight -= 1
            self._stalled_since = None
            self._strikes = 0
            if permit.round == self._round and self._limit < self._max:
                self._successes += 1
                if self._successes >= self._limit:
                    self._limit += 1
                    self._successes = 0
                    log.debug("rate limiter: up to %d request(s) at a time", self._limit)
            self._cond.notify_all()

    def failed(self, permit: Permit) -> None:
        """The request failed otherwise (connection, 5xx, ...): says nothing about the rate."""
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def refused(self, permit: Permit, exc: RateLimitedError) -> None:
        """The request was answered 429: pause everyone; raise ``exc`` once patience is spent."""
        with self._cond:
            now = time.monotonic()
            self._refused += 1
            if self._stalled_since is None:
                self._stalled_since = now
            stalled_since = self._stalled_since
            if permit.round == self._round:
                self._lower(now, exc)
            else:  # sent before the gate was lowered: follow its Retry-After, nothing more
                self._pause(now, self._policy.wait_for(exc, max(self._strikes, 1)))
            self._in_flight -= 1
            self._cond.notify_all()
            patience = self._policy.max_rate_limited
            if patience > 0 and self._pause_until - stalled_since <= patience:
                return
        if patience <= 0:
            raise exc
        hint = f"; the server asks to retry after {exc.retry_after:g} s" if exc.retry_after else ""
        raise RateLimitedError(
            f"HTTP 429: every request was refused for {now - stalled_since:.1f} s (rate limit); "
            f"not waiting past {patience:g} s for it to lift{hint}",
            method=exc.method,
            retry_after=exc.retry_after,
        ) from exc

    def _lower(self, now: float, exc: RateLimitedError) -> None:
        """The first refusal of a round: halve the gate and start the next round."""
        self._limit = max(1, min(self._limit, self._in_flight) // 2)
        self._round += 1
        self._successes = 0
        self._strikes += 1
        wait = self._policy.wait_for(exc, self._strikes)
        self._pause(now, wait)
        # A long rate-limited run is refused every few seconds: say so once a minute.
        quiet = now - self._last_said < _SAY_EVERY
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "HTTP 429 from the Dialer API (rate limit): every request waits %.1f s; "
            "at most %d at a time now (%d refused so far)",
            wait,
            self._limit,
            self._refused,
        )
        if not quiet:
            self._last_said = now

    def _pause(self, now: float, seconds: float) -> None:
        until = now + max(seconds, 0.0)
        if until > self._pause_until:
            self._waited += until - max(now, self._pause_until)
            self._pause_until = until

    def _wait_before(self, order: int) -> float | None:
        """0.0 to go now; seconds of pause left; None to wait for a place or our turn."""
        left = self._pause_until - time.monotonic()
        if left > 0:
            return left
        if order != min(self._waiting) or self._in_flight >= self._limit:
            return None
        return 0.0

    def _timeout(self, wait: float | None) -> float | None:
        if self._cancel is None:
            return wait
        return _CANCEL_POLL if wait is None else min(wait, _CANCEL_POLL)
