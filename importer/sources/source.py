"""Open a file of leads whatever its format: ``open_source`` / ``open_sources``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Protocol

from importer.errors import EmptySourceError, SourceError
from importer.sources.detect import detect_format
from importer.sources.encoding import detect_text_encoding
from importer.sources.layout import Layout, RawRow, check_header_row, detect_layout, shape_rows
from importer.sources.model import SheetInfo, SheetScan, SourceInfo, SourceOptions, SourceRow
from importer.sources.sheet_scan import (
    MAX_COMPARED,
    Sample,
    choice_note,
    scan_sheet,
    take_sample,
    unscanned,
)
from importer.sources.text_reader import TextTable

__all__ = ["Source", "open_source", "open_sources", "scan_sheets"]

_WORKBOOK_FORMATS = {"xlsx", "xlsm", "xlsb", "xls", "ods"}
# Where sheet: auto compares the sheets' phone numbers; an HTML page keeps its first table
# with two rows (a page may hold hundreds of layout tables, each a re-read of the page).
_PHONE_CHOICE_FORMATS = _WORKBOOK_FORMATS | {"spreadsheetml"}


class _Tables(Protocol):
    format: str
    sheets: list[SheetInfo]

    def is_blank(self, index: int) -> bool: ...
    def col0(self, index: int) -> int: ...
    def raw_rows(self, index: int) -> Iterator[RawRow]: ...
    def close(self) -> None: ...


class _TextTables:
    """A text file seen as a workbook with one unnamed sheet."""

    def __init__(self, table: TextTable) -> None:
        self.table = table
        self.format = "tsv" if table.delimiter == "\t" else "csv"
        self.sheets: list[SheetInfo] = []

    def is_blank(self, index: int) -> bool:
        return False

    def col0(self, index: int) -> int:
        return 0

    def raw_rows(self, index: int) -> Iterator[RawRow]:
        return self.table.raw_rows()

    def close(self) -> None:
        pass


class _Shared:
    """Closes a workbook when the last sheet read from it is closed."""

    def __init__(self, tables: _Tables) -> None:
        self.tables = tables
        self.users = 1          # the opener holds one reference until it is done

    def acquire(self) -> None:
        self.users += 1

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.tables.close()


class Source:
    """One sheet of one file, detected and ready to stream its rows."""

    def __init__(self, shared: _Shared, info: SourceInfo, layout: Layout, index: int) -> None:
        self.info = info
        self._shared = shared
        self._tables = shared.tables
        self._layout = layout
        self._index = index
        self._closed = False

    def rows(self, *, blank_rows: bool = False) -> Iterator[SourceRow]:
        """Stream the data rows in file order (each call starts from the top).

        With ``blank_rows`` the blank rows inside the data come too (all cells empty),
        so that every row from the header to the last data row is yielded once.
        """
        sheet = self.info.sheet
        return shape_rows(
            self._tables.raw_rows(self._index),
            self._layout,
            file=self.info.name,
            sheet=sheet,
            col0=self._tables.col0(self._index),
            report_missing=self.info.format in ("csv", "tsv"),
            blank_rows=blank_rows,
        )

    def text_layout(self) -> tuple[TextTable, Layout] | None:
        """A text file and its layout, for a reader that parses its bytes itself (the
        columnar engine); None for workbooks."""
        tables = self._tables
        if isinstance(tables, _TextTables):
            return tables.table, self._layout
        return None

    def close(self) -> None:
        """Release the file (a workbook is closed with its last open sheet)."""
        if not self._closed:
            self._closed = True
            self._shared.release()

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _open_tables(path: Path, file: str, options: SourceOptions) -> tuple[_Tables, SourceInfo]:
    fmt = detect_format(path, file, options)
    info = SourceInfo(path=path, format=fmt, name=file)
    if fmt == "text":
        encoding = detect_text_encoding(path, file, options.encoding)
        table = TextTable(path, file, encoding, _delimiter(options.delimiter, file))
        text_tables = _TextTables(table)
        info.format = text_tables.format
        info.encoding = encoding.name
        info.encoding_reason = encoding.reason
        info.delimiter = table.delimiter
        info.delimiter_reason = table.delimiter_reason
        return text_tables, info
    if fmt in _WORKBOOK_FORMATS:
        from importer.sources.workbook_reader import CalamineTables

        tables: _Tables = CalamineTables(path, file, fmt, options.stream_above_bytes)
    elif fmt == "html":
        from importer.sources.html_reader import HtmlTables

        html = HtmlTables(path, file, options.encoding)
        info.encoding = html.encoding.name
        info.encoding_reason = html.encoding.reason
        tables = html
    elif fmt == "spreadsheetml":
        from importer.sources.spreadsheetml_reader import SpreadsheetMLTables

        tables = SpreadsheetMLTables(path, file)
    else:  # pragma: no cover - detect_format returns only the formats above
        raise SourceError(file, f"unsupported format {fmt}")
    info.sheets = list(tables.sheets)
    return tables, info


def _delimiter(value: str | None, file: str) -> str | None:
    if value is None or value.lower() in ("", "auto"):
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(value.lower(), value)
    if len(value) != 1:
        raise SourceError(file, f"delimiter must be one character (or tab), got {value!r}")
    return value


def _find_sheet(tables: _Tables, info: SourceInfo, wanted: str | int, file: str) -> int:
    sheets = tables.sheets
    if isinstance(wanted, int):
        if 0 <= wanted < len(sheets):
            return wanted
        raise SourceError(
            file, f"has no sheet number {wanted} (sheets are numbered from 0): {_names(sheets)}"
        )
    for sheet in sheets:
        if sheet.name == wanted:
            return sheet.index
    for sheet in sheets:
        if sheet.name.strip().casefold() == wanted.strip().casefold():
            return sheet.index
    if wanted.strip().isdigit() and int(wanted) < len(sheets):
        return int(wanted)
    raise SourceError(file, f"has no sheet named {wanted!r}; its sheets: {_names(sheets)}")


def _names(sheets: list[SheetInfo]) -> str:
    return ", ".join(f"{s.name!r}{_marker(s)}" for s in sheets) or "none"


def _marker(sheet: SheetInfo) -> str:
    if sheet.kind == "chart":
        return " (chart)"
    if sheet.kind != "worksheet":
        return " (not a table)"
    return " (hidden)" if sheet.hidden else ""


def _default_sheets(tables: _Tables, info: SourceInfo) -> list[int]:
    visible = [s.index for s in tables.sheets if not s.hidden]
    preferred = getattr(tables, "default_index", None)
    if callable(preferred):
        first = preferred()
        visible = [first] + [i for i in visible if i != first]
    return visible


def _note_skipped(tables: _Tables, info: SourceInfo) -> None:
    """Say which sheets are never read unless chosen: hidden ones, charts."""
    hidden = [s.name for s in tables.sheets if s.hidden and s.kind == "worksheet"]
    if hidden:
        info.warnings.append(f"hidden sheet(s) skipped: {', '.join(map(repr, hidden))}")
    for kind, what in (("chart", "chart sheet(s)"), ("other", "sheet(s) without a table")):
        names = [s.name for s in tables.sheets if s.kind == kind]
        if names:
            info.warnings.append(f"{what} skipped: {', '.join(map(repr, names))}")


def _sample(tables: _Tables, index: int) -> Sample:
    # col0 after raw_rows: the rows are produced lazily, so each sheet is decoded once.
    return take_sample(tables.raw_rows(index), tables.col0(index))


def _scan(tables: _Tables, info: SourceInfo, options: SourceOptions, index: int) -> SheetScan:
    """The phone-likeness of one sheet, from its first rows."""
    return scan_sheet(
        _sample(tables, index), tables.sheets[index], path=info.path, fmt=info.format,
        header_row=options.header_row, name=info.name,
    )


def scan_sheets(path: Path | str, options: SourceOptions | None = None) -> list[SheetScan]:
    """How phone-like each sheet of a workbook is (hidden ones too); [] for text and HTML."""
    options = options or SourceOptions()
    path = Path(path)
    tables, info = _open_tables(path, options.name or path.name, options)
    try:
        if info.format not in _PHONE_CHOICE_FORMATS:
            return []
        return [
            _scan(tables, info, options, s.index) if s.kind == "worksheet" else unscanned(s)
            for s in tables.sheets
        ]
    finally:
        tables.close()


def _build(shared: _Shared, info: SourceInfo, index: int | None, options: SourceOptions) -> Source:
    tables = shared.tables
    file = info.name
    sheet_name = None
    warnings = list(info.warnings)
    if index is not None:
        sheet_name = tables.sheets[index].name
        if tables.sheets[index].hidden:
            warnings.append(f"reading hidden sheet {sheet_name!r} because it was chosen")
    notes = getattr(tables, "sheet_notes", None)
    if callable(notes):
        warnings.extend(notes(index or 0))
    raw = tables.raw_rows(index or 0)
    try:
        layout = detect_layout(
            raw,
            file=file,
            sheet=sheet_name,
            header_row=options.header_row,
            col0=tables.col0(index or 0),
        )
    finally:
        close = getattr(raw, "close", None)
        if close is not None:
            close()
    sheet_info = SourceInfo(
        path=info.path,
        format=info.format,
        encoding=info.encoding,
        encoding_reason=info.encoding_reason,
        delimiter=info.delimiter,
        delimiter_reason=info.delimiter_reason,
        sheet=sheet_name,
        sheets=list(info.sheets),
        header_row=layout.header_row,
        columns=list(layout.columns),
        warnings=warnings + layout.warnings,
        sheet_scan=list(info.sheet_scan),
        header_cells=list(layout.header_cells),
        name=info.name,
    )
    shared.acquire()
    return Source(shared, sheet_info, layout, index or 0)


def _choose(tables: _Tables, info: SourceInfo, options: SourceOptions) -> list[int | None]:
    file = info.name
    if not tables.sheets:
        return [None]
    if options.sheet is not None and not options.all_sheets:
        return [_find_sheet(tables, info, options.sheet, file)]
    candidates = _default_sheets(tables, info)
    _note_skipped(tables, info)
    if not candidates:
        raise EmptySourceError(file, f"has no visible sheet (hidden: {_names(tables.sheets)})")
    if len(candidates) > 1 and not options.all_sheets and info.format in _PHONE_CHOICE_FORMATS:
        return [_choose_by_phones(tables, info, options, candidates)]
    non_blank = [i for i in candidates if not tables.is_blank(i)]
    if not non_blank:
        raise EmptySourceError(file, "is empty: every visible sheet is blank")
    if options.all_sheets:
        return list(non_blank)
    _note_unread(tables, info, candidates, non_blank, non_blank[0])
    return [non_blank[0]]


def _choose_by_phones(
    tables: _Tables, info: SourceInfo, options: SourceOptions, candidates: list[int]
) -> int:
    """``sheet: auto`` among several visible sheets: the one holding phone numbers."""
    # A workbook keeps the best sheet so far decoded (``keep``), so the sheet read is
    # decoded once; at most two sheets are in memory while they are compared.
    keep = getattr(tables, "keep", None)
    scans: dict[int, SheetScan] = {}
    blank: list[int] = []
    best: int | None = None
    for index in candidates:
        if len(scans) >= MAX_COMPARED:
            # Each costs a read of its first rows (an Excel 2003 XML sheet, a re-read of
            # the file up to it): a file of endless sheets must not make that endless.
            continue
        if tables.is_blank(index):
            blank.append(index)
            continue
        scans[index] = scan = _scan(tables, info, options, index)
        if best is None or scan.phones > scans[best].phones:
            best = index
            if callable(keep):
                keep(index)
    if best is None:
        raise EmptySourceError(info.name, "is empty: every visible sheet is blank")
    if callable(keep):
        keep(best)  # and let the last sheet looked at go
    non_blank = [i for i in candidates if i not in blank]
    if len(non_blank) > 1:
        info.sheet_scan = [
            scans.get(s.index)
            or (SheetScan(s.name, problem="blank") if s.index in blank else unscanned(s))
            for s in tables.sheets
        ]
        compared = [i for i in non_blank if i in scans]
        info.warnings.append(choice_note([scans[i] for i in compared], compared.index(best)))
    _note_unread(tables, info, candidates, non_blank, best)
    return best


def _note_unread(
    tables: _Tables, info: SourceInfo, candidates: list[int], non_blank: list[int], chosen: int
) -> None:
    blank = [tables.sheets[i].name for i in candidates if i not in non_blank]
    if blank:
        info.warnings.append(
            f"sheet(s) {', '.join(map(repr, blank))} are blank; reading "
            f"{tables.sheets[chosen].name!r}"
        )
    others = [tables.sheets[i].name for i in non_blank if i != chosen]
    if others:
        info.warnings.append(
            f"other sheet(s) not read: {', '.join(map(repr, others))} (choose with sheet, or "
            "read all sheets)"
        )


def open_source(path: Path | str, options: SourceOptions | None = None) -> Source:
    """Detect format, encoding, sheet and header of ``path`` and return a ``Source``."""
    options = options or SourceOptions()
    if options.all_sheets:
        options = _without_all_sheets(options)
    path = Path(path)
    check_header_row(options.header_row, options.name or path.name)
    tables, info = _open_tables(path, options.name or path.name, options)
    shared = _Shared(tables)
    try:
        (index,) = _choose(tables, info, options)
        return _build(shared, info, index, options)
    finally:
        shared.release()


def _without_all_sheets(options: SourceOptions) -> SourceOptions:
    from dataclasses import replace

    return replace(options, all_sheets=False)


def open_sources(path: Path | str, options: SourceOptions | None = None) -> Iterator[Source]:
    """One ``Source`` per sheet when ``options.all_sheets``, else the chosen one."""
    options = options or SourceOptions()
    if not options.all_sheets:
        yield open_source(path, options)
        return
    path = Path(path)
    check_header_row(options.header_row, options.name or path.name)
    tables, info = _open_tables(path, options.name or path.name, options)
    shared = _Shared(tables)
    try:
        indexes = _choose(tables, info, options)
        last: Source | None = None
        first_empty: EmptySourceError | None = None
        skipped: list[str] = []
        for index in indexes:
            # Sheets share one workbook; it is closed when the last Source is closed.
            try:
                source = _build(shared, info, index, options)
            except EmptySourceError as exc:
                if len(indexes) == 1:
                    raise
                # A notes sheet with no leads must not stop the others: skip it, say so
                # (on the sheet read before it, or else on the next one read).
                note = f"sheet {exc.sheet!r} skipped: {exc.message}"
                if last is not None:
                    last.info.warnings.append(note)
                else:
                    skipped.append(note)
                first_empty = first_empty or exc
                continue
            source.info.warnings.extend(skipped)
            skipped = []
            last = source
            yield source
        if last is None and first_empty is not None:
            raise first_empty
    finally:
        shared.release()
