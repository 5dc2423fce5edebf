"""The drop folder end to end: the real CLI in child processes, the real import, the emulator."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest
import yaml

from importer.emulator.server import EmulatorServer
from tests.inbox.conftest import SmtpSink, WebhookSink, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_data"


def il_mobiles(count: int, start: int = 0) -> list[str]:
    """Valid Israeli mobile numbers in local format (05X...), distinct per ``start``."""
    base = phonenumbers.example_number_for_type("IL", phonenumbers.PhoneNumberType.MOBILE)
    assert base is not None
    out: list[str] = []
    k = start * 1000
    while len(out) < count:
        number = phonenumbers.PhoneNumber(
            country_code=972, national_number=base.national_number + k
        )
        k += 1
        if phonenumbers.is_valid_number(number):
            out.append(f"0{number.national_number}")
    return out


def e164(raw: str) -> str:
    number = phonenumbers.parse(
        raw if raw.startswith("+") else f"+{raw}" if raw.startswith("972") else raw, "IL"
    )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def write_leads(path: Path, phones: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Full Name", "Mobile", "Email"])
        for i, phone in enumerate(phones):
            writer.writerow([f"Lead {i}", phone, f"lead{i}@example.com"])


def age(path: Path) -> None:
    past = time.time() - 3600
    os.utime(path, (past, past))


def env_for(
    emulator: EmulatorServer | None, tmp_path: Path, api_url: str | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VOICENTER_CAMPAIGN", None)
    env["VOICENTER_API_URL"] = api_url or (emulator.base_url if emulator else "")
    env["VOICENTER_ACCOUNT_CODE"] = "demo"
    env["LEAD_IMPORTER_STATE_DIR"] = str(tmp_path / "state")
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "importer", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )


def init(
    root: Path, env: dict[str, str], *, campaign: str = "Hot leads", **changes: object
) -> Path:
    """`inbox init` as a user would, then speed it up for tests (and apply ``changes``)."""
    done = run(["inbox", "init", str(root), "--campaign", campaign], env)
    assert done.returncode == 0, done.stderr
    config = root / "inbox.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["settle_seconds"] = 1
    data["poll_seconds"] = 0.2
    data["inboxes"][0].update(changes)
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return config


def drop_folder(emulator: EmulatorServer, tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """(environment, root folder, config file) of a fresh drop folder under tmp_path/leads."""
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    return env, root, init(root, env)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def report_rows(reports: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(reports.glob("*.report.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def pending_e164(emulator: EmulatorServer) -> list[str]:
    assert emulator.demo is not None
    return [e164(p) for p in emulator.pending_phones(emulator.demo.campaigns["Hot leads"])]


def test_once_imports_good_files_and_explains_bad_ones(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env, root, config = drop_folder(emulator, tmp_path)
    inbox = root / "inbox"
    for sample in ["facebook_leads.csv", "crm_export_he.csv", "handmade_leads.xlsx"]:
        shutil.copy(SAMPLES / sample, inbox / sample)
    write_leads(inbox / "good.csv", il_mobiles(5))
    (inbox / "nophone.csv").write_text("name,email\nDana,dana@example.com\n", encoding="utf-8")
    (inbox / "~$handmade_leads.xlsx").write_bytes(b"owner")  # Excel's lock file
    (inbox / "download.csv.crdownload").write_text("Full Name,Mobile\n")
    for path in inbox.iterdir():
        age(path)
    growing = inbox / "growing.csv"
    write_leads(growing, il_mobiles(2, start=9))
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            with growing.open("a", encoding="utf-8") as fh:
                fh.write("Late Lead,0000000,late@example.com\n")
            time.sleep(0.05)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = run(["inbox", "run", "--config", str(config), "--once"], env)
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 2, result.stderr  # the worst file: bad input
    assert names(root / "done") == [
        "crm_export_he.csv",
        "facebook_leads.csv",
        "good.csv",
        "handmade_leads.xlsx",
    ]
    assert names(root / "failed") == ["nophone.csv", "nophone.csv.error.txt"]
    assert names(inbox) == ["download.csv.crdownload", "growing.csv", "~$handmade_leads.xlsx"]
    assert names(root / "processing") == []
    note = (root / "failed" / "nophone.csv.error.txt").read_text(encoding="utf-8-sig")
    assert "phone" in note and "'name', 'email'" in note
    assert "How to fix it" in note
    assert "Traceback" not in result.stderr
    reports = names(root / "reports")
    for stem in ["crm_export_he", "facebook_leads", "good", "handmade_leads"]:
        mine = [r for r in reports if r.startswith(f"{stem}.")]
        # Samples with rows to fix (bad phones) also get their rejects files.
        rejects = [] if stem == "good" else ["rejects.csv", "rejects.xlsx"]
        assert sorted(r.rsplit(".", 2)[-2] + "." + r.rsplit(".", 1)[-1] for r in mine) == [
            *rejects,
            "report.csv",
            "report.xlsx",
            "summary.json",
        ]
    rows = report_rows(root / "reports")
    # the CSV report neutralises cells starting with "+" for Excel
    added = {r["phone"].lstrip("'") for r in rows if r["status"] == "added"}
    assert {e164(p) for p in il_mobiles(5)} <= added
    pending = pending_e164(emulator)
    assert sorted(pending) == sorted(added)  # every added row, once
    for line in result.stdout.splitlines():
        assert line.split()[0] in {"done", "failed"}


def test_api_down_keeps_the_file_for_the_next_run(emulator: EmulatorServer, tmp_path: Path) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env)
    write_leads(root / "inbox" / "leads.csv", il_mobiles(4))
    age(root / "inbox" / "leads.csv")
    down = env_for(None, tmp_path, api_url=f"http://127.0.0.1:{free_port()}/ForwardDialer/Dialer")
    result = run(["inbox", "run", "--config", str(config), "--once"], down)
    assert result.returncode == 3, result.stderr
    # found before the file was touched: it stays where it was dropped
    assert names(root / "inbox") == ["leads.csv"]
    assert names(root / "processing") == names(root / "failed") == names(root / "done") == []
    result = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert result.returncode == 0, result.stderr
    assert names(root / "done") == ["leads.csv"]
    assert names(root / "processing") == []
    assert sorted(pending_e164(emulator)) == sorted(e164(p) for p in il_mobiles(4))
    # the same file dropped again is recognised: nothing is sent twice
    write_leads(root / "inbox" / "leads.csv", il_mobiles(4))
    age(root / "inbox" / "leads.csv")
    result = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert result.returncode == 0, result.stderr
    assert len(names(root / "done")) == 2
    assert sorted(pending_e164(emulator)) == sorted(e164(p) for p in il_mobiles(4))


def test_notifications_after_each_file(
    emulator: EmulatorServer,
    tmp_path: Path,
    smtp_server: tuple[SmtpSink, int],
    webhook_server: tuple[WebhookSink, str],
) -> None:
    sink, port = smtp_server
    hooks, url = webhook_server
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(
        root,
        env,
        notify={
            "email": {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from": "leads@example.co.il",
                "to": ["marketing@example.co.il"],
            },
            "webhook": {"url": url},
        },
    )
    write_leads(root / "inbox" / "good.csv", il_mobiles(3))
    (root / "inbox" / "bad.csv").write_text("name,email\nDana,d@example.com\n", encoding="utf-8")
    for path in (root / "inbox").iterdir():
        age(path)
    result = run(
        [
            "inbox",
            "run",
            "--config",
            str(config),
            "--once",
            "--log-format",
            "json",
            "--log-file",
            str(tmp_path / "inbox.log"),
        ],
        env,
    )
    assert result.returncode == 2, result.stderr
    by_subject = {m["Subject"]: m for m in sink.messages}
    assert set(by_subject) == {
        "[lead-importer] good.csv: 3 added",
        "[lead-importer] bad.csv: FAILED - nothing was imported",
    }
    [xlsx] = list(by_subject["[lead-importer] good.csv: 3 added"].iter_attachments())
    assert xlsx.get_filename() in names(root / "reports")
    payloads = {body["file"]: body for _, _, body in hooks.requests}
    assert {k: v for k, v in payloads["good.csv"]["counts"].items() if v} == {"added": 3}
    assert payloads["good.csv"]["campaign"] == "Hot leads"
    assert payloads["bad.csv"]["outcome"] == "failed"
    log_text = (tmp_path / "inbox.log").read_text(encoding="utf-8")
    assert '"message": "inbox' in log_text
    assert emulator.demo is not None
    for code in emulator.demo.campaigns.values():
        assert code not in log_text
        assert all(code not in str(b) for _, _, b in hooks.requests)


def test_watcher_processes_files_and_stops_on_sigterm(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "importer", "inbox", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        write_leads(root / "inbox" / "first.csv", il_mobiles(2))
        (root / "inbox" / "bad.csv").write_text("name\nx\n", encoding="utf-8")
        deadline = time.monotonic() + 90
        while (
            time.monotonic() < deadline
            and len(names(root / "done")) + len(names(root / "failed")) < 3
        ):
            time.sleep(0.1)
        write_leads(root / "inbox" / "second.csv", il_mobiles(2, start=5))
        while time.monotonic() < deadline and len(names(root / "done")) < 2:
            time.sleep(0.1)
        assert proc.poll() is None  # a bad file did not stop it
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert names(root / "done") == ["first.csv", "second.csv"]
    assert names(root / "failed") == ["bad.csv", "bad.csv.error.txt"]
    assert "stopped watching" in err
    assert [line.split()[0] for line in out.splitlines()].count("done") == 2
    expected = il_mobiles(2) + il_mobiles(2, start=5)
    assert sorted(pending_e164(emulator)) == sorted(e164(p) for p in expected)


def test_two_concurrent_once_runs_never_double_process(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env)
    expected: list[str] = []
    for i in range(8):
        phones = il_mobiles(5, start=20 + i)
        expected += phones
        write_leads(root / "inbox" / f"batch{i}.csv", phones)
        age(root / "inbox" / f"batch{i}.csv")
    argv = [sys.executable, "-m", "importer", "inbox", "run", "--config", str(config), "--once"]
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    # a run that found the inbox busy left it to the other; a later run finds nothing left
    final = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert final.returncode == 0
    done_lines = [
        line for out, _ in outputs for line in out.splitlines()
    ] + final.stdout.splitlines()
    processed = Counter(line.split()[2] for line in done_lines if line.startswith("done"))
    assert processed == Counter({f"batch{i}.csv": 1 for i in range(8)})
    assert names(root / "done") == [f"batch{i}.csv" for i in range(8)]
    assert names(root / "inbox") == names(root / "processing") == names(root / "failed") == []
    stems = Counter(p.name.split(".")[0] for p in (root / "reports").glob("*.report.csv"))
    assert stems == Counter({f"batch{i}": 1 for i in range(8)})
    pending = pending_e164(emulator)
    assert len(pending) == len(set(pending))  # each number once
    assert sorted(pending) == sorted(e164(p) for p in expected)


def test_a_file_dropped_again_is_reported_as_already_imported(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env, root, config = drop_folder(emulator, tmp_path)
    inbox = root / "inbox"
    write_leads(inbox / "batch.csv", il_mobiles(4, start=40))
    age(inbox / "batch.csv")
    first = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert first.returncode == 0, first.stderr
    shutil.copy(root / "done" / "batch.csv", inbox / "batch.csv")
    age(inbox / "batch.csv")
    again = run(["inbox", "run", "--config", str(config), "--once", "--json"], env)
    assert again.returncode == 0, again.stderr
    (notice,) = json.loads(again.stdout)["files"]
    assert notice["already_imported"] is True
    assert notice["headline"] == "already imported earlier - nothing sent now"
    assert "--again" in notice["message"] and "Use --again" not in notice["message"]
    assert sorted(pending_e164(emulator)) == sorted(e164(p) for p in il_mobiles(4, start=40))


def test_rows_that_are_not_leads_are_not_a_problem(
    emulator: EmulatorServer,
    tmp_path: Path,
    smtp_server: tuple[SmtpSink, int],
    webhook_server: tuple[WebhookSink, str],
) -> None:
    """A Salesforce export with its footer: done/, exit 0, no "problems" e-mail."""
    sink, port = smtp_server
    hooks, url = webhook_server
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    email = {"host": "127.0.0.1", "port": port, "security": "none",
             "from": "leads@example.co.il", "to": ["marketing@example.co.il"],
             "send": "problems"}
    config = init(root, env, notify={"email": email, "webhook": {"url": url}})
    phones = il_mobiles(3, start=70)
    with (root / "inbox" / "report1764321234567.csv").open("w", encoding="utf-8",
                                                           newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(["Lead Owner", "First Name", "Last Name", "Mobile", "Email"])
        writer.writerows([["Dana Levi", f"Lead {i}", "Cohen", p, ""] for i, p in enumerate(phones)])
        writer.writerows([[], ["Total"], [], ["Confidential Information - Do Not Distribute"],
                          ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."],
                          ["Generated By: Dana Levi 11/28/2026 9:14 AM"]])
    age(root / "inbox" / "report1764321234567.csv")
    result = run(["inbox", "run", "--config", str(config), "--once", "--json"], env)
    assert result.returncode == 0, result.stderr
    (notice,) = json.loads(result.stdout)["files"]
    assert notice["outcome"] == "done" and notice["exit_code"] == 0
    assert notice["headline"] == "3 added; 6 not_a_lead"
    assert names(root / "done") == ["report1764321234567.csv"]
    assert sink.messages == []  # send: problems, and there are none
    ((_, _, payload),) = hooks.requests
    assert payload["headline"] == "3 added; 6 not_a_lead"
    assert {k: v for k, v in payload["counts"].items() if v} == {"added": 3, "not_a_lead": 6}
    statuses = [r["status"] for r in report_rows(root / "reports")]
    assert statuses == ["added"] * 3 + ["not_a_lead"] * 6
    assert sorted(pending_e164(emulator)) == sorted(e164(p) for p in phones)


def test_inbox_calling_hours_section_schedules_the_drop_folders_leads(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    """inbox.yaml's `calling_hours:` (the mapping has none): Wednesday closed, so the leads of
    the suite's Wednesday morning (LEAD_IMPORTER_NOW) wait for Thursday 09:00 (#16)."""
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env, calling_hours={"days": {"wednesday": "closed"}})
    write_leads(root / "inbox" / "leads.csv", il_mobiles(2))
    age(root / "inbox" / "leads.csv")
    done = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert done.returncode == 0, done.stderr + done.stdout
    rows = report_rows(root / "reports")
    assert [r["dial_after"] for r in rows] == ["2026-07-02T09:00:00+03:00"] * 2
    assert all("no calling on Wednesdays: moved to Thursday 09:00" in r["reason"] for r in rows)
    assert emulator.demo is not None
    campaign = emulator.store.campaign_by_code(emulator.demo.campaigns["Hot leads"])
    assert campaign is not None
    calls = emulator.store.pending(campaign.id)
    assert {c.originate_time for c in calls} == {1782972000}  # 2026-07-02 06:00 UTC
