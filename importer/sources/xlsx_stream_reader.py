"""Big .xlsx / .xlsm worksheets read as a stream, so memory stays flat with the sheet.

python-calamine decodes a whole sheet before yielding its first row: measured peak
memory is about 1.9 bytes per byte of worksheet XML with inline strings and 2.7 with
shared strings (Excel's way), so sheets whose XML is bigger than
``SourceOptions.stream_above_bytes`` are parsed here instead, row by row, with the
standard library's expat (entity declarations refused): 3-4.5x slower than calamine
but 4-5x faster than openpyxl's read-only mode, which builds an element and a dict per
cell.  Only the shared-strings table, which cells refer to anywhere in the sheet, is
held in memory (packed as UTF-8).

The output is the calamine path's, cell for cell (``tests/sources/test_xlsx_streaming``
compares them): numbers as float text, dates decided by calamine's number-format rule
(a serial below 1 is a time, a whole serial a date, a timedelta for ``[h]`` formats),
error cells empty, booleans TRUE/FALSE.  Rows are numbered as in Excel, gaps filled with
empty rows up to the last row that has a value; columns are counted from column A (so
``col0`` is 0), which gives the same ``SourceRow``s as calamine's first-used-column
offset.  XML that declares entities is refused, as calamine refuses it.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
import zlib
from array import array
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

from importer.errors import SourceError, UnsafeFileError
from importer.sources.cells import EXACT_INT_LIMIT, column_letter, to_text
from importer.sources.detect import damaged
from importer.sources.layout import RawRow
from importer.sources.model import SheetInfo

__all__ = ["XlsxStream", "number_format_kind"]

_CHUNK = 1 << 16
_NO_NUMERIC: frozenset[int] = frozenset()
_WORKSHEET_REL = "/worksheet"
_CHARTSHEET_REL = "/chartsheet"
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_MAC_OFFSET_DAYS = 1462  # 1904-01-01 minus 1899-12-30
_MS_PER_DAY = 86_400_000

# Number-format kinds (calamine's CellFormat).
OTHER, DATETIME, TIMEDELTA = 0, 1, 2
_BUILTIN_KINDS = {**{i: DATETIME for i in range(14, 23)}, 45: DATETIME, 47: DATETIME, 46: TIMEDELTA}

Handlers = tuple[
    Callable[[str, dict[str, str]], None], Callable[[str], None], Callable[[str], None]
]


def number_format_kind(code: str) -> int:
    """Classify an Excel number format as calamine does: OTHER, DATETIME or TIMEDELTA.

    Only the first section counts; quoted text, escaped characters (``\\``, ``_``,
    ``*``) and bracketed parts (colours, conditions, locales) are skipped; a bracketed
    ``[h]``/``[mm]``/``[ss]`` makes a duration; a date or time letter outside them
    makes a date.
    """
    escaped = quoted = False
    brackets = 0
    prev = " "
    hms = ampm = False
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return OTHER
        elif ch == "[":
            brackets = min(brackets + 1, 255)
        elif ch == "]":
            if brackets == 1 and hms:
                return TIMEDELTA
            brackets = max(brackets - 1, 0)
        elif brackets == 0 and not ampm and ch in "aA":
            ampm = True
        elif brackets == 0 and ch in ("pmPM/" if ampm else "dmhysDMHYS"):
            return DATETIME
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return OTHER


def _serial_value(value: float, kind: int, mac: bool) -> object:
    """The Python value python-calamine gives a date-formatted number."""
    ms = round(value * _MS_PER_DAY)
    if kind == TIMEDELTA:
        return dt.timedelta(milliseconds=ms)
    days = value + _MAC_OFFSET_DAYS if mac else value
    try:
        if value < 1.0:
            # Negative serials too: calamine keeps the time of day of the date before.
            return (_EXCEL_EPOCH + dt.timedelta(milliseconds=ms)).time()
        # Excel's phantom 1900-02-29: serials below 61 are one day off.
        shift = 0 if mac or days >= 60 else _MS_PER_DAY
        moment = _EXCEL_EPOCH + dt.timedelta(milliseconds=round(days * _MS_PER_DAY) + shift)
    except (OverflowError, ValueError):
        return value
    if value == float(int(value)):
        return moment.date()
    return moment


def _iso_value(text: str) -> object:
    try:
        if "T" in text:
            return dt.datetime.fromisoformat(text)
        if ":" in text:
            return dt.time.fromisoformat(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_XML_SPACE = "http://www.w3.org/XML/1998/namespace space"
_XML_WHITESPACE = " \t\r\n"


def _unescape(text: str) -> str:
    """Decode Excel's ``_xHHHH_`` escapes (``_x000D_`` is a carriage return)."""
    if "_x" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


