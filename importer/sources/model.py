"""What every reader yields: rows of text with their provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SheetInfo", "SheetScan", "SourceInfo", "SourceOptions", "SourceRow"]


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to read a file; ``None``/"auto" means detect."""

    encoding: str | None = None          # e.g. "cp1255"; None = detect
    delimiter: str | None = None         # None = sniff
    sheet: str | int | None = None       # name or 0-based index; None = auto (phones decide)
    all_sheets: bool = False             # read every visible sheet
    header_row: int | None = None        # 1-based row number as the user sees it; None = detect
    # What people call the file (an upload's name in the browser); rows, notes and errors
    # name it. None: the file's name on disk.
    name: str | None = None
    max_file_bytes: int = 512 * 1024 * 1024
    max_uncompressed_bytes: int = 2 * 1024 * 1024 * 1024
    max_compression_ratio: float = 200.0
    chunk_rows: int = 5000               # rows per internal read chunk
    # .xlsx/.xlsm worksheets with more XML than this are streamed (flat memory, 3-4x
    # slower) instead of decoded whole by calamine (~2-2.7 bytes of memory per XML
    # byte, so at most ~175 MiB here); 0 = always stream.
    stream_above_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SheetInfo:
    """One sheet of a workbook (text files have one unnamed sheet)."""

    name: str
    index: int
    hidden: bool = False                 # chart and other non-table sheets count as hidden
    kind: str = "worksheet"              # "worksheet", "chart" or "other" (dialog, macro)


@dataclass(frozen=True, slots=True)
class SheetScan:
    """How phone-like the first rows of one sheet are: what ``sheet: auto`` chooses by."""

    sheet: str
    rows: int = 0                        # data rows sampled
    phones: int = 0                      # phone numbers among them, in its phone columns
    column: str | None = None            # the phone column holding the most of them
    column_phones: int = 0
    column_values: int = 0               # non-empty sampled values of that column
    problem: str | None = None           # why nothing was sampled ("blank", "a chart sheet")
    hidden: bool = False

    def describe(self) -> str:
        """E.g. "sheet 'Leads': 48 of 50 sampled values in column 'טלפון' are phone numbers"."""
        return f"sheet {self.sheet!r}{' (hidden)' if self.hidden else ''}: {self.detail()}"

    def detail(self) -> str:
        """What the sample held, without the sheet's name."""
        if self.problem:
            return self.problem
        if not self.phones or self.column is None:
            rows = f"{self.rows} sampled row{'' if self.rows == 1 else 's'}"
            return f"no phone numbers in {rows}"
        text = (
            f"{self.column_phones} of {self.column_values} sampled values in column "
            f"{self.column!r} are phone numbers"
        )
        if self.phones > self.column_phones:
            text += f" ({self.phones - self.column_phones} more in other phone columns)"
        return text


@dataclass(slots=True)
class SourceInfo:
    """What detection found about one file (and the chosen sheet)."""

    path: Path
    format: str                          # csv, tsv, xlsx, xlsm, xls, ods, html, spreadsheetml
    encoding: str | None = None          # text formats only
    encoding_reason: str | None = None   # e.g. "UTF-16 LE byte-order mark"
    delimiter: str | None = None         # text formats only
    delimiter_reason: str | None = None  # e.g. "100% of the first records split into 7 fields"
    sheet: str | None = None             # chosen sheet name (None for text formats)
    sheets: list[SheetInfo] = field(default_factory=list)
    header_row: int = 1                  # 1-based, as the user sees it
    columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Filled when ``sheet: auto`` chose among several sheets: each one's phone-likeness.
    sheet_scan: list[SheetScan] = field(default_factory=list)
    # The header row's cells as read (``columns`` are cleaned and made unique): a data
    # row equal to them is the header repeated, not a lead.
    header_cells: list[str] = field(default_factory=list)
    # The file's name as people know it (``SourceOptions.name``); "" = the name on disk.
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.path.name


@dataclass(slots=True)
class SourceRow:
    """One data row: cells as displayed text, aligned with ``SourceInfo.columns``.

    ``numeric`` holds the indexes of cells that were numbers in the workbook
    (always empty for text formats), so the phone stage can tell a number that
    lost its leading zero in Excel from text typed that way.  ``problems``
    holds notes such as "row has 9 cells, header has 7" (ragged rows).
    ``line`` is the physical line where the row starts in a text file (it differs
    from ``row`` only after a quoted cell that spans several lines); for
    workbooks it equals ``row``.
    """

    file: str                            # display name of the file (no directories)
    sheet: str | None
    row: int                             # 1-based row number as the user sees it
    cells: tuple[str, ...]
    numeric: frozenset[int] = frozenset()
    problems: tuple[str, ...] = ()
    line: int | None = None              # first physical line (text files)
