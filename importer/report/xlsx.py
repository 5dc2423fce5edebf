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
import math
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
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from importer.i18n import N_, _, current_language, is_rtl
from importer.outcomes import IMPORT_STATUSES, Status, Summary, shown_note, status_name
from importer.redact import redact
from importer.report.writer import _XLSX_FIRST, is_formula_like

__all__ = [
    "COLUMN_TITLES",
    "MODE_NAMES",
    "STATUS_COLOURS",
    "STATUS_MEANINGS",
    "build_workbook",
    "status_meaning",
    "xlsx_text",
]

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

#: What each status means (English; the Summary sheet shows them translated).
STATUS_MEANINGS: dict[str, str] = {
    Status.ADDED: N_("accepted by the dialer"),
    Status.UPDATED: N_("existing pending call updated"),
    Status.WOULD_ADD: N_("dry run: would have been added"),
    Status.WOULD_UPDATE: N_("dry run: the pending call would have been updated"),
    Status.DUPLICATE_IN_BATCH: N_("same phone earlier in this run"),
    Status.DUPLICATE_PENDING: N_("already pending in the campaign"),
    Status.DUPLICATE_HISTORY: N_("added to this campaign recently by this importer"),
    Status.SUPPRESSED: N_("on a do-not-call list"),
    Status.MISSING_PHONE: N_("no phone in the mapped column(s)"),
    Status.INVALID_PHONE: N_("not a valid number (see reason)"),
    Status.TYPE_REJECTED: N_("number type not allowed by the mapping"),
    Status.REJECTED: N_("refused by the API (see reason and error_code)"),
    Status.FAILED: N_("not delivered after retries; a re-run retries it"),
    Status.REMOVED: N_("sync mode: removed, no longer in the source; undo: removed"),
    Status.NOT_A_LEAD: N_("a group title, repeated header, report footer or blank row inside "
                          "the data: not a lead, not a problem"),
    Status.ALREADY_DIALLED: N_("undo: no longer pending (dialled), left alone"),
    Status.KEPT_ADDED_LATER: N_("undo: pending again because of another import, kept"),
    Status.RESTORED: N_("undo: the previous details (or a call sync removed) are back"),
}

#: The Rows sheet's titles of the report's own columns (English: the CSV's names).
COLUMN_TITLES: dict[str, str] = {
    # TRANSLATORS: column titles of the report's Rows sheet.
    "source_file": N_("source_file"),
    "sheet": N_("sheet"),
    "row": N_("row"),
    "phone_raw": N_("phone_raw"),
    "phone": N_("phone"),
    "status": N_("status"),
    "reason": N_("reason"),
    "error_code": N_("error_code"),
    "campaign": N_("campaign"),
    "dial_after": N_("dial_after"),
    "reason_code": N_("reason_code"),
}

#: Import modes as people read them (English: the option's value).
MODE_NAMES: dict[str, str] = {
    "append": N_("append"),
    "upsert": N_("upsert"),
    "sync": N_("sync"),
    "undo": N_("undo"),
}


# TRANSLATORS: the kinds of report file, in "{format} report" (English: the key in capitals).
_FORMAT_NAMES: dict[str, str] = {"rejects": N_("REJECTS"), "rejects_xlsx": N_("REJECTS_XLSX")}


