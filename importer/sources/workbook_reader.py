"""Excel and OpenDocument workbooks (xlsx, xlsm, xlsb, xls, ods) through python-calamine.

Verified with python-calamine 0.9: ``from_path`` picks the parser by the file's
extension (an .xlsx named .xls fails), ``from_filelike`` sniffs the content, so we use
the latter.  ``iter_rows`` yields rows from the sheet's first row (leading blank rows
included, so the row index is the Excel row) but columns from the first used column
(``sheet.start``).  Numbers come back as float (xls: int for whole numbers), dates at
midnight as ``date``, error cells (#N/A) as "".  A sheet is decoded in full when first
opened (memory grows with the sheet, ~1.5 KB per row of 8 cells); rows are converted to
text lazily.  So .xlsx/.xlsm worksheets whose XML is bigger than ``stream_above_bytes``
are read by ``xlsx_stream_reader`` instead, with flat memory and the same rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import python_calamine as pc

from importer.errors import EncryptedFileError, SourceError, UnsafeFileError
from importer.sources.cells import EXACT_INT_LIMIT as _EXACT_INT_LIMIT
from importer.sources.cells import to_text
from importer.sources.detect import ENCRYPTED, damaged
from importer.sources.layout import RawRow
from importer.sources.model import SheetInfo
from importer.sources.xlsx_stream_reader import XlsxStream

__all__ = ["CalamineTables"]

_NO_NUMERIC: frozenset[int] = frozenset()
_WORKSHEET_TYPES = {"WorkSheet"}
_KINDS = {"ChartSheet": "chart"}
_STREAMABLE = {"xlsx", "xlsm"}


def _calamine_error(file: str, exc: Exception, sheet: str | None = None) -> SourceError:
    if isinstance(exc, pc.PasswordError):
        return EncryptedFileError(file, ENCRYPTED)
    text = str(exc)
    if isinstance(exc, pc.XmlError) and ("entity" in text.lower() or "dtd" in text.lower()):
        return UnsafeFileError(
            file, f"the workbook's XML declares entities, which are refused ({text})"
        )
    return damaged(file, detail=f"{type(exc).__name__}: {text[:200]}")


class CalamineTables:
    """The sheets of one workbook."""

    def __init__(
        self, path: Path, file: str, fmt: str, stream_above_bytes: int | None = None
    ) -> None:
        self.file = file
        self.format = fmt
        self._path = path
        self._stream: XlsxStream | None = None
        self._streamed: dict[int, int] = {}  # sheet index -> XML bytes, read streaming
        self._links: XlsxStream | None = None  # set when the workbook links to others
        self._fh: IO[bytes] | None = None
        self._wb: pc.CalamineWorkbook | None = None
        self._closed = False
        self._loaded: dict[int, Any] = {}
        self._kept: int | None = None
        if fmt in _STREAMABLE:
            self._plan_streaming(stream_above_bytes)
        if self._stream is not None:
            # calamine would load the whole file (and its strings) just to list the
            # sheets: it is opened later only if a small sheet is read.
            self.sheets: list[SheetInfo] = self._stream.sheets
            return
        metadata = self._workbook().sheets_metadata
        self.sheets = []
        for i, m in enumerate(metadata):
            typ = str(m.typ).rsplit(".", 1)[-1]
            kind = "worksheet" if typ in _WORKSHEET_TYPES else _KINDS.get(typ, "other")
            hidden = m.visible != pc.SheetVisibleEnum.Visible or kind != "worksheet"
            self.sheets.append(SheetInfo(name=m.name, index=i, hidden=hidden, kind=kind))

    def _workbook(self) -> pc.CalamineWorkbook:
        assert not self._closed, "the workbook is closed"
        if self._wb is None:
            self._fh = self._path.open("rb")
            try:
                self._wb = pc.CalamineWorkbook.from_filelike(self._fh)
                self._wb.sheets_metadata  # noqa: B018 - surfaces a broken workbook now
            except pc.CalamineError as exc:
                self.close()
                raise _calamine_error(self.file, exc) from None
            except Exception as exc:  # calamine raises bare errors for some broken files
                self.close()
                raise damaged(self.file, detail=f"{type(exc).__name__}: {str(exc)[:200]}") from None
        return self._wb

    def _plan_streaming(self, above: int | None) -> None:
        try:
            stream = XlsxStream(self._path, self.file)
        except SourceError:
            # A package layout we cannot follow stays on calamine.
            return
        for sheet in stream.sheets:
            size = stream.xml_size(sheet.name)
            if size is not None and above is not None and (above <= 0 or size > above):
                self._streamed[sheet.index] = size
        if self._streamed:
            self._stream = stream
        if stream.has_external_links:
            self._links = stream
        elif not self._streamed:
            stream.close()

    def sheet_notes(self, index: int) -> list[str]:
        """Notes for ``SourceInfo.warnings`` about how a sheet is read."""
        notes = []
        size = self._streamed.get(index)
        if size is not None:
            notes.append(
                f"large sheet ({size / 2**20:,.1f} MiB of XML): read in streaming mode to "
                "keep memory flat"
            )
        linked = self._linked_note(index)
        if linked:
            notes.append(linked)
        return notes

    def _linked_note(self, index: int) -> str | None:
        """Say which cells hold values copied from another workbook, which no reader can
        refresh: they are what Excel last saw there."""
        if self._links is None:
            return None
        count, first = self._links.linked_cells(self.sheets[index].name)
        if not count:
            return None
        more = ", ..." if count > len(first) else ""
        cells = f"{count} cells ({', '.join(first)}{more}) show values"
        copies = "they are copies"
        if count == 1:
            cells, copies = f"1 cell ({first[0]}) shows a value", "it is a copy"
        return (
            f"{cells} linked from another workbook: {copies} saved in this file when it was "
            "last updated, and may be out of date. For current values, open the file in "
            "Excel, update the links (Data > Edit Links > Update Values) and save it before "
            "importing it."
        )

    def keep(self, index: int) -> None:
        """Keep sheet ``index`` decoded while others are looked at (sheet: auto's best yet)."""
        self._kept = index
        self._loaded = {i: s for i, s in self._loaded.items() if i == index}

    def _sheet(self, index: int) -> Any:
        if index not in self._loaded:
            wb = self._workbook()
            try:
                # One decoded sheet at a time (plus the kept one): memory grows with a sheet.
                self._loaded = {i: s for i, s in self._loaded.items() if i == self._kept}
                self._loaded[index] = wb.get_sheet_by_index(index)
            except pc.CalamineError as exc:
                raise _calamine_error(self.file, exc, self.sheets[index].name) from None
            except Exception as exc:
                raise damaged(self.file, detail=f"{type(exc).__name__}: {exc}") from None
        return self._loaded[index]

    def is_blank(self, index: int) -> bool:
        """True when the sheet has no cells at all."""
        if self._stream is not None and index in self._streamed:
            return self._stream.is_blank(self.sheets[index].name)
        return self._sheet(index).start is None

    def col0(self, index: int) -> int:
        """Absolute index of the first column ``raw_rows`` returns."""
        if index in self._streamed:
            return 0
        start = self._sheet(index).start
        return int(start[1]) if start else 0

    def raw_rows(self, index: int) -> Iterator[RawRow]:
        """Yield ``(row, cells, numeric, row)`` for every row, as text."""
        if self._stream is not None and index in self._streamed:
            self._loaded = {i: s for i, s in self._loaded.items() if i == self._kept}
            return self._stream.raw_rows(self.sheets[index].name)
        return self._calamine_rows(index)

    def _calamine_rows(self, index: int) -> Iterator[RawRow]:
        sheet = self._sheet(index)
        limit = _EXACT_INT_LIMIT
        n = 0
        # Hot loop (one pass per cell): calamine hands us a fresh list per row, so the
        # non-text cells are replaced in place.
        for values in sheet.iter_rows():
            n += 1
            nums: list[int] | None = None
            for i, v in enumerate(values):
                cls = v.__class__
                if cls is str:
                    continue
                if cls is float:
                    values[i] = str(int(v)) if v.is_integer() and -limit < v < limit else repr(v)
                else:
                    text, is_number = to_text(v)
                    values[i] = text
                    if not is_number:
                        continue
                if nums is None:
                    nums = [i]
                else:
                    nums.append(i)
            yield n, values, frozenset(nums) if nums else _NO_NUMERIC, n

    def close(self) -> None:
        """Release the workbook and its file."""
        self._closed = True
        self._loaded = {}
        for stream in (self._stream, self._links):
            if stream is not None:
                stream.close()
        self._stream = self._links = None
        wb = getattr(self, "_wb", None)
        if wb is not None:
            with contextlib.suppress(pc.CalamineError):
                wb.close()
            self._wb = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None
