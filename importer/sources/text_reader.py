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
from collections.abc import Iterator
from pathlib import Path

from importer.errors import SourceError
from importer.sources.encoding import TextEncoding
from importer.sources.layout import RawRow

__all__ = ["DELIMITERS", "TextTable", "delimiter_name", "sniff_delimiter"]

DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_BYTES = 1 << 16
_SNIFF_RECORDS = 100
# Big enough for a 10 MB notes cell, small enough that a quote that is never closed
# is reported instead of swallowing the rest of a large file.
FIELD_LIMIT = 16 * 1024 * 1024
# Files this process has already parsed whole and found sound: (path, size, mtime, delimiter).
_VERIFIED: set[tuple[str, int, int, str]] = set()
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
        if encoding.odd_quotes or path.stat().st_size > FIELD_LIMIT:
            stat = path.stat()
            # The pipeline opens a file twice (check, then import): parse it whole only once.
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, self.delimiter)
            if key not in _VERIFIED:
                self._check_parses()
                _VERIFIED.add(key)

    def _check_parses(self) -> None:
        """Parse the whole file once, so a quote never closed or an over-long cell far down
        the file is refused when the file is opened: an importer checks every file before it
        sends anything, and these are the only errors that would otherwise surface mid-way.
        Only files that can have them pay for the extra pass (an odd number of quotes, or
        bigger than the field limit)."""
        if not self.encoding.odd_quotes and self._parses_at_c_speed():
            return
        for _ in self.raw_rows():  # builds the exact error (row, line) when there is one
            pass

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
                raise SourceError(
                    self.file,
                    f"the quoted cell that starts on line {previous[3]} is never closed (the "
                    "file has an odd number of double quotes): it swallowed the rest of the "
                    'file. Fix or remove the stray " and try again.',
                    row=previous[0],
                )
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
                raise SourceError(
                    self.file,
                    f"cannot be read as CSV near line {start} ({exc}); a double quote "
                    "that opens a cell is probably never closed",
                    row=row + 1,
                ) from None
            except UnicodeDecodeError:
                raise SourceError(
                    self.file, f"line {start} cannot be decoded as {self.encoding.name}"
                ) from None
            self._last_line = reader.line_num
