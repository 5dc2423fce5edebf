"""CSV, TSV and .txt files: delimiter sniffing and streaming rows with the csv module.

Row numbers are what Excel shows when it opens the file: one row per record, blank
lines included.  A quoted cell holding line breaks stays one row in Excel, so from
then on a text editor's line numbers run ahead: ``SourceRow.line`` keeps the
editor's line where the record starts.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from importer.errors import SourceError
from importer.sources.cells import column_letter
from importer.sources.encoding import TextEncoding
from importer.sources.layout import RawRow
from importer.sources.quotes import QuoteScan, file_quote_scan

__all__ = ["DELIMITERS", "TextTable", "delimiter_name", "sniff_delimiter"]

DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_BYTES = 1 << 16
_SNIFF_RECORDS = 100
# Big enough for a 10 MB notes cell, small enough that a quote that is never closed
# is reported instead of swallowing the rest of a large file.
FIELD_LIMIT = 16 * 1024 * 1024
# Files bigger than this may hold a cell over the field limit: they are checked whole at open.
CHECK_WHOLE_ABOVE = FIELD_LIMIT
# Files this process has already parsed whole and found sound: (path, size, mtime, delimiter)
# -> the scan of their quotes (None when the csv module had to parse them).
_VERIFIED: dict[tuple[str, int, int, str], QuoteScan | None] = {}
_NO_NUMERIC: frozenset[int] = frozenset()
_SEP_HINT = re.compile(r"sep=([^\r\n\"])\r?\n")

csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))


def delimiter_name(delimiter: str | None) -> str:
    """A readable name for a delimiter (``tab`` for ``\\t``)."""
    if delimiter is None:
        return ""
    return _NAMES.get(delimiter, repr(delimiter))


def sniff_delimiter(sample: str, complete: bool) -> tuple[str, str]:
    """Pick the delimiter whose field counts are most consistent; return it and why.

    Each candidate parses the sample with the csv module (so quoted delimiters do not
    count); the winner splits the most records into the same number (> 1) of fields,
    ties going to more fields.  A file with one column gets ``,``.
    """
    best: tuple[float, int, int] | None = None
    chosen = ","
    for rank, delim in enumerate(DELIMITERS):
        try:
            records = [
                r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delim) if r
            ]
        except csv.Error:
            continue
        if not complete and len(records) > 1:
            records = records[:-1]  # the sample may end inside the last record
        records = records[:_SNIFF_RECORDS]
        if not records:
            continue
        counts = Counter(len(r) for r in records if len(r) > 1)
        if not counts:
            continue
        width, hits = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        score = (hits / len(records), width, -rank)
        if best is None or score > best:
            best, chosen = score, delim
    if best is None:
        return ",", "no delimiter found: one column"
    share = round(best[0] * 100)
    return chosen, f"{share}% of the first records split into {best[1]} fields"


class TextTable:
    """One delimited text file, read as a stream of raw rows."""

    def __init__(
        self, path: Path, file: str, encoding: TextEncoding, delimiter: str | None
    ) -> None:
        self.path = path
        self.file = file
        self.encoding = encoding
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
            complete = not fh.read(1)
        sample = head.decode(encoding.codec, errors="ignore").lstrip("\ufeff")
        # Excel writes (and obeys, and hides) a first line "sep=;": its rows start after it.
        hint = _SEP_HINT.match(sample)
        self._sep_line = hint is not None
        if delimiter is not None:
            self.delimiter, self.delimiter_reason = delimiter, "chosen with the delimiter option"
        elif hint is not None:
            self.delimiter = hint.group(1)
            self.delimiter_reason = f"the first line says sep={hint.group(1)} (Excel's hint)"
        else:
            self.delimiter, self.delimiter_reason = sniff_delimiter(sample, complete)
        self._last_line = 0
        self._quotes: tuple[int, int, QuoteScan] | None = None
        if encoding.odd_quotes or path.stat().st_size > CHECK_WHOLE_ABOVE:
            stat = path.stat()
            # The pipeline opens a file twice (check, then import): parse it whole only once.
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, self.delimiter)
            if key not in _VERIFIED:
                _VERIFIED[key] = self._check_parses()
            if (scan := _VERIFIED[key]) is not None:
                self._quotes = (stat.st_size, stat.st_mtime_ns, scan)

    def quote_scan(self) -> QuoteScan | None:
        """The whole file's quotes as checked when it was opened (``file_quote_scan``); None
        when they were not scanned, or the file has changed since."""
        if self._quotes is None:
            return None
        size, mtime, scan = self._quotes
        stat = self.path.stat()
        return scan if (stat.st_size, stat.st_mtime_ns) == (size, mtime) else None

    @property
    def sep_line(self) -> bool:
        """Whether the file starts with Excel's ``sep=`` line (not a row)."""
        return self._sep_line

    def _check_parses(self) -> QuoteScan | None:
        """Parse the whole file once, so a quote never closed or an over-long cell far down
        the file is refused when the file is opened: an importer checks every file before it
        sends anything, and these are the only errors that would otherwise surface mid-way.
        Only files that can have them pay for the extra pass (an odd number of quotes, or
        bigger than the field limit).  Returns the quote scan when it alone settled it."""
        if not self.encoding.odd_quotes:
            scan = file_quote_scan(self.path, self.delimiter, self.encoding.codec)
            if scan.ok:
                return scan
            if self._parses_at_c_speed():
                return None
        for _ in self.raw_rows():  # builds the exact error (row, line) when there is one
            pass
        return None

    def _parses_at_c_speed(self) -> bool:
        """Parse the file with nothing built per row; False when the csv module fails."""
        with self.path.open("rb") as raw:
            fh = io.TextIOWrapper(raw, encoding=self.encoding.codec, newline="")
            try:
                deque(csv.reader(fh, delimiter=self.delimiter), maxlen=0)
            except (csv.Error, UnicodeDecodeError):
                return False
        return True

    def raw_rows(self) -> Iterator[RawRow]:
        """Yield ``(row, cells, numeric, line)`` for every record, blank ones included."""
        records = self._records()
        if not self.encoding.odd_quotes:
            yield from records
            return
        # An odd number of quotes may mean a quote that is never closed: hold each
        # record back one step so the last one can be checked before it is yielded.
        previous: RawRow | None = None
        for record in records:
            if previous is not None:
                yield previous
            previous = record
        if previous is not None:
            cells = previous[1]
            if self._last_line > previous[3] and cells and "\n" in cells[-1]:
                raise self._never_closed(previous[0], len(cells) - 1, previous[3])
            yield previous

    def _records(self) -> Iterator[RawRow]:
        row = 0
        start = 1
        with self.path.open("rb") as raw:
            fh = io.TextIOWrapper(raw, encoding=self.encoding.codec, newline="")
            reader = csv.reader(fh, delimiter=self.delimiter)
            try:
                if self._sep_line:
                    next(reader, None)
                    start = reader.line_num + 1
                for cells in reader:
                    row += 1
                    yield row, cells, _NO_NUMERIC, start
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise self._unreadable(exc, row + 1, start) from None
            except UnicodeDecodeError:
                raise SourceError(
                    self.file, f"line {start} cannot be decoded as {self.encoding.name}"
                ) from None
            self._last_line = reader.line_num

    def _unreadable(self, exc: csv.Error, row: int, line: int) -> SourceError:
        """The refusal for a record the csv module gave up on, saying what is really wrong."""
        if "field larger than field limit" in str(exc):
            cell = self._find_long_cell(line)
            if cell is not None:
                if cell.quoted and cell.end_line is None:
                    return self._never_closed(row, cell.column, cell.line)
                return self._too_long(row, cell)
        return SourceError(
            self.file,
            f"cannot be read as CSV near line {line} ({exc}). Open it in Excel and save it "
            "again as CSV, and try again.",
            row=row,
        )

    def _never_closed(self, row: int, column: int, line: int) -> SourceError:
        odd = " (the file has an odd number of double quotes)" if self.encoding.odd_quotes else ""
        return SourceError(
            self.file,
            f"the quoted cell that starts on line {line} is never closed{odd}: it swallowed "
            'the rest of the file. Fix or remove the stray " and try again.',
            row=row,
            column=column_letter(column),
        )

    def _too_long(self, row: int, cell: _LongCell) -> SourceError:
        limit = csv.field_size_limit()
        spans = ""
        if cell.end_line is not None and cell.end_line > cell.line:
            # A long quoted cell over many lines may be a stray quote closed by a later one.
            spans = (
                f" It is in double quotes and runs from line {cell.line} to line "
                f"{cell.end_line:,}: unless it is meant to, the quote that opens it is a stray "
                "one, closed only by another quote far below; fix or remove it."
            )
        return SourceError(
            self.file,
            f"the cell that starts on line {cell.line} is longer than {limit:,} characters, "
            "the most one cell may hold (Excel itself keeps at most 32,767), so the file "
            f"cannot be read past it.{spans} Shorten or empty that cell (it may be a paste "
            "gone wrong, or the file may be damaged), or delete the row, and try again.",
            row=row,
            column=column_letter(cell.column),
        )

    def _find_long_cell(self, line: int) -> _LongCell | None:
        """Walk the record that starts on ``line`` again to find its over-long cell."""
        with self.path.open("rb") as raw:
            fh = io.TextIOWrapper(raw, encoding=self.encoding.codec, newline="")
            for _ in range(line - 1):
                if not fh.readline():
                    return None
            pieces = iter(lambda: fh.readline(_PIECE), "")
            return _walk_record(pieces, self.delimiter, line, csv.field_size_limit())


