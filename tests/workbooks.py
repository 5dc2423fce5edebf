"""Build small .xlsx workbooks for tests: one sheet per entry, rows as given."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from importer.sources.cells import column_letter


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


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _xml_cell(ref: str, value: object, formula: str | None) -> str:
    """One ``<c>``; with a formula the value is its cached result, as Excel saves it."""
    f = formula or ""
    if value is None:
        return f"<c r={quoteattr(ref)}>{f}</c>"
    if isinstance(value, (int, float)):
        return f"<c r={quoteattr(ref)}>{f}<v>{value}</v></c>"
    if formula:
        return f'<c r={quoteattr(ref)} t="str">{f}<v>{escape(str(value))}</v></c>'
    text = escape(str(value))
    return f'<c r={quoteattr(ref)} t="inlineStr"><is><t>{text}</t></is></c>'


def write_linked_workbook(
    path: Path,
    rows: list[list[object]],
    formulas: dict[str, str],
    *,
    linked_book: str | None = "prices.xlsx",
) -> Path:
    """An .xlsx written as Excel writes one whose cells read another workbook.

    ``formulas`` maps a cell (``B2``) to its ``<f>`` element; the cell keeps its value in
    ``rows`` as the formula's cached result.  With ``linked_book`` the package has the
    ``xl/externalLinks/`` part Excel adds for ``[1]`` references, pointing at that file.
    """
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = ""
        for c, value in enumerate(row):
            ref = f"{column_letter(c)}{r}"
            cells += _xml_cell(ref, value, formulas.get(ref))
        sheet_rows.append(f'<row r="{r}">{cells}</row>')
    overrides = (
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
    )
    relations = f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    references = ""
    parts: dict[str, str] = {}
    if linked_book is not None:
        overrides += (
            '<Override PartName="/xl/externalLinks/externalLink1.xml" '
            f'ContentType="{_CT}.externalLink+xml"/>'
        )
        relations += (
            f'<Relationship Id="rId2" Type="{_REL}/externalLink" '
            'Target="externalLinks/externalLink1.xml"/>'
        )
        references = '<externalReferences><externalReference r:id="rId2"/></externalReferences>'
        parts["xl/externalLinks/externalLink1.xml"] = (
            f'<externalLink xmlns="{_MAIN}" xmlns:r="{_REL}"><externalBook r:id="rId1">'
            '<sheetNames><sheetName val="Sheet1"/></sheetNames></externalBook></externalLink>'
        )
        parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = (
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/externalLinkPath" Target={quoteattr(linked_book)} '
            'TargetMode="External"/></Relationships>'
        )
    parts |= {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f"{overrides}</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            f'<sheet name="Leads" sheetId="1" r:id="rId1"/></sheets>{references}</workbook>'
        ),
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_PKG}">{relations}</Relationships>',
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{_MAIN}"><sheetData>{"".join(sheet_rows)}</sheetData></worksheet>'
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in parts.items():
            zf.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + body)
    return path
