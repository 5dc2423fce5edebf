"""Fault injection: slow answers, HTTP 500s, dropped connections, rate limiting.

Every decision is drawn from one ``random.Random(seed)``, so a run with the same seed and
the same sequence of requests sees the same faults. The order of checks for a request is:

1. ``latency_ms`` — the answer is delayed (every request, faulty or not);
2. ``rate_limit`` — a token bucket of ``rate_limit`` requests per second (burst of
   ``max(1, rate_limit)``); an excess request gets HTTP 429 with a ``Retry-After`` header
   (whole seconds, at least 1) and a JSON envelope, and nothing is stored;
3. ``fail_rate`` — HTTP 500 with a JSON envelope, nothing stored;
4. ``ambiguous_rate`` — write methods only: the request IS applied, then the connection
   is closed without a single byte of response (the client cannot know it worked).

``methods`` restricts all four to the named API methods (any case); ``None`` means every
method. Requests to unknown paths never see faults. The dialling simulation
(``dial_rate``) is not a per-request fault: see ``importer.emulator.dialling``.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

__all__ = ["Action", "FaultConfig", "FaultInjector", "Verdict"]


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Which faults the emulator injects; all off by default."""

    latency_ms: int = 0
    fail_rate: float = 0.0
    ambiguous_rate: float = 0.0
    rate_limit: float | None = None  # requests per second
    dial_rate: float | None = None  # calls per second per enabled campaign
    methods: Collection[str] | None = None  # restrict faults to these API methods (any case)

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        for name in ("fail_rate", "ambiguous_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("rate_limit", "dial_rate"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 (or None for off)")
        if self.methods is not None:
            # stored lower-cased and frozen so the config stays hashable
            object.__setattr__(self, "methods", frozenset(m.lower() for m in self.methods))

    def applies_to(self, method: str) -> bool:
        """True when faults apply to this API method."""
        return self.methods is None or method.lower() in self.methods


class Action(Enum):
    """What the server does with a request."""

    PROCESS = "process"
    FAIL = "fail"  # HTTP 500, nothing stored
    RATE_LIMITED = "rate_limited"  # HTTP 429, nothing stored
    DROP = "drop"  # stored, then the connection is closed unanswered


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fault decision for one request."""

    action: Action = Action.PROCESS
    delay_s: float = 0.0
    retry_after: int = 0


class FaultInjector:
    """Draws reproducible fault decisions; reconfigurable at runtime."""

    def __init__(self, config: FaultConfig | None = None, seed: int | None = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._config = config or FaultConfig()
        self._tokens = 0.0
        self._last_refill = time.monotonic()
        self._reset_bucket()

    @property
    def config(self) -> FaultConfig:
        """The current configuration."""
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration (the rate-limit bucket starts full again)."""
        with self._lock:
            self._config = config
            self._reset_bucket()

    def _reset_bucket(self) -> None:
        rate = self._config.rate_limit
        self._tokens = max(1.0, rate) if rate else 0.0
        self._last_refill = time.monotonic()

    def decide(self, method: str, *, is_write: bool) -> Verdict:
        """Decide the fate of one request to an API method."""
        with self._lock:
            cfg = self._config
            if not cfg.applies_to(method):
                return Verdict()
            delay = cfg.latency_ms / 1000.0
            if cfg.rate_limit:
                now = time.monotonic()
                capacity = max(1.0, cfg.rate_limit)
                self._tokens = min(
                    capacity, self._tokens + (now - self._last_refill) * cfg.rate_limit
                )
                self._last_refill = now
                if self._tokens < 1.0:
                    wait = (1.0 - self._tokens) / cfg.rate_limit
                    return Verdict(Action.RATE_LIMITED, delay, max(1, math.ceil(wait)))
                self._tokens -= 1.0
            if cfg.fail_rate and self._rng.random() < cfg.fail_rate:
                return Verdict(Action.FAIL, delay)
            if is_write and cfg.ambiguous_rate and self._rng.random() < cfg.ambiguous_rate:
                return Verdict(Action.DROP, delay)
            return Verdict(Action.PROCESS, delay)
