"""Read every spreadsheet an office produces: rows of text with their provenance.

``open_source(path)`` detects the format by content (CSV/TSV/text, xlsx, xlsm, xlsb,
xls, ods, HTML tables and Excel 2003 XML saved as ".xls"), the encoding of text files,
the delimiter, the sheet (the one holding phone numbers) and the header row, and
returns a ``Source`` whose ``rows()`` streams ``SourceRow`` objects.  Anything that
cannot be read right raises a ``SourceError`` subclass with a one-paragraph message
naming the file.
"""

from __future__ import annotations

from importer.sources.model import SheetInfo, SheetScan, SourceInfo, SourceOptions, SourceRow
from importer.sources.sheet_scan import require_phone_sheet
from importer.sources.source import Source, open_source, open_sources, scan_sheets

__all__ = [
    "SheetInfo",
    "SheetScan",
    "Source",
    "SourceInfo",
    "SourceOptions",
    "SourceRow",
    "open_source",
    "open_sources",
    "require_phone_sheet",
    "scan_sheets",
]
