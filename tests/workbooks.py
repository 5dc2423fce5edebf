"""Build small .xlsx workbooks for tests: one sheet per entry, rows as given."""

from __future__ import annotations

from pathlib import Path


def write_sheets(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """Save a workbook with these sheets, in order (the first is the active one)."""
    from openpyxl import Workbook

    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path
