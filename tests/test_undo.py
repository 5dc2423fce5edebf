"""`runs undo` and `inbox undo` end to end: the real CLI, the journal and the emulator over HTTP."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from importer.cli import cli
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.emulator.server import EmulatorServer
from importer.journal import Journal
from importer.report import read_report_csv
from tests.phone_samples import e164, valid_mobiles

MAPPING = """\
name: Leads
phone: [phone]
fields:
  CustomerName: {column: name}
  Priority: {column: priority}
custom_data:
  var_City: city
dedupe:
  history_days: 30
"""

Snapshot = list[tuple[str, str, int | None, str, str, int | None]]


def client_for(url: str) -> DialerClient:
    return DialerClient(Settings(api_url=url, account_code="demo"))


def code_of(server: EmulatorServer) -> str:
    assert server.demo is not None
    return server.demo.campaigns["Hot leads"]


def snapshot(url: str, code: str) -> Snapshot:
    """The campaign's pending calls, everything but ids and insertion times."""
    with client_for(url) as client:
        calls = client.get_campaign_pending_calls(code).calls
    return sorted(
        (c.phone, c.customer_name, c.priority, c.caller_id,
         json.dumps(c.custom_data or {}, sort_keys=True), c.originate_time)
        for c in calls
    )


def add_pending(url: str, code: str, number: str, **fields: Any) -> None:
    with client_for(url) as client:
        client.add_call(code, CallTarget(target=e164(number)[1:], **fields))


def remove_pending(url: str, code: str, number: str) -> None:
    """As if the dialer had called it: it leaves the pending list."""
    with client_for(url) as client:
        client.remove_call(code, e164(number)[1:])


