"""`--mode upsert` keeps what it does not replace, end to end against the emulator over HTTP."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget, PendingCall
from importer.emulator.server import EmulatorServer
from importer.journal import Journal
from importer.pipeline import ImportOptions, run_import
from importer.report import read_report_csv
from tests.phone_samples import e164, valid_mobiles

MAPPING = """\
name: CRM update
phone: [phone]
fields:
  CustomerName: {column: name}
  Priority: {column: priority}
custom_data:
  var_City: city
dedupe:
  history_days: 0
"""
OLD_DATA = {"var_LeadID": "L-17", "var_Email": "dana@example.com", "var_City": "Haifa"}


def client_for(server: EmulatorServer) -> DialerClient:
    return DialerClient(Settings(api_url=server.base_url, account_code="demo"))


def hot_leads(server: EmulatorServer) -> str:
    assert server.demo is not None
    return server.demo.campaigns["Hot leads"]


def make_pending(server: EmulatorServer, number: str, **fields: Any) -> None:
    """A pending call in Hot leads, as an agent's earlier import left it."""
    with client_for(server) as client:
        client.add_call(hot_leads(server), CallTarget(target=number, **fields))


def pending_call(server: EmulatorServer, number: str) -> PendingCall:
    with client_for(server) as client:
        calls = client.get_campaign_pending_calls(hot_leads(server)).calls
    (call,) = [c for c in calls if c.phone == e164(number)[1:]]
    return call


