"""How many threads (and so processes) the columnar engine may use."""

from __future__ import annotations

import os

__all__ = ["THREADS_ENV", "available_threads", "configured_threads"]

#: Threads for Arrow's reader and kernels, and whether a second process may help
#: (default: one per core this process may run on).
THREADS_ENV = "LEAD_IMPORTER_THREADS"


def configured_threads() -> int | None:
    """The count in LEAD_IMPORTER_THREADS, or None when it is unset or not a count."""
    value = os.environ.get(THREADS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def available_threads() -> int:
    """The configured count, else the cores this process may run on."""
    configured = configured_threads()
    if configured is not None:
        return configured
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
