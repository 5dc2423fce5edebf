"""Blocks: rows of one sheet held as columns of text, the columnar engine's unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from importer.sources.model import SourceRow

__all__ = ["BLOCK_ROWS", "Block", "row_blocks"]

#: Rows per block: big enough that per-block costs vanish, small enough to keep memory flat.
BLOCK_ROWS = 65_536

_NO_PROBLEMS: tuple[str, ...] = ()
_NO_NUMERIC: frozenset[int] = frozenset()


@dataclass(slots=True)
class Block:
    """Consecutive rows of one sheet: each column as an Arrow string array."""

    file: str
    sheet: str | None
    rows: npt.NDArray[np.int64]            # 1-based row numbers as the user sees them
    columns: list[pa.Array]                # one per header column, no nulls
    # Columns that hold cells which were numbers in the workbook: column -> mask by row.
    numeric: dict[int, npt.NDArray[np.bool_]] = field(default_factory=dict)
    # Ragged-row notes, by row index within the block (most rows have none).
    problems: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # The rows themselves when a row reader made the block (saves building them again).
    given: list[SourceRow] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def numeric_at(self, index: int) -> frozenset[int]:
        """The numeric cells of one row, as ``SourceRow.numeric`` holds them."""
        if not self.numeric:
            return _NO_NUMERIC
        return frozenset(c for c, mask in self.numeric.items() if mask[index])

    def source_row(self, index: int) -> SourceRow:
        """One row as the row engine's readers give it."""
        return self.source_rows_at([index])[0]

    def source_rows_at(self, indexes: list[int]) -> list[SourceRow]:
        """The rows at ``indexes``, their cells fetched column by column at once."""
        if self.given is not None:
            return [self.given[i] for i in indexes]
        if not indexes:
            return []
        picked = pa.array(indexes, type=pa.int64())
        texts = [c.take(picked).to_pylist() for c in self.columns]
        cells = zip(*texts, strict=True) if texts else (() for _ in indexes)
        return [
            SourceRow(
                self.file,
                self.sheet,
                int(self.rows[i]),
                tuple(row_cells),
                self.numeric_at(i),
                self.problems.get(i, _NO_PROBLEMS),
                None,  # Arrow's pieces do not keep line numbers (no report shows them)
            )
            for i, row_cells in zip(indexes, cells, strict=True)
        ]

    def source_rows(self) -> list[SourceRow]:
        """Every row, in order, as ``SourceRow`` objects."""
        return self.source_rows_at(list(range(len(self))))


def row_blocks(
    rows: Iterable[SourceRow], width: int, *, size: int = BLOCK_ROWS
) -> Iterator[Block]:
    """Group a reader's rows (any format) into blocks of ``size`` rows."""
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield _block_of(batch, width)


def _block_of(batch: list[SourceRow], width: int) -> Block:
    first = batch[0]
    numeric: dict[int, npt.NDArray[np.bool_]] = {}
    problems: dict[int, tuple[str, ...]] = {}
    padded: list[tuple[str, ...]] = []
    for i, row in enumerate(batch):
        cells = row.cells
        if len(cells) != width:  # readers pad to the header; be safe with any other
            cells = (*cells[:width], *([""] * (width - len(cells))))
        padded.append(cells)
        for column in row.numeric:
            if column < width:
                if column not in numeric:
                    numeric[column] = np.zeros(len(batch), dtype=np.bool_)
                numeric[column][i] = True
        if row.problems:
            problems[i] = row.problems
    columns = (
        [pa.array(col, type=pa.string()) for col in zip(*padded, strict=True)]
        if width
        else []
    )
    return Block(
        file=first.file,
        sheet=first.sheet,
        rows=np.fromiter((r.row for r in batch), dtype=np.int64, count=len(batch)),
        columns=columns,
        numeric=numeric,
        problems=problems,
        given=batch,
    )
