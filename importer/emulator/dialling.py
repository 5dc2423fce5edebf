"""A dialler that consumes pending calls over time, so campaigns drain like real ones.

With ``dial_rate = N`` every ENABLED campaign dials N calls per second: highest
``Priority`` first, then the oldest (lowest CallID); calls whose ``OriginateTime`` is in
the future wait (the epoch is taken as absolute time whatever ``IsDateLocal`` says). A
dialled call leaves the pending list (the emulator keeps no call log, only a counter).

The simulation is lazy: before each request, each enabled campaign is credited with
``elapsed seconds × rate`` calls since the previous request, and the whole part of the
credit is dialled. Seen from a client this is the same as a background dialler. A
stopped campaign earns no credit; changing the rate restarts the clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from importer.emulator.store import Store

__all__ = ["DialSimulator"]


class DialSimulator:
    """Lazily consumes pending calls of enabled campaigns at a fixed rate."""

    def __init__(
        self,
        store: Store,
        rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._rate = rate
        self._last = clock()
        self._credit: dict[int, float] = {}

    def set_rate(self, rate: float | None) -> None:
        """Change the rate (None stops dialling); the clock restarts now."""
        with self._lock:
            if rate != self._rate:
                self._rate = rate
                self._last = self._clock()
                self._credit.clear()

    def tick(self) -> int:
        """Dial what is due since the last tick; how many calls were consumed."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._last
            self._last = now
            if not self._rate or elapsed <= 0:
                return 0
            dialled = 0
            enabled = self._store.enabled_campaign_ids()
            for cid in list(self._credit):
                if cid not in enabled:
                    del self._credit[cid]
            for cid in enabled:
                credit = self._credit.get(cid, 0.0) + elapsed * self._rate
                whole = int(credit)
                if whole:
                    dialled += self._store.dial(cid, whole, time.time())
                # credit spent on an empty campaign is lost, like an idle dialler's time
                self._credit[cid] = credit - whole
            return dialled
