"""Where the table starts: header-row detection, column names, row shaping.

Every reader yields *raw rows* ``(row, cells, numeric, line)``: the 1-based row number
as the user sees it, the cells as text, the indexes of numeric cells and the physical
line (text files; the row number otherwise).  This module picks the header row and
turns the raw rows after it into ``SourceRow`` objects aligned with the header.

Rules (documented for users in ``inspect``'s help and the README):

* Blank rows are skipped and never yielded (row numbers stay true), except that
  ``shape_rows(blank_rows=True)`` yields those between the header and the last
  non-blank row -- including rows a reader leaves out -- so every row of the
  table appears exactly once; blank rows after the last data row never appear.
* Header row: the first of the first 20 non-blank rows that has at least two filled
  cells, at least half as many filled cells as the widest of the first 50 rows, and
  no more numeric than text cells.  A file whose rows all have one cell has its
  first non-blank row as header.  Title rows, notes and merged titles above it are
  skipped (and listed in the warnings).  ``header_row`` overrides.
* Column names: surrounding whitespace and byte-order marks removed, inner runs of
  whitespace (wrapped header text) collapsed to one space; an empty name becomes
  ``Column C`` (the Excel letter); a repeated name gets `` (2)``, `` (3)``...
* Columns span the header's filled cells, widened to any column filled in at least
  more than half of the first 20 data rows (an unlabelled numbering column, say); text outside
  that span (a ragged row) is kept in the row's ``problems``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from importer.errors import EmptySourceError, SourceError
from importer.i18n.reasons import ReasonKind
from importer.sources.cells import column_letter
from importer.sources.model import SourceRow

__all__ = ["Layout", "RawRow", "detect_layout", "is_blank", "shape_rows"]

RawRow = tuple[int, list[str], frozenset[int], int]

_CANDIDATES = 20
_SAMPLE = 50
_NO_NUMERIC: frozenset[int] = frozenset()


def is_blank(cells: list[str]) -> bool:
    """True when every cell is empty or whitespace."""
    return not any(cells) or not "".join(cells).strip()


def _filled(cells: list[str]) -> list[int]:
    return [i for i, c in enumerate(cells) if c and not c.isspace()]


# A row whose cells do not line up with the header (the report's reason says so).
RAGGED_ROW = ReasonKind("ragged_row", "row has {cells} cells, the header has {columns}")
EXTRA_CELLS = ReasonKind(
    "extra_cells", "row has {cells} cells, the header has {columns}; extra cells: {extra}"
)


@dataclass(frozen=True, slots=True)
class Layout:
    """The header found in one sheet and how data rows map onto it."""

    header_row: int
    first: int                      # index in raw cells of the first column
    columns: list[str]
    warnings: list[str] = field(default_factory=list)
    header_cells: tuple[str, ...] = ()   # the header row's cells under ``columns``, as read


def _clean_name(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").split())


def column_names(cells: list[str], first: int, count: int, col0: int) -> list[str]:
    """Header names for ``count`` columns starting at raw index ``first`` (unique)."""
    names: list[str] = []
    seen: set[str] = set()
    for i in range(first, first + count):
        name = _clean_name(cells[i]) if i < len(cells) else ""
        if not name:
            name = f"Column {column_letter(col0 + i)}"
        base, n = name, 1
        while name.casefold() in seen:
            n += 1
            name = f"{base} ({n})"
        seen.add(name.casefold())
        names.append(name)
    return names


def _pick_header(sample: list[RawRow]) -> int:
    widths = [len(_filled(r[1])) for r in sample]
    widest = max(widths)
    if widest <= 1:
        return 0
    for i, raw in enumerate(sample[:_CANDIDATES]):
        filled = widths[i]
        numeric = sum(1 for j in raw[2] if raw[1][j].strip())
        if filled >= 2 and filled * 2 >= widest and numeric * 2 <= filled:
            return i
    return widths.index(widest)


def detect_layout(
    raw_rows: Iterable[RawRow],
    *,
    file: str,
    sheet: str | None,
    header_row: int | None = None,
    col0: int = 0,
) -> Layout:
    """Find the header row and the columns of one sheet (reads only the first rows)."""
    it = iter(raw_rows)
    sample: list[RawRow] = []
    header: RawRow | None = None
    last_row = 0
    for raw in it:
        last_row = raw[0]
        if header_row is not None:
            if raw[0] < header_row:
                continue
            if raw[0] > header_row and header is None:
                break
            if raw[0] == header_row:
                if is_blank(raw[1]):
                    raise EmptySourceError(
                        file, f"row {header_row} (chosen as the header row) is empty", sheet=sheet
                    )
                header = raw
                sample.append(raw)
                continue
        if is_blank(raw[1]):
            continue
        sample.append(raw)
        if len(sample) >= _SAMPLE:
            break
    if header_row is not None and header is None:
        raise EmptySourceError(
            file,
            f"has no row {header_row} (the last row is {last_row}); check header_row",
            sheet=sheet,
        )
    if not sample:
        raise EmptySourceError(file, "is empty: there is no header row and no data", sheet=sheet)
    index = 0 if header is not None else _pick_header(sample)
    head = sample[index]
    data = sample[index + 1 :]
    if not data:
        # The sample may have stopped early; look further for one data row.
        data = [r for r in _first_nonblank(it)]
        if not data:
            raise EmptySourceError(
                file,
                f"has a header row (row {head[0]}) but no data rows below it",
                sheet=sheet,
                header=tuple(head[1]),
            )
    first, last = _span(head[1], data[:_CANDIDATES])
    head_cells = head[1]
    columns = column_names(head_cells, first, last - first + 1, col0)
    warnings: list[str] = []
    above = [r[0] for r in sample[:index]]
    if above:
        shown = ", ".join(str(n) for n in above[:5]) + (" ..." if len(above) > 5 else "")
        warnings.append(
            f"header found on row {head[0]}; skipped {len(above)} row(s) above it "
            f"(title or notes: row {shown})"
        )
    cells = tuple(head_cells[i] if i < len(head_cells) else "" for i in range(first, last + 1))
    return Layout(
        header_row=head[0], first=first, columns=columns, warnings=warnings, header_cells=cells
    )


def _span(header: list[str], data: list[RawRow]) -> tuple[int, int]:
    """The header's filled columns, widened to columns most data rows fill."""
    filled = _filled(header)
    first, last = filled[0], filled[-1]
    counts: dict[int, int] = {}
    for raw in data:
        for i in _filled(raw[1]):
            if i < first or i > last:
                counts[i] = counts.get(i, 0) + 1
    common = [i for i, n in counts.items() if n * 2 > len(data) and len(data) >= 2]
    if common:
        first, last = min(first, *common), max(last, *common)
    return first, last


