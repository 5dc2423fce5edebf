"""relaxed_gc raises the collector's thresholds for a run and puts them back after."""

from __future__ import annotations

import gc
import threading

from importer.gc_tuning import relaxed_gc


def test_thresholds_are_raised_and_restored() -> None:
    before = gc.get_threshold()
    with relaxed_gc():
        inside = gc.get_threshold()
        assert all(new >= old for new, old in zip(inside, before, strict=True))
        assert inside[0] >= 100_000
        with relaxed_gc():  # nested: still relaxed, nothing restored early
            assert gc.get_threshold() == inside
        assert gc.get_threshold() == inside
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_after_an_exception() -> None:
    before = gc.get_threshold()
    try:
        with relaxed_gc():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_cycles_are_still_collected() -> None:
    freed = threading.Event()

    class Node:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            freed.set()

    with relaxed_gc():
        Node()
        gc.collect()
    assert freed.is_set()
