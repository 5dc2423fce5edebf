"""Cycle-collector settings for long runs that allocate millions of small objects.

CPython's collector runs a young-generation pass every 700 new container objects
and now and then a full pass over every live one.  An import keeps a large set of
live objects (the phone cache, the mapping caches, the rows of the windows in
flight) and creates a few container objects per row, almost none of them in
reference cycles.  On the 1M-row benchmark file a dry run used 37-38 s of CPU
with the default thresholds and 30-32 s with these (two runs each, same code):
about a sixth of the run was the collector.  Collecting less often keeps the
safety net for the rare cycle at a small cost in memory.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["relaxed_gc"]

# A young pass every 100,000 new objects (not 700) and a middle one every 5M: young
# cycles (tracebacks of retried requests) are still freed during a run.  Full passes
# over every live object effectively wait for the end of the run.
_THRESHOLDS = (100_000, 50, 1_000)


class _State:
    """Process-wide: the collector is one per process, runs may nest or overlap in threads."""

    lock = threading.Lock()
    depth = 0
    saved: tuple[int, int, int] = (700, 10, 10)
    froze = False


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Run the block with rarer cycle collections (nested and threaded uses are counted)."""
    with _State.lock:
        if _State.depth == 0:
            _State.saved = gc.get_threshold()
            # Whatever lives already (modules, settings, the mapping) is never scanned again;
            # a host program that froze objects itself keeps its own freeze.
            _State.froze = gc.get_freeze_count() == 0
            if _State.froze:
                gc.freeze()
            gc.set_threshold(
                *(max(new, old) for new, old in zip(_THRESHOLDS, _State.saved, strict=True))
            )
        _State.depth += 1
    try:
        yield
    finally:
        with _State.lock:
            _State.depth -= 1
            if _State.depth == 0:
                gc.set_threshold(*_State.saved)
                if _State.froze:
                    gc.unfreeze()
