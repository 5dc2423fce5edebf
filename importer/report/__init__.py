"""Per-row reports: the CSV/JSON writer and report files (writer) and the XLSX workbook (xlsx).
Report writers only write: the statuses they write live in ``importer.outcomes``.
"""

from __future__ import annotations

from importer.report.rejects import (
    REJECTS_SUFFIXES,
    RejectsWriter,
    rejects_base,
    rejects_base_of,
)
from importer.report.writer import (
    BASE_COLUMNS,
    REPORT_FORMAT_NAMES,
    REPORT_FORMATS,
    ReportFormat,
    ReportWriter,
    count_statuses,
    escape_cell,
    is_formula_like,
    looks_rtl,
    parse_report_formats,
    read_report_csv,
    remove_unfinished,
    report_file_mode,
    split_report_formats,
    summary_to_dict,
    unescape_cell,
)

__all__ = [
    "BASE_COLUMNS",
    "REJECTS_SUFFIXES",
    "REPORT_FORMATS",
    "REPORT_FORMAT_NAMES",
    "RejectsWriter",
    "ReportFormat",
    "ReportWriter",
    "count_statuses",
    "escape_cell",
    "is_formula_like",
    "looks_rtl",
    "parse_report_formats",
    "read_report_csv",
    "rejects_base",
    "rejects_base_of",
    "remove_unfinished",
    "report_file_mode",
    "split_report_formats",
    "summary_to_dict",
    "unescape_cell",
]