def write_leads(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone", "priority", "city"])
        out.writerows(rows)
    return path


def cli_run(root: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def import_file(root: Path, source: Path, *args: str) -> Result:
    (root / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return cli_run(
        root, "import", str(source), "--mapping", str(root / "mapping.yaml"),
        "--campaign", "Hot leads", "--report-dir", str(root / "reports"),
        "--state-dir", str(root / "state"), "--no-progress", "--json", *args,
    )


def undo(root: Path, run_id: str, *args: str, input: str | None = None) -> Result:
    return cli_run(
        root, "runs", "undo", run_id, "--report-dir", str(root / "reports"),
        "--state-dir", str(root / "state"), *args, input=input,
    )


def run_id_of(result: Result) -> str:
    assert result.exit_code in {0, 1}, result.output
    return str(json.loads(result.stdout)["files"][0]["run_id"])


def statuses(report: str) -> dict[str, str]:
    """phone -> status of an undo report."""
    return {row["phone"]: row["status"] for row in read_report_csv(report)}


# ------------------------------------------------------------------------------ tests


def test_undo_of_an_append_run_leaves_the_campaign_as_it_was(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    url, code = emulator_env.base_url, code_of(emulator_env)
    before_num, other, *new = valid_mobiles(6)
    add_pending(url, code, before_num, customer_name="Was here", custom_data={"var_City": "Acre"})
    add_pending(url, code, other, customer_name="Not in the file")
    before = snapshot(url, code)
    source = write_leads(tmp_path / "leads.csv", [
        ["Pending already", before_num, "5", "Haifa"],
        *[[f"Lead {i}", n, "3", "Tel Aviv"] for i, n in enumerate(new)],
        ["Broken", "12345", "1", "Eilat"],
        ["No phone", "", "1", "Eilat"],
    ])
    imported = import_file(tmp_path, source)
    run_id = run_id_of(imported)
    # Imports keep their counts as they were: the undo's statuses are not listed there.
    assert not {"restored", "already_dialled", "kept_added_later"} & set(
        json.loads(imported.stdout)["counts"]
    )
    assert len(snapshot(url, code)) == len(before) + len(new)

    preview = undo(tmp_path, run_id, "--dry-run", "--json")
    assert preview.exit_code == 0, preview.output
    assert json.loads(preview.stdout)["counts"]["removed"] == len(new)
    assert len(snapshot(url, code)) == len(before) + len(new)   # a dry run changes nothing

    done = undo(tmp_path, run_id, "--yes", "--json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)
    assert answer["counts"]["removed"] == len(new)
    assert snapshot(url, code) == before
    report = statuses(answer["reports"]["csv"])
    assert set(report) == {e164(n) for n in new}          # duplicate_pending is never touched
    assert set(report.values()) == {"removed"}

    # The campaign's code is a secret: not in the output, the reports or the journal.
    assert code not in preview.output + done.output
    for path in [*(tmp_path / "reports").glob("*.csv"), *(tmp_path / "reports").glob("*.json"),
                 *(tmp_path / "state").glob("journal.sqlite3*")]:
        assert code.encode() not in path.read_bytes(), path.name

    again = undo(tmp_path, run_id, "--yes", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["already_undone"] is True
    assert snapshot(url, code) == before

    # Undone numbers may be imported again (history_days: 30 does not hold them back), and
    # the same file is not "already imported" any more.
    reimported = import_file(tmp_path, source)
    counts = json.loads(reimported.stdout)["counts"]
    assert counts["added"] == len(new)
    assert counts["duplicate_history"] == 0
    assert counts["duplicate_pending"] == 1


def test_undo_of_an_upsert_restores_the_details_it_replaced(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    url, code = emulator_env.base_url, code_of(emulator_env)
    updated, untouched, added = valid_mobiles(3, start=2_000_000)
    add_pending(url, code, updated, customer_name="Dana", priority=2,
                custom_data={"var_City": "Haifa", "var_LeadID": "L-17"})
    add_pending(url, code, untouched, customer_name="Other", priority=4)
    before = snapshot(url, code)
    source = write_leads(tmp_path / "crm.csv", [
        ["Dana Levi", updated, "9", "Jerusalem"],
        ["New lead", added, "3", "Tel Aviv"],
        ["Bad", "050-1234567", "1", "Eilat"],
    ])
    run_id = run_id_of(import_file(tmp_path, source, "--mode", "upsert"))
    changed = snapshot(url, code)
    assert changed != before

    done = undo(tmp_path, run_id, "--yes", "--json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)
    assert answer["counts"]["restored"] == 1
    assert answer["counts"]["removed"] == 1
    assert snapshot(url, code) == before
    assert statuses(answer["reports"]["csv"]) == {e164(updated): "restored", e164(added): "removed"}
    summary = json.loads(Path(answer["reports"]["json"]).read_text(encoding="utf-8"))
    assert summary["counts"]["restored"] == 1 and summary["mode"] == "undo"


def test_undo_keeps_numbers_dialled_or_added_again_by_a_later_run(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    url, code = emulator_env.base_url, code_of(emulator_env)
    dialled, again, plain = valid_mobiles(3, start=3_000_000)
    first = run_id_of(import_file(tmp_path, write_leads(tmp_path / "a.csv", [
        ["A", dialled, "1", "x"], ["B", again, "1", "x"], ["C", plain, "1", "x"],
    ])))
    remove_pending(url, code, dialled)
    remove_pending(url, code, again)
    # The dialled lead is imported again by a later run (history would refuse it: --again
    # on another file with history off).
    (tmp_path / "nohistory.yaml").write_text(MAPPING.replace("30", "0"), encoding="utf-8")
    later = cli_run(
        tmp_path, "import", str(write_leads(tmp_path / "b.csv", [["B", again, "1", "y"]])),
        "--mapping", str(tmp_path / "nohistory.yaml"), "--campaign", "Hot leads",
        "--report-dir", str(tmp_path / "reports"), "--state-dir", str(tmp_path / "state"),
        "--no-progress", "--json",
    )
    later_id = run_id_of(later)

    done = undo(tmp_path, first, "--yes", "--json")
    assert done.exit_code == 0, done.output
    report = read_report_csv(json.loads(done.stdout)["reports"]["csv"])
    by_phone = {r["phone"]: r for r in report}
    assert by_phone[e164(dialled)]["status"] == "already_dialled"
    assert by_phone[e164(again)]["status"] == "kept_added_later"
    assert later_id in by_phone[e164(again)]["reason"]
    assert by_phone[e164(plain)]["status"] == "removed"
    assert [c[0] for c in snapshot(url, code)] == [e164(again)[1:]]


def test_undo_of_a_sync_adds_back_what_it_removed(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    url, code = emulator_env.base_url, code_of(emulator_env)
    stale, kept, added = valid_mobiles(3, start=4_000_000)
    add_pending(url, code, stale, customer_name="Old lead", priority=7,
                custom_data={"var_City": "Nazareth", "var_Note": "=1+1"},
                originate_time=1_900_000_000)
    add_pending(url, code, kept, customer_name="Still there")
    before = snapshot(url, code)
    source = write_leads(
        tmp_path / "all.csv", [["Still there", kept, "", ""], ["New", added, "2", "x"]]
    )
    result = import_file(tmp_path, source, "--mode", "sync", "--yes", "--force")
    run_id = run_id_of(result)
    assert json.loads(result.stdout)["counts"]["removed"] == 1
    assert e164(stale)[1:] not in [c[0] for c in snapshot(url, code)]

    done = undo(tmp_path, run_id, "--yes", "--json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)
    assert answer["counts"]["restored"] == 1 and answer["counts"]["removed"] == 1
    assert snapshot(url, code) == before


def test_undo_refusals(emulator_env: EmulatorServer, tmp_path: Path) -> None:
    url, code = emulator_env.base_url, code_of(emulator_env)
    (number,) = valid_mobiles(1, start=5_000_000)
    source = write_leads(tmp_path / "a.csv", [["A", number, "", ""]])
    run_id = run_id_of(import_file(tmp_path, source))

    unconfirmed = undo(tmp_path, run_id)
    assert unconfirmed.exit_code == 2
    assert "--yes" in unconfirmed.stderr and "not a terminal" in unconfirmed.stderr
    assert len(snapshot(url, code)) == 1

    unknown = undo(tmp_path, "19990101-000000-zzzz", "--yes")
    assert unknown.exit_code == 2
    assert "no run" in unknown.stderr and "Traceback" not in unknown.output

    dry = import_file(tmp_path, write_leads(tmp_path / "b.csv", [["B", number, "", ""]]),
                      "--dry-run")
    assert dry.exit_code == 0
    with Journal.open(tmp_path / "state") as journal:
        assert all(not r.dry_run for r in journal.list_runs())   # a dry run is never recorded
    assert code not in unconfirmed.output + unknown.output


def _on_terminal(args: list[str], answer: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process whose stdin is a real pseudo-terminal, answering ``answer``."""
    import pty  # POSIX only

    main, child_end = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "importer", *args], stdin=child_end, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8",
            env=dict(os.environ, PYTHONIOENCODING="utf-8"),
        )
        os.close(child_end)
        os.write(main, answer.encode())
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(main)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_undo_asks_on_a_terminal(emulator_env: EmulatorServer, tmp_path: Path) -> None:
    url, code = emulator_env.base_url, code_of(emulator_env)
    numbers = valid_mobiles(2, start=6_000_000)
    run_id = run_id_of(import_file(tmp_path, write_leads(
        tmp_path / "a.csv", [["A", n, "", ""] for n in numbers])))
    args = ["runs", "undo", run_id, "--report-dir", str(tmp_path / "reports"),
            "--state-dir", str(tmp_path / "state")]
    declined = _on_terminal(args, "n\n")
    assert "would do: 2 removed" in declined.stdout, declined.stderr
    assert declined.returncode == 2
    assert len(snapshot(url, code)) == 2
    accepted = _on_terminal(args, "y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert snapshot(url, code) == []


def test_undo_of_an_unfinished_import_removes_what_it_sent(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    """A run whose last chunk's answer was never recorded: its rows are still "sent"."""
    url, code = emulator_env.base_url, code_of(emulator_env)
    numbers = valid_mobiles(4, start=7_000_000)
    run_id = run_id_of(import_file(tmp_path, write_leads(
        tmp_path / "a.csv", [["A", n, "", ""] for n in numbers])))
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite3")
    with db:
        db.execute("UPDATE run_rows SET status = 'sent' WHERE run_id = ?", (run_id,))
        db.execute("UPDATE runs SET outcome = NULL WHERE run_id = ?", (run_id,))
    db.close()
    done = undo(tmp_path, run_id, "--yes", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["counts"]["removed"] == 4
    assert snapshot(url, code) == []


# ------------------------------------------------------------------------------ kill -9


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "importer", *args], env=env, capture_output=True, text=True,
        encoding="utf-8", timeout=300, check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_undo_killed_at_random_points_finishes_when_run_again(
    emulator_process: Any, tmp_path: Path, seed: int
) -> None:
    emu = emulator_process("--demo", "--latency-ms", "25")
    env = dict(os.environ, VOICENTER_API_URL=emu.base_url, VOICENTER_ACCOUNT_CODE="demo",
               LEAD_IMPORTER_LOCK_DIR=str(tmp_path / "locks"), PYTHONIOENCODING="utf-8")
    env.pop("VOICENTER_CAMPAIGN", None)
    with client_for(emu.base_url) as client:
        (campaign,) = [c for c in client.get_campaign_list("demo") if c.name == "Hot leads"]
    code = campaign.code
    keep = valid_mobiles(3, start=8_000_000)
    for n in keep:
        add_pending(emu.base_url, code, n, customer_name="kept")
    before = snapshot(emu.base_url, code)
    numbers = valid_mobiles(80, start=8_100_000)
    rows = [[f"L{i}", n, "", ""] for i, n in enumerate(numbers)]
    source = write_leads(tmp_path / "big.csv", rows)
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    common = ["--report-dir", str(tmp_path / "reports"), "--state-dir", str(tmp_path / "state")]
    imported = _cli(["import", str(source), "--mapping", str(tmp_path / "mapping.yaml"),
                     "--campaign", "Hot leads", "--no-progress", "--json", *common], env)
    assert imported.returncode == 0, imported.stderr
    run_id = json.loads(imported.stdout)["run_id"]

    rng = random.Random(seed)
    kills = 0
    progress: list[int] = []   # calls removed after each attempt
    for _attempt in range(3):
        child = subprocess.Popen(
            [sys.executable, "-m", "importer", "runs", "undo", run_id, "--yes", *common],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        # Kill at a random moment once this attempt has started removing.
        start = progress[-1] if progress else 0
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline and (
            len(numbers) + len(keep) - len(snapshot(emu.base_url, code)) <= start
        ):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.8))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            kills += 1
        child.wait(30)
        progress.append(len(numbers) + len(keep) - len(snapshot(emu.base_url, code)))
    final = _cli(["runs", "undo", run_id, "--yes", "--json", *common], env)
    assert final.returncode == 0, final.stderr
    assert snapshot(emu.base_url, code) == before
    answer = json.loads(final.stdout)
    if not answer["already_undone"]:
        assert answer["counts"]["failed"] == 0
    with Journal.open(tmp_path / "state") as journal:
        record = journal.undo_of(run_id)
        assert record is not None and record.outcome == "finished"
        assert record.counts.get("removed", 0) == len(numbers)
    # Run once more after it finished: nothing changes, and it says so.
    last = _cli(["runs", "undo", run_id, "--yes", *common], env)
    assert last.returncode == 0 and "already undone" in last.stdout
    # The kills landed in the middle of the removals, not before or after them all.
    assert kills >= 1 and any(0 < done < len(numbers) for done in progress), progress


# ------------------------------------------------------------------------------ inbox undo


def test_inbox_undo_takes_back_a_dropped_file(
    emulator_env: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, code = emulator_env.base_url, code_of(emulator_env)
    monkeypatch.setenv("LEAD_IMPORTER_STATE_DIR", str(tmp_path / "state"))
    root = tmp_path / "leads"
    assert cli_run(root, "inbox", "init", str(root), "--campaign", "Hot leads").exit_code == 0
    config = root / "inbox.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["settle_seconds"] = 0
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    numbers = valid_mobiles(3, start=9_000_000)
    dropped = root / "inbox" / "wrong file.csv"
    with dropped.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Full Name", "Mobile"])
        out.writerows([[f"Lead {i}", n] for i, n in enumerate(numbers)] + [["Bad", "123"]])
    old = time.time() - 3600
    os.utime(dropped, (old, old))
    ran = cli_run(root, "inbox", "run", "--config", str(config), "--once", "--json")
    assert ran.exit_code == 0, ran.output
    notice = json.loads(ran.stdout)["files"][0]
    assert notice["reports"]["rejects"].endswith(".rejects.csv")   # named in the notification
    assert (root / "done" / "wrong file.csv").is_file()
    assert len(snapshot(url, code)) == 3

    preview = cli_run(root, "inbox", "undo", "wrong file.csv", "--config", str(config),
                      "--dry-run", "--json")
    assert preview.exit_code == 0, preview.output
    assert json.loads(preview.stdout)["counts"]["removed"] == 3
    assert len(snapshot(url, code)) == 3

    refused = cli_run(root, "inbox", "undo", "wrong file.csv", "--config", str(config))
    assert refused.exit_code == 2 and "--yes" in refused.stderr

    done = cli_run(root, "inbox", "undo", "wrong file.csv", "--config", str(config), "--yes",
                   "--json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.stdout)
    assert answer["counts"]["removed"] == 3
    assert Path(answer["reports"]["csv"]).parent == root / "reports"
    assert snapshot(url, code) == []

    missing = cli_run(root, "inbox", "undo", "nope.csv", "--config", str(config), "--yes")
    assert missing.exit_code == 2 and "done/" in missing.stderr


def test_undo_report_in_hebrew_keeps_the_codes(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    """The undo report's reasons follow UndoOptions.language; its reason_code does not."""
    from importer.undo import UndoOptions, undo_run

    url, code = emulator_env.base_url, code_of(emulator_env)
    dialled, *kept = valid_mobiles(3)
    source = write_leads(tmp_path / "leads.csv", [[f"L{i}", n, "3", "Acre"]
                                                 for i, n in enumerate([dialled, *kept])])
    run_id = run_id_of(import_file(tmp_path, source))
    remove_pending(url, code, dialled)       # dialled since the import
    settings = Settings(api_url=url, account_code="demo")
    reports = {}
    for language, dry in (("en", True), ("he", False)):
        result = undo_run(UndoOptions(run_id=run_id, report_dir=tmp_path / f"undo-{language}",
                                      state_dir=tmp_path / "state", dry_run=dry,
                                      language=language), settings)  # type: ignore[arg-type]
        reports[language] = {r["phone"]: r for r in read_report_csv(result.reports["csv"])}
    en, he = reports["en"], reports["he"]
    assert en[e164(dialled)]["reason_code"] == he[e164(dialled)]["reason_code"] == (
        "undo_already_dialled"
    )
    assert he[e164(dialled)]["reason"] == "המספר כבר לא ממתין (חויג מאז הייבוא)"
    assert {en[e164(n)]["reason_code"] for n in kept} == {"undo_would_remove"}
    assert {he[e164(n)]["reason_code"] for n in kept} == {"undo_removed"}
    assert {he[e164(n)]["reason"] for n in kept} == {"הוסר: הריצה הזו הוסיפה אותו"}
