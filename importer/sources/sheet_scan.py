"""``sheet: auto``: read the sheet whose columns hold phone numbers.

A workbook's first sheet is not always its leads: a pivot table's summary ("Row
Labels | Count of phone"), a chart or a cover page often comes first.  When more than
one visible sheet has data, the first ``SAMPLE_ROWS`` non-blank rows of each (never a
whole sheet) are profiled with the phone-column detector ``mapping suggest`` uses, and
the sheet with the most phone numbers in its phone columns is read; ties go to the
first.  Counts (12, 7, 19) are not valid phone numbers, so a summary never wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from importer.errors import EmptySourceError, SourceError
from importer.sources.columns import phone_columns, profile_columns
from importer.sources.layout import RawRow, detect_layout, is_blank, shape_rows
from importer.sources.model import SheetInfo, SheetScan, SourceInfo

__all__ = [
    "MAX_COMPARED",
    "SAMPLE_ROWS",
    "Sample",
    "choice_note",
    "require_phone_sheet",
    "scan_sheet",
    "take_sample",
    "unscanned",
]

SAMPLE_ROWS = 200
MAX_COMPARED = 100          # sheets with data compared at most, in order
NOT_COMPARED = f"not compared: only the first {MAX_COMPARED} sheets with data are"
# Blank rows looked through before a sample gives up: keeps a sheet of empty rows cheap.
_MAX_RAW_ROWS = 20 * SAMPLE_ROWS


@dataclass(slots=True)
class Sample:
    """The first non-blank raw rows of one sheet."""

    rows: list[RawRow]
    complete: bool          # the sheet ended inside the sample
    col0: int = 0           # absolute index of the first column of the rows

    @property
    def blank(self) -> bool:
        """True when the sheet has no non-blank row at all."""
        return self.complete and not self.rows


def take_sample(raw: Iterator[RawRow], col0: int = 0, limit: int = SAMPLE_ROWS) -> Sample:
    """Up to ``limit`` non-blank rows from ``raw``, which is closed afterwards."""
    rows: list[RawRow] = []
    seen = 0
    try:
        for item in raw:
            seen += 1
            if not is_blank(item[1]):
                rows.append(item)
                if len(rows) >= limit:
                    return Sample(rows, False, col0)
            if seen >= _MAX_RAW_ROWS:
                return Sample(rows, False, col0)
        return Sample(rows, True, col0)
    finally:
        close = getattr(raw, "close", None)
        if close is not None:
            close()


def scan_sheet(
    sample: Sample,
    sheet: SheetInfo,
    *,
    path: Path,
    fmt: str,
    header_row: int | None,
    name: str | None = None,
) -> SheetScan:
    """Profile one sheet's sampled rows with the phone-column detector."""
    # Imported here: the detector uses the mapping schema, which imports this package.

    if sample.blank:
        return SheetScan(sheet.name, problem="blank", hidden=sheet.hidden)
    file = name or path.name
    try:
        layout = detect_layout(
            iter(sample.rows), file=file, sheet=sheet.name, header_row=header_row,
            col0=sample.col0,
        )
    except EmptySourceError as exc:
        return SheetScan(sheet.name, problem=exc.message, hidden=sheet.hidden)
    rows = list(shape_rows(sample.rows, layout, file=file, sheet=sheet.name, col0=sample.col0))
    info = SourceInfo(
        path=path, format=fmt, sheet=sheet.name, columns=list(layout.columns), name=file
    )
    # Only columns that hold numbers count: a "Count of phone" header alone is no phone column.
    found = [
        p for p in phone_columns(profile_columns(info, rows), named_fallback=False) if p.phones
    ]
    if not found:
        return SheetScan(sheet.name, rows=len(rows), hidden=sheet.hidden)
    best = max(found, key=lambda p: p.phones)
    return SheetScan(
        sheet.name,
        rows=len(rows),
        phones=sum(p.phones for p in found),
        column=best.header,
        column_phones=best.phones,
        column_values=best.filled,
        hidden=sheet.hidden,
    )


def unscanned(sheet: SheetInfo) -> SheetScan:
    """The entry of a sheet that is not sampled: a chart, a hidden sheet, one too many."""
    if sheet.kind == "chart":
        problem = "a chart sheet, not a table"
    elif sheet.kind != "worksheet":
        problem = "not a table (a dialog or macro sheet)"
    elif sheet.hidden:
        problem = "not read unless chosen by name"
    else:
        problem = NOT_COMPARED
    return SheetScan(sheet.name, problem=problem, hidden=sheet.hidden and sheet.kind == "worksheet")


def choice_note(scans: list[SheetScan], chosen: int) -> str:
    """Which sheet ``sheet: auto`` read and why, with what the others hold."""
    scan = scans[chosen]
    if not scan.phones:
        listed = "; ".join(s.describe() for s in scans)
        return f"no sheet holds phone numbers ({listed}); reading the first, {scan.sheet!r}"
    others = "; ".join(s.describe() for s in scans if s is not scan)
    return (
        f"read sheet {scan.sheet!r} because it holds the most phone numbers: "
        f"{scan.detail()} ({others})"
    )


def require_phone_sheet(info: SourceInfo) -> None:
    """Refuse a file whose sheets ``sheet: auto`` compared when none holds phone numbers."""
    if not info.sheet_scan or any(s.phones for s in info.sheet_scan):
        return
    listed = "; ".join(s.describe() for s in info.sheet_scan)
    none = "no sheet"
    if any(s.problem == NOT_COMPARED for s in info.sheet_scan):
        none = f"none of the first {MAX_COMPARED} sheets with data"
    raise SourceError(
        info.name,
        f"{none} holds phone numbers, so no lead can be read ({listed}). Choose the sheet "
        "that holds the leads with --sheet NAME (or `sheet:` in the mapping): its rows are "
        "then read and each phone problem is reported",
    )
