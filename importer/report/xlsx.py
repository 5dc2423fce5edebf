"""The XLSX report: a Summary sheet (facts, counts per status, a chart) and a Rows sheet.

Built by :class:`importer.report.ReportWriter` at close time with openpyxl's
write-only (streaming) workbook, so memory stays flat however many rows go
in. Every string is written as a string cell -- never a formula, whatever it
starts with -- and formula-like strings also get Excel's ``quotePrefix``
style (see ``importer.report`` for the reasoning).

Rows are coloured by status with one conditional-formatting rule per status
rather than a fill on every cell: writing a styled cell object per value was
measured ~1.7x slower, and the colour then follows the status if a user edits it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, cast

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.formatting.rule import Rule
from openpyxl.styles import Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from importer.outcomes import IMPORT_STATUSES, Status, Summary
from importer.redact import redact
from importer.report.writer import _XLSX_FIRST, is_formula_like

__all__ = ["STATUS_COLOURS", "STATUS_MEANINGS", "build_workbook", "xlsx_text"]

#: Subtle fills: green = in the campaign, grey = duplicate, yellow = skipped
#: for a stated reason, red = refused or undelivered, blue = removed, lilac = not a lead.
_GREEN, _GREY, _YELLOW, _RED, _BLUE = "E2EFDA", "EDEDED", "FFF2CC", "F8D7DA", "DDEBF7"
_LILAC = "EAE4F2"
STATUS_COLOURS: dict[str, str] = {
    Status.ADDED: _GREEN,
    Status.UPDATED: _GREEN,
    Status.WOULD_ADD: _GREEN,
    Status.WOULD_UPDATE: _GREEN,
    Status.DUPLICATE_IN_BATCH: _GREY,
    Status.DUPLICATE_PENDING: _GREY,
    Status.DUPLICATE_HISTORY: _GREY,
    Status.SUPPRESSED: _YELLOW,
    Status.MISSING_PHONE: _YELLOW,
    Status.INVALID_PHONE: _YELLOW,
    Status.TYPE_REJECTED: _YELLOW,
    Status.REJECTED: _RED,
    Status.FAILED: _RED,
    Status.REMOVED: _BLUE,
    Status.NOT_A_LEAD: _LILAC,
    Status.ALREADY_DIALLED: _GREY,
    Status.KEPT_ADDED_LATER: _GREY,
    Status.RESTORED: _GREEN,
}

STATUS_MEANINGS: dict[str, str] = {
    Status.ADDED: "accepted by the dialer",
    Status.UPDATED: "existing pending call updated",
    Status.WOULD_ADD: "dry run: would have been added",
    Status.WOULD_UPDATE: "dry run: the pending call would have been updated",
    Status.DUPLICATE_IN_BATCH: "same phone earlier in this run",
    Status.DUPLICATE_PENDING: "already pending in the campaign",
    Status.DUPLICATE_HISTORY: "added to this campaign recently by this importer",
    Status.SUPPRESSED: "on a do-not-call list",
    Status.MISSING_PHONE: "no phone in the mapped column(s)",
    Status.INVALID_PHONE: "not a valid number (see reason)",
    Status.TYPE_REJECTED: "number type not allowed by the mapping",
    Status.REJECTED: "refused by the API (see reason and error_code)",
    Status.FAILED: "not delivered after retries; a re-run retries it",
    Status.REMOVED: "sync mode: removed, no longer in the source; undo: removed",
    Status.NOT_A_LEAD: "a group title, repeated header, report footer or blank row inside "
    "the data: not a lead, not a problem",
    Status.ALREADY_DIALLED: "undo: no longer pending (dialled), left alone",
    Status.KEPT_ADDED_LATER: "undo: pending again because of another import, kept",
    Status.RESTORED: "undo: the previous details (or a call sync removed) are back",
}

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EXCEL_MAX_CHARS = 32_767
_MIN_WIDTH, _MAX_WIDTH = 8, 60


def xlsx_text(value: str) -> str:
    """The form of a string a worksheet can hold (illegal XML characters -> U+FFFD, length cap)."""
    if _XML_ILLEGAL.search(value):
        value = _XML_ILLEGAL.sub("\ufffd", value)
    return value[:_EXCEL_MAX_CHARS]


class _Styles:
    """Precomputed style arrays, so each cell costs a copy, not a style lookup."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self._cache: dict[tuple[str | None, bool, bool, int], StyleArray] = {}

    def get(self, fill: str | None, *, quote: bool = False, bold: bool = False,
            size: int = 0) -> StyleArray:
        key = (fill, quote, bold, size)
        style = self._cache.get(key)
        if style is None:
            template = WriteOnlyCell(self.ws)
            if fill:
                template.fill = PatternFill("solid", fgColor=fill)
            if bold or size:
                template.font = Font(bold=bold, size=size or None)
            if quote:
                template.quotePrefix = True
            style = self._cache[key] = template._style  # type: ignore[attr-defined]
        return style

    def cell(self, value: object, fill: str | None = None, *, bold: bool = False,
             size: int = 0) -> Cell:
        """A cell that is a string, a number or empty -- never a formula."""
        if isinstance(value, str) and value:
            text = xlsx_text(redact(value))
            cell = Cell(self.ws, 0, 0, text, self.get(fill, quote=is_formula_like(text), bold=bold,
                                                      size=size))
            cell.data_type = "s"   # openpyxl would make "=..." a formula and "#N/A" an error
            return cell
        return Cell(self.ws, 0, 0, value if isinstance(value, int | float) else None,
                    self.get(fill, bold=bold, size=size))


