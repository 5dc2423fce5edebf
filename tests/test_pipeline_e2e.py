"""`lead-importer import` end to end, through the CLI, against the emulator over HTTP."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.dialer.retry import RetryPolicy
from importer.emulator.server import EmulatorServer, FaultConfig
from importer.pipeline import ImportOptions, run_import
from importer.redact import mask
from tests.phone_samples import e164, valid_mobiles
from tests.workbooks import write_sheets

MAPPING = """\
name: test leads
phone:
  columns: [phone, טלפון]
fields:
  CustomerName: {column: name}
  Priority: {column: score, map: {hot: 10, warm: 5}, default: 1}
dedupe:
  history_days: 0
  suppression: [dnc.csv]
"""


def write_csv(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header or ["name", "phone", "score"])
        out.writerows(rows)
    return path


def write_workbook(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    """An .xlsx with one sheet per entry, each with the name/phone/score header."""
    header: list[object] = ["name", "phone", "score"]
    return write_sheets(path, {title: [header, *rows] for title, rows in sheets.items()})


def read_report(report_dir: Path) -> list[dict[str, str]]:
    (path,) = sorted(report_dir.glob("*.report.csv"))
    from importer.report import read_report_csv

    return read_report_csv(path)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "dnc.csv").write_text("phone\n", encoding="utf-8")
    return tmp_path


def client_for(server: EmulatorServer) -> DialerClient:
    return DialerClient(Settings(api_url=server.base_url, account_code="demo"))


def add_pending(server: EmulatorServer, numbers: list[str]) -> str:
    """Make these numbers pending in "Hot leads"; return the campaign's code."""
    code: str = server.demo.campaigns["Hot leads"]
    client = client_for(server)
    for number in numbers:
        client.add_call(code, CallTarget(target=number))
    return code


