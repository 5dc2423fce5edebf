"""A set of phone numbers whose memory is bounded by the number space, not the row count.

Batch dedupe must remember every number of a run.  A Python ``set`` of ints costs
~60-70 bytes a number, so a 2M-row file needs twice the memory of a 1M-row one.
Here numbers (E.164 digits as ints) are grouped in pages of 65,536 consecutive
numbers: a page with few numbers is a small set, and one that fills up becomes an
8 KiB bitmap.  Every Israeli mobile number (+9725XXXXXXXX) fits in ~1,500 pages,
so the set never grows past ~12 MiB however many rows a run has, and sparse
numbers (other countries) cost no more than an ordinary set.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["NumberSet"]

_PAGE_BITS = 16
_PAGE_MASK = (1 << _PAGE_BITS) - 1
_BITMAP_BYTES = (1 << _PAGE_BITS) // 8
# Past this many numbers a page's set costs more than its bitmap (~60 bytes each).
_SPARSE_LIMIT = 128


class NumberSet:
    """Non-negative ints (E.164 digits), with ``add`` telling whether the number was new."""

    __slots__ = ("_len", "_pages")

    def __init__(self) -> None:
        self._pages: dict[int, set[int] | bytearray] = {}
        self._len = 0

    def add(self, key: int) -> bool:
        """Add ``key``; return True when it was not in the set before."""
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

    def add_many(self, keys: Iterable[int]) -> list[bool]:
        """``add`` each key in turn; whether each was new (a repeat in ``keys`` is not)."""
        add = self.add
        return [add(key) for key in keys]

    def __contains__(self, key: object) -> bool:
        if key.__class__ is not int:
            return False
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