# Reading a record again in pieces of at most this many characters keeps memory flat
# whatever the length of its lines.
_PIECE = 1 << 20
_START, _PLAIN, _QUOTED, _QUOTE_SEEN = range(4)


@dataclass(frozen=True, slots=True)
class _LongCell:
    """A cell longer than the field limit: where it is and how it is quoted."""

    column: int             # 0-based
    line: int               # editor line where the cell starts
    quoted: bool
    end_line: int | None    # line of its closing quote (or its only line); None: never closed


def _walk_record(
    pieces: Iterable[str], delimiter: str, line: int, limit: int
) -> _LongCell | None:
    """The cell longer than ``limit`` in the record that starts on ``line``, if any.

    ``pieces`` are what ``readline(n)`` returns from that line on: a line, or part of one.
    """
    walk = _RecordWalk(delimiter, line, limit)
    after_cr = False
    for piece in pieces:
        walk.feed(piece, line)
        if walk.done:
            return walk.found
        # "\r\n" is one line break, which ``readline(n)`` may have cut in two.
        if piece.endswith(("\r", "\n")) and not (after_cr and piece == "\n"):
            line += 1
        after_cr = piece.endswith("\r")
    return walk.at_end()


class _RecordWalk:
    """Follows one record the way the csv module's default dialect does (doubled quotes,
    text after a closing quote kept), counting each cell's characters."""

    def __init__(self, delimiter: str, line: int, limit: int) -> None:
        self.delimiter = delimiter
        self.limit = limit
        self.line = line
        self.column = 0
        self.cell_line = line
        self.length = 0
        self.quoted = False
        self.closed_line = line
        self.state = _START
        self.done = False
        self.found: _LongCell | None = None

    def feed(self, piece: str, line: int) -> None:
        """Walk one piece of the record (a line or part of one) found on ``line``."""
        self.line = line
        body = len(piece.rstrip("\r\n"))
        at = 0
        while at < len(piece) and not self.done:
            at = self._step(piece, at, body)

    def at_end(self) -> _LongCell | None:
        """At the end of the file: the cell still open, when it is the long one."""
        if self.length <= self.limit or self.state not in (_QUOTED, _QUOTE_SEEN):
            return None
        end = self.line if self.state == _QUOTE_SEEN else None
        return _LongCell(self.column, self.cell_line, True, end)

    def _step(self, piece: str, at: int, body: int) -> int:
        if self.state == _START:
            self.cell_line, self.length = self.line, 0
            self.quoted = piece[at] == '"'
            self.state = _QUOTED if self.quoted else _PLAIN
            return at + 1 if self.quoted else at
        if self.state == _PLAIN:
            return self._plain(piece, at, body)
        if self.state == _QUOTED:
            end = piece.find('"', at)
            self.length += (len(piece) if end < 0 else end) - at
            if end < 0:
                return len(piece)
            self.state = _QUOTE_SEEN
            return end + 1
        if piece[at] == '"':  # a doubled quote stands for one
            self.length += 1
            self.state = _QUOTED
            return at + 1
        self.closed_line = self.line
        self.state = _PLAIN
        return at

    def _plain(self, piece: str, at: int, body: int) -> int:
        end = piece.find(self.delimiter, at, body)
        self.length += (body if end < 0 else end) - at
        if self.length > self.limit:
            line = self.closed_line if self.quoted else self.cell_line
            self.found = _LongCell(self.column, self.cell_line, self.quoted, line)
            self.done = True
        elif end >= 0:
            self.column += 1
            self.state = _START
            return end + 1
        elif body < len(piece):
            self.done = True  # the record ended and no cell in it is too long
        return len(piece)