def _run_text(chunks: list[str], preserve: bool) -> str:
    """One ``<t>`` run as calamine reads it: trimmed unless ``xml:space="preserve"``."""
    text = "".join(chunks)
    if not preserve:
        text = text.strip(_XML_WHITESPACE)
    return _unescape(text)


class _Parts:
    """Where things are in the package: sheets, their XML sizes, strings, styles."""

    def __init__(self, zf: zipfile.ZipFile, file: str) -> None:
        self.file = file
        names = {i.filename: i for i in zf.infolist()}
        self.sheet_paths: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.strings_path: str | None = None
        self.styles_path: str | None = None
        self.mac_epoch = False
        self.sheets: list[SheetInfo] = []
        self.external_links = any(n.startswith("xl/externalLinks/") for n in names)
        rels: dict[str, tuple[str, str]] = {}

        def rel_start(name: str, attrs: dict[str, str]) -> None:
            if _local(name) == "Relationship" and "Id" in attrs and "Target" in attrs:
                target = attrs["Target"]
                path = (
                    target.lstrip("/")
                    if target.startswith("/")
                    else posixpath.normpath(posixpath.join("xl", target))
                )
                rels[attrs["Id"]] = (path, attrs.get("Type", ""))

        _parse_member(zf, "xl/_rels/workbook.xml.rels", (rel_start, _ignore, _ignore), file)
        sheets: list[tuple[str, str, str]] = []

        def wb_start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "sheet":
                rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
                sheets.append((attrs.get("name", ""), rid, attrs.get("state", "visible")))
            elif local == "workbookPr":
                self.mac_epoch = attrs.get("date1904", "").lower() in ("1", "true")

        _parse_member(zf, "xl/workbook.xml", (wb_start, _ignore, _ignore), file)
        for index, (name, rid, state) in enumerate(sheets):
            path, typ = rels.get(rid, ("", ""))
            # As calamine lists them: chart, dialog and macro sheets count as hidden.
            hidden = state in ("hidden", "veryHidden") or not typ.endswith(_WORKSHEET_REL)
            kind = (
                "worksheet" if typ.endswith(_WORKSHEET_REL)
                else "chart" if typ.endswith(_CHARTSHEET_REL) else "other"
            )
            self.sheets.append(SheetInfo(name=name, index=index, hidden=hidden, kind=kind))
            if typ.endswith(_WORKSHEET_REL) and path in names:
                self.sheet_paths[name] = path
                self.sizes[name] = names[path].file_size
        for path, typ in rels.values():
            if typ.endswith("/externalLink"):
                self.external_links = True
            elif typ.endswith("/sharedStrings") and path in names:
                self.strings_path = path
            elif typ.endswith("/styles") and path in names:
                self.styles_path = path


def _ignore(_: str) -> None:
    return None


def _refuse_entities(file: str) -> Callable[..., None]:
    def refuse(*_: object) -> None:
        raise UnsafeFileError(file, "the workbook's XML declares entities, which are refused")

    return refuse


def _new_parser(handlers: Handlers, file: str) -> Any:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = _CHUNK
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = handlers
    parser.EntityDeclHandler = _refuse_entities(file)
    return parser


def _feed(src: IO[bytes], parser: Any) -> Iterator[None]:
    """Feed ``src`` to ``parser`` a chunk at a time, pausing after each chunk."""
    while True:
        chunk = src.read(_CHUNK)
        if not chunk:
            parser.Parse(b"", True)
            yield None
            return
        parser.Parse(chunk, False)
        yield None


def _parse_member(zf: zipfile.ZipFile, member: str, handlers: Handlers, file: str) -> None:
    with _open_member(zf, member, file) as src:
        for _ in _feed(src, _new_parser(handlers, file)):
            pass


class _Damaged:
    """Turn low-level read errors into the one "damaged workbook" message."""

    def __init__(self, file: str) -> None:
        self.file = file

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None or isinstance(exc, SourceError):
            return
        if isinstance(
            exc,
            (
                expat.ExpatError,
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                OSError,
                KeyError,
                ValueError,
                IndexError,
            ),
        ):
            raise damaged(self.file, detail=f"{type(exc).__name__}: {str(exc)[:200]}") from None


def _open_member(zf: zipfile.ZipFile, member: str, file: str) -> IO[bytes]:
    try:
        return zf.open(member)
    except KeyError:
        raise damaged(file, detail=f"{member} is missing") from None


