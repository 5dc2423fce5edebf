"""Calling hours applied to a row's OriginateTime, as both engines send and report it.

The rule lives in importer/calling_hours.py; this adds the API's encoding (true UTC epoch,
or the wall clock read as UTC with IsDateLocal, docs/decisions.md "OriginateTime and
IsDateLocal") and a cache per distinct (zones, OriginateTime, now), so a million rows cost a
few thousand decisions.  FileRun calls it when a chunk is sent; the columnar dry run calls
it once per distinct input of a block.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from importer.calling_hours import DEFAULT_ZONE, CallingHours, zones_for_e164
from importer.dialer.models import CallTarget
from importer.mapping.binder import call_target

__all__ = ["Scheduled", "Scheduler", "fixed_clock", "wall_clock"]

_CACHE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A row's decision: the epoch to send (None: as mapped), the report's dial_after, why."""

    originate: int | None
    dial_after: str
    reason: str


_AS_MAPPED = Scheduled(None, "", "")


def wall_clock() -> datetime:
    """The real time (the test suite sets its own, so reports do not depend on the weekday)."""
    return datetime.now(UTC)


def fixed_clock(now: datetime | None) -> Callable[[], datetime]:
    """``--now``: always that moment; otherwise the real clock."""
    if now is None:

        def real() -> datetime:
            return wall_clock()  # looked up at each call: the test suite sets its own

        return real
    fixed = now.astimezone(UTC)
    return lambda: fixed


class Scheduler:
    """Decides each sent row's OriginateTime under one mapping's calling hours."""

    def __init__(
        self,
        policy: CallingHours,
        *,
        is_date_local: bool,
        zone: str = DEFAULT_ZONE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.policy = policy
        self.is_date_local = is_date_local
        self.zone = ZoneInfo(zone)
        self.clock = clock or fixed_clock(None)
        self._cache: dict[tuple[tuple[str, ...], int | None, datetime], Scheduled] = {}

    def decide(
        self, zones: tuple[str, ...], originate: int | None, now: datetime
    ) -> Scheduled:
        """The decision for a lead in ``zones`` whose mapped OriginateTime is ``originate``."""
        key = (zones, originate, now)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            hit = self._cache[key] = self._decide(zones, originate, now)
        return hit

    def apply(
        self, e164: str, target: CallTarget, now: datetime, zones: tuple[str, ...] | None = None
    ) -> tuple[CallTarget, Scheduled]:
        """A row's target with its OriginateTime moved when needed, and the decision.

        ``zones``: a mapped time-zone column's, which win over the number's.
        """
        decision = self.decide(zones or zones_for_e164(e164), target.originate_time, now)
        if decision.originate is None:
            return target, decision
        moved = call_target(
            target.target, target.customer_name, target.caller_id, target.priority,
            target.custom_data, decision.originate, self.is_date_local,
            target.ignore_dnc_status,
        )
        return moved, decision

    def _decide(self, zones: tuple[str, ...], originate: int | None, now: datetime) -> Scheduled:
        mapped = None if originate is None else self._moment(originate)
        decision = self.policy.schedule(zones, now, mapped)
        shown = ZoneInfo(zones[0]) if zones else self.zone
        if decision is None:
            if mapped is None:
                return _AS_MAPPED
            return Scheduled(None, mapped.astimezone(shown).isoformat(), "")
        return Scheduled(
            self._epoch(decision.moment), decision.moment.astimezone(shown).isoformat(),
            decision.reason,
        )

    def _moment(self, epoch: int) -> datetime:
        """The moment a sent epoch means (IsDateLocal: the wall clock in the mapping's zone)."""
        moment = datetime.fromtimestamp(epoch, UTC)
        if self.is_date_local:
            return moment.replace(tzinfo=self.zone)
        return moment

    def _epoch(self, moment: datetime) -> int:
        """The epoch to send for a moment, in the form the mapping sends OriginateTime."""
        if self.is_date_local:
            local = moment.astimezone(self.zone).replace(tzinfo=None)
            return calendar.timegm(local.timetuple())
        return int(moment.timestamp())
