"""HTML tables saved as ".xls" (many web CRMs export these).

Parsed with the standard library's ``html.parser`` in chunks, so memory stays flat.
Every ``<table>`` is a sheet named "Table 1", "Table 2"...; the default is the first
table with at least two rows.  Cell text is what a browser or Excel shows: runs of
whitespace collapse to one space, ``<br>`` and block ends become line breaks,
``&nbsp;`` is a space.  ``colspan``/``rowspan`` leave the covered cells empty (as a
merged cell in Excel).  Cells are text: HTML has no numeric cells.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from importer.errors import SourceError
from importer.sources.encoding import TextEncoding, detect_text_encoding
from importer.sources.layout import RawRow
from importer.sources.model import SheetInfo

__all__ = ["HtmlTables"]

_CHUNK = 1 << 16
_MAX_SPAN = 1000
_BREAK = "\u2028"
_SPACE_RUN = re.compile(r"[ \t\n\r\f\v\u00a0]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BLOCK_TAGS = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}
_NO_NUMERIC: frozenset[int] = frozenset()


def _span(value: str | None) -> int:
    try:
        n = int((value or "1").strip())
    except ValueError:
        return 1
    return min(max(n, 1), _MAX_SPAN)


def _cell_text(parts: list[str]) -> str:
    text = _SPACE_RUN.sub(" ", "".join(parts))
    return "\n".join(line.strip() for line in text.split(_BREAK)).strip("\n ")


class _TableParser(HTMLParser):
    """Collects the rows of one table (``want``) and counts the rows of every table."""

    def __init__(self, want: int | None) -> None:
        super().__init__(convert_charrefs=True)
        self.want = want
        self.tables = 0
        self.row_counts: list[int] = []
        self.stack: list[int] = []          # open tables, innermost last
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.span = (1, 1)
        self.pending: dict[int, int] = {}   # column -> rows still covered by a rowspan
        self.done: list[list[str]] = []
        self.skip = 0                       # inside <script>/<style>
        self.saved: list[tuple[list[str] | None, list[str] | None, dict[int, int],
                               tuple[int, int]]] = []  # outer table state while nested

    def _collecting(self) -> bool:
        return bool(self.stack) and self.stack[-1] == self.want

    def _close_cell(self) -> None:
        if self.cell is None or self.row is None:
            self.cell = None
            return
        colspan, rowspan = self.span
        start = len(self.row)
        self.row.append(_cell_text(self.cell))
        self.row.extend([""] * (colspan - 1))
        if rowspan > 1:
            for col in range(start, start + colspan):
                self.pending[col] = rowspan - 1
        self.cell = None

    def _fill_pending(self, upto: int | None = None) -> None:
        assert self.row is not None
        while self.pending.get(len(self.row), 0) > 0 and (upto is None or len(self.row) < upto):
            self.pending[len(self.row)] -= 1
            self.row.append("")

    def _close_row(self) -> None:
        self._close_cell()
        if self.row is None:
            return
        if self.pending:
            while any(c >= len(self.row) and n > 0 for c, n in self.pending.items()):
                if self.pending.get(len(self.row), 0) > 0:
                    self.pending[len(self.row)] -= 1
                self.row.append("")
        if self.stack:
            self.row_counts[self.stack[-1]] += 1
        if self._collecting():
            self.done.append(self.row)
        self.row = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
            return
        if tag == "table":
            self.stack.append(self.tables)
            self.row_counts.append(0)
            self.tables += 1
            self.saved.append((self.row, self.cell, self.pending, self.span))
            self.row, self.cell, self.pending = None, None, {}
            return
        if not self.stack:
            return
        if tag == "tr":
            self._close_row()
            self.row = []
        elif tag in ("td", "th"):
            self._close_cell()
            if self.row is None:
                self.row = []
            self._fill_pending()
            values = dict(attrs)
            self.span = (_span(values.get("colspan")), _span(values.get("rowspan")))
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append(_BREAK)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and self.cell is not None:
            self.cell.append(_BREAK)
        elif tag in ("td", "th"):
            self.handle_starttag(tag, attrs)
            self._close_cell()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif not self.stack:
            return
        elif tag == "table":
            self._close_row()
            self.stack.pop()
            if self.saved:
                self.row, self.cell, self.pending, self.span = self.saved.pop()
        elif tag == "tr":
            self._close_row()
        elif tag in ("td", "th"):
            self._close_cell()
        elif tag in _BLOCK_TAGS and self.cell:
            self.cell.append(_BREAK)

    def handle_data(self, data: str) -> None:
        if self.cell is not None and not self.skip:
            self.cell.append(data)


def _html_encoding(path: Path, file: str, forced: str | None) -> TextEncoding:
    if forced:
        return detect_text_encoding(path, file, forced)
    with path.open("rb") as fh:
        head = fh.read(_CHUNK)
    if not head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        m = _META_CHARSET.search(head)
        if m:
            declared = m.group(1).decode("ascii", "ignore")
            try:
                codecs.lookup(declared)
            except LookupError:
                declared = ""
            if declared:
                try:
                    found = detect_text_encoding(path, file, declared)
                except SourceError:
                    pass  # the page lies about its charset: fall back to detection
                else:
                    return TextEncoding(
                        found.codec, found.name, "declared in the page's <meta charset>",
                        found.odd_quotes,
                    )
    return detect_text_encoding(path, file)


class HtmlTables:
    """The tables of one HTML file, as sheets."""

    format = "html"

    def __init__(self, path: Path, file: str, forced_encoding: str | None) -> None:
        self.path = path
        self.file = file
        self.encoding = _html_encoding(path, file, forced_encoding)
        parser = _TableParser(want=None)
        for _ in self._feed(parser):
            pass
        self.row_counts = parser.row_counts
        self.sheets = [SheetInfo(f"Table {i + 1}", i) for i in range(parser.tables)]
        if not self.sheets:
            raise SourceError(file, "is an HTML page without a table: nothing to read")

    def _feed(self, parser: _TableParser) -> Iterator[list[list[str]]]:
        with self.path.open("rb") as raw:
            fh = io.TextIOWrapper(raw, encoding=self.encoding.codec, newline="")
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                parser.feed(chunk)
                if parser.done:
                    yield parser.done
                    parser.done = []
            parser.close()
            parser._close_row()
            if parser.done:
                yield parser.done
                parser.done = []

    def default_index(self) -> int:
        """The first table with at least two rows (else the first)."""
        for i, n in enumerate(self.row_counts):
            if n >= 2:
                return i
        return 0

    def is_blank(self, index: int) -> bool:
        """True when the table has no rows."""
        return self.row_counts[index] == 0

    def col0(self, index: int) -> int:
        """HTML tables start at the first column."""
        return 0

    def raw_rows(self, index: int) -> Iterator[RawRow]:
        """Yield ``(row, cells, numeric, row)`` for every row of table ``index``."""
        n = 0
        for batch in self._feed(_TableParser(want=index)):
            for cells in batch:
                n += 1
                yield n, cells, _NO_NUMERIC, n

    def close(self) -> None:
        """Nothing is held open between reads."""
