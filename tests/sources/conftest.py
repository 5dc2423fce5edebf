"""Builders for small spreadsheets of every kind, made inside the tests."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from importer.sources import SourceOptions, SourceRow, open_source


def read_all(path: Path, **options: object) -> tuple[list[str], list[SourceRow], object]:
    """Open ``path`` and return (columns, rows, info)."""
    with open_source(path, SourceOptions(**options)) as src:  # type: ignore[arg-type]
        rows = list(src.rows())
        return src.info.columns, rows, src.info


def cells(rows: Sequence[SourceRow]) -> list[tuple[str, ...]]:
    """Just the cell tuples."""
    return [r.cells for r in rows]


def _ods_cell(value: object) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, bool):
        v = "true" if value else "false"
        return (f'<table:table-cell office:value-type="boolean" office:boolean-value="{v}">'
                f"<text:p>{v.upper()}</text:p></table:table-cell>")
    if isinstance(value, int | float):
        return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>")
    return (f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}'
            "</text:p></table:table-cell>")


def write_ods(
    path: Path, sheets: dict[str, list[list[object]]], hidden: Sequence[str] = ()
) -> Path:
    """A minimal valid OpenDocument spreadsheet (mimetype + content.xml + manifest)."""
    tables = []
    for name, rows in sheets.items():
        style = ' table:style-name="hid"' if name in hidden else ""
        body = "".join(
            "<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>"
            for row in rows
        )
        tables.append(f'<table:table table:name="{escape(name)}"{style}>{body}</table:table>')
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
        ' xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" office:version="1.2">'
        '<office:automatic-styles><style:style style:name="hid" style:family="table">'
        '<style:table-properties table:display="false"/></style:style></office:automatic-styles>'
        "<office:body><office:spreadsheet>" + "".join(tables) +
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_xlsx(path: Path, rows: list[list[object]], **sheets: list[list[object]]) -> Path:
    """An xlsx with ``rows`` on the first sheet ("Leads") and optional extra sheets."""
    from tests.workbooks import write_sheets

    return write_sheets(path, {"Leads": rows, **sheets})
