"""The emulator as a server: persistence, keep-alive, request log, quiet logs, the CLI."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from importer.cli.emulator_cmd import emulator_command
from importer.emulator.server import EmulatorProcess, EmulatorServer, parse_url_line
from tests.emulator.helpers import api, get, intl, valid_mobiles

P = valid_mobiles(40)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "persist.db"
    with EmulatorServer(db_path=db) as first:
        demo = first.seed_demo()
        smart, agent = demo.campaigns["Hot leads"], demo.campaigns["Callbacks"]
        api(first, "AddCall", {"Campaign": smart, "Target": P[0], "CustomData": {"var_a": "ü"}})
        api(first, "AddMember", {"Campaign": agent, "Member": "SIP7"})
        api(first, "StopCampaign", {"Campaign": agent})
        api(
            first,
            "UpdateCampaignSettings",
            {
                "Campaign": smart,
                "setQueueForMonitoring": 1,
                "setQueueMaximumCallers": 2,
                "setCoefficient": 3,
            },
        )
        extra = first.add_campaign("acct-2", "Other", is_dynamic=True, enabled=False)
    with EmulatorServer(db_path=db) as second:
        assert second.seed_demo() == demo  # idempotent: same codes
        assert second.pending_phones(smart) == [intl(P[0])]
        assert second.pending_calls(smart)[0].custom_data == {"var_a": "ü"}
        assert [m for m, _ in second.members(agent)] == ["SIP1001", "SIP1002", "SIP7"]
        details = api(second, "GetCampaignDetails", {"Campaign": agent})["Data"]
        assert details["StatusName"] == "Disabled"
        stored = second.campaign(smart)
        assert stored is not None and stored.coefficient == 3
        other = api(second, "GetCampaignList", {"Code": "acct-2"})["Data"]
        assert [(c["Name"], c["Code"], c["StatusName"]) for c in other] == [
            ("Other", extra, "Disabled")
        ]
        # call ids keep counting after a restart
        api(second, "AddCall", {"Campaign": smart, "Target": P[1]})
        assert [c.call_id for c in second.pending_calls(smart)] == [2, 1]


def test_pooled_session_reuses_one_connection(emulator: EmulatorServer) -> None:
    emulator.clear_request_log()
    with requests.Session() as session:
        for _ in range(5):
            answer = session.post(
                f"{emulator.base_url}/GetCampaignList", json={"Code": "demo"}, timeout=10
            )
            assert answer.json()["ErrorCode"] == 0
    assert len({r.client_port for r in emulator.request_log}) == 1


def test_concurrent_writes_are_all_kept(emulator: EmulatorServer) -> None:
    assert emulator.demo is not None
    code = emulator.demo.campaigns["Hot leads"]

    def worker(chunk: list[str]) -> None:
        with requests.Session() as session:
            for phone in chunk:
                body = {"Campaign": code, "Target": phone}
                answer = session.post(f"{emulator.base_url}/AddCall", json=body, timeout=30)
                assert answer.json()["ErrorCode"] == 0

    threads = [threading.Thread(target=worker, args=(list(P[i::8]),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    calls = emulator.pending_calls(code)
    assert sorted(c.phone for c in calls) == sorted(intl(p) for p in P)
    assert sorted(c.call_id for c in calls) == list(range(1, len(P) + 1))


def test_request_log_records_the_wire_and_logging_stays_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_file = tmp_path / "requests.jsonl"
    caplog.set_level(logging.DEBUG)
    with EmulatorServer(db_path=tmp_path / "e.db", request_log_path=log_file) as server:
        code = server.seed_demo().campaigns["Hot leads"]
        get(server, "AddCall", Campaign=code, Target=P[0])
        api(server, "AddCall", {"Campaign": code, "Target": P[1]})
        requests.post(f"{server.base_url}/Nope", data=b"{", timeout=10)
        entries = server.request_log
    assert [(e.method, e.http_method, e.status) for e in entries] == [
        ("AddCall", "GET", 200),
        ("AddCall", "POST", 200),
        ("Nope", "POST", 404),
    ]
    assert code in entries[0].path and code in entries[0].query
    assert entries[0].path.startswith("/ForwardDialer/Dialer/AddCall?")
    assert code not in entries[1].path and code in entries[1].body
    lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert [(r["http_method"], r["path"].split("?")[0]) for r in lines] == [
        ("GET", "/ForwardDialer/Dialer/AddCall"),
        ("POST", "/ForwardDialer/Dialer/AddCall"),
        ("POST", "/ForwardDialer/Dialer/Nope"),
    ]
    assert json.loads(lines[1]["body"]) == {"Campaign": code, "Target": P[1]}
    ours = [r for r in caplog.records if r.name.startswith("importer")]
    assert ours and all(code not in record.getMessage() for record in ours)


def test_cli_refuses_a_remote_host_and_unknown_fault_methods(tmp_path: Path) -> None:
    runner = CliRunner()
    remote = runner.invoke(emulator_command, ["--host", "0.0.0.0", "--db", str(tmp_path / "e.db")])
    assert remote.exit_code == 2
    assert "--allow-remote" in remote.output
    unknown = runner.invoke(
        emulator_command,
        ["--port", "0", "--db", str(tmp_path / "e.db"), "--fault-methods", "AddCall,Bogus"],
    )
    assert unknown.exit_code == 2
    assert "Bogus" in unknown.output


def test_parse_url_line() -> None:
    assert parse_url_line("export VOICENTER_API_URL=http://127.0.0.1:1/ForwardDialer/Dialer") == (
        "http://127.0.0.1:1/ForwardDialer/Dialer"
    )
    assert parse_url_line("set VOICENTER_API_URL=http://x/y\n") == "http://x/y"
    assert parse_url_line("nothing here") is None


def test_cli_subprocess_serves_persists_and_stops_cleanly(
    tmp_path: Path, emulator_process: Callable[..., EmulatorProcess]
) -> None:
    db = tmp_path / "cli.db"
    log_file = tmp_path / "cli-requests.jsonl"
    proc = emulator_process("--db", str(db), "--demo", "--request-log", str(log_file))
    listed = requests.post(
        f"{proc.base_url}/GetCampaignList", json={"Code": "demo"}, timeout=10
    ).json()
    by_name = {c["Name"]: c["Code"] for c in listed["Data"]}
    assert set(by_name) == {"Hot leads", "Callbacks"}
    answer = requests.post(
        f"{proc.base_url}/AddCall",
        json={"Campaign": by_name["Hot leads"], "Target": P[0]},
        timeout=10,
    )
    assert answer.json()["ErrorCode"] == 0
    assert proc.stop() == 0
    output = "\n".join(proc.output)
    assert "VOICENTER_ACCOUNT_CODE=demo" in output
    assert all(code not in output for code in by_name.values())  # codes are never printed
    assert log_file.read_text(encoding="utf-8").count("\n") == 2

    # a crash loses nothing it answered for, and the next start finds the same state
    again = emulator_process("--db", str(db), "--demo")
    assert again.base_url != "" and again.kill() != 0
    third = emulator_process("--db", str(db))
    pending = requests.post(
        f"{third.base_url}/GetCampaignPendingCalls",
        json={"Campaign": by_name["Hot leads"]},
        timeout=10,
    ).json()
    assert [c["Phone"] for c in pending["Data"]["Calls"]] == [intl(P[0])]
    assert third.stop() == 0
