"""Delivering targets: AddCallsBulk chunks with retries that never duplicate a row.

The rule that keeps every number single: a write whose outcome is unknown
(sent, no answer; a 5xx; an answer we cannot read) is never simply repeated.
Before the next attempt the campaign's pending calls are read back and only
the rows that did not arrive are sent again.  Rows carry an import reference
in their CustomData (``var_ImportRef`` by default), so the check is exact even
when the same number was already pending for another reason; without it the
check falls back to the phone number.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tenacity import RetryError

from importer.dedupe import PendingIndex
from importer.dialer.client import DialerClient
from importer.dialer.idempotent import is_ambiguous, retryable_write
from importer.dialer.models import AddResult, CallTarget
from importer.dialer.retry import RetryPolicy, build_retrying
from importer.errors import AuthorizationError, DialerError, RateLimitedError
from importer.i18n.reasons import ReasonKind
from importer.outcomes import Status
from importer.phones import canonical_from_api

__all__ = ["ChunkPusher", "Outcome", "Planned"]

log = logging.getLogger(__name__)


# Why a row sent to the dialer ended as it did (README "Reason codes").
#: The dialer's own words for a refused row (its text, shown as it is in every language).
API_REJECTED = ReasonKind("api_rejected", "{description}")
API_REFUSED = ReasonKind("api_refused", "refused by the dialer")()
NOT_CONFIRMED = ReasonKind(
    "not_confirmed",
    "not confirmed: the request went unanswered and the campaign could not be checked "
    "({error}); a re-run checks it before resending",
)
NOT_DELIVERED = ReasonKind("not_delivered", "not delivered after retries: {error}")
CONFIRMED_AFTER_UNANSWERED = ReasonKind(
    "confirmed_after_unanswered", "confirmed in the campaign after an unanswered request"
)()
NO_LONGER_PENDING_AFTER_UNANSWERED = ReasonKind(
    "no_longer_pending_after_unanswered",
    "the unanswered request was processed (other numbers of it arrived) but this number is no "
    "longer pending: most likely dialled already (or refused by the dialer); not sent again so "
    "it is never dialled twice",
)()

@dataclass(slots=True)
class Planned:
    """A row ready to be sent."""

    seq: int
    e164: str
    target: CallTarget
    ref: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final fate of one planned row."""

    status: Status
    reason: str = ""
    error_code: int | None = None


@dataclass(slots=True)
class ChunkResult:
    """Outcomes by seq; ``unknown`` is True when some rows' fate could not be established."""

    outcomes: dict[int, Outcome]
    unknown: bool = False


