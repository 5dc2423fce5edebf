"""Excel and OpenDocument workbooks (xlsx, xlsm, xlsb, xls, ods) through python-calamine.

Verified with python-calamine 0.9: ``from_path`` picks the parser by the file's
extension (an .xlsx named .xls fails), ``from_filelike`` sniffs the content, so we use
the latter.  ``iter_rows`` yields rows from the sheet's first row (leading blank rows
included, so the row index is the Excel row) but columns from the first used column
(``sheet.start``).  Numbers come back as float (xls: int for whole numbers), dates at
midnight as ``date``, error cells (#N/A) as "".  A sheet is decoded in full when first
opened (memory grows with the sheet, ~1.5 KB per row of 8 cells); rows are converted to
text lazily.
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
from importer.sources.detect import ENCRYPTED_ADVICE, damaged
from importer.sources.layout import RawRow
from importer.sources.model import SheetInfo

__all__ = ["CalamineTables"]

_NO_NUMERIC: frozenset[int] = frozenset()
_WORKSHEET_TYPES = {"WorkSheet"}


def _calamine_error(file: str, exc: Exception, sheet: str | None = None) -> SourceError:
    if isinstance(exc, pc.PasswordError):
        return EncryptedFileError(file, ENCRYPTED_ADVICE)
    text = str(exc)
    if isinstance(exc, pc.XmlError) and ("entity" in text.lower() or "dtd" in text.lower()):
        return UnsafeFileError(
            file, f"the workbook's XML declares entities, which are refused ({text})"
        )
    return damaged(file, detail=f"{type(exc).__name__}: {text[:200]}")


class CalamineTables:
    """The sheets of one workbook."""

    def __init__(self, path: Path, file: str, fmt: str) -> None:
        self.file = file
        self.format = fmt
        self._fh: IO[bytes] | None = path.open("rb")
        try:
            wb = pc.CalamineWorkbook.from_filelike(self._fh)
            self._wb: pc.CalamineWorkbook | None = wb
            metadata = wb.sheets_metadata
        except pc.CalamineError as exc:
            self.close()
            raise _calamine_error(file, exc) from None
        except Exception as exc:  # calamine raises bare errors for some broken files
            self.close()
            raise damaged(file, detail=f"{type(exc).__name__}: {str(exc)[:200]}") from None
        self.sheets = [
            SheetInfo(
                name=m.name,
                index=i,
                hidden=m.visible != pc.SheetVisibleEnum.Visible
                or str(m.typ).rsplit(".", 1)[-1] not in _WORKSHEET_TYPES,
            )
            for i, m in enumerate(metadata)
        ]
        self._loaded: dict[int, Any] = {}

    def _sheet(self, index: int) -> Any:
        if index not in self._loaded:
            try:
                assert self._wb is not None, "the workbook is closed"
                self._loaded = {index: self._wb.get_sheet_by_index(index)}
            except pc.CalamineError as exc:
                raise _calamine_error(self.file, exc, self.sheets[index].name) from None
            except Exception as exc:
                raise damaged(self.file, detail=f"{type(exc).__name__}: {exc}") from None
        return self._loaded[index]

    def is_blank(self, index: int) -> bool:
        """True when the sheet has no cells at all."""
        return self._sheet(index).start is None

    def col0(self, index: int) -> int:
        """Absolute index of the first column calamine returns."""
        start = self._sheet(index).start
        return int(start[1]) if start else 0

    def raw_rows(self, index: int) -> Iterator[RawRow]:
        """Yield ``(row, cells, numeric, row)`` for every row, as text."""
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
        self._loaded = {}
        wb = getattr(self, "_wb", None)
        if wb is not None:
            with contextlib.suppress(pc.CalamineError):
                wb.close()
            self._wb = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None
