"""``lead-importer inspect``: show what the reader sees in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from importer.cli._common import echo_json, sheet_option
from importer.sources import (
    SheetInfo,
    SheetScan,
    SourceInfo,
    SourceOptions,
    open_source,
    scan_sheets,
)
from importer.sources.text_reader import delimiter_name

_TABLE_MAX_COLUMNS = 6


def register(group: click.Group) -> None:
    """Add this module's commands to the CLI group."""

    @group.command("inspect")
    @click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @click.option("--rows", "n_rows", type=click.IntRange(min=0), default=10, show_default=True,
                  help="How many data rows to show.")
    @click.option("--sheet", default=None,
                  help="Sheet name, or number (1 = first sheet). Default: auto, the visible "
                       "sheet holding the most phone numbers.")
    @click.option("--encoding", default=None, help="Text encoding (default: detect).")
    @click.option("--header-row", type=click.IntRange(min=1), default=None,
                  help="1-based row of the header, as Excel shows it (default: detect).")
    @click.option("--delimiter", default=None,
                  help="Delimiter of a text file: , ; | or tab (default: sniff).")
    def inspect_cmd(
        path: Path,
        *,
        as_json: bool,
        n_rows: int,
        sheet: str | None,
        encoding: str | None,
        header_row: int | None,
        delimiter: str | None,
    ) -> None:
        """Show what the reader sees in PATH: format, encoding, sheets, header and rows.

        Run it first when a file "looks wrong". Row numbers are the ones Excel shows
        (the header row included); blank rows are skipped. For a workbook, each sheet's
        phone-likeness (phone numbers among its first 200 rows) is shown too.
        """
        options = SourceOptions(
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet_option(sheet),
            header_row=header_row,
        )
        with open_source(path, options) as source:
            info = source.info
            shown: list[dict[str, Any]] = []
            count = 0
            for row in source.rows():
                count += 1
                if len(shown) < n_rows:
                    item: dict[str, Any] = {
                        "row": row.row,
                        "cells": dict(zip(info.columns, row.cells, strict=True)),
                    }
                    if row.numeric:
                        item["numeric"] = [info.columns[i] for i in sorted(row.numeric)]
                    if row.problems:
                        item["problems"] = list(row.problems)
                    shown.append(item)
        # Computed here when open_source had nothing to choose (one sheet, or --sheet).
        scans = info.sheet_scan or (scan_sheets(path, options) if info.sheets else [])
        result: dict[str, Any] = {
            "file": str(path),
            "format": info.format,
            "encoding": info.encoding,
            "encoding_reason": info.encoding_reason,
            "delimiter": info.delimiter,
            "sheet": info.sheet,
            "sheets": [{"name": s.name, "hidden": s.hidden} for s in info.sheets],
            "sheet_phones": [_scan_json(scan) for scan in scans],
            "header_row": info.header_row,
            "columns": info.columns,
            "row_count": count,
            "rows": shown,
            "warnings": info.warnings,
        }
        if as_json:
            echo_json(result)
            return
        _print_human(result, info)


def _marker(sheet: SheetInfo) -> str:
    if sheet.kind == "chart":
        return " (chart)"
    return " (hidden)" if sheet.hidden else ""


def _scan_json(scan: SheetScan) -> dict[str, Any]:
    return {
        "sheet": scan.sheet,
        "sampled_rows": scan.rows,
        "phone_values": scan.phones,
        "column": scan.column,
        "column_phone_values": scan.column_phones,
        "column_values": scan.column_values,
        "problem": scan.problem,
        "summary": scan.describe(),
    }


def _print_human(result: dict[str, Any], info: SourceInfo) -> None:
    console = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
    out = console.print
    out(f"File:       {result['file']}")
    out(f"Format:     {result['format']}")
    if result["encoding"]:
        out(f"Encoding:   {result['encoding']} ({result['encoding_reason']})")
    if result["delimiter"]:
        out(f"Delimiter:  {delimiter_name(result['delimiter'])} ({info.delimiter_reason})")
    if result["sheets"]:
        names = ", ".join(s.name + _marker(s) for s in info.sheets)
        out(f"Sheets:     {names}")
        out(f"Sheet:      {result['sheet']}")
    for scan in result["sheet_phones"]:
        out(f"Phones:     {scan['summary']}")
    out(f"Header row: {result['header_row']}")
    out(f"Columns:    {len(result['columns'])}: {', '.join(result['columns'])}")
    out(f"Data rows:  {result['row_count']}")
    for warning in result["warnings"]:
        out(f"Note:       {warning}")
    if not result["rows"]:
        return
    if len(result["columns"]) > _TABLE_MAX_COLUMNS:
        # Wide exports (Facebook has 16+ columns) are unreadable as a table: list them.
        for item in result["rows"]:
            out(f"\nRow {item['row']}:")
            for name in result["columns"]:
                value = item["cells"][name].replace("\n", " | ")
                out(f"  {name}: {value}")
            for problem in item.get("problems", []):
                out(f"  ! {problem}")
        return
    table = Table(show_lines=False)
    table.add_column("row", justify="right")
    for name in result["columns"]:
        table.add_column(name, overflow="fold")
    for item in result["rows"]:
        cells = [str(item["row"])] + [item["cells"][c] for c in result["columns"]]
        table.add_row(*cells)
    out(table)
    for item in result["rows"]:
        for problem in item.get("problems", []):
            out(f"Row {item['row']}: {problem}")