class ChunkPusher:
    """Sends chunks of planned rows to one campaign; safe to call from worker threads."""

    def __init__(
        self,
        client: DialerClient,
        campaign_code: str,
        *,
        policy: RetryPolicy,
        ref_key: str | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._code = campaign_code
        self._policy = policy
        self._ref_key = ref_key
        self._sleep = sleep

    def push(self, chunk: Sequence[Planned]) -> ChunkResult:
        """Deliver a chunk; every row gets an Outcome (added, rejected or failed)."""
        outcomes: dict[int, Outcome] = {}
        remaining = list(chunk)
        state = {"ambiguous": False, "last_error": ""}

        def attempt() -> None:
            nonlocal remaining
            if state["ambiguous"]:
                remaining = self._reconcile(remaining, outcomes)
                state["ambiguous"] = False
            if not remaining:
                return
            try:
                # The client raises BadResponseError unless AddResult lines up with the targets.
                results = self._client.add_calls_bulk(self._code, [p.target for p in remaining])
            except DialerError as exc:
                state["last_error"] = str(exc)
                # Retried or reconciled next; rows still unsettled at the end are reported.
                log.info("chunk of %d row(s) not confirmed: %s", len(remaining), exc)
                if is_ambiguous(exc):
                    # Read back at once, before the backoff: every second the dialer may call
                    # (and so remove) rows of the request, and those look as if they never came.
                    state["ambiguous"] = True
                    try:
                        remaining = self._reconcile(remaining, outcomes)
                        state["ambiguous"] = False
                    except DialerError as read_exc:  # tried again before the next send
                        log.info("could not read the campaign back: %s", read_exc)
                    if not remaining:
                        return
                raise
            for planned, result in zip(remaining, results, strict=True):
                outcomes[planned.seq] = self._outcome(planned, result)
            remaining = []

        retrying = build_retrying(
            self._policy,
            retryable=retryable_write,
            sleep=self._sleep,
            paused=self._client.limiter.thread_waited,
        )
        unknown = False
        try:
            retrying(attempt)
        except (DialerError, RetryError) as exc:
            if isinstance(exc, AuthorizationError):
                raise
            if state["ambiguous"] and remaining:
                try:
                    remaining = self._reconcile(remaining, outcomes)
                except DialerError as rexc:
                    unknown = True
                    state["last_error"] = f"{state['last_error']}; then {rexc}"
            refused = not retryable_write(exc) and not is_ambiguous(exc)
            if refused and not isinstance(exc, RateLimitedError) and not unknown and remaining:
                # A refusal of the whole request (4xx, top-level API error): stop the run.
                # A 429 stored nothing: those rows fail, and a re-run sends them.
                raise
        for planned in remaining:
            if unknown:
                reason = NOT_CONFIRMED(error=state["last_error"])
            else:
                reason = NOT_DELIVERED(error=state["last_error"])
            outcomes[planned.seq] = Outcome(Status.FAILED, reason)
        return ChunkResult(outcomes, unknown=unknown)

    def _outcome(self, planned: Planned, result: AddResult) -> Outcome:
        if result.error_code == 0:
            # Canonicalising costs a parse: only when the echo differs from what we sent.
            if result.target and result.target != planned.target.target:
                returned = canonical_from_api(result.target)
                if returned and returned != planned.e164:
                    log.warning("AddResult order mismatch for row seq %d", planned.seq)
            return Outcome(Status.ADDED)
        why = API_REJECTED(description=result.description) if result.description else API_REFUSED
        return Outcome(Status.REJECTED, why, result.error_code)

    def _reconcile(self, remaining: list[Planned], outcomes: dict[int, Outcome]) -> list[Planned]:
        """Read the campaign back after an unanswered request; return the rows to send again.

        One AddCallsBulk request is processed as a whole or not at all. So when
        some of its rows are pending, the request went through, and a row that
        is missing was most likely dialled (and removed from the pending list)
        in the meantime: sending it again would dial that lead twice.  Only when
        none of the rows arrived is the request taken as lost and resent.
        """
        index = PendingIndex.from_numbers(
            self._client.get_pending_numbers(self._code, self._ref_key)
        )
        found = [
            (
                planned.ref in index.refs
                if self._ref_key and planned.ref is not None
                else planned.e164 in index
            )
            for planned in remaining
        ]
        if not any(found):
            log.info("reconciled %d row(s): none arrived, resending them", len(remaining))
            return list(remaining)
        for planned, arrived in zip(remaining, found, strict=True):
            outcomes[planned.seq] = Outcome(
                Status.ADDED,
                CONFIRMED_AFTER_UNANSWERED if arrived else NO_LONGER_PENDING_AFTER_UNANSWERED,
            )
        log.info(
            "reconciled %d row(s): %d arrived, %d no longer pending; nothing to resend",
            len(remaining),
            sum(found),
            len(remaining) - sum(found),
        )
        return []

    def reconcile_unknown(self, rows: Sequence[Planned]) -> dict[int, bool]:
        """For a resumed run: which of these rows (by seq) are already in the campaign."""
        outcomes: dict[int, Outcome] = {}
        still = self._reconcile(list(rows), outcomes)
        missing = {p.seq for p in still}
        return {p.seq: p.seq not in missing for p in rows}
