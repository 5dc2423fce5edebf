"""The thin API commands, run with click's CliRunner against the emulator."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from importer.cli import api_cmds
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.emulator.server import EmulatorServer
from importer.errors import CampaignNotFoundError, ConfigError
from importer.redact import mask

P1, P2, P3 = "0502345670", "0502345671", "0502345672"
E1, E2, E3 = "972502345670", "972502345671", "972502345672"


@pytest.fixture
def group() -> click.Group:
    grp = click.Group("lead-importer")
    api_cmds.register(grp)
    return grp


def run(group: click.Group, *args: str) -> Result:
    return CliRunner().invoke(group, list(args), catch_exceptions=True)


@pytest.fixture
def seeded(emulator_env: EmulatorServer) -> EmulatorServer:
    assert emulator_env.demo is not None
    settings = Settings(api_url=emulator_env.base_url, account_code="demo")
    with DialerClient(settings) as client:
        client.add_calls_bulk(
            emulator_env.demo.campaigns["Hot leads"],
            [
                CallTarget(P1, customer_name="דנה", priority=5, custom_data={"var_LeadID": "7"}),
                CallTarget(P2, customer_name="=cmd|' /C calc'!A0", custom_data={"var_Src": "fb"}),
            ],
        )
    return emulator_env


def test_campaigns_masks_codes(group: click.Group, seeded: EmulatorServer) -> None:
    assert seeded.demo is not None
    codes = seeded.demo.campaigns
    result = run(group, "campaigns")
    assert result.exit_code == 0, result.output
    assert "Hot leads" in result.stdout and "Callbacks" in result.stdout
    assert mask(codes["Hot leads"]) in result.stdout
    assert not any(code in result.output for code in codes.values())

    as_json = json.loads(run(group, "campaigns", "--json").stdout)
    assert {c["name"]: c["code"] for c in as_json} == {n: mask(c) for n, c in codes.items()}
    assert {c["name"]: c["total_pending_calls"] for c in as_json}["Hot leads"] == 2

    shown = run(group, "campaigns", "--show-codes")
    assert shown.exit_code == 0
    assert all(code in shown.stdout for code in codes.values())
    assert "secret" in shown.stderr


def test_pending_table_csv_json(group: click.Group, seeded: EmulatorServer, tmp_path: Path) -> None:
    table = run(group, "pending", "hot LEADS")  # names match case- and space-insensitively
    assert table.exit_code == 0, table.output
    assert f"+{E1}" in table.stdout and "2 pending call(s)" in table.stdout

    out = tmp_path / "pending.csv"
    written = run(group, "pending", "Hot leads", "--format", "csv", "--output", str(out))
    assert written.exit_code == 0, written.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert list(rows[0])[:6] == [
        "Phone", "CustomerName", "Priority", "CallerID", "CallInserted", "OriginateTime",
    ]
    # E.164 behind the formula guard: Excel shows +972..., the pending mapping reads it back.
    assert sorted(r["Phone"] for r in rows) == ["'+" + E1, "'+" + E2]
    by_phone = {r["Phone"].removeprefix("'+"): r for r in rows}
    assert by_phone[E1]["CustomerName"] == "דנה" and by_phone[E1]["Priority"] == "5"
    assert by_phone[E1]["var_LeadID"] == "7" and by_phone[E2]["var_Src"] == "fb"
    assert by_phone[E2]["CustomerName"].startswith("'=")  # never a live formula in Excel
    assert by_phone[E1]["CallInserted"].endswith("Z")

    data = json.loads(run(group, "pending", "Hot leads", "--json").stdout)
    assert data["count"] == 2 and data["campaign"]["name"] == "Hot leads"
    assert seeded.demo is not None
    assert seeded.demo.campaigns["Hot leads"] not in json.dumps(data)


def test_clear_needs_yes_and_saves_a_backup(
    group: click.Group, seeded: EmulatorServer, tmp_path: Path
) -> None:
    assert seeded.demo is not None
    code = seeded.demo.campaigns["Hot leads"]
    refused = run(group, "clear", "Hot leads")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert len(seeded.pending_phones(code)) == 2

    backups = tmp_path / "backups"
    done = run(group, "clear", "Hot leads", "--yes", "--backup-dir", str(backups))
    assert done.exit_code == 0, done.output
    assert seeded.pending_phones(code) == []
    (backup,) = backups.glob("Hot_leads.pending-backup.*.csv")
    assert str(backup) in done.stdout
    rows = list(csv.DictReader(backup.read_text(encoding="utf-8-sig").splitlines()))
    assert sorted(r["Phone"] for r in rows) == ["'+" + E1, "'+" + E2]


def test_members_start_stop_remove_settings(
    group: click.Group, seeded: EmulatorServer, tmp_path: Path
) -> None:
    assert seeded.demo is not None
    listed = run(group, "members", "callbacks")
    assert listed.exit_code == 0 and "SIP1001" in listed.stdout and "Dana Cohen" in listed.stdout
    assert run(group, "members", "Callbacks", "add", "SIP3003").exit_code == 0
    assert [m for m, _ in seeded.members(seeded.demo.campaigns["Callbacks"])] == [
        "SIP1001", "SIP1002", "SIP3003",
    ]
    gone = run(group, "members", "Callbacks", "remove", "SIP4004")
    assert gone.exit_code == 1 and "Nothing was removed" in gone.stderr
    assert run(group, "members", "Callbacks", "add").exit_code == 2

    stopped = run(group, "stop", "Hot leads")
    assert stopped.exit_code == 0 and "stopped" in stopped.stdout
    code = seeded.demo.campaigns["Hot leads"]
    campaign = seeded.campaign(code)
    assert campaign is not None and not campaign.enabled
    assert json.loads(run(group, "start", "Hot leads", "--json").stdout)["ok"] is True

    phones = tmp_path / "phones.csv"
    phones.write_text("phone,name\n" + P2 + ",x\n\n", encoding="utf-8")
    removed = run(group, "remove", "Hot leads", P1, "--file", str(phones))
    assert removed.exit_code == 0, removed.output
    assert seeded.pending_phones(code) == []
    assert run(group, "remove", "Hot leads").exit_code == 2
    partly = run(group, "remove", "Hot leads", "12345", P3)
    assert partly.exit_code == 1 and "not removed 12345" in partly.stderr

    ok = run(group, "settings", "Hot leads", "--queue", "77", "--max-callers", "4",
             "--coefficient", "3")
    assert ok.exit_code == 0, ok.output
    bad = run(group, "settings", "Hot leads", "--queue", "77", "--max-callers", "0",
              "--coefficient", "3")
    assert isinstance(bad.exception, ConfigError)


def test_campaign_by_code_without_account_code(
    group: click.Group, emulator_env: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emulator_env.demo is not None
    code = emulator_env.demo.campaigns["Callbacks"]
    monkeypatch.delenv("VOICENTER_ACCOUNT_CODE")
    details = run(group, "details", code, "--json")
    assert details.exit_code == 0, details.output
    assert json.loads(details.stdout)["name"] == "Callbacks"
    by_name = run(group, "details", "Hot leads")
    assert isinstance(by_name.exception, ConfigError)
    assert "VOICENTER_ACCOUNT_CODE" in str(by_name.exception)
    unknown = run(group, "details", "Zq8RxkT2mWvN4pLs9dYh3cFb7gJe5aUo")
    assert isinstance(unknown.exception, CampaignNotFoundError)
    assert "Zq8RxkT2mWvN4pLs9dYh3cFb7gJe5aUo" not in str(unknown.exception)


def test_unknown_campaign_lists_names_not_codes(
    group: click.Group, emulator_env: EmulatorServer
) -> None:
    assert emulator_env.demo is not None
    result = run(group, "pending", "Cold leads")
    assert isinstance(result.exception, CampaignNotFoundError)
    message = str(result.exception)
    assert "'Hot leads'" in message and "'Callbacks'" in message
    assert not any(code in message for code in emulator_env.demo.campaigns.values())


def test_remove_retries_each_number_and_reads_any_list_file(
    tmp_path: Path, group: click.Group, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RemoveCall is safe to repeat: a 500 or a lost answer is retried, and one failure does not
    stop the other numbers (a do-not-call request must not wait). The list may be a workbook."""
    import openpyxl

    import importer.dialer.client as client_module
    from importer.dialer.retry import RetryPolicy
    from importer.emulator.faults import FaultConfig
    from tests.phone_samples import valid_mobiles

    monkeypatch.setattr(
        client_module, "DEFAULT_RETRY_POLICY", RetryPolicy(initial_wait=0.01, max_wait=0.02)
    )
    numbers = valid_mobiles(8, start=3_300_000)
    faults = FaultConfig(fail_rate=0.3, ambiguous_rate=0.2, methods={"RemoveCall"})
    with EmulatorServer(db_path=tmp_path / "faulty.db", port=0, faults=faults, seed=3) as server:
        server.seed_demo()
        assert server.demo is not None
        code = server.demo.campaigns["Hot leads"]
        settings = Settings(api_url=server.base_url, account_code="demo")
        with DialerClient(settings) as client:
            client.add_calls_bulk(code, [CallTarget(n) for n in numbers])
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["שם", "טלפון"])
        for i, number in enumerate(numbers):
            sheet.append([f"ליד {i}", number])
        path = tmp_path / "dnc.xlsx"
        book.save(path)
        monkeypatch.setenv("VOICENTER_API_URL", server.base_url)
        monkeypatch.setenv("VOICENTER_ACCOUNT_CODE", "demo")
        result = run(group, "remove", "Hot leads", "--file", str(path), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["sent"] == 8
        assert server.pending_phones(code) == []
        # Faults happened and were retried: more RemoveCall requests than numbers.
        assert sum(1 for r in server.request_log if r.method.lower() == "removecall") > 8
