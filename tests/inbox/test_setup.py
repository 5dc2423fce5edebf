"""Set-up problems and files with no row to add, end to end: the real CLI and the emulator.

A set-up mistake (campaign name, account code, mapping, dialer) leaves the files in inbox/,
tells people once what to change, and the run after the fix imports them. A file none of
whose rows could be added goes to failed/ with its report and a note.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from importer.emulator.server import EmulatorServer
from importer.inbox import SETUP_STATE_NAME, nothing_added
from tests.inbox.conftest import SmtpSink, WebhookSink, free_port
from tests.inbox.test_e2e import (
    REPO,
    age,
    e164,
    env_for,
    il_mobiles,
    init,
    names,
    pending_e164,
    run,
    write_leads,
)

pytestmark = pytest.mark.slow


def notify_to(port: int, url: str) -> dict[str, Any]:
    return {
        "email": {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from": "leads@example.co.il",
            "to": ["it@example.co.il"],
        },
        "webhook": {"url": url},
    }


def edit(config: Path, **changes: Any) -> None:
    """Change keys of the first inbox in inbox.yaml (None removes a key)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data["inboxes"][0].pop(key, None)
        else:
            data["inboxes"][0][key] = value
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def once(config: Path, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """One pass as the shipped crontab line runs it (a log file: stderr is what cron mails)."""
    return run(
        [
            "inbox", "run", "--config", str(config), "--once",
            "--log-file", str(tmp_path / "inbox.log"), "--log-format", "json",
        ],
        env,
    )


def check(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(["inbox", "check", "--config", str(config)], env)


def drop_leads(root: Path, name: str, phones: list[str]) -> None:
    write_leads(root / "inbox" / name, phones)
    age(root / "inbox" / name)


# --- set-up problems leave the files in inbox/ ---------------------------------------------


def test_unknown_campaign_keeps_the_files_tells_once_and_imports_after_the_fix(
    emulator: EmulatorServer,
    tmp_path: Path,
    smtp_server: tuple[SmtpSink, int],
    webhook_server: tuple[WebhookSink, str],
) -> None:
    sink, port = smtp_server
    hooks, url = webhook_server
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env, campaign="Hot leadz", notify=notify_to(port, url))
    drop_leads(root, "a.csv", il_mobiles(3))
    drop_leads(root, "b.csv", il_mobiles(2, start=1))

    first = once(config, env, tmp_path)
    assert first.returncode == 2, first.stderr
    assert names(root / "inbox") == ["a.csv", "b.csv"]
    assert names(root / "processing") == names(root / "failed") == names(root / "done") == []
    assert first.stdout.startswith("setup  leads: 2 file(s) left where they are")
    assert "set-up problem" in first.stderr and "Hot leadz" in first.stderr  # cron mails it
    [mail] = sink.messages
    assert mail["Subject"] == (
        "[lead-importer] inbox leads: SET-UP PROBLEM - 2 file(s) waiting, nothing imported"
    )
    body = mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert "not a problem with the files" in body
    assert "did you mean 'Hot leads'?" in body
    assert "`campaign:` of the inbox 'leads' in inbox.yaml" in body
    assert "  a.csv\n  b.csv\n" in body
    [(_, _, payload)] = hooks.requests
    assert payload["event"] == "lead-importer.setup"
    assert payload["outcome"] == "setup" and payload["exit_code"] == 2
    assert payload["waiting"] == ["a.csv", "b.csv"]
    assert "inbox.yaml" in payload["problems"][0]["fix"]

    # the same problem at the next cron run: the files still wait, nobody is told again
    second = once(config, env, tmp_path)
    assert second.returncode == 2
    assert second.stderr == ""
    assert len(sink.messages) == 1 and len(hooks.requests) == 1
    assert names(root / "inbox") == ["a.csv", "b.csv"]

    # a day later it is told again
    state = root / SETUP_STATE_NAME
    data = json.loads(state.read_text(encoding="utf-8"))
    data["told_at"] = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    state.write_text(json.dumps(data), encoding="utf-8")
    assert once(config, env, tmp_path).returncode == 2
    assert len(sink.messages) == 2 and len(hooks.requests) == 2

    # another mistake is another problem: told at once
    edit(config, campaign="Cold leads")
    assert once(config, env, tmp_path).returncode == 2
    assert len(sink.messages) == 3
    assert "'Cold leads'" in sink.messages[-1].get_body(  # type: ignore[union-attr]
        preferencelist=("plain",)
    ).get_content()

    edit(config, campaign="Hot leads")
    fixed = once(config, env, tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert names(root / "done") == ["a.csv", "b.csv"]
    assert names(root / "inbox") == names(root / "failed") == []
    assert sorted(pending_e164(emulator)) == sorted(
        e164(p) for p in il_mobiles(3) + il_mobiles(2, start=1)
    )
    assert not state.exists()
    assert {m["Subject"] for m in sink.messages[3:]} == {
        "[lead-importer] a.csv: 3 added",
        "[lead-importer] b.csv: 2 added",
    }


def test_cron_without_the_account_code_keeps_the_files(
    emulator: EmulatorServer, tmp_path: Path, webhook_server: tuple[WebhookSink, str]
) -> None:
    hooks, url = webhook_server
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env, notify={"webhook": {"url": url}})
    drop_leads(root, "leads.csv", il_mobiles(4))
    cron_env = dict(env)
    del cron_env["VOICENTER_ACCOUNT_CODE"]

    result = once(config, cron_env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert names(root / "inbox") == ["leads.csv"]
    assert names(root / "processing") == names(root / "failed") == []
    [(_, _, payload)] = hooks.requests
    [problem] = payload["problems"]
    assert "VOICENTER_ACCOUNT_CODE" in problem["problem"]
    assert "settings_file" in problem["fix"] and "cron" in problem["fix"]
    assert "not a problem with the files" in payload["message"]

    # the fix: the settings file named in inbox.yaml
    settings = root / "voicenter.env"
    settings.write_text("VOICENTER_ACCOUNT_CODE=demo\n", encoding="utf-8")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["settings_file"] = "voicenter.env"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    fixed = once(config, cron_env, tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert names(root / "done") == ["leads.csv"]
    assert sorted(pending_e164(emulator)) == sorted(e164(p) for p in il_mobiles(4))


def test_a_wrong_campaign_in_the_mapping_keeps_the_files(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    mapping = yaml.safe_load((REPO / "mappings" / "generic-english.yaml").read_text("utf-8"))
    mapping["campaign"] = "Hot leadz"
    (tmp_path / "leads.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    config = init(root, env, mapping=str(tmp_path / "leads.yaml"))
    edit(config, campaign=None)
    drop_leads(root, "leads.csv", il_mobiles(2))

    result = run(["inbox", "run", "--config", str(config), "--once", "--json"], env)
    assert result.returncode == 2, result.stderr
    [problem] = json.loads(result.stdout)["setup_problems"]
    assert problem["waiting"] == ["leads.csv"]
    [found] = problem["problems"]
    assert found["check"] == "campaign"
    assert f"`campaign:` in the mapping {tmp_path / 'leads.yaml'}" in found["fix"]
    assert names(root / "inbox") == ["leads.csv"]

    mapping["campaign"] = "Hot leads"
    (tmp_path / "leads.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    fixed = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert fixed.returncode == 0, fixed.stderr
    assert names(root / "done") == ["leads.csv"]


def test_an_unconfirmed_sync_in_the_mapping_keeps_the_files(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    mapping = yaml.safe_load((REPO / "mappings" / "generic-english.yaml").read_text("utf-8"))
    mapping["mode"] = "sync"
    (tmp_path / "leads.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    config = init(root, env, mapping=str(tmp_path / "leads.yaml"))
    drop_leads(root, "leads.csv", il_mobiles(2))
    result = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert result.returncode == 2, result.stderr
    assert "asks for `mode: sync`" in result.stdout and "Confirm it with" in result.stdout
    assert names(root / "inbox") == ["leads.csv"]
    assert names(root / "failed") == []

    edit(config, mode="sync")  # writing it in inbox.yaml is the consent
    fixed = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert fixed.returncode == 0, fixed.stderr
    assert names(root / "done") == ["leads.csv"]


def test_a_broken_mapping_file_keeps_the_files(emulator: EmulatorServer, tmp_path: Path) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    (tmp_path / "leads.yaml").write_text("name: x\nphone: {columns: [Mobile]}\nfeilds: {}\n")
    config = init(root, env, mapping=str(tmp_path / "leads.yaml"))
    drop_leads(root, "leads.csv", il_mobiles(2))
    result = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert result.returncode == 2, result.stderr
    assert "setup  leads: 1 file(s)" in result.stdout and "feilds" in result.stdout
    assert "mapping check" in result.stdout
    assert names(root / "inbox") == ["leads.csv"]
    assert names(root / "failed") == []


def test_a_disabled_campaign_keeps_the_files(emulator: EmulatorServer, tmp_path: Path) -> None:
    emulator.add_campaign("demo", "Paused leads", enabled=False)
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env, campaign="Paused leads")
    drop_leads(root, "leads.csv", il_mobiles(2))
    result = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert result.returncode == 3, result.stderr
    assert "'Paused leads' is disabled" in result.stdout and "Enable the campaign" in result.stdout
    assert names(root / "inbox") == ["leads.csv"]
    assert names(root / "processing") == []


def test_api_down_or_account_refused_keeps_the_files_exit_3(
    emulator: EmulatorServer, tmp_path: Path, webhook_server: tuple[WebhookSink, str]
) -> None:
    hooks, url = webhook_server
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env, notify={"webhook": {"url": url}})
    drop_leads(root, "leads.csv", il_mobiles(2))
    down = env_for(None, tmp_path, api_url=f"http://127.0.0.1:{free_port()}/ForwardDialer/Dialer")
    result = run(["inbox", "run", "--config", str(config), "--once"], down)
    assert result.returncode == 3, result.stderr
    assert names(root / "inbox") == ["leads.csv"]
    assert "Usually temporary" in hooks.requests[-1][2]["problems"][0]["fix"]

    refused = dict(env, VOICENTER_ACCOUNT_CODE="not-our-account")
    result = run(["inbox", "run", "--config", str(config), "--once"], refused)
    assert result.returncode == 3, result.stderr
    assert "refused the account code" in result.stdout
    assert "not-our-account" not in result.stdout + result.stderr  # a secret
    assert "Check VOICENTER_ACCOUNT_CODE" in hooks.requests[-1][2]["problems"][0]["fix"]
    assert names(root / "inbox") == ["leads.csv"]

    result = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert result.returncode == 0, result.stderr
    assert names(root / "done") == ["leads.csv"]


def test_a_watcher_imports_the_waiting_files_once_the_campaign_exists(
    emulator: EmulatorServer, tmp_path: Path, webhook_server: tuple[WebhookSink, str]
) -> None:
    hooks, url = webhook_server
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env, campaign="Spring leads", notify={"webhook": {"url": url}})
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["retry_after_seconds"] = 1
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    drop_leads(root, "leads.csv", il_mobiles(2))
    proc = subprocess.Popen(
        [sys.executable, "-m", "importer", "inbox", "run", "--config", str(config)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
    )
    try:
        deadline = time.monotonic() + 60
        while not hooks.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.5)  # several re-checks of the set-up: told once, the file untouched
        assert [body["event"] for _, _, body in hooks.requests] == ["lead-importer.setup"]
        assert names(root / "inbox") == ["leads.csv"]
        code = emulator.add_campaign("demo", "Spring leads")  # the fix, made in the dialer
        while not names(root / "done") and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert names(root / "done") == ["leads.csv"]
    assert out.startswith("done   leads: leads.csv")
    phones = [e164(p) for p in emulator.pending_phones(code)]
    assert sorted(phones) == sorted(e164(p) for p in il_mobiles(2))


# --- files with no row to add ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "failed"),
    [
        ({"invalid_phone": 2, "missing_phone": 1, "type_rejected": 1, "rejected": 1}, True),
        ({"not_a_lead": 3, "invalid_phone": 1}, True),
        ({"not_a_lead": 3}, True),
        ({"invalid_phone": 5, "added": 0, "removed": 4}, True),
        ({"invalid_phone": 5, "added": 1}, False),
        ({"duplicate_pending": 4, "missing_phone": 1}, False),
        ({"duplicate_history": 1}, False),
        ({"duplicate_in_batch": 1, "invalid_phone": 1}, False),
        ({"suppressed": 2, "invalid_phone": 9}, False),
        ({"would_add": 1}, False),
        ({"would_update": 1}, False),
        ({"updated": 1}, False),
        ({"failed": 2, "invalid_phone": 1}, False),  # good rows not delivered: dropped again
    ],
)
def test_what_counts_as_no_row_added(counts: dict[str, int], failed: bool) -> None:
    assert nothing_added(counts) is failed


def test_a_file_with_no_row_to_add_fails_with_its_report_and_a_note(
    emulator: EmulatorServer,
    tmp_path: Path,
    smtp_server: tuple[SmtpSink, int],
    webhook_server: tuple[WebhookSink, str],
) -> None:
    sink, port = smtp_server
    hooks, url = webhook_server
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env, notify=notify_to(port, url))
    drop_leads(root, "bad.csv", ["12", "", "not a phone", "1-800-800-800"])  # 1-800: toll-free

    result = once(config, env, tmp_path)
    assert result.returncode == 1, result.stderr
    assert names(root / "failed") == ["bad.csv", "bad.csv.error.txt"]
    assert names(root / "done") == names(root / "inbox") == []
    assert pending_e164(emulator) == []
    assert result.stdout.startswith("failed leads: bad.csv -> ")
    assert "bad.csv -> failed/bad.csv: No row of this file could be added" in result.stderr
    note = (root / "failed" / "bad.csv.error.txt").read_text(encoding="utf-8-sig")
    assert (
        "of its 4 lead row(s), 2 missing_phone (no phone number), 1 invalid_phone (not a valid "
        "phone number), 1 type_rejected (a valid number of a type this inbox does not call)."
    ) in note
    assert "- missing_phone: " in note and "- invalid_phone: " in note
    assert "- type_rejected: " in note and "phone.allow_types" in note
    [report_csv] = (root / "reports").glob("bad.*.report.csv")
    assert f"  {report_csv}" in note
    assert "No lead from this file was added to the dialer." in note
    [mail] = sink.messages
    assert mail["Subject"] == "[lead-importer] bad.csv: FAILED - nothing was imported"
    xlsx, error_note = sorted(a.get_filename() or "" for a in mail.iter_attachments())
    assert error_note == "bad.csv.error.txt" and xlsx.endswith(".report.xlsx")
    [(_, _, payload)] = hooks.requests
    assert payload["outcome"] == "failed" and payload["exit_code"] == 1
    assert {k: v for k, v in payload["counts"].items() if v} == {
        "invalid_phone": 1, "missing_phone": 2, "type_rejected": 1,
    }


def test_a_file_whose_leads_are_all_pending_already_is_a_success(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env)
    drop_leads(root, "first.csv", il_mobiles(3))
    assert once(config, env, tmp_path).returncode == 0
    drop_leads(root, "again.csv", [*il_mobiles(3), ""])  # new bytes, the same leads
    result = run(["inbox", "run", "--config", str(config), "--once", "--json"], env)
    assert result.returncode == 0, result.stderr
    [notice] = json.loads(result.stdout)["files"]
    assert notice["outcome"] == "done"
    assert notice["counts"]["duplicate_pending"] == 3
    assert notice["counts"]["missing_phone"] == 1
    assert names(root / "done") == ["again.csv", "first.csv"]
    assert names(root / "failed") == []


# --- inbox check ----------------------------------------------------------------------------


def test_check_a_good_set_up(emulator: EmulatorServer, tmp_path: Path) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env)
    drop_leads(root, "leads.csv", il_mobiles(2))
    result = check(config, env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * 8
    assert lines[-1] == "All checks passed: dropped files will be imported."
    joined = result.stdout
    for expected in [
        "config: ", "dialer API at ", "VOICENTER_ACCOUNT_CODE is set",
        "answered; account accepted (2 campaign(s))", "state: ",
        "inbox 'leads': folders: ", "inbox 'leads': mapping: auto",
        "inbox 'leads': campaign: 'Hot leads' (named in inbox.yaml) exists and is enabled",
    ]:
        assert expected in joined
    assert names(root / "inbox") == ["leads.csv"]  # nothing touched
    assert not (root / SETUP_STATE_NAME).exists()


def test_check_finds_each_set_up_mistake(emulator: EmulatorServer, tmp_path: Path) -> None:
    emulator.add_campaign("demo", "Paused leads", enabled=False)
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env)

    def fails(run_env: dict[str, str], code: int, *expected: str) -> list[str]:
        result = check(config, run_env)
        assert result.returncode == code, result.stdout + result.stderr
        failing = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
        assert failing, result.stdout
        for text in expected:
            assert any(text in line for line in failing), (text, result.stdout)
        assert result.stdout.splitlines()[-1].endswith(f"(exit {code}).")
        return failing

    edit(config, campaign="Hot leadz")
    fails(env, 2, "campaign: no campaign named 'Hot leadz'", "Fix: Correct `campaign:`")
    edit(config, campaign="Paused leads")
    fails(env, 3, "'Paused leads' is disabled", "Fix: Enable the campaign")
    edit(config, campaign="Hot leads")

    no_code = {k: v for k, v in env.items() if k != "VOICENTER_ACCOUNT_CODE"}
    result = check(config, no_code)
    assert result.returncode == 2
    assert "warn  settings: VOICENTER_ACCOUNT_CODE is not set" in result.stdout
    assert "FAIL  inbox 'leads': campaign: 'Hot leads' looks like a campaign name" in (
        result.stdout
    )

    refused = dict(env, VOICENTER_ACCOUNT_CODE="not-our-account")
    [line] = fails(refused, 3, "FAIL  dialer: ", "refused the account code")
    assert "not-our-account" not in line

    down = env_for(None, tmp_path, api_url=f"http://127.0.0.1:{free_port()}/ForwardDialer/Dialer")
    fails(down, 3, "FAIL  dialer: ", "could not be used", "Fix: Usually temporary")

    (tmp_path / "broken.yaml").write_text("name: x\nphone: {columns: [Mobile]}\nfeilds: {}\n")
    edit(config, mapping=str(tmp_path / "broken.yaml"))
    fails(env, 2, "inbox 'leads': mapping: ", "feilds", "mapping check")
    mapping = yaml.safe_load((REPO / "mappings" / "generic-english.yaml").read_text("utf-8"))
    mapping["dedupe"]["pending_scope"] = "account"
    (tmp_path / "scope.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    edit(config, mapping=str(tmp_path / "scope.yaml"))
    assert check(config, env).returncode == 0
    fails(no_code, 2, "pending_scope: account` checks every campaign", "VOICENTER_ACCOUNT_CODE")
    edit(config, mapping="auto")

    (root / "processing").rmdir()
    (root / "processing").write_text("not a folder")
    fails(env, 2, "inbox 'leads': folders: cannot write to", "processing (not a folder)")
    (root / "processing").unlink()

    config.write_text(config.read_text(encoding="utf-8") + "settle_secnds: 3\n", "utf-8")
    fails(env, 2, "FAIL  config: ", "did you mean 'settle_seconds'?")
