"""The rejects file end to end: written beside the reports, fixed, imported again (emulator)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from click.testing import CliRunner, Result

from importer.cli import cli
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.emulator.server import EmulatorServer
from importer.headers import find_columns, rejects_columns
from importer.i18n.reasons import KINDS
from importer.mapping import load_mapping
from importer.phones import pending_key
from importer.report import escape_cell, unescape_cell
from tests.engine.corpus import SAMPLE_MAPPINGS
from tests.phone_samples import e164, valid_mobiles

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"
MAPPINGS = ROOT / "mappings"

FIXABLE = {"invalid_phone", "missing_phone", "type_rejected", "rejected", "failed"}


def pending(server: EmulatorServer) -> list[Any]:
    assert server.demo is not None
    with DialerClient(Settings(api_url=server.base_url, account_code="demo")) as client:
        return client.get_campaign_pending_calls(server.demo.campaigns["Hot leads"]).calls


def import_cli(root: Path, source: Path, mapping: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["import", str(source), "--mapping", str(mapping), "--campaign", "Hot leads",
         "--report-dir", str(root / "reports"), "--state-dir", str(root / "state"),
         "--no-progress", "--json", *args],
        catch_exceptions=False,
    )


def read_rejects(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a rejects CSV, cells as written before escaping."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [[unescape_cell(c) for c in row] for row in csv.reader(fh)]
    return rows[0], rows[1:]


def write_rejects(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Save the file back the way our CSVs are written (as a person's editor would keep it)."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerows([[escape_cell(c) for c in row] for row in [header, *rows]])


def sample_copy(tmp_path: Path, name: str) -> Path:
    """The sample file; Voicenter's export (which has no bad row) gets one broken phone."""
    target = tmp_path / "in" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLES / name, target)
    if name == "voicenter_pending_export.csv":
        header, rows = read_rejects(target)
        rows[3][0] = "N/A"
        write_rejects(target, header, rows)
    return target


@pytest.mark.parametrize("name", sorted(SAMPLE_MAPPINGS))
def test_rejects_round_trip_on_every_sample(
    emulator_env: EmulatorServer, tmp_path: Path, name: str
) -> None:
    mapping_path = MAPPINGS / SAMPLE_MAPPINGS[name]
    source = sample_copy(tmp_path, name)
    first = import_cli(tmp_path, source, mapping_path, "--report-format", "csv,xlsx,json")
    assert first.exit_code in {0, 1}, first.output
    answer = json.loads(first.stdout)
    entry = answer["files"][0]
    fixable = sum(n for status, n in answer["counts"].items() if status in FIXABLE)
    assert fixable > 0
    rejects = Path(entry["reports"]["rejects"])
    report_name = Path(entry["reports"]["csv"]).name
    assert rejects.name == report_name.replace(".report.csv", ".rejects.csv")
    assert Path(entry["reports"]["rejects_xlsx"]).is_file()
    assert any("rejects.csv" in note for note in entry["notes"])
    valid_before = {pending_key(c.phone) for c in pending(emulator_env)}

    header, rows = read_rejects(rejects)
    assert header[-3:] == ["reason", "reason_code", "source_row"]
    assert len(rows) == fixable
    assert all(row[-1].isdigit() and row[-2] and row[-3] for row in rows)
    assert all(row[-2] in KINDS for row in rows)                  # a stable reason code
    book = openpyxl.load_workbook(entry["reports"]["rejects_xlsx"], read_only=True)
    assert [c.value for c in next(book.active.iter_rows(max_row=1))] == header
    book.close()

    # Fix every phone but the last row's, as a person would in Excel, and import again.
    mapping = load_mapping(mapping_path)
    phone_col = find_columns(mapping.phone.columns, header[:-2])[0]
    offset = 10_000 * sorted(SAMPLE_MAPPINGS).index(name)
    fresh = valid_mobiles(len(rows), start=4_400_000 + offset)
    fixed = rows[:-1] if len(rows) > 1 else rows
    for row, number in zip(fixed, fresh, strict=False):
        row[phone_col] = number
    write_rejects(rejects, header, rows)

    second = import_cli(tmp_path, rejects, mapping_path)
    assert second.exit_code in {0, 1}, second.output
    again = json.loads(second.stdout)
    counts = again["counts"]
    assert counts["added"] == len(fixed)
    assert sum(n for s, n in counts.items() if s in FIXABLE) == len(rows) - len(fixed)
    calls = pending(emulator_env)
    numbers = [pending_key(c.phone) for c in calls]
    assert len(numbers) == len(set(numbers))                     # each number once
    assert set(numbers) == valid_before | {e164(n) for n in fresh[: len(fixed)]}
    for call in calls:                                            # our columns never reach it
        data = call.custom_data or {}
        ours = {"var_reason", "var_reason_code", "var_reasoncode", "var_source_row",
                "var_sourcerow"}
        assert not any(k.casefold() in ours for k in data), data
        assert not any(str(v) in {row[-3] for row in rows} for v in data.values())
    if len(rows) > 1:
        left_header, left = read_rejects(Path(again["files"][0]["reports"]["rejects"]))
        assert left_header == header and len(left) == 1

    run_id = again["files"][0]["run_id"]
    shown = CliRunner().invoke(
        cli, ["runs", "show", run_id, "--state-dir", str(tmp_path / "state"), "--json"]
    )
    assert json.loads(shown.stdout)["rejects_of"] == entry["run_id"]


