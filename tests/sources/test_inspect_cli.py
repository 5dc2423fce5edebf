"""``lead-importer inspect`` through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from importer.cli import cli
from importer.errors import EmptySourceError
from tests.sources.conftest import write_xlsx

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def test_inspect_json_on_a_workbook(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        [["Leads"], [], ["name", "phone"], ["Dan", 521234567], ["Ruth", "0541234567"]],
        Hidden=[["x"]],
    )
    wb = openpyxl.load_workbook(path)
    wb["Hidden"].sheet_state = "hidden"
    wb.save(path)
    result = CliRunner().invoke(cli, ["inspect", str(path), "--json", "--rows", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {k: data[k] for k in (
        "format", "encoding", "delimiter", "sheet", "sheets", "header_row", "columns", "row_count"
    )} == {
        "format": "xlsx", "encoding": None, "delimiter": None, "sheet": "Leads",
        "sheets": [{"name": "Leads", "hidden": False}, {"name": "Hidden", "hidden": True}],
        "header_row": 3, "columns": ["name", "phone"], "row_count": 2,
    }
    assert data["rows"] == [
        {"row": 4, "cells": {"name": "Dan", "phone": "521234567"}, "numeric": ["phone"]}
    ]


def test_inspect_json_on_facebook_export() -> None:
    result = CliRunner().invoke(
        cli, ["inspect", str(SAMPLES / "facebook_leads.csv"), "--json", "--rows", "2"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["encoding"] == "utf-16-le" and data["delimiter"] == "\t"
    assert data["encoding_reason"] == "UTF-16 LE byte-order mark"
    assert data["row_count"] == 20 and [r["row"] for r in data["rows"]] == [2, 3]
    assert data["rows"][0]["cells"]["phone_number"].startswith("p:+972")


def test_inspect_options_and_human_view(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("title\na;b\n1;2\n")
    result = CliRunner().invoke(
        cli, ["inspect", str(path), "--delimiter", ";", "--header-row", "2", "--encoding", "utf-8"]
    )
    assert result.exit_code == 0, result.output
    assert "Delimiter:  semicolon (chosen with the delimiter option)" in result.output
    assert "Header row: 2" in result.output and "Data rows:  1" in result.output


def test_inspect_bad_file_is_one_paragraph_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"name,phone\n")
    # The error edge (run_cli) is the console script's, so run it as a user would.
    proc = subprocess.run(
        [sys.executable, "-m", "importer", "inspect", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "Error: leads.csv: has a header row (row 1) but no data rows below it\n"
        f"How to fix it: {EmptySourceError.default_hint}\n"
    )


def test_sheet_numbers_count_from_1_on_the_command_line_as_in_mappings(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "two.xlsx",
        [["name", "phone"], ["first", "053-1000001"]],
        Second=[["name", "phone"], ["second", "053-1000002"]],
    )
    runner = CliRunner()
    for number, name in (("1", "Leads"), ("2", "Second")):
        result = runner.invoke(cli, ["inspect", str(path), "--sheet", number, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["sheet"] == name
    result = runner.invoke(cli, ["inspect", str(path), "--sheet", "0"])
    assert result.exit_code == 2
    assert "count from 1" in result.output


def test_inspect_notes_values_linked_from_another_workbook(tmp_path: Path) -> None:
    from tests.sources.test_workbooks import LINK_NOTE, LINKED_ROWS, LINKS
    from tests.workbooks import write_linked_workbook

    path = write_linked_workbook(tmp_path / "linked.xlsx", LINKED_ROWS, LINKS)
    human = CliRunner().invoke(cli, ["inspect", str(path)])
    assert human.exit_code == 0, human.output
    assert "Sheet:      Leads" in human.output
    assert f"Note:       {LINK_NOTE}" in human.output
    as_json = CliRunner().invoke(cli, ["inspect", str(path), "--json"])
    assert json.loads(as_json.output)["warnings"] == [LINK_NOTE]