def status_meaning(status: str) -> str:
    """What a status means, in the current language ("" for an unknown status)."""
    meaning = STATUS_MEANINGS.get(status)
    return _(meaning) if meaning else ""


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

    def __init__(self, ws: Worksheet, *, rtl_text: bool = False) -> None:
        self.ws = ws
        # Right-to-left text: every cell reads right to left and sits at the right edge, so a
        # Latin file name or a date lines up with the Hebrew around it and a long note wraps
        # instead of running off the sheet's left edge.
        self.rtl_text = rtl_text
        self._cache: dict[tuple[str | None, bool, bool, int], StyleArray] = {}

    def get(self, fill: str | None, *, quote: bool = False, bold: bool = False,
            size: int = 0) -> StyleArray:
        key = (fill, quote, bold, size)
        style = self._cache.get(key)
        if style is None:
            template = WriteOnlyCell(self.ws)
            if self.rtl_text:
                template.alignment = Alignment(horizontal="right", vertical="top",
                                               readingOrder=2, wrap_text=True)
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
    base_columns: int = 0,
) -> int:
    """Write the workbook to ``target``; return the number of rows on the Rows sheet.

    Labels, status names and the report's own column titles are in the current language
    (:func:`importer.i18n.use_language`); the cells of the file's own columns are as read.
    """
    wb = Workbook(write_only=True)
    # Write-only sheets borrow Worksheet's API (column_dimensions, auto_filter, add_chart...),
    # which the type stubs do not show.
    summary_ws = cast(Worksheet, wb.create_sheet(_("Summary")))
    rows_ws = cast(Worksheet, wb.create_sheet(_("Rows")))
    for ws in (summary_ws, rows_ws):
        ws.sheet_view.rightToLeft = rtl

    written = _write_rows(rows_ws, _titles(header, base_columns), widths, records, status_index)
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


def _titles(header: Sequence[str], base_columns: int) -> list[str]:
    """The Rows sheet's header: the report's own columns titled in the current language."""
    return [_(COLUMN_TITLES[h]) if i < base_columns and h in COLUMN_TITLES else h
            for i, h in enumerate(header)]


def _status_names() -> dict[str, str]:
    """Status code -> the name shown in the Rows sheet (empty in English: the codes)."""
    if current_language() == "en":
        return {}
    return {status: status_name(status) for status in STATUS_COLOURS}


def _write_rows(ws: Worksheet, header: Sequence[str], widths: Sequence[int],
                records: Iterable[Sequence[Any]], status_index: int) -> int:
    styles = _Styles(ws)
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=False)]
    names = _status_names()
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
    for given in records:
        record = given
        if names:
            record = list(given)
            record[status_index] = names.get(given[status_index], given[status_index])
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
        shown = names.get(status, status).replace('"', '""')   # the cell's text, as a literal
        ws.conditional_formatting.add(
            area,
            Rule(
                type="expression",
                formula=[f'${status_col}2="{shown}"'],
                dxf=DifferentialStyle(fill=PatternFill("solid", fgColor=colour, bgColor=colour)),
                stopIfTrue=True,
            ),
        )
    return count


class _TallRows:
    """A write-only sheet whose rows grow to show their wrapped text (LibreOffice does not
    size them when it opens the file); everything else goes to the sheet itself."""

    def __init__(self, ws: Worksheet, widths: list[int]) -> None:
        self._ws = ws
        self._widths = widths
        self._row = 0

    def append(self, cells: list[Cell]) -> None:
        """Append a row, taller when a text is longer than its column is wide."""
        self._row += 1
        # About one character per width unit (Hebrew letters are narrower, long names do not
        # break): rather a line too many than a cut sentence.
        lines = max((math.ceil(len(str(c.value)) / (w * 1.0))
                     for c, w in zip(cells, self._widths, strict=False)
                     if isinstance(c.value, str)), default=1)
        if lines > 1:
            self._ws.row_dimensions[self._row].height = 15 * lines
        self._ws.append(cells)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


