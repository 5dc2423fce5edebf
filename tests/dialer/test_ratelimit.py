"""The shared rate limiter: real threads and real (short) waits, then real 429s over HTTP."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.dialer.ratelimit import Permit, RateLimiter
from importer.dialer.retry import RetryPolicy, build_retrying
from importer.emulator.server import EmulatorServer, FaultConfig
from importer.errors import HTTPStatusError, RateLimitedError, RunInterruptedError
from tests.phone_samples import valid_mobiles

POLICY = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_retry_after=0.3, max_rate_limited=30)
GUARD = 10.0  # seconds: only to turn a hang into a failure, never a measure of speed


def too_many(retry_after: float | None = 0.0) -> RateLimitedError:
    return RateLimitedError("HTTP 429: too many requests", method="X", retry_after=retry_after)


class Waiter:
    """``acquire`` on a thread of its own; remembers when it got through, or what it raised."""

    def __init__(self, limiter: RateLimiter, order: int | None = None,
                 then: Callable[[Permit], None] | None = None) -> None:
        self.permit: Permit | None = None
        self.error: BaseException | None = None
        self.at = 0.0
        self.through = threading.Event()

        def run() -> None:
            try:
                self.permit = limiter.acquire(order)
                self.at = time.monotonic()
                if then is not None:
                    then(self.permit)
            except BaseException as exc:  # handed to the test
                self.error = exc
            self.through.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join(GUARD)
        assert not self.thread.is_alive(), "acquire() never returned"


def wait_for(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GUARD
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_429_holds_back_every_request_for_its_retry_after() -> None:
    limiter = RateLimiter(POLICY)
    refused = limiter.acquire()
    started = time.monotonic()
    limiter.refused(refused, too_many(0.2))
    other = Waiter(limiter)  # a request of another worker, not the refused one
    other.join()
    assert other.error is None
    assert other.at >= started + 0.2
    assert limiter.stats().refused == 1
    assert limiter.stats().waited == pytest.approx(0.2, abs=0.05)


def test_retry_after_is_obeyed_only_up_to_the_policy_cap() -> None:
    limiter = RateLimiter(POLICY)
    permit = limiter.acquire()
    limiter.refused(permit, too_many(3600))
    again = Waiter(limiter, permit.order)
    again.join()
    assert again.error is None
    assert limiter.stats().waited == pytest.approx(POLICY.max_retry_after, abs=0.05)


def test_without_retry_after_the_policy_backoff_pauses() -> None:
    limiter = RateLimiter(POLICY)
    permit = limiter.acquire()
    limiter.refused(permit, too_many(None))
    waited = limiter.stats().waited
    assert 0 < waited <= POLICY.initial_wait


def test_the_gate_halves_once_per_round_and_climbs_back_one_at_a_time() -> None:
    limiter = RateLimiter(POLICY, max_concurrency=16)
    first_round = [limiter.acquire() for _ in range(8)]
    limiter.refused(first_round[0], too_many(0))
    assert limiter.limit == 4  # half of the 8 really in flight, not of the 16 allowed
    limiter.refused(first_round[1], too_many(0))  # sent together with the first: same signal
    assert limiter.limit == 4
    for permit in first_round[2:]:
        limiter.succeeded(permit)  # answers to requests sent before the 429 raise nothing
    assert limiter.limit == 4

    now = [limiter.acquire() for _ in range(4)]
    fifth = Waiter(limiter)
    assert not fifth.through.wait(0.2), "a fifth request went out past a gate of 4"
    limiter.succeeded(now[0])
    fifth.join()
    assert limiter.limit == 4
    for permit in [*now[1:], fifth.permit]:
        assert permit is not None
        limiter.succeeded(permit)
    assert limiter.limit == 5  # after `limit` successes, one more


def test_the_gate_never_closes_and_never_passes_its_maximum() -> None:
    limiter = RateLimiter(POLICY, max_concurrency=3)
    for _ in range(3):
        limiter.refused(limiter.acquire(), too_many(0))
    assert limiter.limit == 1
    for _ in range(50):
        limiter.succeeded(limiter.acquire())
    assert limiter.limit == 3


def test_waiting_requests_go_oldest_first_and_a_resend_keeps_its_place() -> None:
    limiter = RateLimiter(POLICY)
    resent, busy = limiter.acquire(), limiter.acquire()
    limiter.refused(resent, too_many(0))
    assert limiter.limit == 1
    went: list[str] = []

    def record(name: str) -> Callable[[Permit], None]:
        def then(permit: Permit) -> None:
            went.append(name)
            limiter.failed(permit)  # neutral: leaves the gate at 1

        return then

    newer = Waiter(limiter, then=record("newer"))
    wait_for(lambda: limiter.waiting == 1)
    newest = Waiter(limiter, then=record("newest"))
    wait_for(lambda: limiter.waiting == 2)
    again = Waiter(limiter, resent.order, then=record("resent"))
    wait_for(lambda: limiter.waiting == 3)
    limiter.failed(busy)
    for waiter in (newer, newest, again):
        waiter.join()
    assert went == ["resent", "newer", "newest"]


def test_patience_ends_a_refusal_that_never_lifts() -> None:
    policy = RetryPolicy(max_retry_after=0.05, max_rate_limited=0.3)
    limiter = RateLimiter(policy)
    refusals = 0
    with pytest.raises(RateLimitedError) as info:
        for _ in range(1000):
            permit = limiter.acquire()
            refusals += 1
            limiter.refused(permit, too_many(1))
    assert 2 <= refusals <= 7  # pauses of 0.05 s until 0.3 s: it waited, then it stopped
    assert "every request was refused" in str(info.value)
    assert info.value.retry_after == 1
    # Once past its patience, a request gives up at its first 429 ...
    with pytest.raises(RateLimitedError):
        limiter.refused(limiter.acquire(), too_many(1))
    # ... until the server takes one request again: then the clock starts over.
    limiter.succeeded(limiter.acquire())
    limiter.refused(limiter.acquire(), too_many(1))


def test_no_patience_hands_the_first_429_over() -> None:
    limiter = RateLimiter(RetryPolicy(max_rate_limited=0))
    error = too_many(1)
    with pytest.raises(RateLimitedError) as info:
        limiter.refused(limiter.acquire(), error)
    assert info.value is error


def test_cancel_ends_a_wait_at_once() -> None:
    cancel = threading.Event()
    limiter = RateLimiter(RetryPolicy(max_retry_after=30), cancel=cancel)
    limiter.refused(limiter.acquire(), too_many(30))
    waiter = Waiter(limiter)
    wait_for(lambda: limiter.waiting == 1)
    cancel.set()
    waiter.join()  # long before the 30 s pause is over
    assert isinstance(waiter.error, RunInterruptedError)
    assert limiter.waiting == 0


def test_cancel_does_not_stop_a_request_that_need_not_wait() -> None:
    cancel = threading.Event()
    cancel.set()
    limiter = RateLimiter(POLICY, cancel=cancel)
    limiter.succeeded(limiter.acquire())


def test_threads_sharing_one_client_get_every_chunk_through_a_rate_limit(
    emulator: EmulatorServer,
) -> None:
    """Eight threads, one client, 10 requests/s: every AddCallsBulk lands, each number once."""
    assert emulator.demo is not None
    code = emulator.demo.campaigns["Hot leads"]
    emulator.set_faults(FaultConfig(rate_limit=10, methods={"AddCallsBulk"}))
    phones = valid_mobiles(8 * 3 * 5, start=6_000_000)
    chunks = [phones[i : i + 5] for i in range(0, len(phones), 5)]
    errors: list[BaseException] = []
    settings = Settings(api_url=emulator.base_url, account_code="demo")
    with DialerClient(settings, retry=POLICY) as client:

        def worker(mine: list[list[str]]) -> None:
            try:
                for chunk in mine:
                    results = client.add_calls_bulk(code, [CallTarget(p) for p in chunk])
                    assert all(r.error_code == 0 for r in results)
            except BaseException as exc:  # handed to the test
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(chunks[i::8],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert client.limiter.stats().refused > 0
    statuses = Counter(e.status for e in emulator.request_log if e.method == "AddCallsBulk")
    assert statuses[200] == len(chunks) and statuses[429] > 0
    pending = emulator.pending_phones(code)
    assert len(pending) == len(set(pending)) == len(phones)


def test_waiting_for_the_rate_limit_does_not_use_up_the_time_kept_for_retries() -> None:
    """A 500 after a long rate-limit wait is still retried: the two budgets are separate."""
    policy = RetryPolicy(
        max_attempts=3, initial_wait=0.01, max_wait=0.01, max_total=0.2, max_retry_after=0.5
    )
    limiter = RateLimiter(policy)
    limiter.refused(limiter.acquire(), too_many(0.5))
    attempts: list[int] = []

    def send() -> str:
        permit = limiter.acquire()  # waits out the 0.5 s pause: longer than max_total
        attempts.append(1)
        if len(attempts) == 1:
            limiter.failed(permit)
            raise HTTPStatusError("HTTP 500: oops", method="X", status=500)
        limiter.succeeded(permit)
        return "ok"

    assert build_retrying(policy, paused=limiter.thread_waited)(send) == "ok"
    assert len(attempts) == 2
    assert limiter.thread_waited() >= 0.5