def _first_nonblank(it: Iterator[RawRow]) -> list[RawRow]:
    for raw in it:
        if not is_blank(raw[1]):
            return [raw]
    return []


def shape_rows(
    raw_rows: Iterable[RawRow],
    layout: Layout,
    *,
    file: str,
    sheet: str | None,
    col0: int = 0,
    report_missing: bool = False,
    blank_rows: bool = False,
    start_row: int = 0,
) -> Iterator[SourceRow]:
    """Yield the data rows after the header, aligned with its columns.

    Blank rows are left out, unless ``blank_rows``: then the blank rows between the header
    and the last non-blank row are yielded too, with every cell empty (a row missing from
    the reader's numbering is one of them); blank rows after the last data row never are.
    ``start_row`` is where ``raw_rows`` start when they are a piece of the sheet: blank
    rows are counted from there.
    """
    first = layout.first
    ncols = len(layout.columns)
    header_row = layout.header_row
    fast = first == 0
    expected = max(header_row + 1, start_row)  # the row after the last one yielded
    for row, cells, numeric, line in raw_rows:
        if row <= header_row:
            continue
        n = len(cells)
        if fast and n == ncols:
            # The common case, kept lean: a full-width row of a table starting at column A.
            head = cells[0] if n else ""
            if (head and not head.isspace()) or "".join(cells).strip():
                if blank_rows and row > expected:
                    yield from _blank_rows(expected, row, file, sheet, ncols)
                expected = row + 1
                yield SourceRow(file, sheet, row, tuple(cells), numeric, (), line)
            continue
        if is_blank(cells):
            continue
        if blank_rows and row > expected:
            yield from _blank_rows(expected, row, file, sheet, ncols)
        expected = row + 1
        yield _ragged(cells, numeric, row, line, layout, file, sheet, col0, report_missing)


def _blank_rows(
    start: int, stop: int, file: str, sheet: str | None, ncols: int
) -> Iterator[SourceRow]:
    """Rows ``start`` to ``stop - 1``, all blank (their physical line is not known)."""
    cells = ("",) * ncols
    for row in range(start, stop):
        yield SourceRow(file, sheet, row, cells, _NO_NUMERIC, (), None)


def _ragged(
    cells: list[str],
    numeric: frozenset[int],
    row: int,
    line: int,
    layout: Layout,
    file: str,
    sheet: str | None,
    col0: int,
    report_missing: bool,
) -> SourceRow:
    """A row that is shorter or longer than the header, or offset from column A."""
    first = layout.first
    ncols = len(layout.columns)
    end = first + ncols
    n = len(cells)
    problems: tuple[str, ...] = ()
    values = cells[first:end]
    if len(values) < ncols:
        if report_missing:
            problems = (RAGGED_ROW(cells=max(0, n - first), columns=ncols),)
        values.extend([""] * (ncols - len(values)))
    extra = [
        (i, c) for i, c in enumerate(cells) if (i < first or i >= end) and c and not c.isspace()
    ]
    if extra:
        last = max(i for i, _ in extra) + 1
        shown = ", ".join(f"{column_letter(col0 + i)}={c!r}" for i, c in extra)
        problems = (EXTRA_CELLS(cells=last - min(first, extra[0][0]), columns=ncols, extra=shown),)
    if numeric and (first or n > ncols):
        numeric = frozenset(i - first for i in numeric if first <= i < end)
    return SourceRow(file, sheet, row, tuple(values), numeric or _NO_NUMERIC, problems, line)


def check_header_row(value: int | None, file: str) -> None:
    """Refuse a header_row that cannot be a row number."""
    if value is not None and value < 1:
        raise SourceError(file, f"header_row must be 1 or more (got {value})")
