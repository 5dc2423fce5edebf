"""Run a per-value rule once per distinct value (or tuple of values) of a block's columns.

Lead files repeat the same statuses, sources, cities and names over and over; a rule
(the row engine's own function for a field) runs once for each distinct input, and
its result is spread back over the rows by index.  Inputs are the cells of one or more
columns, and optionally whether each cell was a number in the workbook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Distinct", "by_distinct", "by_distinct_text", "distinct_inputs"]

R = TypeVar("R")

# Past this the combined key of several columns would overflow an int64.
_KEY_LIMIT = 1 << 62


@dataclass(slots=True)
class Distinct(Generic[R]):
    """A rule's results: ``outputs[codes[i]]`` is row i's."""

    codes: npt.NDArray[np.int64]
    outputs: Sequence[R]
    _parts: list[Sequence[Any]] | None = None
    _columns: dict[int, pa.Array] = field(default_factory=dict)
    _arrays: dict[int, pa.Array] = field(default_factory=dict)  # parts as string arrays

    def part(self, index: int) -> Sequence[Any]:
        """Item ``index`` of every (tuple) result, in result order."""
        if self._parts is None:
            self._parts = list(zip(*self.outputs, strict=True))
        return self._parts[index] if self._parts else ()

    def column(self, index: int) -> pa.Array:
        """Text item ``index`` of the (tuple) results, as a string array over the rows (made
        once: a block may go out in several pieces)."""
        column = self._columns.get(index)
        if column is None:
            values = self.values(index)
            column = self._columns[index] = values.take(pa.array(self.codes))
        return column

    def values(self, index: int) -> pa.Array:
        """Text item ``index`` of the (tuple) results, in result order, as a string array."""
        values = self._arrays.get(index)
        if values is None:
            values = self._arrays[index] = pa.array(self.part(index), type=pa.string())
        return values

    def at(self, index: int) -> R:
        """Row ``index``'s result."""
        return self.outputs[int(self.codes[index])]


def _encode(
    array: pa.Array, numeric: npt.NDArray[np.bool_] | None
) -> tuple[npt.NDArray[np.int64], list[tuple[str, bool]]]:
    """Row -> code, and code -> (text, numeric), for one column."""
    encoded = pc.dictionary_encode(array)
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    texts: list[str] = encoded.dictionary.to_pylist()
    if numeric is None or not numeric.any():
        return indices, [(t, False) for t in texts]
    codes = indices * 2 + numeric.astype(np.int64)
    return codes, [(t, bool(flag)) for t in texts for flag in (False, True)]


def distinct_inputs(
    arrays: Sequence[pa.Array], numeric: Sequence[npt.NDArray[np.bool_] | None]
) -> tuple[npt.NDArray[np.int64], list[tuple[tuple[str, bool], ...]]]:
    """Row -> distinct id, and id -> the ((text, numeric), ...) of each input column."""
    if len(arrays) == 1 and (numeric[0] is None or not numeric[0].any()):
        # One text column: the dictionary's indices are already the distinct ids.
        encoded_one = pc.dictionary_encode(arrays[0])
        texts: list[str] = encoded_one.dictionary.to_pylist()
        ids = encoded_one.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        return ids, [((t, False),) for t in texts]
    encoded = [_encode(a, m) for a, m in zip(arrays, numeric, strict=True)]
    if len(encoded) == 1:
        codes, values = encoded[0]
        used, inverse = np.unique(codes, return_inverse=True)
        return inverse.astype(np.int64), [(values[int(c)],) for c in used]
    sizes = [len(values) for _, values in encoded]
    if float(np.prod([float(s) for s in sizes])) < _KEY_LIMIT:
        key = np.zeros(len(encoded[0][0]), dtype=np.int64)
        for (codes, _), size in zip(encoded, sizes, strict=True):
            key = key * size + codes
        used, inverse = np.unique(key, return_inverse=True)
        inputs: list[tuple[tuple[str, bool], ...]] = []
        for combined in used.tolist():
            parts: list[tuple[str, bool]] = []
            rest = combined
            for (_, values), size in zip(reversed(encoded), reversed(sizes), strict=True):
                rest, c = divmod(rest, size)
                parts.append(values[c])
            inputs.append(tuple(reversed(parts)))
        return inverse.astype(np.int64), inputs
    stacked = np.stack([codes for codes, _ in encoded], axis=1)
    used_rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), [
        tuple(encoded[j][1][int(c)] for j, c in enumerate(row)) for row in used_rows
    ]


def by_distinct(
    arrays: Sequence[pa.Array],
    numeric: Sequence[npt.NDArray[np.bool_] | None],
    rule: Callable[[tuple[tuple[str, bool], ...]], R],
    rows: int,
) -> Distinct[R]:
    """``rule`` once per distinct input; with no input columns, once for the block."""
    if not arrays:
        return Distinct(np.zeros(rows, dtype=np.int64), [rule(())])
    codes, inputs = distinct_inputs(arrays, numeric)
    return Distinct(codes, [rule(i) for i in inputs])


def by_distinct_text(array: pa.Array, rule: Callable[[str], R]) -> Distinct[R]:
    """``rule`` once per distinct text of one column (no numeric cells to tell apart)."""
    encoded = pc.dictionary_encode(array)
    ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return Distinct(ids, [rule(t) for t in encoded.dictionary.to_pylist()])