class XlsxStream:
    """Rows of the worksheets of one .xlsx/.xlsm file, parsed as a stream."""

    def __init__(self, path: Path, file: str) -> None:
        self.file = file
        self._zf: zipfile.ZipFile | None = None
        with _Damaged(file):
            self._zf = zipfile.ZipFile(path)
            try:
                self._parts = _Parts(self._zf, file)
            except BaseException:
                self.close()
                raise
        self._strings: _StringTable | None = None
        self._kinds: list[int] | None = None

    @property
    def sheets(self) -> list[SheetInfo]:
        """The workbook's sheets in order, hidden ones marked as calamine marks them."""
        return list(self._parts.sheets)

    def xml_size(self, sheet: str) -> int | None:
        """Uncompressed size of a worksheet's XML (None: not a worksheet we can stream)."""
        return self._parts.sizes.get(sheet)

    @property
    def has_external_links(self) -> bool:
        """True when the workbook links to other workbooks (``xl/externalLinks/``)."""
        return self._parts.external_links

    def linked_cells(self, sheet: str) -> tuple[int, list[str]]:
        """How many cells of ``sheet`` show a value cached from another workbook's cell,
        and the first few of them (``B2``...)."""
        member = self._parts.sheet_paths.get(sheet)
        scan = _LinkScan()
        if member is not None:
            with _Damaged(self.file):
                _parse_member(
                    self._zipfile(), member, (scan.start, scan.end, scan.chars), self.file
                )
        return scan.count, scan.first

    def _zipfile(self) -> zipfile.ZipFile:
        assert self._zf is not None, "the workbook is closed"
        return self._zf

    def _shared_strings(self) -> _StringTable:
        if self._strings is None:
            strings = _StringTable()
            if self._parts.strings_path:
                with _Damaged(self.file):
                    self._read_strings(self._parts.strings_path, strings)
            self._strings = strings
        return self._strings

    def _read_strings(self, member: str, strings: _StringTable) -> None:
        parts: list[str] = []
        run: list[str] = []
        text = [False]  # inside a <t> that counts (not a phonetic reading)
        preserve = [False]
        phonetic = [0]

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "t":
                text[0] = not phonetic[0]
                preserve[0] = attrs.get(_XML_SPACE) == "preserve"
                run.clear()
            elif local == "rPh":
                phonetic[0] += 1
            elif local == "si":
                parts.clear()

        def end(name: str) -> None:
            local = _local(name)
            if local == "t":
                if text[0]:
                    parts.append(_run_text(run, preserve[0]))
                text[0] = False
            elif local == "rPh":
                phonetic[0] -= 1
            elif local == "si":
                strings.append("".join(parts))

        def chars(data: str) -> None:
            if text[0]:
                run.append(data)

        _parse_member(self._zipfile(), member, (start, end, chars), self.file)

    def _format_kinds(self) -> list[int]:
        """Number-format kind of every cell style (index = the ``s`` attribute)."""
        if self._kinds is None:
            custom: dict[str, str] = {}
            xf_formats: list[str] = []
            depth = {"cellXfs": 0}

            def start(name: str, attrs: dict[str, str]) -> None:
                local = _local(name)
                if local == "numFmt":
                    custom[attrs.get("numFmtId", "")] = attrs.get("formatCode", "")
                elif local == "cellXfs":
                    depth["cellXfs"] += 1
                elif local == "xf" and depth["cellXfs"]:
                    xf_formats.append(attrs.get("numFmtId", "0"))

            def end(name: str) -> None:
                if _local(name) == "cellXfs":
                    depth["cellXfs"] -= 1

            if self._parts.styles_path:
                with _Damaged(self.file):
                    _parse_member(
                        self._zipfile(), self._parts.styles_path, (start, end, _ignore), self.file
                    )
            kinds = []
            for fmt_id in xf_formats:
                if fmt_id in custom:
                    kinds.append(number_format_kind(custom[fmt_id]))
                else:
                    kinds.append(
                        _BUILTIN_KINDS.get(int(fmt_id), OTHER) if fmt_id.isdigit() else OTHER
                    )
            self._kinds = kinds
        return self._kinds

    def is_blank(self, sheet: str) -> bool:
        """True when the sheet has no cell with a value (stops at the first one)."""
        rows = self.raw_rows(sheet)
        try:
            return next(rows, None) is None
        finally:
            rows.close()

    def raw_rows(self, sheet: str) -> Generator[RawRow, None, None]:
        """Yield ``(row, cells, numeric, row)`` for rows 1 .. the last row with a value."""
        member = self._parts.sheet_paths[sheet]
        strings = self._shared_strings()
        kinds = self._format_kinds()
        reader = _SheetReader(strings, kinds, self._parts.mac_epoch)
        with _Damaged(self.file), _open_member(self._zipfile(), member, self.file) as src:
            parser = _new_parser((reader.start, reader.end, reader.chars), self.file)
            out = reader.out
            emitted = 0
            for _ in _feed(src, parser):
                for row, cells, numeric in out:
                    while emitted < row - 1:
                        # Blank rows between: calamine yields them, and header_row
                        # errors name them, so keep the numbering dense.
                        emitted += 1
                        yield emitted, [], _NO_NUMERIC, emitted
                    emitted = row
                    yield row, cells, numeric, row
                out.clear()

    def close(self) -> None:
        """Release the file."""
        if self._zf is not None:
            self._zf.close()
            self._zf = None