def _write_summary(ws: Worksheet, summary: Summary, limit_note: str | None,
                   rows_in_sheet: int) -> None:
    english = current_language() == "en"
    styles = _Styles(ws, rtl_text=is_rtl(current_language()))
    # Hebrew: a code column more, the meanings wrap (rows grow), all on one page with the chart.
    widths = {"A": 22, "B": 48, "C": 50} if english else {"A": 22, "B": 44, "C": 42, "D": 20}
    for letter, width in widths.items():   # before any row: a write-only sheet writes them first
        ws.column_dimensions[letter].width = width
    ws = cast(Worksheet, _TallRows(ws, list(widths.values())) if styles.rtl_text else ws)
    # Printed (or made a PDF) on one page across: the table, its meanings and the chart.
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    cell = styles.cell
    ws.append([cell(_("Lead import report"), bold=True, size=14)])
    if summary.interrupted:
        ws.append([cell(_("RUN INTERRUPTED: this report covers only the rows handled before the "
                          "interruption."), _RED, bold=True)])
    elif summary.already_imported:
        ws.append([cell(_("ALREADY IMPORTED: nothing was sent now; these are the results of run "
                          "{run_id}.", run_id=summary.run_id), bold=True)])
    else:
        ws.append([])
    mode = MODE_NAMES.get(summary.mode)
    facts: list[tuple[str, object]] = [
        (_("Source file"), summary.source_file),
        (_("Campaign"), summary.campaign),
        (_("Mode"), _(mode) if mode else summary.mode),
        (_("Dry run"), _("yes") if summary.dry_run else _("no")),
        (_("Started (UTC)"), summary.started_at),
        (_("Finished (UTC)"), summary.finished_at),
        (_("Run ID"), summary.run_id),
        (_("Total rows"), summary.total_rows),
    ]
    if summary.exit_code is not None:
        facts.append((_("Exit code"), summary.exit_code))
    for label, value in facts:
        ws.append([cell(label, bold=True), cell(value)])
    ws.append([])

    table_top = 3 + len(facts) + 1   # 1-based row of the table header
    head = [_("Status"), _("Rows"), _("Meaning")]
    if not english:
        head.append(_("Code"))   # the names are translated: the codes scripts use stay visible
    ws.append([cell(h, "D9E1F2", bold=True) for h in head])
    # The leads' statuses (the chart's data), then the rows that are not leads, apart.
    statuses = [s.value for s in IMPORT_STATUSES if s is not Status.NOT_A_LEAD]
    extra = sorted(k for k in summary.counts if k not in statuses and k != Status.NOT_A_LEAD)

    def status_row(status: str, count: int) -> list[Cell]:
        fill = STATUS_COLOURS.get(status)
        row = [cell(status_name(status), fill), cell(count, fill),
               cell(status_meaning(status), fill)]
        return row if english else [*row, cell(status, fill)]

    for status in [*statuses, *extra]:
        ws.append(status_row(status, int(summary.counts.get(status, 0))))
    n_status = len(statuses) + len(extra)
    not_leads = int(summary.counts.get(Status.NOT_A_LEAD, 0))
    ws.append([cell(_("Leads"), bold=True), cell(summary.total_rows - not_leads, bold=True),
               cell(_("rows that are leads: the statuses above"))])
    ws.append(status_row(Status.NOT_A_LEAD.value, not_leads))
    ws.append([cell(_("Total"), bold=True), cell(summary.total_rows, bold=True)])
    ws.append([])

    if limit_note:
        ws.append([cell(_("Rows sheet"), bold=True), cell(limit_note)])
    else:
        ws.append([cell(_("Rows sheet"), bold=True),
                   cell(_("All {rows} rows, coloured by status; use the filters in the header "
                          "row.").format(rows=f"{rows_in_sheet:,}"))])
    if summary.reports:
        for fmt, path in summary.reports.items():
            name = _FORMAT_NAMES.get(fmt)
            shown = _(name) if name else fmt.upper()
            ws.append([cell(_("{format} report").format(format=shown), bold=True),
                       cell(Path(path).name)])
    notes = [n for n in summary.notes if n != limit_note]
    if notes:
        ws.append([])
        ws.append([cell(_("Notes"), bold=True)])
        for note in notes:
            ws.append([cell(""), cell(shown_note(note))])

    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = _("Rows per status")
    chart.legend = None
    chart.height = 9 if english else 12   # taller: LibreOffice skips crowded category names
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
    ws.add_chart(chart, "E3" if english else "F3")