def run_cli(workdir: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "import",
            *args,
            "--mapping",
            str(workdir / "mapping.yaml"),
            "--campaign",
            "Hot leads",
            "--report-dir",
            str(workdir / "reports"),
            "--state-dir",
            str(workdir / "state"),
        ],
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def test_mixed_file_gets_exact_statuses_row_by_row(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    a, b, c, d = valid_mobiles(4)
    code = emulator_env.demo.campaigns["Hot leads"]
    client_for(emulator_env).add_call(code, CallTarget(target=b))
    (workdir / "dnc.csv").write_text(f"phone\n{c}\n", encoding="utf-8")
    source = write_csv(
        workdir / "leads.csv",
        [
            ["Dana", a, "hot"],
            ["Dana again", f"+972-{a[1:3]}-{a[3:]}", "warm"],
            ["No phone", "", ""],
            ["Short", "12345", ""],
            ["Toll free", "1-800-800-800", ""],
            ["Pending", b, ""],
            ["Do not call", c, ""],
            ["Ron", d, "cold?"],
        ],
    )
    exit_code, out, err = run_cli(workdir, str(source))
    assert exit_code == 0, err
    rows = read_report(workdir / "reports")
    assert [(r["row"], r["status"]) for r in rows] == [
        ("2", "added"),
        ("3", "duplicate_in_batch"),
        ("4", "missing_phone"),
        ("5", "invalid_phone"),
        ("6", "type_rejected"),
        ("7", "duplicate_pending"),
        ("8", "suppressed"),
        ("9", "added"),
    ]
    assert rows[0]["phone"] == e164(a)
    assert rows[0]["Priority"] == "10"
    assert rows[7]["Priority"] == "1"
    assert "cold?" in rows[7]["reason"]
    assert rows[0]["campaign"] == "Hot leads"
    assert Counter(emulator_env.pending_phones(code)) == Counter([e164(x)[1:] for x in (a, b, d)])
    assert "2 added" in out
    assert code not in out + err


def test_dry_run_writes_nothing(emulator_env: EmulatorServer, workdir: Path) -> None:
    a, b = valid_mobiles(2)
    source = write_csv(workdir / "leads.csv", [["A", a, ""], ["B", b, ""]])
    exit_code, _out, err = run_cli(workdir, str(source), "--dry-run", "--json")
    assert exit_code == 0, err
    code = emulator_env.demo.campaigns["Hot leads"]
    assert emulator_env.pending_phones(code) == []
    assert [r["status"] for r in read_report(workdir / "reports")] == ["would_add", "would_add"]
    writes = [
        r
        for r in emulator_env.request_log
        if r.method.lower()
        not in {"getcampaignlist", "getcampaigndetails", "getcampaignpendingcalls"}
    ]
    assert writes == []


def test_json_summary_and_rerun_is_already_imported(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    phones = valid_mobiles(3)
    source = write_csv(workdir / "leads.csv", [[f"n{i}", p, ""] for i, p in enumerate(phones)])
    exit_code, out, err = run_cli(workdir, str(source), "--json")
    assert exit_code == 0, err
    summary = json.loads(out)
    assert summary["counts"]["added"] == 3
    assert summary["exit_code"] == 0
    assert summary["run_id"]
    bulk_calls = sum(1 for r in emulator_env.request_log if r.method.lower() == "addcallsbulk")
    exit_code, out, err = run_cli(workdir, str(source), "--json")
    assert exit_code == 0, err
    again = json.loads(out)
    assert any("Already imported" in n for n in again["files"][0]["notes"])
    # The earlier run's counts stay in the file's entry but are not this run's work.
    assert again["files"][0]["already_imported"] is True
    assert again["files"][0]["counts"]["added"] == 3
    assert again["counts"]["added"] == 0
    assert again["already_imported"] == ["leads.csv"]
    exit_code, out, err = run_cli(workdir, str(source))
    assert exit_code == 0, err
    assert "leads.csv: already imported, nothing sent now" in out
    assert bulk_calls == sum(
        1 for r in emulator_env.request_log if r.method.lower() == "addcallsbulk"
    )
    code = emulator_env.demo.campaigns["Hot leads"]
    assert sorted(emulator_env.pending_phones(code)) == sorted(e164(p)[1:] for p in phones)


@pytest.fixture
def faulty_emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    """An emulator whose fault draws hit early (seed 0 draws nothing under 0.25 for 20 tries)."""
    with EmulatorServer(db_path=tmp_path / "faulty.db", port=0, seed=1) as server:
        server.seed_demo()
        yield server


def test_faults_never_duplicate_and_report_agrees_with_campaign(
    faulty_emulator: EmulatorServer, workdir: Path
) -> None:
    emulator = faulty_emulator
    phones = valid_mobiles(400)
    source = write_csv(workdir / "leads.csv", [[f"n{i}", p, ""] for i, p in enumerate(phones)])
    emulator.set_faults(
        FaultConfig(fail_rate=0.2, ambiguous_rate=0.1, rate_limit=40, methods={"AddCallsBulk"})
    )
    settings = Settings(api_url=emulator.base_url, account_code="demo", state_dir=workdir / "state")
    options = ImportOptions(
        campaign="Hot leads",
        mapping_path=workdir / "mapping.yaml",
        report_dir=workdir / "reports",
        report_formats=frozenset({"csv"}),
        chunk_size=20,
        concurrency=3,
        retry=RetryPolicy(max_attempts=8, initial_wait=0.01, max_wait=0.05, max_total=30),
    )
    result = run_import([source], options, settings)
    assert {"fail", "drop"} <= {e.fault for e in emulator.request_log} - {None}
    code = emulator.demo.campaigns["Hot leads"]
    pending = emulator.pending_phones(code)
    assert len(pending) == len(set(pending)), "a number was added twice"
    rows = read_report(workdir / "reports")
    added = {r["phone"][1:] for r in rows if r["status"] == "added"}
    failed = {r["phone"][1:] for r in rows if r["status"] == "failed"}
    assert added == set(pending)
    assert added | failed == {e164(p)[1:] for p in phones}
    assert result.exit_code == (1 if failed else 0)
    # A re-run (faults off) delivers whatever failed, still without duplicates.
    emulator.set_faults(FaultConfig())
    for report in (workdir / "reports").glob("*"):
        report.unlink()
    result = run_import([source], options, settings)
    assert result.exit_code == 0
    pending = emulator.pending_phones(code)
    assert sorted(pending) == sorted(e164(p)[1:] for p in phones)


@pytest.mark.parametrize("seed", [3, 7, 11])
def test_cli_under_every_fault_ends_with_each_number_once(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Issue 5: --fail-rate 0.2 --ambiguous-rate 0.1 and a rate limit, on every method."""
    faults = FaultConfig(fail_rate=0.2, ambiguous_rate=0.1, rate_limit=20)
    with EmulatorServer(db_path=tmp_path / "faulty.db", port=0, seed=seed) as server:
        demo = server.seed_demo()
        server.set_faults(faults)
        monkeypatch.setenv("VOICENTER_API_URL", server.base_url)
        monkeypatch.setenv("VOICENTER_ACCOUNT_CODE", "demo")
        phones = valid_mobiles(200, start=3_000_000)
        rows = [[f"n{i}", p, ""] for i, p in enumerate(phones)]
        source = write_csv(workdir / "leads.csv", rows)
        code = demo.campaigns["Hot leads"]
        exit_code, _out, err = run_cli(workdir, str(source), "--chunk-size", "25")
        assert exit_code in {0, 1}, err
        injected = {entry.fault for entry in server.request_log} - {None}
        assert {"fail", "drop"} <= injected, "the seed must exercise 500s and dropped answers"
        pending = server.pending_phones(code)
        assert len(pending) == len(set(pending)), "a number was added twice"
        report = read_report(workdir / "reports")
        assert [int(r["row"]) for r in report] == list(range(2, len(phones) + 2))
        assert {r["phone"][1:] for r in report if r["status"] == "added"} == set(pending)
        if exit_code == 1:  # some rows failed after retries: the same command delivers them
            server.set_faults(FaultConfig())
            exit_code, _out, err = run_cli(workdir, str(source), "--chunk-size", "25")
            assert exit_code == 0, err
        assert sorted(server.pending_phones(code)) == sorted(e164(p)[1:] for p in phones)


def test_upsert_updates_pending_targets(emulator_env: EmulatorServer, workdir: Path) -> None:
    a, b = valid_mobiles(2)
    code = emulator_env.demo.campaigns["Hot leads"]
    client_for(emulator_env).add_call(code, CallTarget(target=a, priority=1, customer_name="Old"))
    source = write_csv(workdir / "leads.csv", [["New name", a, "hot"], ["B", b, ""]])
    exit_code, _out, err = run_cli(workdir, str(source), "--mode", "upsert")
    assert exit_code == 0, err
    assert [r["status"] for r in read_report(workdir / "reports")] == ["updated", "added"]
    calls = {c.phone: c for c in client_for(emulator_env).get_campaign_pending_calls(code).calls}
    assert calls[e164(a)[1:]].customer_name == "New name"
    assert calls[e164(a)[1:]].priority == 10
    assert sorted(calls) == sorted(e164(x)[1:] for x in (a, b))


def test_sync_removes_only_what_is_not_in_the_source(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    keep, stale, new = valid_mobiles(3)
    extra = valid_mobiles(4, start=2_000_000)
    code = emulator_env.demo.campaigns["Hot leads"]
    client = client_for(emulator_env)
    for number in (keep, stale, *extra):
        client.add_call(code, CallTarget(target=number))
    source = write_csv(
        workdir / "leads.csv", [["K", keep, ""], ["N", new, ""], *[["E", x, ""] for x in extra]]
    )
    exit_code, _out, err = run_cli(workdir, str(source), "--mode", "sync")
    assert exit_code == 2
    assert "--yes" in err
    exit_code, _out, err = run_cli(workdir, str(source), "--mode", "sync", "--yes")
    assert exit_code == 0, err
    statuses = Counter(r["status"] for r in read_report(workdir / "reports"))
    assert statuses == Counter({"duplicate_pending": 5, "added": 1, "removed": 1})
    assert sorted(emulator_env.pending_phones(code)) == sorted(
        e164(x)[1:] for x in (keep, new, *extra)
    )
    (backup,) = (workdir / "reports").glob("*pending-backup*.csv")
    assert e164(stale)[1:] in backup.read_text(encoding="utf-8-sig")


def test_sync_refuses_to_remove_a_large_share_without_force(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    old = valid_mobiles(5)
    (new,) = valid_mobiles(1, start=3_000_000)
    code = add_pending(emulator_env, old)
    source = write_csv(workdir / "leads.csv", [["K", old[0], ""], ["N", new, ""]])
    exit_code, _out, err = run_cli(workdir, str(source), "--mode", "sync", "--yes")
    assert exit_code == 2
    assert "--force" in err and "nothing was sent or removed" in err
    # Refused before anything was sent: the new number was not added either.
    assert sorted(emulator_env.pending_phones(code)) == sorted(e164(x)[1:] for x in old)
    # ... and the refusal is no unfinished run waiting to be resumed.
    listed = CliRunner().invoke(cli, ["runs", "--state-dir", str(workdir / "state")])
    assert "unfinished" not in listed.output


def test_disabled_campaign_exits_3_unless_started(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    (a,) = valid_mobiles(1)
    code = emulator_env.demo.campaigns["Hot leads"]
    client_for(emulator_env).stop_campaign(code)
    source = write_csv(workdir / "leads.csv", [["A", a, ""]])
    exit_code, _out, err = run_cli(workdir, str(source))
    assert exit_code == 3
    assert "disabled" in err
    assert emulator_env.pending_phones(code) == []
    exit_code, _out, err = run_cli(workdir, str(source), "--start-campaign")
    assert exit_code == 0, err
    assert emulator_env.pending_phones(code) == [e164(a)[1:]]


def test_bad_input_exits_2_and_pushes_nothing(emulator_env: EmulatorServer, workdir: Path) -> None:
    good = write_csv(workdir / "good.csv", [["A", valid_mobiles(1)[0], ""]])
    bad = write_csv(workdir / "bad.csv", [["A", "x"]], header=["name", "mobile"])
    exit_code, _out, err = run_cli(workdir, str(good), str(bad))
    assert exit_code == 2
    assert "bad.csv" in err
    assert "phone" in err
    assert "Traceback" not in err
    code = emulator_env.demo.campaigns["Hot leads"]
    assert emulator_env.pending_phones(code) == []


def test_unknown_campaign_exits_2_listing_names(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    source = write_csv(workdir / "leads.csv", [["A", valid_mobiles(1)[0], ""]])
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(source),
            "--mapping",
            str(workdir / "mapping.yaml"),
            "--campaign",
            "Nope",
            "--report-dir",
            str(workdir / "r"),
            "--state-dir",
            str(workdir / "s"),
        ],
    )
    assert result.exit_code == 2
    assert "Hot leads" in result.stderr
    assert result.stdout == ""
    # With --json a script reading stdout gets the error as JSON too.
    result = CliRunner().invoke(
        cli,
        ["import", str(source), "--mapping", str(workdir / "mapping.yaml"), "--campaign",
         "Nope", "--report-dir", str(workdir / "r"), "--state-dir", str(workdir / "s"), "--json"],
    )
    assert result.exit_code == 2
    answer = json.loads(result.stdout)
    assert answer["exit_code"] == 2 and "Hot leads" in answer["error"]


@pytest.mark.parametrize("with_account", [True, False], ids=["by-list", "by-details"])
@pytest.mark.parametrize("wrong", ["abc12", "Zq7" + "x" * 26 + "K9p"], ids=["short", "long"])
def test_a_wrong_code_is_never_echoed(
    emulator_env: EmulatorServer,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    wrong: str,
    with_account: bool,
) -> None:
    """Whatever was typed may be a code (a wrong one is often a real one mistyped): it is
    masked in the message, the log and the JSON, and the message still helps."""
    if not with_account:
        monkeypatch.delenv("VOICENTER_ACCOUNT_CODE")
    source = write_csv(workdir / "leads.csv", [["A", valid_mobiles(1)[0], ""]])
    log_file = workdir / "import.log"
    result = CliRunner().invoke(
        cli,
        ["import", str(source), "--mapping", str(workdir / "mapping.yaml"), "--campaign", wrong,
         "--report-dir", str(workdir / "r"), "--state-dir", str(workdir / "s"), "--json",
         "--log-file", str(log_file), "-v"],
    )
    assert result.exit_code == 2, result.output
    answer = json.loads(result.stdout)
    for text in (result.stderr, result.stdout, log_file.read_text(encoding="utf-8")):
        assert wrong not in text, text
    if with_account:
        assert "available campaigns: 'Hot leads', 'Callbacks'" in answer["error"]
    else:
        assert "check the code, or set VOICENTER_ACCOUNT_CODE" in answer["error"]
    assert mask(wrong) in answer["error"] and mask(wrong) in result.stderr


def test_a_mistyped_name_is_shown_with_the_name_meant(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    """A name with a space or a Hebrew letter cannot be a code: it is quoted back. One
    that might be a code is masked; either way the closest campaign name is offered."""
    source = write_csv(workdir / "leads.csv", [["A", valid_mobiles(1)[0], ""]])

    def error_for(typed: str) -> str:
        result = CliRunner().invoke(
            cli,
            ["import", str(source), "--mapping", str(workdir / "mapping.yaml"), "--campaign",
             typed, "--report-dir", str(workdir / "r"), "--state-dir", str(workdir / "s")],
        )
        assert result.exit_code == 2, result.output
        return result.stderr

    assert "no campaign named 'Hot  leeds' in this account; did you mean 'Hot leads'?" in (
        error_for("Hot  leeds")
    )
    assert "no campaign named 'לידים חמים' in this account; available" in error_for("לידים חמים")
    err = error_for("Hotleads")
    assert "Hotleads" not in err
    assert "named or coded H…s (shown masked: it may be a code) in this account; did you " \
        "mean 'Hot leads'?" in err


def test_api_unreachable_exits_3(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICENTER_API_URL", "http://127.0.0.1:9/ForwardDialer/Dialer")
    monkeypatch.setenv("VOICENTER_ACCOUNT_CODE", "demo")
    source = write_csv(workdir / "leads.csv", [["A", valid_mobiles(1)[0], ""]])
    exit_code, _out, err = run_cli(workdir, str(source))
    assert exit_code == 3
    assert "Traceback" not in err


def test_pending_export_reimports_into_another_campaign_unchanged(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    """Migration: `pending --format csv` then import with mappings/voicenter-pending.yaml."""
    hot = emulator_env.demo.campaigns["Hot leads"]
    callbacks = emulator_env.demo.campaigns["Callbacks"]
    client = client_for(emulator_env)
    phones = valid_mobiles(4)
    # Names and notes that the export must escape for Excel and the import must restore.
    names = ["לקוח 0", "+ליד", "-דני", "@SUM(A1)"]
    for i, number in enumerate(phones):
        client.add_call(
            hot,
            CallTarget(
                target=number,
                customer_name=names[i],
                priority=i + 2,
                custom_data={"var_LeadID": f"L{i}", "var_Source": "crm", "var_Notes": "-לא ענה"},
            ),
        )
    export = tmp_path / "hot.csv"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["pending", "Hot leads", "--format", "csv", "--output", str(export)]
    )
    assert result.exit_code == 0, result.stderr
    mapping = Path(__file__).resolve().parent.parent / "mappings" / "voicenter-pending.yaml"
    result = runner.invoke(
        cli,
        [
            "import",
            str(export),
            "--mapping",
            str(mapping),
            "--campaign",
            "Callbacks",
            "--report-dir",
            str(tmp_path / "r"),
            "--state-dir",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    before = {c.phone: c for c in client.get_campaign_pending_calls(hot).calls}
    after = {c.phone: c for c in client.get_campaign_pending_calls(callbacks).calls}
    assert sorted(after) == sorted(before)
    for phone, call in after.items():
        old = before[phone]
        assert (call.customer_name, call.priority) == (old.customer_name, old.priority)
        data = dict(call.custom_data or {})
        data.pop("var_ImportRef")
        assert data == old.custom_data


def test_log_file_tells_the_story_without_codes(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    source = write_csv(workdir / "leads.csv", [["A", valid_mobiles(1)[0], ""]])
    log_file = workdir / "logs" / "import.log"
    exit_code, _out, err = run_cli(
        workdir, str(source), "--log-file", str(log_file), "--log-format", "json"
    )
    assert exit_code == 0, err
    records = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert any("leads.csv into 'Hot leads': 1 row(s): 1 added" in r["message"] for r in records)
    text = log_file.read_text(encoding="utf-8")
    assert not any(code in text for code in emulator_env.demo.campaigns.values())


def test_suppression_lists_from_the_command_line_and_the_config_file(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    a, b, c = valid_mobiles(3)
    (workdir / "dnc-flag.csv").write_text(f"{a}\n", encoding="utf-8")  # no header: just numbers
    lists = workdir / "lists"
    lists.mkdir()
    (lists / "opted-out.csv").write_text(f"טלפון\n{e164(b)}\n", encoding="utf-8")
    config = workdir / "settings.yaml"
    config.write_text("suppression: [lists/opted-out.csv]\n", encoding="utf-8")
    source = write_csv(workdir / "leads.csv", [["A", a, ""], ["B", b, ""], ["C", c, ""]])
    exit_code, _out, err = run_cli(
        workdir,
        str(source),
        "--suppression",
        str(workdir / "dnc-flag.csv"),
        "--config",
        str(config),
    )
    assert exit_code == 0, err
    statuses = [r["status"] for r in read_report(workdir / "reports")]
    assert statuses == ["suppressed", "suppressed", "added"]
    code = emulator_env.demo.campaigns["Hot leads"]
    assert emulator_env.pending_phones(code) == [e164(c)[1:]]


def test_account_wide_pending_scope(emulator_env: EmulatorServer, workdir: Path) -> None:
    a, b = valid_mobiles(2)
    client_for(emulator_env).add_call(
        emulator_env.demo.campaigns["Callbacks"], CallTarget(target=a)
    )
    source = write_csv(workdir / "leads.csv", [["A", a, ""], ["B", b, ""]])
    exit_code, _out, err = run_cli(workdir, str(source))
    assert exit_code == 0, err
    assert [r["status"] for r in read_report(workdir / "reports")] == ["added", "added"]
    # The same number is pending in another campaign: with account scope it is skipped.
    (workdir / "mapping.yaml").write_text(
        MAPPING.replace("  history_days: 0", "  history_days: 0\n  pending_scope: account"),
        encoding="utf-8",
    )
    for report in (workdir / "reports").glob("*"):
        report.unlink()
    c = valid_mobiles(1, start=2_500_000)[0]
    client_for(emulator_env).add_call(
        emulator_env.demo.campaigns["Callbacks"], CallTarget(target=c)
    )
    source = write_csv(workdir / "leads2.csv", [["C", c, ""]])
    exit_code, _out, err = run_cli(workdir, str(source))
    assert exit_code == 0, err
    assert [r["status"] for r in read_report(workdir / "reports")] == ["duplicate_pending"]


@pytest.mark.parametrize("seed", [1, 2])
def test_dialling_while_answers_are_lost_never_adds_a_number_twice(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """A dialer consuming calls between a lost answer and the read-back must not cause resends."""
    with EmulatorServer(db_path=tmp_path / "dialling.db", port=0, seed=seed) as server:
        demo = server.seed_demo()
        code = demo.campaigns["Hot leads"]
        server.set_faults(
            FaultConfig(ambiguous_rate=0.4, latency_ms=20, dial_rate=100, methods={"AddCallsBulk"})
        )
        monkeypatch.setenv("VOICENTER_API_URL", server.base_url)
        monkeypatch.setenv("VOICENTER_ACCOUNT_CODE", "demo")
        phones = valid_mobiles(300, start=4_000_000)
        source = write_csv(workdir / "leads.csv", [[f"n{i}", p, ""] for i, p in enumerate(phones)])
        exit_code, _out, err = run_cli(workdir, str(source), "--chunk-size", "20")
        assert exit_code == 0, err
        assert "drop" in {e.fault for e in server.request_log}
        pending = server.pending_phones(code)
        assert len(pending) == len(set(pending))
        # Every number was inserted exactly once: it is either still pending or was dialled.
        assert server.dialled_count(code) + len(pending) == len(phones)
        report = read_report(workdir / "reports")
        assert {r["status"] for r in report} == {"added"}


def test_batch_dedupe_spans_every_sheet_and_file_of_a_run(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    a, b, c = valid_mobiles(3)
    workbook = write_workbook(
        workdir / "months.xlsx",
        {"ינואר": [["A", a, "hot"]], "פברואר": [["A again", a, ""], ["B", b, ""]]},
    )
    later = write_csv(workdir / "later.csv", [["B again", b, ""], ["C", c, ""]])
    exit_code, out, err = run_cli(workdir, str(workbook), str(later), "--all-sheets", "--json")
    assert exit_code == 0, err
    reports = sorted((workdir / "reports").glob("*.report.csv"))
    from importer.report import read_report_csv

    by_file = {p.name.split(".")[0]: read_report_csv(p) for p in reports}
    assert [(r["sheet"], r["row"], r["status"]) for r in by_file["months"]] == [
        ("ינואר", "2", "added"),
        ("פברואר", "2", "duplicate_in_batch"),
        ("פברואר", "3", "added"),
    ]
    assert [r["status"] for r in by_file["later"]] == ["duplicate_in_batch", "added"]
    assert json.loads(out)["counts"]["added"] == 3
    code = emulator_env.demo.campaigns["Hot leads"]
    assert sorted(emulator_env.pending_phones(code)) == sorted(e164(x)[1:] for x in (a, b, c))


def test_repeated_phone_headers_are_all_read_and_the_run_says_so(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    """Three columns named "טלפון": a number in the second or third one is not lost."""
    a, b, c = valid_mobiles(3, start=2_000_000)
    source = write_csv(
        workdir / "dup.csv",
        [["A", a, "", "", "hot"], ["B", "", b, "", ""], ["C", "", "", c, ""]],
        header=["name", "טלפון", "טלפון", "טלפון", "score"],
    )
    exit_code, out, err = run_cli(workdir, str(source))
    assert exit_code == 0, err
    assert [r["status"] for r in read_report(workdir / "reports")] == ["added"] * 3
    assert "'טלפון', 'טלפון (2)', 'טלפון (3)' are read in that order" in out
    code = emulator_env.demo.campaigns["Hot leads"]
    assert sorted(emulator_env.pending_phones(code)) == sorted(e164(x)[1:] for x in (a, b, c))


def test_sheets_left_unread_are_named_in_the_summary(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    """Only the first sheet with data is read without --all-sheets: the run must say so."""
    a, b = valid_mobiles(2, start=2_100_000)
    workbook = write_workbook(
        workdir / "teams.xlsx", {"צוות א": [["A", a, "hot"]], "צוות ב": [["B", b, "hot"]]}
    )
    exit_code, out, err = run_cli(workdir, str(workbook), "--report-format", "csv,json")
    assert exit_code == 0, err
    assert "other sheet(s) not read: 'צוות ב'" in out
    (summary,) = sorted((workdir / "reports").glob("*.summary.json"))
    notes = json.loads(summary.read_text(encoding="utf-8"))["notes"]
    assert any("other sheet(s) not read: 'צוות ב'" in n for n in notes)


def test_sync_dry_run_previews_a_large_removal_instead_of_refusing(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    old = valid_mobiles(5, start=2_200_000)
    code = add_pending(emulator_env, old)
    source = write_csv(workdir / "leads.csv", [["K", old[0], ""]])
    exit_code, out, err = run_cli(workdir, str(source), "--mode", "sync", "--dry-run")
    assert exit_code == 0, err
    assert "A real run would refuse" in out and "--force" in out
    statuses = Counter(r["status"] for r in read_report(workdir / "reports"))
    assert statuses == Counter({"duplicate_pending": 1, "removed": 4})
    assert len(emulator_env.pending_phones(code)) == 5


def test_values_linked_from_another_workbook_are_noted_in_the_summary(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    """Phones copied into a sheet by links to another workbook are imported as saved, and the
    run says which cells they are and that they may be stale."""
    from tests.workbooks import write_linked_workbook

    a, b, c = valid_mobiles(3, start=2_200_000)
    rows: list[list[object]] = [["name", "phone", "score"], ["A", a, "hot"], ["B", b, "hot"],
                                ["C", c, "warm"]]
    links = {"B2": "<f>[1]Leads!B2</f>", "B3": "<f>[1]Leads!B3</f>"}
    source = write_linked_workbook(workdir / "linked.xlsx", rows, links)
    exit_code, out, err = run_cli(workdir, str(source), "--report-format", "csv,json")
    assert exit_code == 0, err
    note = "sheet 'Leads': 2 cells (B2, B3) show values linked from another workbook"
    assert note in out
    (summary,) = sorted((workdir / "reports").glob("*.summary.json"))
    notes = json.loads(summary.read_text(encoding="utf-8"))["notes"]
    assert any(n.startswith(note) and "may be out of date" in n for n in notes), notes
    code = emulator_env.demo.campaigns["Hot leads"]
    assert sorted(emulator_env.pending_phones(code)) == sorted(e164(x)[1:] for x in (a, b, c))


def test_a_suggested_mapping_sends_clean_values_under_readable_keys(
    emulator_env: EmulatorServer, workdir: Path
) -> None:
    """`mapping suggest` then `import`: the split name joined, the call-back time, readable
    CustomData keys, and Excel's text marks ('…, ="…") gone from every value (#12.8)."""
    a, b = valid_mobiles(2)
    source = write_csv(
        workdir / "leads.csv",
        [
            ['="0501234567"', "לוי", a, "'18094000049", '="0722776772"', "01/07/2030 09:00",
             'נדל"ן'],
            ["Dana's", "O'Neil", f"'{b}", "'2", "", "", "'s"],
        ],
        header=["שם", "שם משפחה", "טלפון", "מס' לקוח", "מספר מזוהה", "מועד חיוג", "תחום עיסוק"],
    )
    result = CliRunner().invoke(
        cli,
        ["mapping", "suggest", str(source), "--output", str(workdir / "mapping.yaml"), "--force"],
    )
    assert result.exit_code == 0, result.stderr
    exit_code, _out, err = run_cli(workdir, str(source))
    assert exit_code == 0, err
    code = emulator_env.demo.campaigns["Hot leads"]
    calls = {c.phone: c for c in client_for(emulator_env).get_campaign_pending_calls(code).calls}
    first, second = calls[e164(a)[1:]], calls[e164(b)[1:]]
    assert first.customer_name == "0501234567 לוי"
    assert first.caller_id == "972722776772"
    assert first.originate_time is not None
    data = dict(first.custom_data or {})
    data.pop("var_ImportRef")
    assert data == {"var_CustomerId": "18094000049", "var_TchumIsuk": 'נדל"ן'}
    assert second.customer_name == "Dana's O'Neil"
    data = dict(second.custom_data or {})
    data.pop("var_ImportRef")
    assert data == {"var_CustomerId": "2", "var_TchumIsuk": "'s"}