class _StringTable:
    """The shared strings, packed as UTF-8 in one buffer (a quarter of a list of str).

    It is the one part of a workbook that grows with the file while streaming: cells
    refer to it by index, anywhere in the sheet.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q", [0])

    def append(self, text: str) -> None:
        """Add the next string."""
        self._data += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))

    def get(self, index: int) -> str:
        """The string at ``index`` (IndexError when there is none)."""
        ends = self._ends
        return self._data[ends[index]:ends[index + 1]].decode("utf-8", "surrogatepass")

    def __len__(self) -> int:
        return len(self._ends) - 1


class _SheetReader:
    """expat handlers for one worksheet; completed rows collect in ``out``."""

    def __init__(self, strings: _StringTable, kinds: list[int], mac: bool) -> None:
        self.strings = strings
        self.kinds = kinds
        self.mac = mac
        self.out: list[tuple[int, list[str], frozenset[int]]] = []
        self.row = 0
        self.col = -1
        self.cells: list[str] = []
        self.numeric: list[int] = []
        self.text: list[str] = []
        self.runs: list[str] = []  # finished <t> runs of an inline string
        self.preserve = False
        self.collect = False
        self.phonetic = 0
        self.in_inline = False
        self.has_value = False
        self.ctype = "n"
        self.style = 0
        self.col_cache: dict[str, int] = {}
        self.dates: dict[tuple[str, int], tuple[str, bool]] = {}
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        local = self.names.get(name)
        if local is None:
            local = self.names[name] = _local(name)
        return local

    def _column(self, ref: str) -> int:
        letters = ref.rstrip("0123456789")
        col = self.col_cache.get(letters)
        if col is None:
            col = 0
            for ch in letters.upper():
                col = col * 26 + ord(ch) - 64
            col -= 1
            if len(self.col_cache) < 20_000:
                self.col_cache[letters] = col
        return col

    def start(self, name: str, attrs: dict[str, str]) -> None:
        """An element opens."""
        local = self.names.get(name) or self._name(name)
        if local == "c":
            ref = attrs.get("r")
            self.col = self._column(ref) if ref else self.col + 1
            self.ctype = attrs.get("t", "n")
            style = attrs.get("s")
            self.style = int(style) if style else 0
            self.has_value = False
            self.text.clear()
            self.runs.clear()
        elif local == "v":
            self.collect = True
            self.has_value = True
        elif local == "t":
            if self.in_inline and not self.phonetic:
                self.collect = True
                self.has_value = True
                self.preserve = attrs.get(_XML_SPACE) == "preserve"
                self.text.clear()
        elif local == "is":
            self.in_inline = True
        elif local == "rPh":
            self.phonetic += 1
        elif local == "row":
            ref = attrs.get("r")
            self.row = int(ref) if ref else self.row + 1
            self.col = -1
            self.cells = []
            self.numeric = []

    def chars(self, data: str) -> None:
        """Text inside an element."""
        if self.collect:
            self.text.append(data)

    def end(self, name: str) -> None:
        """An element closes."""
        local = self.names.get(name) or self._name(name)
        if local == "v":
            self.collect = False
        elif local == "t":
            if self.collect:
                self.runs.append(_run_text(self.text, self.preserve))
                self.collect = False
        elif local == "c":
            if self.has_value:
                self._cell()
        elif local == "is":
            self.in_inline = False
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "row" and self.cells:
            self.out.append(
                (self.row, self.cells, frozenset(self.numeric) if self.numeric else _NO_NUMERIC)
            )

    def _cell(self) -> None:
        raw = "".join(self.text)
        ctype = self.ctype
        numeric = False
        if ctype == "n":
            if not raw:
                return
            try:
                # Like calamine (Rust's parse), no spaces or digit separators.
                if "_" in raw or raw[0] in _XML_WHITESPACE or raw[-1] in _XML_WHITESPACE:
                    raise ValueError(raw)
                number = float(raw)
            except ValueError:
                number = None
            kinds = self.kinds
            kind = kinds[self.style] if self.style < len(kinds) else OTHER
            if number is None:
                value = raw  # calamine keeps what is not a number as text
            elif kind == OTHER:
                if number.is_integer() and -EXACT_INT_LIMIT < number < EXACT_INT_LIMIT:
                    value = str(int(number))
                else:
                    value = repr(number)
                numeric = True
            else:
                key = (raw, kind)
                shown = self.dates.get(key)
                if shown is None:
                    # Lead lists repeat a few dates many times: convert each once.
                    shown = to_text(_serial_value(number, kind, self.mac))
                    if len(self.dates) < 50_000:
                        self.dates[key] = shown
                value, numeric = shown
        elif ctype == "s":
            if not raw.isdigit():
                return
            value = self.strings.get(int(raw))  # IndexError: damaged, as calamine says
        elif ctype == "b":
            value = "FALSE" if raw == "0" else "TRUE"
        elif ctype == "e":
            value = ""
        elif ctype == "d":
            value, numeric = to_text(_iso_value(raw))
        elif ctype == "inlineStr":
            value = "".join(self.runs)
        else:  # "str": a formula's text
            value = _unescape(raw)
        col = self.col
        cells = self.cells
        if col >= len(cells):
            if col > len(cells):
                cells.extend([""] * (col - len(cells)))
            cells.append(value)
        else:
            cells[col] = value
        if numeric:
            self.numeric.append(col)


# A reference into another workbook, as Excel stores it ([1]Sheet1!A1, [1]!Name) or as
# typed ('C:\dir\[prices.xlsx]Sheet1'!A1).  Sheet names cannot hold brackets, so any
# bracket in a quoted sheet reference names a workbook.  A table's column (Table1[Price],
# [@Price]) is not one: a name character before the bracket, or no sheet name and "!"
# after it.
_EXTERNAL_REF = re.compile(
    r"'(?:[^']|'')*\[[^\[\]]+\](?:[^']|'')*'!"
    r"|(?<![\w.\]])\[[^\[\]]+\][\w.]*!"
)
_FORMULA_STRING = re.compile(r'"(?:[^"]|"")*"')
_FIRST_LINKED = 5


def is_external_formula(formula: str) -> bool:
    """True when a formula refers to a cell or name of another workbook."""
    return _EXTERNAL_REF.search(_FORMULA_STRING.sub('""', formula)) is not None


class _LinkScan:
    """expat handlers counting the cells whose formula reads another workbook and that
    hold a cached value (what every reader imports in place of the formula)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []
        self.row = 0
        self.col = -1
        self.ctype = "n"
        self.linked = False
        self.shared: dict[str, bool] = {}  # shared formula group -> reads another workbook
        self.f_attrs: dict[str, str] = {}
        self.text: list[str] = []
        self.collect = False
        self.value = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        """An element opens."""
        local = _local(name)
        if local == "c":
            ref = attrs.get("r")
            self.col = _column_index(ref) if ref else self.col + 1
            self.ctype = attrs.get("t", "n")
            self.linked = self.value = False
        elif local == "f":
            self.f_attrs = attrs
            self.text, self.collect = [], True
        elif local == "v":
            self.text, self.collect = [], True
        elif local == "row":
            ref = attrs.get("r")
            self.row = int(ref) if ref else self.row + 1
            self.col = -1

    def chars(self, data: str) -> None:
        """Text inside an element."""
        if self.collect:
            self.text.append(data)

    def end(self, name: str) -> None:
        """An element closes."""
        local = _local(name)
        if local == "f":
            self.collect = False
            self.linked = self._formula_links("".join(self.text))
        elif local == "v":
            self.collect = False
            self.value = bool("".join(self.text)) and self.ctype != "e"
        elif local == "c" and self.linked and self.value:
            self.count += 1
            if len(self.first) < _FIRST_LINKED:
                self.first.append(f"{column_letter(self.col)}{self.row}")

    def _formula_links(self, formula: str) -> bool:
        group = self.f_attrs.get("si") if self.f_attrs.get("t") == "shared" else None
        if group is None:
            return is_external_formula(formula)
        if formula:  # the group's first cell holds the formula the others share
            self.shared[group] = is_external_formula(formula)
        return self.shared.get(group, False)


def _column_index(ref: str) -> int:
    col = 0
    for ch in ref.rstrip("0123456789").upper():
        col = col * 26 + ord(ch) - 64
    return col - 1
