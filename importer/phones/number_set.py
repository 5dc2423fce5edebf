"""A set of phone numbers whose memory is bounded by the number space, not the row count.

Batch dedupe must remember every number of a run.  A Python ``set`` of ints costs
~60-70 bytes a number, so a 2M-row file needs twice the memory of a 1M-row one.
Here numbers (E.164 digits as ints) are grouped in pages of 65,536 consecutive
numbers: a page with few numbers is a small set, and one that fills up becomes an
8 KiB bitmap.  Every Israeli mobile number (+9725XXXXXXXX) fits in ~1,500 pages,
so the set never grows past ~12 MiB however many rows a run has, and sparse
numbers (other countries) cost no more than an ordinary set.  The columnar engine
adds a block's numbers at once (``add_many``) into a sorted array instead: 8 bytes a
number (16 MB at 2M numbers), checked with array operations.
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
# Past this many numbers a page's set costs more than its bitmap (~60 bytes each).
_SPARSE_LIMIT = 128


class NumberSet:
    """Non-negative ints (E.164 digits), with ``add`` telling whether the number was new."""

    __slots__ = ("_bulk", "_len", "_pages")

    def __init__(self) -> None:
        self._pages: dict[int, set[int] | bytearray] = {}
        self._len = 0
        # Numbers added a block at a time (``add_many``): one sorted array, 8 bytes each
        # (numpy is loaded only by the columnar engine, which alone calls add_many).
        self._bulk: npt.NDArray[np.int64] | None = None

    def add(self, key: int) -> bool:
        """Add ``key``; return True when it was not in the set before."""
        if self._bulk is not None and self._in_bulk(key):
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
        bulk = self._bulk if self._bulk is not None else np.zeros(0, dtype=np.int64)
        if bulk.size:
            at = np.searchsorted(bulk, keys)
            found = at < bulk.size
            found[found] = bulk[at[found]] == keys[found]
            new &= ~found
        if self._pages:
            new &= np.fromiter(
                (key not in self for key in keys.tolist()), dtype=np.bool_, count=len(keys)
            )
        added = np.sort(keys[new])
        if added.size:
            # Both sorted: inserting is one pass (np.union1d would sort everything again).
            self._bulk = np.insert(bulk, np.searchsorted(bulk, added), added)
            self._len += int(added.size)
        return new

    def _in_bulk(self, key: int) -> bool:
        import numpy as np

        bulk = self._bulk
        assert bulk is not None
        at = int(np.searchsorted(bulk, key))
        return at < bulk.size and int(bulk[at]) == key

    def __contains__(self, key: object) -> bool:
        if key.__class__ is not int:
            return False
        if self._bulk is not None and self._in_bulk(key):
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