COPY_ALL = """\
name: Everything
phone: [phone]
fields:
  CustomerName: {column: name}
copy_columns: ["*"]
dedupe: {history_days: 0}
"""


def test_copy_all_columns_never_copies_the_rejects_columns(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    good, fixed = valid_mobiles(2, start=5_500_000)
    source = tmp_path / "leads.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone", "reason", "city"])   # the leads' own "reason" column
        out.writerow(["Good", good, "price", "Haifa"])
        out.writerow(["=HYPERLINK(\"http://x\")", "052", "demo", "Acre"])
    mapping = tmp_path / "all.yaml"
    mapping.write_text(COPY_ALL, encoding="utf-8")
    dry = import_cli(tmp_path, source, mapping, "--dry-run")
    assert "rejects" in json.loads(dry.stdout)["files"][0]["reports"]   # dry runs write it too
    first = json.loads(import_cli(tmp_path, source, mapping).stdout)
    rejects = Path(first["files"][0]["reports"]["rejects"])
    raw = rejects.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in raw                                   # escaped like the report
    book = openpyxl.load_workbook(first["files"][0]["reports"]["rejects_xlsx"])
    cell = book.active["A2"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"   # text, not formula
    assert cell.quotePrefix
    header, rows = read_rejects(rejects)
    assert header == ["name", "phone", "reason", "city", "reason", "reason_code", "source_row"]
    assert rows[0][:4] == ['=HYPERLINK("http://x")', "052", "demo", "Acre"]
    assert rows[0][6] == "3"
    rows[0][1] = fixed
    write_rejects(rejects, header, rows)
    second = json.loads(import_cli(tmp_path, rejects, mapping).stdout)
    assert second["counts"]["added"] == 1
    assert "rejects" not in second["files"][0]["reports"]         # nothing left to fix
    (call,) = [c for c in pending(emulator_env) if c.phone == e164(fixed)[1:]]
    data = call.custom_data or {}
    assert data.get("var_Reason") == "demo"                       # the lead's own column
    assert set(data) == {"var_Name", "var_Phone", "var_Reason", "var_City", "var_ImportRef"}
    assert call.customer_name == '=HYPERLINK("http://x")'         # read back as first read
    assert "source_row" not in json.dumps(data) and "3" not in data.values()
    assert "reason_code" not in json.dumps(data)


def test_a_clean_import_leaves_no_rejects_file(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    source = tmp_path / "ok.csv"
    source.write_text("name,phone\nA," + valid_mobiles(1, start=5_600_000)[0] + "\n",
                      encoding="utf-8")
    mapping = tmp_path / "all.yaml"
    mapping.write_text(COPY_ALL, encoding="utf-8")
    answer = json.loads(import_cli(tmp_path, source, mapping).stdout)
    assert "rejects" not in answer["files"][0]["reports"]
    assert not list((tmp_path / "reports").glob("*.rejects.*"))


def test_a_rejects_file_dropped_back_into_the_inbox_is_linked(
    emulator_env: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAD_IMPORTER_STATE_DIR", str(tmp_path / "state"))
    root = tmp_path / "leads"
    runner = CliRunner()
    made = runner.invoke(cli, ["inbox", "init", str(root), "--campaign", "Hot leads"])
    assert made.exit_code == 0
    config = root / "inbox.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["settle_seconds"] = 0
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    good, fixed = valid_mobiles(2, start=5_700_000)

    def drop(path: Path) -> dict[str, Any]:
        old = time.time() - 3600
        os.utime(path, (old, old))
        ran = runner.invoke(cli, ["inbox", "run", "--config", str(config), "--once", "--json"])
        assert ran.exit_code == 0, ran.output
        return dict(json.loads(ran.stdout)["files"][0])

    first_file = root / "inbox" / "leads.csv"
    first_file.write_text(f"Full Name,Mobile\nGood,{good}\nTypo,05x\n", encoding="utf-8")
    first = drop(first_file)
    rejects = Path(first["reports"]["rejects"])
    assert rejects.parent == root / "reports"
    assert "rejects" in json.dumps(first["message"]) or "rejects" in json.dumps(first)
    header, rows = read_rejects(rejects)
    rows[0][header.index("Mobile")] = fixed
    write_rejects(root / "inbox" / rejects.name, header, rows)
    second = drop(root / "inbox" / rejects.name)
    assert second["counts"]["added"] == 1
    shown = runner.invoke(cli, ["runs", "show", second["run_id"]])
    assert f"run {first['run_id']}" in shown.stdout and "Rejects of" in shown.stdout
    origin = runner.invoke(cli, ["runs", "show", first["run_id"]])
    assert "Rejects file" in origin.stdout and second["run_id"] in origin.stdout


TWO_SHEETS = """\
name: Two sheets
phone: [phone]
fields:
  CustomerName: {column: name}
dedupe: {history_days: 0}
"""


def test_rejects_of_several_sheets_line_up_by_column_name(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    good = valid_mobiles(2, start=5_800_000)
    book = openpyxl.Workbook()
    first = book.active
    first.title = "North"
    first.append(["name", "phone"])
    first.append(["Avi", good[0]])
    first.append(["Bad north", "12"])
    second = book.create_sheet("South")
    second.append(["phone", "name", "city"])
    second.append([good[1], "Dana", "Eilat"])
    second.append(["", "No phone south", "Arad"])
    source = tmp_path / "two.xlsx"
    book.save(source)
    mapping = tmp_path / "two.yaml"
    mapping.write_text(TWO_SHEETS, encoding="utf-8")
    answer = json.loads(import_cli(tmp_path, source, mapping, "--all-sheets").stdout)
    assert answer["counts"]["added"] == 2
    header, rows = read_rejects(Path(answer["files"][0]["reports"]["rejects"]))
    assert header == ["name", "phone", "city", "reason", "reason_code", "source_row"]
    assert [row[:3] for row in rows] == [["Bad north", "12", ""], ["No phone south", "", "Arad"]]
    assert [row[-1] for row in rows] == ["3", "3"]


def test_rejects_columns_of_this_and_earlier_versions() -> None:
    # Files written before reason codes end with (reason, source_row): still ours.
    assert rejects_columns(["name", "phone", "reason", "reason_code", "source_row"]) == (2, 3, 4)
    assert rejects_columns(["name", "phone", "reason", "source_row"]) == (2, 3)
    assert rejects_columns(["name", "reason", "reason (2)", "source_row"]) == (2, 3)
    assert rejects_columns(["name", "phone", "source_row"]) is None
    assert rejects_columns(["reason", "source_row"]) is None   # nothing of the lead's left
