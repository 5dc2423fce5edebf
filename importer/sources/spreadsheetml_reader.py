"""Excel 2003 XML ("SpreadsheetML") files, often saved as ".xls" by web CRMs.

Parsed as a stream with defusedxml (DTDs and entity declarations are refused, so a
"billion laughs" file cannot expand).  ``ss:Index`` on rows and cells skips the
positions Excel left out; ``ss:Type="Number"`` cells are marked numeric and shown
like calamine's numbers; ``DateTime`` becomes ISO-8601; a hidden worksheet has
``<Visible>SheetHidden</Visible>`` in its ``WorksheetOptions``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from importer.errors import SourceError, UnsafeFileError
from importer.sources.cells import format_number, to_text
from importer.sources.detect import damaged
from importer.sources.layout import RawRow
from importer.sources.model import SheetInfo

__all__ = ["SpreadsheetMLTables"]

_SS = "{urn:schemas-microsoft-com:office:spreadsheet}"
_X = "{urn:schemas-microsoft-com:office:excel}"
_WORKSHEET = _SS + "Worksheet"
_ROW = _SS + "Row"
_CELL = _SS + "Cell"
_DATA = _SS + "Data"
_TABLE = _SS + "Table"
_INDEX = _SS + "Index"
_NAME = _SS + "Name"
_TYPE = _SS + "Type"
_MERGE_ACROSS = _SS + "MergeAcross"
_NO_NUMERIC: frozenset[int] = frozenset()


def _cell_value(kind: str, text: str) -> tuple[str, bool]:
    if kind == "Number":
        try:
            return format_number(float(text)), True
        except ValueError:
            return text, False
    if kind == "DateTime":
        try:
            return to_text(dt.datetime.fromisoformat(text.strip()))
        except ValueError:
            return text, False
    if kind == "Boolean":
        return ("TRUE" if text.strip() in ("1", "true", "TRUE") else "FALSE"), False
    return text, False


class SpreadsheetMLTables:
    """The worksheets of one SpreadsheetML 2003 file."""

    format = "spreadsheetml"

    def __init__(self, path: Path, file: str) -> None:
        self.path = path
        self.file = file
        self.sheets: list[SheetInfo] = []
        self._rows: list[int] = []
        name: str | None = None
        rows = 0
        hidden = False
        in_options = False
        for event, elem in self._events(("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == _WORKSHEET:
                    name, rows, hidden = elem.get(_NAME) or f"Sheet{len(self.sheets) + 1}", 0, False
                elif tag == _X + "WorksheetOptions":
                    in_options = True
                continue
            if tag == _ROW:
                rows += 1
                elem.clear()
            elif tag == _X + "Visible" and in_options:
                hidden = (elem.text or "").strip() in ("SheetHidden", "SheetVeryHidden")
            elif tag == _X + "WorksheetOptions":
                in_options = False
            elif tag == _WORKSHEET:
                self.sheets.append(SheetInfo(name or "", len(self.sheets), hidden))
                self._rows.append(rows)
                elem.clear()
        if not self.sheets:
            raise SourceError(file, "is an Excel 2003 XML file without any worksheet")

    def _events(self, events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        try:
            yield from safe_et.iterparse(
                str(self.path), events=events, forbid_dtd=True, forbid_entities=True,
                forbid_external=True,
            )
        except DefusedXmlException as exc:
            raise UnsafeFileError(
                self.file,
                f"the XML declares a DTD or entities, which are refused for safety ({exc})",
            ) from None
        except ParseError as exc:
            raise damaged(self.file, "Excel 2003 XML file", str(exc)) from None

    def is_blank(self, index: int) -> bool:
        """True when the worksheet has no rows."""
        return self._rows[index] == 0

    def col0(self, index: int) -> int:
        """Worksheets start at the first column."""
        return 0

    def raw_rows(self, index: int) -> Iterator[RawRow]:
        """Yield ``(row, cells, numeric, row)`` for the rows of worksheet ``index``."""
        sheet = -1
        row = 0
        table: Any = None
        for event, elem in self._events(("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == _WORKSHEET:
                    sheet += 1
                    row = 0
                elif tag == _TABLE and sheet == index:
                    table = elem
                continue
            if tag == _WORKSHEET and sheet == index:
                return
            if tag != _ROW or sheet != index:
                if tag == _WORKSHEET:
                    elem.clear()
                continue
            at = elem.get(_INDEX)
            row = int(at) if at and at.isdigit() else row + 1
            cells: list[str] = []
            nums: list[int] = []
            for cell in elem.iter(_CELL):
                at = cell.get(_INDEX)
                if at and at.isdigit():
                    cells.extend([""] * max(0, int(at) - 1 - len(cells)))
                data = cell.find(_DATA)
                text, numeric = ("", False)
                if data is not None:
                    kind = data.get(_TYPE) or "String"
                    text, numeric = _cell_value(kind, "".join(data.itertext()))
                if numeric:
                    nums.append(len(cells))
                cells.append(text)
                across = cell.get(_MERGE_ACROSS)
                if across and across.isdigit():
                    cells.extend([""] * min(int(across), 1000))
            # Drop the finished row from the tree so memory stays flat.
            if table is not None and len(table) and table[-1] is elem:
                del table[-1]
            else:
                elem.clear()
            yield row, cells, frozenset(nums) if nums else _NO_NUMERIC, row

    def close(self) -> None:
        """Nothing is held open between reads."""
