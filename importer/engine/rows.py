"""Columnar mapping, row-by-row delivery: what an import that sends calls consumes.

A real import records every row in the journal and sends its calls in chunks
(importer/file_run.py); that path takes one ``(row, mapped, not_a_lead)`` at a time.
Here the rows are mapped a block at a time by the columnar engine and handed out as
the same objects the row engine makes, so resume, dedupe, suppression, upsert and
sync see exactly what they see with ``--engine row``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from importer.engine.blocks import Block
from importer.engine.mapper import BlockMapper, MappedBlock
from importer.mapping import BoundMapping, MappedRow
from importer.mapping.not_leads import Sorted, sort_rows
from importer.sources.model import SourceRow

__all__ = ["columnar_sorted_rows"]


def columnar_sorted_rows(
    blocks: Iterable[Block], bound: BoundMapping, header_cells: Sequence[str]
) -> Iterator[Sorted]:
    """Like ``sort_rows(rows, bound.map_row, header_cells)``, mapped by blocks."""
    mapper = BlockMapper(bound)
    current: list[MappedRow] = []

    def mapped_rows() -> Iterator[SourceRow]:
        for block in blocks:
            for row, mapped in _rows_of(mapper.map_block(block)):
                current[:] = [mapped]
                yield row

    # sort_rows asks for each row's mapping right after taking the row: the one made for it.
    return sort_rows(mapped_rows(), lambda _row: current[0], header_cells)


def _rows_of(mapped: MappedBlock) -> Iterator[tuple[SourceRow, MappedRow]]:
    """Each row of a mapped block with its ``MappedRow``."""
    for i, row in enumerate(mapped.block.source_rows()):
        raw, result, problem, _, _ = mapped.phone.at(i)
        yield row, MappedRow(
            row,
            raw,
            result,
            mapped.target(i),
            mapped.fields(i),
            problem,
            mapped.reason(i),
        )
