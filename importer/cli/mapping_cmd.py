"""``lead-importer mapping suggest`` and ``lead-importer mapping check``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import click

from importer.cli._common import echo_json, fail, sheet_option
from importer.errors import EXIT_BAD_INPUT
from importer.mapping import Mapping, load_mapping, suggest_mapping
from importer.mapping.binder import bind
from importer.mapping.not_leads import sort_rows
from importer.sources import SourceOptions, open_sources, require_phone_sheet

__all__ = ["register"]

_PROBLEM_STATUSES = ("missing_phone", "invalid_phone", "type_rejected")
_NOT_A_LEAD = "not_a_lead"


@click.group("mapping")
def mapping_group() -> None:
    """Write and check mapping files (which column is the phone, the name, ...)."""


@mapping_group.command("suggest")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the mapping to this file instead of the screen.")
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
@click.option("--sheet", default=None, help="Sheet name or number (1 = first); default: auto.")
@click.option("--header-row", type=click.IntRange(min=1), default=None,
              help="Row number of the header (as Excel shows it); default: detect.")
@click.option("--encoding", default=None,
              help="Text encoding (utf-8, cp1255, ...); default: detect.")
@click.option("--delimiter", default=None, help="CSV delimiter (, ; tab |); default: detect.")
def suggest_cmd(
    *,
    path: Path,
    output: Path | None,
    force: bool,
    sheet: str | None,
    header_row: int | None,
    encoding: str | None,
    delimiter: str | None,
) -> None:
    """Suggest a ready mapping for PATH from its headers and contents."""
    options = SourceOptions(
        sheet=sheet_option(sheet), header_row=header_row, encoding=encoding, delimiter=delimiter
    )
    text = suggest_mapping(path, options)
    if output is None:
        click.echo(text, nl=False)
        return
    if output.exists() and not force:
        fail(f"{output} already exists; use --force to overwrite it", EXIT_BAD_INPUT)
    tmp = output.with_name(output.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    click.echo(f"Wrote {output}. Check it with: lead-importer mapping check {output} {path}",
               err=True)


@mapping_group.command("check")
@click.argument("mapping_file", metavar="FILE",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("path", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--show", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many row problems to list.")
def check_cmd(mapping_file: Path, path: Path | None, as_json: bool, show: int) -> None:
    """Validate mapping FILE; with PATH, also map every row of PATH (nothing is sent)."""
    mapping = load_mapping(mapping_file)
    result = _summary(mapping, mapping_file)
    if path is not None:
        result.update(_dry_map(mapping, path, show))
    if as_json:
        echo_json(result)
        return
    _print(result)


def _summary(mapping: Mapping, mapping_file: Path) -> dict[str, Any]:
    fields = [name for name in ("CustomerName", "Priority", "CallerID", "OriginateTime")
              if getattr(mapping.fields, name) is not None]
    return {
        "mapping": str(mapping_file),
        "name": mapping.name,
        "valid": True,
        "phone_columns": list(mapping.phone.columns),
        "fields": fields,
        "custom_data": list(mapping.custom_data),
        "copy_columns": list(mapping.copy_columns),
    }


def _dry_map(mapping: Mapping, path: Path, show: int) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    problems: list[dict[str, Any]] = []
    notes: list[str] = []
    noted_rows = 0
    sheets = []
    for source in open_sources(path, mapping.source_options()):
        with source:
            require_phone_sheet(source.info)  # as the import would refuse it
            bound = bind(mapping, source.info)
            notes += bound.notes
            sheets.append({
                "sheet": source.info.sheet,
                "header_row": source.info.header_row,
                "phone_columns": [bound.headers[i] for i in bound.phone_columns],
                "field_names": bound.field_names,
            })
            rows = sort_rows(
                source.rows(blank_rows=True), bound.map_row, source.info.header_cells
            )
            for row, mapped, not_a_lead in rows:
                counts["rows"] += 1
                if not_a_lead is not None:  # counted apart, never listed as a problem
                    counts[_NOT_A_LEAD] += 1
                    continue
                status = mapped.problem.value if mapped.problem else "usable"
                counts[status] += 1
                if mapped.reason and mapped.problem is None:
                    noted_rows += 1
                if mapped.problem and len(problems) < show:
                    problems.append({
                        "sheet": row.sheet,
                        "row": row.row,
                        "status": status,
                        "phone_raw": mapped.phone_raw,
                        "reason": mapped.reason,
                    })
    return {
        "file": str(path),
        "sheets": sheets,
        "counts": {
            k: counts.get(k, 0) for k in ("rows", "usable", *_PROBLEM_STATUSES, _NOT_A_LEAD)
        },
        "rows_with_notes": noted_rows,
        "problems": problems,
        "notes": notes,
    }


def _print(result: dict[str, Any]) -> None:
    click.echo(f"{result['mapping']}: OK — {result['name']}")
    click.echo(f"  phone from: {', '.join(result['phone_columns'])}")
    if result["fields"]:
        click.echo(f"  fields: {', '.join(result['fields'])}")
    if result["custom_data"] or result["copy_columns"]:
        extra = result["custom_data"] + [f"{p} (copied)" for p in result["copy_columns"]]
        click.echo(f"  custom data: {', '.join(extra)}")
    if "file" not in result:
        return
    for sheet in result["sheets"]:
        where = f"sheet {sheet['sheet']!r}, " if sheet["sheet"] else ""
        click.echo(
            f"{result['file']}: {where}header on row {sheet['header_row']}; "
            f"phone column(s): {', '.join(sheet['phone_columns'])}"
        )
    counts = result["counts"]
    not_leads = ""
    if counts[_NOT_A_LEAD]:
        not_leads = (
            f"; {counts[_NOT_A_LEAD]} not a lead (group titles, repeated headers, report "
            "footers, blank rows)"
        )
    click.echo(
        f"  {counts['rows']} rows: {counts['usable']} usable, "
        f"{counts['missing_phone']} missing phone, {counts['invalid_phone']} invalid phone, "
        f"{counts['type_rejected']} phone type not allowed{not_leads}"
    )
    if result["rows_with_notes"]:
        click.echo(
            f"  {result['rows_with_notes']} usable row(s) have notes (an import with "
            "--dry-run writes them in its report)"
        )
    for note in result["notes"]:
        click.echo(f"  note: {note}")
    for problem in result["problems"]:
        sheet = f"sheet {problem['sheet']!r} " if problem["sheet"] else ""
        click.echo(f"  {sheet}row {problem['row']}: {problem['status']} — {problem['reason']}")
    click.echo("Nothing was sent: this was a dry check.")


def register(group: click.Group) -> None:
    """Add ``mapping suggest`` and ``mapping check`` to the CLI."""
    group.add_command(mapping_group)