def write_leads(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone", "priority", "city"])
        out.writerows(rows)
    return path


def import_cli(root: Path, source: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        [
            "import", str(source), "--mapping", str(root / "mapping.yaml"),
            "--campaign", "Hot leads", "--mode", "upsert",
            "--report-dir", str(root / "reports"), "--state-dir", str(root / "state"),
            "--no-progress", *args,
        ],
        catch_exceptions=False,
    )
    return result.exit_code, result.stderr


def report_rows(root: Path, pattern: str = "*.report.csv") -> list[dict[str, str]]:
    (path,) = sorted((root / "reports").glob(pattern))
    return read_report_csv(path)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return tmp_path


@pytest.fixture
def lead(emulator_env: EmulatorServer) -> str:
    """One pending lead with the details an agent works with."""
    (number,) = valid_mobiles(1, start=5_100_000)
    make_pending(
        emulator_env, number, customer_name="Dana", priority=1, custom_data=dict(OLD_DATA)
    )
    return number


def test_upsert_merges_the_file_onto_the_pending_calls_custom_data(
    emulator_env: EmulatorServer, root: Path, lead: str
) -> None:
    source = write_leads(root / "leads.csv", [["Dana Levi", lead, "9", ""]])
    exit_code, err = import_cli(root, source)
    assert exit_code == 0, err
    call = pending_call(emulator_env, lead)
    assert (call.customer_name, call.priority) == ("Dana Levi", 9)
    data = dict(call.custom_data or {})
    assert data.pop("var_ImportRef")  # the run's own reference, beside the agent's details
    assert data == OLD_DATA  # var_City was mapped but empty: it keeps "Haifa"
    (row,) = report_rows(root)
    assert (row["status"], row["reason"]) == ("updated", "updated: CustomerName, Priority")


def test_clear_empty_clears_a_mapped_key_the_row_leaves_empty(
    emulator_env: EmulatorServer, root: Path, lead: str
) -> None:
    (root / "mapping.yaml").write_text(
        MAPPING + "upsert:\n  clear_empty: true\n", encoding="utf-8"
    )
    source = write_leads(root / "leads.csv", [["Dana Levi", lead, "9", ""]])
    exit_code, err = import_cli(root, source)
    assert exit_code == 0, err
    data = dict(pending_call(emulator_env, lead).custom_data or {})
    data.pop("var_ImportRef")
    assert data == {"var_LeadID": "L-17", "var_Email": "dana@example.com"}
    (row,) = report_rows(root)
    assert row["reason"] == "updated: CustomerName, Priority, var_City (cleared)"


def test_empty_name_and_priority_keep_the_pending_values(
    emulator_env: EmulatorServer, root: Path, lead: str
) -> None:
    source = write_leads(root / "leads.csv", [["", lead, "", "Tel Aviv"]])
    exit_code, err = import_cli(root, source)
    assert exit_code == 0, err
    call = pending_call(emulator_env, lead)
    assert (call.customer_name, call.priority) == ("Dana", 1)
    assert (call.custom_data or {})["var_City"] == "Tel Aviv"
    assert report_rows(root)[0]["reason"] == "updated: var_City"


def test_clear_empty_clears_the_name_but_keeps_the_priority(
    emulator_env: EmulatorServer, root: Path, lead: str
) -> None:
    """Priority has no empty value the API takes: an empty cell keeps it even then."""
    (root / "mapping.yaml").write_text(
        MAPPING + "upsert: {clear_empty: true}\n", encoding="utf-8"
    )
    source = write_leads(root / "leads.csv", [["", lead, "", "Haifa"]])
    exit_code, err = import_cli(root, source)
    assert exit_code == 0, err
    call = pending_call(emulator_env, lead)
    assert (call.customer_name, call.priority) == ("", 1)
    assert report_rows(root)[0]["reason"] == "updated: CustomerName (cleared)"


def test_dry_run_reports_would_update_with_the_real_runs_reason(
    emulator_env: EmulatorServer, root: Path, lead: str
) -> None:
    (new,) = valid_mobiles(1, start=5_200_000)
    source = write_leads(root / "leads.csv", [["Dana Levi", lead, "9", ""], ["Ron", new, "", ""]])
    exit_code, err = import_cli(root, source, "--dry-run")
    assert exit_code == 0, err
    dry = report_rows(root)
    assert [(r["status"], r["reason"]) for r in dry] == [
        ("would_update", "updated: CustomerName, Priority"),
        ("would_add", ""),
    ]
    assert pending_call(emulator_env, lead).customer_name == "Dana"  # nothing was sent
    (summary_path,) = (root / "reports").glob("*.summary.json")
    counts = json.loads(summary_path.read_text(encoding="utf-8"))["counts"]
    assert (counts["would_update"], counts["would_add"]) == (1, 1)
    (workbook,) = (root / "reports").glob("*.report.xlsx")
    summary = openpyxl.load_workbook(workbook)["Summary"]
    lines = {r[0]: r[1] for r in summary.iter_rows(values_only=True) if r and r[0]}
    assert lines["would_update"] == 1

    for path in (root / "reports").iterdir():
        path.unlink()
    exit_code, err = import_cli(root, source)
    assert exit_code == 0, err
    real = report_rows(root, "*.report.csv")
    assert (real[0]["status"], real[0]["reason"]) == ("updated", dry[0]["reason"])


def test_journal_keeps_the_details_the_upsert_replaced(
    emulator_env: EmulatorServer, root: Path, lead: str
) -> None:
    source = write_leads(root / "leads.csv", [["Dana Levi", lead, "9", ""]])
    exit_code, err = import_cli(root, source)
    assert exit_code == 0, err
    with Journal.open(root / "state") as journal:
        (run,) = journal.list_runs(1)
        (entry,) = journal.replaced(run.run_id)
    assert entry.phone == e164(lead)
    previous = json.loads(entry.previous_json)
    assert (previous["CustomerName"], previous["Priority"]) == ("Dana", 1)
    assert previous["CustomData"] == OLD_DATA


class Crash(BaseException):
    """Stands for the process dying right after an UpdateCall went out."""


def test_resumed_upsert_names_its_changes_and_keeps_the_first_details(
    emulator: EmulatorServer, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update went out, the answer was never recorded: the resumed run updates again,
    still reports what it changed and keeps the details from before the first attempt."""
    import importer.file_run as file_run

    (number,) = valid_mobiles(1, start=5_300_000)
    make_pending(emulator, number, customer_name="Dana", priority=1, custom_data=dict(OLD_DATA))
    source = write_leads(root / "leads.csv", [["Dana Levi", number, "9", "Acre"]])
    settings = Settings(api_url=emulator.base_url, account_code="demo")
    options = ImportOptions(
        campaign="Hot leads",
        mapping_path=root / "mapping.yaml",
        report_dir=root / "reports",
        report_formats=frozenset({"csv"}),
        mode="upsert",
        state_dir=root / "state",
    )
    real_update = file_run.update_one

    def update_then_die(*args: Any, **kwargs: Any) -> Any:
        real_update(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(file_run, "update_one", update_then_die)
    with pytest.raises(Crash):
        run_import([source], options, settings)
    assert pending_call(emulator, number).customer_name == "Dana Levi"  # it did go out
    monkeypatch.undo()

    result = run_import([source], options, settings)
    assert result.exit_code == 0
    (row,) = read_report_csv(result.files[0].reports["csv"])
    assert row["status"] == "updated"
    assert row["reason"] == "updated: CustomerName, Priority, var_City"
    with Journal.open(root / "state") as journal:
        (entry,) = journal.replaced(result.run_id)
    assert json.loads(entry.previous_json)["CustomData"] == OLD_DATA


def test_a_number_pending_only_in_another_campaign_is_not_added_by_an_upsert(
    emulator_env: EmulatorServer, root: Path
) -> None:
    """With pending_scope: account an UpdateCall here would add the lead a second time."""
    (root / "mapping.yaml").write_text(
        MAPPING.replace("  history_days: 0\n", "  history_days: 0\n  pending_scope: account\n"),
        encoding="utf-8",
    )
    assert emulator_env.demo is not None
    callbacks = emulator_env.demo.campaigns["Callbacks"]
    (number,) = valid_mobiles(1, start=5_400_000)
    with client_for(emulator_env) as client:
        client.add_call(callbacks, CallTarget(target=number, customer_name="Dana"))
    source = write_leads(root / "leads.csv", [["Dana Levi", number, "9", ""]])
    exit_code, err = import_cli(root, source)
    assert exit_code == 0, err
    (row,) = report_rows(root)
    assert (row["status"], row["reason"]) == (
        "duplicate_pending",
        "already pending in another campaign of the account",
    )
    assert e164(number)[1:] not in emulator_env.pending_phones(hot_leads(emulator_env))


def test_clearing_the_last_key_sends_an_empty_custom_data(
    emulator_env: EmulatorServer, root: Path
) -> None:
    """Without an import reference nothing else is sent: the update must still clear it."""
    (root / "mapping.yaml").write_text(
        MAPPING + "  import_ref: null\nupsert: {clear_empty: true}\n", encoding="utf-8"
    )
    (number,) = valid_mobiles(1, start=5_500_000)
    make_pending(emulator_env, number, customer_name="Dana", custom_data={"var_City": "Haifa"})
    source = write_leads(root / "leads.csv", [["Dana", number, "", ""]])
    exit_code, err = import_cli(root, source)
    assert exit_code == 0, err
    assert not pending_call(emulator_env, number).custom_data
    assert report_rows(root)[0]["reason"] == "updated: var_City (cleared)"


def test_history_says_updated_for_an_upsert(
    emulator_env: EmulatorServer, root: Path, lead: str
) -> None:
    source = write_leads(root / "leads.csv", [["Dana Levi", lead, "9", ""]])
    assert import_cli(root, source)[0] == 0
    result = CliRunner().invoke(
        cli, ["history", lead, "--state-dir", str(root / "state"), "--json"]
    )
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)["imports"]
    assert entry["action"] == "updated"
    table = CliRunner().invoke(cli, ["history", lead, "--state-dir", str(root / "state")])
    assert " updated " in table.output.splitlines()[1]
