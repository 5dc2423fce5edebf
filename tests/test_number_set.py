"""NumberSet behaves like a set of ints, and stays small when numbers are dense."""

from __future__ import annotations

import random
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from importer.phones.number_set import NumberSet

# E.164 digits: Israeli mobiles and landlines around a few pages, plus anything up to 15 digits.
_keys = st.one_of(
    st.integers(min_value=972_500_000_000, max_value=972_500_400_000),
    st.integers(min_value=0, max_value=10**15),
)


@given(st.lists(_keys, max_size=600))
@settings(max_examples=200, deadline=None)
def test_agrees_with_a_set(keys: list[int]) -> None:
    numbers = NumberSet()
    plain: set[int] = set()
    for key in keys:
        assert numbers.add(key) is (key not in plain)
        plain.add(key)
        assert key in numbers
    assert len(numbers) == len(plain)
    for key in keys:
        assert key in numbers
        assert key + 1 in numbers or key + 1 not in plain


def test_page_turns_into_a_bitmap_without_losing_numbers() -> None:
    numbers = NumberSet()
    base = 972_521_000_000
    added = [base + i * 7 for i in range(1000)]  # one page: sparse set first, bitmap later
    for key in added:
        assert numbers.add(key)
    for key in added:
        assert key in numbers
        assert not numbers.add(key)
    assert base + 1 not in numbers
    assert len(numbers) == 1000


def test_not_an_int_is_not_contained() -> None:
    numbers = NumberSet()
    numbers.add(972521234567)
    assert "972521234567" not in numbers
    assert 972521234567.0 not in numbers


def _allocated_for(count: int) -> int:
    rng = random.Random(5)
    tracemalloc.start()
    numbers = NumberSet()
    for _ in range(count):
        numbers.add(972_500_000_000 + rng.randrange(100_000_000))  # every Israeli mobile
    size, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size


def test_memory_is_bounded_by_the_number_space() -> None:
    small = _allocated_for(200_000)
    big = _allocated_for(400_000)
    # Both are (nearly) all bitmaps: ~1,526 pages of 8 KiB, whatever the count.
    assert big < 14 * 2**20
    assert big < small * 1.2


@given(st.lists(st.tuples(st.booleans(), st.lists(_keys, max_size=300)), max_size=40))
@settings(max_examples=150, deadline=None)
def test_blocks_at_once_agree_with_a_set(steps: list[tuple[bool, list[int]]]) -> None:
    """add_many (the columnar engine's blocks) mixed with add (row by row)."""
    import numpy as np

    numbers = NumberSet()
    plain: set[int] = set()
    for at_once, keys in steps:
        if at_once:
            distinct = list(dict.fromkeys(keys))
            new = numbers.add_many(np.array(distinct, dtype=np.int64))
            assert new.tolist() == [k not in plain for k in distinct]
            plain.update(distinct)
        else:
            for key in keys:
                assert numbers.add(key) is (key not in plain)
                plain.add(key)
        assert len(numbers) == len(plain)
    for key in plain:
        assert key in numbers


def test_blocks_stay_in_few_sorted_runs() -> None:
    import numpy as np

    numbers = NumberSet()
    rng = np.random.default_rng(3)
    for _ in range(200):
        numbers.add_many(np.unique(rng.integers(972_500_000_000, 972_600_000_000, 5_000)))
    runs = numbers._runs
    assert len(runs) <= 12  # halving sizes: about log2(200)
    assert all(bool(np.all(np.diff(r) > 0)) for r in runs)
    assert sum(r.size for r in runs) == len(numbers)
