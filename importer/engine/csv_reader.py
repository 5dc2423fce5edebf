"""CSV and TSV files read in pieces by Arrow's parser, checked to read exactly as the csv module.

The file is cut into pieces of a few MB at line ends outside quotes.  A piece goes to
Arrow's CSV parser only when its bytes leave no room for the two parsers to differ:

* every ``"`` belongs to a well-formed quoted cell (opened right after a delimiter or a
  line start, closed right before one, inner quotes doubled);
* no blank or whitespace-only row, no lone CR, no NUL, no cell longer than the csv
  module's field limit, and every record has exactly the header's number of cells.

Any other piece is read by the csv module and shaped by the row reader's own
``shape_rows`` (ragged-row notes, blank rows), with row numbers continued from the
pieces before it, so row numbers and notes never change.  When a piece's quotes are not
well-formed, the cuts after it cannot be trusted either: the rest of the file is read by
the csv module.  The first piece (title rows, the header, Excel's ``sep=`` line) is
always read by the csv module.  Files in encodings that are not ASCII-compatible
(UTF-16) are left to the row reader entirely (``blocks_of_text`` returns None).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from importer.engine.blocks import BLOCK_ROWS, Block, row_blocks
from importer.engine.mapper import PY_WHITESPACE
from importer.sources import Source
from importer.sources.layout import Layout, RawRow, shape_rows
from importer.sources.model import SourceRow
from importer.sources.quotes import QuoteScan, ascii_compatible, record_end, scan_quotes
from importer.sources.text_reader import FIELD_LIMIT, TextTable

__all__ = ["PIECE_BYTES", "blocks_of_text", "odd_line_ends"]

#: Bytes per piece: enough to keep Arrow fast; 2 MB instead of 4 took ~60 MB off the peak, and
#: 1 MB ~50 MB more once a block's report lines were made on a thread while the next block
#: is mapped (two blocks alive at once), at no cost in time (docs/benchmarks.md).
PIECE_BYTES = 1 << 20
# Arrow parses a piece in blocks of this size, on several threads.
_ARROW_BLOCK_BYTES = 1 << 20
# The first piece holds the header (and any title rows above it): the csv module reads it.
_FIRST_PIECE_BYTES = 64 << 10
# Smaller files are read by the csv module: nothing to gain.
_MIN_FAST_BYTES = 1 << 20
_NO_NUMERIC: frozenset[int] = frozenset()


def blocks_of_text(source: Source, width: int) -> Iterator[Block] | None:
    """The sheet's rows as blocks read from the file's bytes; None when not eligible."""
    found = source.text_layout()
    if found is None:
        return None
    table, layout = found
    if (
        layout.first != 0
        or len(table.delimiter) != 1
        or len(layout.columns) != width
        or not ascii_compatible(table.encoding.codec)
        or table.path.stat().st_size < _MIN_FAST_BYTES
    ):
        return None
    return _PieceReader(table, layout, source.info.name).blocks()


def odd_line_ends(piece: bytes) -> bool:
    """Whether the piece holds a NUL, a lone CR (not before LF) or a blank line (LF or CRLF
    at a line start): what Arrow's parser reads differently from the csv module.

    With numpy: ``bytes.count`` and ``in`` of two-byte patterns took ~9 ms a 2 MB piece of
    CRLF lines (~0.45 s on the 1M-row file), these comparisons ~1 ms."""
    if b"\x00" in piece:
        return True
    data = np.frombuffer(piece, dtype=np.uint8)
    size = len(data)
    if not size:
        return False
    cr = np.flatnonzero(data == 0x0D)
    if len(cr) and (cr[-1] == size - 1 or bool(np.any(data[cr + 1] != 0x0A))):
        return True
    # Every CR now comes before an LF: a line starting with either is blank.
    starts = np.flatnonzero(data == 0x0A) + 1
    first = data[starts[starts < size]]
    return bool(data[0] in (0x0A, 0x0D) or np.any((first == 0x0A) | (first == 0x0D)))


class _PieceReader:
    """Reads one text file piece by piece (see the module docstring)."""

    def __init__(self, table: TextTable, layout: Layout, file: str) -> None:
        self.table = table
        self.layout = layout
        self.file = file
        self.width = len(layout.columns)
        codec = codecs.lookup(table.encoding.codec).name
        self.first_codec = codec
        # Later pieces start mid-file: a BOM-stripping codec would eat a U+FEFF cell.
        self.codec = "utf-8" if codec == "utf-8-sig" else codec
        self.utf8 = self.codec == "utf-8"
        self.delimiter = table.delimiter.encode("ascii")
        self.next_row = 1      # the row number of the next record
        self.expected = layout.header_row + 1  # the first row not yet given out

    # --- pieces -------------------------------------------------------------------------

    def blocks(self) -> Iterator[Block]:
        """Every data row, in order, in blocks."""
        path: Path = self.table.path
        # The quotes of the whole file, when they were checked at open and no quoted cell
        # holds a line break: every piece cut at a line end outside quotes is well-formed.
        whole = self.table.quote_scan()
        if whole is not None and (not whole.ok or whole.multiline):
            whole = None
        with path.open("rb") as fh:
            first = True
            offset = 0   # where ``rest`` starts in the file
            rest = b""
            while True:
                chunk = fh.read(_FIRST_PIECE_BYTES if first else PIECE_BYTES)
                data = rest + chunk
                if not data:
                    return
                at_end = not chunk
                cut = len(data) if at_end else self._cut(data, whole)
                # A record longer than a whole piece (a huge cell): the csv module reads on,
                # and says what is wrong if it is over the field limit.
                piece = data[:cut] if cut is not None else b""
                quotes = self._quotes(piece, whole)
                if quotes is None or not quotes.ok:
                    # The cuts cannot be trusted from here on: the csv module reads the rest.
                    yield from self._rest_by_csv_module(offset, first=first)
                    return
                rest = data[len(piece):]
                if first or self.next_row <= self.layout.header_row:
                    yield from self._python_piece(piece, first=first)
                    first = False
                else:
                    yield from self._piece(piece, quotes.multiline)
                offset += len(piece)
                if at_end:
                    return

    @staticmethod
    def _cut(data: bytes, whole: QuoteScan | None) -> int | None:
        """Where the piece ends: after its last line end outside quotes; in a file whose
        quoted cells hold no line break (``whole``), that is its last line end."""
        if whole is None:
            return record_end(data)
        end = data.rfind(b"\n")
        return end + 1 if end >= 0 else None

    def _quotes(self, piece: bytes, whole: QuoteScan | None) -> QuoteScan | None:
        """The piece's quote scan (None for no piece): the whole file's, else its own."""
        if not piece:
            return None
        return whole if whole is not None else scan_quotes(piece, self.delimiter[0])

    def _piece(self, piece: bytes, multiline: bool) -> Iterator[Block]:
        block = self._arrow_block(piece, multiline)
        if block is None:
            yield from self._python_piece(piece, first=False)
            return
        if block.rows[0] > self.expected:
            yield from self._blank_block(self.expected, int(block.rows[0]))
        self.expected = int(block.rows[-1]) + 1
        yield block

    def _arrow_block(self, piece: bytes, multiline: bool) -> Block | None:
        """The piece parsed by Arrow, or None when it is not one Arrow reads exactly."""
        if odd_line_ends(piece):
            return None
        data = piece if self.utf8 else self._transcoded(piece)
        if data is None:
            return None
        try:
            parsed = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(
                    column_names=[f"c{i}" for i in range(self.width)],
                    block_size=_ARROW_BLOCK_BYTES,
                    use_threads=False,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter.decode("ascii"),
                    quote_char='"',
                    double_quote=True,
                    escape_char=False,
                    # Much slower when on: only for pieces with a line break in a quoted cell.
                    newlines_in_values=multiline,
                    ignore_empty_lines=False,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={f"c{i}": pa.string() for i in range(self.width)},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    null_values=[],
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowException):
            return None  # ragged rows, most often: the csv module and shape_rows say what
        columns = [c.combine_chunks() for c in parsed.columns]
        n = parsed.num_rows
        if n == 0 or not self._plain_rows(columns):
            return None
        rows = np.arange(self.next_row, self.next_row + n, dtype=np.int64)
        self.next_row += n
        return Block(self.file, None, rows, columns)

    def _plain_rows(self, columns: list[pa.Array]) -> bool:
        """No blank row (shape_rows would treat it apart) and no over-long cell."""
        for column in columns:
            if pc.max(pc.binary_length(column)).as_py() > FIELD_LIMIT:
                return False
        # A blank row has only whitespace in every column: follow the rows that might be,
        # column by column (usually the first column already rules out every row).
        maybe = np.arange(len(columns[0]), dtype=np.int64) if columns else None
        for column in columns:
            if maybe is None or not len(maybe):
                return True
            cells = column.take(pa.array(maybe)) if len(maybe) < len(column) else column
            empty = pc.equal(pc.utf8_trim(cells, characters=PY_WHITESPACE), "")
            maybe = maybe[empty.to_numpy(zero_copy_only=False)]
        return maybe is None or not len(maybe)

    def _transcoded(self, piece: bytes) -> bytes | None:
        try:
            return piece.decode(self.codec).encode("utf-8")
        except UnicodeError:
            return None

    # --- the csv module ---------------------------------------------------------------

    def _python_piece(self, piece: bytes, *, first: bool) -> Iterator[Block]:
        """One piece by the csv module (title rows, the header, odd rows)."""
        text = piece.decode(self.first_codec if first else self.codec)
        yield from self._by_csv_module(io.StringIO(text, newline=""), first=first)

    def _rest_by_csv_module(self, offset: int, *, first: bool) -> Iterator[Block]:
        """The file from byte ``offset`` (a record start) to its end, by the csv module."""
        with self.table.path.open("rb") as raw:
            raw.seek(offset)
            codec = self.first_codec if first else self.codec
            text = io.TextIOWrapper(raw, encoding=codec, newline="")
            yield from self._by_csv_module(text, first=first)

    def _by_csv_module(self, text: TextIO, *, first: bool) -> Iterator[Block]:
        records = csv.reader(text, delimiter=self.table.delimiter)
        if first and self.table.sep_line:
            next(records, None)
        yield from self._shaped(self._numbered(records))

    def _numbered(self, records: Iterator[list[str]]) -> Iterator[RawRow]:
        for cells in records:
            row = self.next_row
            self.next_row += 1
            yield row, cells, _NO_NUMERIC, 0  # the physical line is not tracked here

    def _shaped(self, raw: Iterator[RawRow]) -> Iterator[Block]:
        rows = shape_rows(
            raw,
            self.layout,
            file=self.file,
            sheet=None,
            report_missing=True,
            blank_rows=True,
            start_row=self.expected,
        )
        yield from row_blocks(self._noted(rows), self.width, size=BLOCK_ROWS)

    def _noted(self, rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
        """The rows, noting the last one given out (blank rows after it are counted from
        there)."""
        for row in rows:
            self.expected = row.row + 1
            yield row

    def _blank_block(self, start: int, stop: int) -> Iterator[Block]:
        """Blank rows between pieces (the csv module's piece ended with them)."""
        blanks = (
            SourceRow(self.file, None, row, ("",) * self.width, _NO_NUMERIC, (), None)
            for row in range(start, stop)
        )
        yield from row_blocks(blanks, self.width)
