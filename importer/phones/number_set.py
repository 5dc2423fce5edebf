"""A set of phone numbers whose memory is bounded by the number space, not the row count.

Batch dedupe must remember every number of a run.  A Python ``set`` of ints costs
~60-70 bytes a number, so a 2M-row file needs twice the memory of a 1M-row one.
Here numbers (E.164 digits as ints) are grouped in pages of 65,536 consecutive
numbers: a page with few numbers is a small set, and one that fills up becomes an
8 KiB bitmap.  Every Israeli mobile number (+9725XXXXXXXX) fits in ~1,500 pages,
so the set never grows past ~12 MiB however many rows a run has, and sparse
numbers (other countries) cost no more than an ordinary set.  The columnar engine
adds a block's numbers at once (``add_many``) into sorted arrays instead: 8 bytes a number
(16 MB at 2M numbers), checked with array operations.  The arrays are runs of halving
sizes, merged when a new one grows to half the one before (as a log-structured merge
does): inserting each block into one array copied the whole array per block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["NumberSet"]

_PAGE_BITS = 16
_PAGE_MASK = (1 << _PAGE_BITS) - 1
_BITMAP_BYTES = (1 << _PAGE_BITS) // 8
# Runs are not merged past this many numbers (4 MB): merging two big runs would hold both
# and their union at once, a peak that grows with the file.
_RUN_LIMIT = 1 << 19
# Past this many numbers a page's set costs more than its bitmap (~60 bytes each).
_SPARSE_LIMIT = 128


class NumberSet:
    """Non-negative ints (E.164 digits), with ``add`` telling whether the number was new."""

    __slots__ = ("_len", "_pages", "_runs")

    def __init__(self) -> None:
        self._pages: dict[int, set[int] | bytearray] = {}
        self._len = 0
        # Numbers added a block at a time (``add_many``): sorted, disjoint arrays, each at
        # most half the size of the one before, 8 bytes a number (numpy is loaded only by
        # the columnar engine, which alone calls add_many).
        self._runs: list[npt.NDArray[np.int64]] = []

    def add(self, key: int) -> bool:
        """Add ``key``; return True when it was not in the set before."""
        if self._runs and self._in_bulk(key):
            return False
        low = key & _PAGE_MASK
        page = self._pages.get(key >> _PAGE_BITS)
        if page is None:
            self._pages[key >> _PAGE_BITS] = {low}
        elif page.__class__ is set:
            if low in page:
                return False
            page.add(low)
            if len(page) > _SPARSE_LIMIT:
                self._pages[key >> _PAGE_BITS] = _bitmap(page)
        else:
            byte = low >> 3
            bit = 1 << (low & 7)
            if page[byte] & bit:  # type: ignore[index]
                return False
            page[byte] |= bit  # type: ignore[index]
        self._len += 1
        return True

    def add_many(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Add distinct ``keys`` at once; which of them were new.

        For the columnar engine: a block's numbers are checked against everything added
        before (one at a time or in blocks) with array operations, not a call per number.
        """
        import numpy as np

        keys = np.asarray(keys, dtype=np.int64)
        new = np.ones(len(keys), dtype=np.bool_)
        for run in self._runs:
            at = np.searchsorted(run, keys)
            found = at < run.size
            found[found] = run[at[found]] == keys[found]
            new &= ~found
        if self._pages:
            new &= np.fromiter(
                (key not in self for key in keys.tolist()), dtype=np.bool_, count=len(keys)
            )
        added = np.sort(keys[new])
        if added.size:
            runs = self._runs
            runs.append(added)
            while (len(runs) > 1 and runs[-1].size * 2 >= runs[-2].size
                   and runs[-1].size + runs[-2].size <= _RUN_LIMIT):
                last = runs.pop()
                before = runs.pop()
                # Both sorted: inserting is one pass (np.union1d would sort everything again).
                runs.append(np.insert(before, np.searchsorted(before, last), last))
            self._len += int(added.size)
        return new

    def _in_bulk(self, key: int) -> bool:
        import numpy as np

        for run in self._runs:
            at = int(np.searchsorted(run, key))
            if at < run.size and int(run[at]) == key:
                return True
        return False

    def __contains__(self, key: object) -> bool:
        if key.__class__ is not int:
            return False
        if self._runs and self._in_bulk(key):
            return True
        low = key & _PAGE_MASK
        page = self._pages.get(key >> _PAGE_BITS)
        if page is None:
            return False
        if page.__class__ is set:
            return low in page
        return bool(page[low >> 3] & (1 << (low & 7)))  # type: ignore[index]

    def __len__(self) -> int:
        return self._len


def _bitmap(numbers: set[int]) -> bytearray:
    bits = bytearray(_BITMAP_BYTES)
    for low in numbers:
        bits[low >> 3] |= 1 << (low & 7)
    return bits