def build_workbook(
    target: IO[bytes],
    *,
    summary: Summary,
    header: Sequence[str],
    widths: Sequence[int],
    records: Iterable[Sequence[Any]],
    rtl: bool,
    limit_note: str | None,
    status_index: int = 5,
) -> int:
    """Write the workbook to ``target``; return the number of rows on the Rows sheet."""
    wb = Workbook(write_only=True)
    # Write-only sheets borrow Worksheet's API (column_dimensions, auto_filter, add_chart...),
    # which the type stubs do not show.
    summary_ws = cast(Worksheet, wb.create_sheet("Summary"))
    rows_ws = cast(Worksheet, wb.create_sheet("Rows"))
    for ws in (summary_ws, rows_ws):
        ws.sheet_view.rightToLeft = rtl

    written = _write_rows(rows_ws, header, widths, records, status_index)
    _write_summary(summary_ws, summary, limit_note, written)
    _save(wb, target)
    return written


def _save(wb: Workbook, target: IO[bytes]) -> None:
    """``wb.save``, but a failed save (a full disk) leaves nothing to fail again later.

    openpyxl leaves the zip archive and the sheets' XML writers open when writing fails;
    collected later, they try to finish writing into the closed file and Python prints
    their tracebacks on stderr ("Exception ignored in ..."), past our one-paragraph error.
    """
    from zipfile import ZIP_DEFLATED, ZipFile

    from openpyxl.writer.excel import ExcelWriter

    archive = ZipFile(target, "w", ZIP_DEFLATED, allowZip64=True)
    try:
        ExcelWriter(wb, archive).save()
    except BaseException:
        archive.fp = None  # nothing more is written to a file that failed
        for ws in wb.worksheets:
            for stream in (getattr(ws, "_rows", None),
                           getattr(getattr(ws, "_writer", None), "xf", None)):
                with contextlib.suppress(Exception):
                    if stream is not None:
                        stream.close()
        raise


def _write_rows(ws: Worksheet, header: Sequence[str], widths: Sequence[int],
                records: Iterable[Sequence[Any]], status_index: int) -> int:
    styles = _Styles(ws)
    for col, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = min(
            _MAX_WIDTH, max(_MIN_WIDTH, width + 2)
        )
    ws.freeze_panes = "A2"
    ws.append([styles.cell(h, "D9E1F2", bold=True) for h in header])
    plain = styles.get(None)
    quoted = styles.get(None, quote=True)
    ws_ = ws
    count = 0
    for record in records:
        row: list[object] = []
        for value in record:
            item: object = value
            if type(value) is str and value:
                text = value
                if _XML_ILLEGAL.search(text) or len(text) > _EXCEL_MAX_CHARS:
                    text = xlsx_text(text)
                item = text
                if text[:1] in _XLSX_FIRST and is_formula_like(text):
                    item = cell = Cell(ws_, 0, 0, text, quoted)
                    cell.data_type = "s"
                elif text in ERROR_CODES:
                    item = cell = Cell(ws_, 0, 0, text, plain)
                    cell.data_type = "s"
            elif not value and value != 0:
                item = None
            row.append(item)
        ws_.append(row)
        count += 1
    last_col = get_column_letter(len(header))
    last_row = count + 1
    ws.auto_filter.ref = f"A1:{last_col}{last_row}"
    # Colour rows by status with conditional formatting: one rule per status instead of a
    # style on every cell (several times faster to write), and the colour follows the status.
    status_col = get_column_letter(status_index + 1)
    area = f"A2:{last_col}{max(last_row, 2)}"
    for status, colour in STATUS_COLOURS.items():
        ws.conditional_formatting.add(
            area,
            Rule(
                type="expression",
                formula=[f'${status_col}2="{status}"'],
                dxf=DifferentialStyle(fill=PatternFill("solid", fgColor=colour, bgColor=colour)),
                stopIfTrue=True,
            ),
        )
    return count


def _write_summary(ws: Worksheet, summary: Summary, limit_note: str | None,
                   rows_in_sheet: int) -> None:
    styles = _Styles(ws)
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 48
    ws.column_dimensions["C"].width = 50
    cell = styles.cell
    ws.append([cell("Lead import report", bold=True, size=14)])
    if summary.interrupted:
        ws.append([cell("RUN INTERRUPTED: this report covers only the rows handled before the "
                        "interruption.", _RED, bold=True)])
    elif summary.already_imported:
        ws.append([cell("ALREADY IMPORTED: nothing was sent now; these are the results of run "
                        f"{summary.run_id}.", bold=True)])
    else:
        ws.append([])
    facts: list[tuple[str, object]] = [
        ("Source file", summary.source_file),
        ("Campaign", summary.campaign),
        ("Mode", summary.mode),
        ("Dry run", "yes" if summary.dry_run else "no"),
        ("Started (UTC)", summary.started_at),
        ("Finished (UTC)", summary.finished_at),
        ("Run ID", summary.run_id),
        ("Total rows", summary.total_rows),
    ]
    if summary.exit_code is not None:
        facts.append(("Exit code", summary.exit_code))
    for label, value in facts:
        ws.append([cell(label, bold=True), cell(value)])
    ws.append([])

    table_top = 3 + len(facts) + 1   # 1-based row of the table header
    ws.append([cell("Status", "D9E1F2", bold=True), cell("Rows", "D9E1F2", bold=True),
               cell("Meaning", "D9E1F2", bold=True)])
    # The leads' statuses (the chart's data), then the rows that are not leads, apart.
    statuses = [s.value for s in IMPORT_STATUSES if s is not Status.NOT_A_LEAD]
    extra = sorted(k for k in summary.counts if k not in statuses and k != Status.NOT_A_LEAD)
    for status in [*statuses, *extra]:
        fill = STATUS_COLOURS.get(status)
        ws.append([cell(status, fill), cell(int(summary.counts.get(status, 0)), fill),
                   cell(STATUS_MEANINGS.get(status, ""), fill)])
    n_status = len(statuses) + len(extra)
    not_leads = int(summary.counts.get(Status.NOT_A_LEAD, 0))
    ws.append([cell("Leads", bold=True), cell(summary.total_rows - not_leads, bold=True),
               cell("rows that are leads: the statuses above")])
    fill = STATUS_COLOURS[Status.NOT_A_LEAD]
    ws.append([cell(Status.NOT_A_LEAD.value, fill), cell(not_leads, fill),
               cell(STATUS_MEANINGS[Status.NOT_A_LEAD], fill)])
    ws.append([cell("Total", bold=True), cell(summary.total_rows, bold=True)])
    ws.append([])

    if limit_note:
        ws.append([cell("Rows sheet", bold=True), cell(limit_note)])
    else:
        ws.append([cell("Rows sheet", bold=True),
                   cell(f"All {rows_in_sheet:,} rows, coloured by status; use the filters in "
                        "the header row.")])
    if summary.reports:
        for fmt, path in summary.reports.items():
            ws.append([cell(f"{fmt.upper()} report", bold=True), cell(Path(path).name)])
    notes = [n for n in summary.notes if n != limit_note]
    if notes:
        ws.append([])
        ws.append([cell("Notes", bold=True)])
        for note in notes:
            ws.append([cell(""), cell(note)])

    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = "Rows per status"
    chart.legend = None
    chart.height = 9
    chart.width = 16
    data = Reference(ws, min_col=2, min_row=table_top, max_row=table_top + n_status)
    categories = Reference(ws, min_col=1, min_row=table_top + 1, max_row=table_top + n_status)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(categories)
    # Values only: LibreOffice otherwise adds the series and category names to every label.
    chart.dataLabels = DataLabelList(
        showVal=True, showSerName=False, showCatName=False, showLegendKey=False, showPercent=False
    )
    chart.y_axis.majorGridlines = None
    chart.x_axis.scaling.orientation = "maxMin"   # statuses top-down in table order
    # openpyxl 3.1 marks axes deleted by default; recent Excel then hides them.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    ws.add_chart(chart, "E3")
