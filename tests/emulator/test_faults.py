"""Fault injection: latency, 500s, dropped answers, 429s, the dialling simulation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from importer.emulator.dialling import DialSimulator
from importer.emulator.faults import FaultConfig
from importer.emulator.server import EmulatorServer
from importer.emulator.store import NewCall, Store
from tests.emulator.helpers import api, intl, post, valid_mobiles

P = valid_mobiles(30)


def smart(server: EmulatorServer) -> str:
    assert server.demo is not None
    return server.demo.campaigns["Hot leads"]


def test_latency_delays_answers(emulator: EmulatorServer) -> None:
    emulator.set_faults(FaultConfig(latency_ms=200))
    started = time.monotonic()
    assert api(emulator, "GetCampaignList", {"Code": "demo"})["ErrorCode"] == 0
    assert time.monotonic() - started >= 0.19


def test_fail_rate_answers_500_and_stores_nothing(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    emulator.set_faults(FaultConfig(fail_rate=1.0))
    response = post(emulator, "AddCall", {"Campaign": code, "Target": P[0]})
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["ErrorCode"] == 500
    assert emulator.pending_phones(code) == []
    assert emulator.request_log[-1].fault == "fail"
    assert emulator.request_log[-1].status == 500
    emulator.set_faults(FaultConfig())
    assert api(emulator, "AddCall", {"Campaign": code, "Target": P[0]})["ErrorCode"] == 0


def test_ambiguous_write_is_stored_but_unanswered(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    emulator.set_faults(FaultConfig(ambiguous_rate=1.0))
    with requests.Session() as session:
        with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            session.post(
                f"{emulator.base_url}/AddCall", json={"Campaign": code, "Target": P[0]}, timeout=10
            )
        with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            session.post(
                f"{emulator.base_url}/AddCallsBulk",
                json=[{"Campaign": code, "Target": P[1]}],
                timeout=10,
            )
        # reads are never dropped
        read = session.post(
            f"{emulator.base_url}/GetCampaignPendingCalls", json={"Campaign": code}, timeout=10
        )
    assert read.status_code == 200
    assert [c["Phone"] for c in read.json()["Data"]["Calls"]] == [intl(P[1]), intl(P[0])]
    dropped = [r for r in emulator.request_log if r.fault == "drop"]
    assert [(r.method, r.status) for r in dropped] == [("AddCall", None), ("AddCallsBulk", None)]


def test_rate_limit_answers_429_with_retry_after(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    emulator.set_faults(FaultConfig(rate_limit=0.5))
    first = post(emulator, "AddCall", {"Campaign": code, "Target": P[0]})
    second = post(emulator, "AddCall", {"Campaign": code, "Target": P[1]})
    assert first.status_code == 200
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) >= 1
    assert second.json()["ErrorCode"] == 429
    assert emulator.pending_phones(code) == [intl(P[0])]


def test_faults_can_be_limited_to_some_methods(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    emulator.set_faults(FaultConfig(fail_rate=1.0, methods=["addcallsbulk"]))
    assert api(emulator, "AddCall", {"Campaign": code, "Target": P[0]})["ErrorCode"] == 0
    assert post(emulator, "AddCallsBulk", [{"Campaign": code, "Target": P[1]}]).status_code == 500
    assert emulator.pending_phones(code) == [intl(P[0])]


def test_faults_are_reproducible_with_a_seed(tmp_path: Path) -> None:
    def statuses(seed: int) -> list[int]:
        faults = FaultConfig(fail_rate=0.5)
        with EmulatorServer(
            db_path=tmp_path / f"{seed}-{time.monotonic_ns()}.db", faults=faults, seed=seed
        ) as server:
            return [post(server, "GetCampaignList", {"Code": "x"}).status_code for _ in range(16)]

    first = statuses(7)
    assert statuses(7) == first
    assert {200, 500} <= set(first)


def test_dial_simulation_consumes_highest_priority_first(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "dial.db")
    try:
        on = store.create_campaign("acct", "On", is_dynamic=False, enabled=True)
        off = store.create_campaign("acct", "Off", is_dynamic=False, enabled=False)
        calls = [NewCall(on.id, intl(P[i]), priority=i % 5) for i in range(10)]
        calls.append(NewCall(on.id, intl(P[10]), priority=99, originate_time=4102444800))
        store.insert_calls([*calls, NewCall(off.id, intl(P[0]))])
        sim = DialSimulator(store, rate=2.0, clock=lambda: now[0])
        now[0] += 1.0
        assert sim.tick() == 2
        remaining = [c.priority for c in store.pending(on.id) if c.originate_time is None]
        assert sorted(remaining) == [0, 0, 1, 1, 2, 2, 3, 3]  # the two priority-4 calls went
        now[0] += 0.75
        assert sim.tick() == 1
        now[0] += 0.25
        assert sim.tick() == 1  # fractional credit carries over
        now[0] += 100
        sim.tick()
        left = store.pending(on.id)
        assert [c.phone for c in left] == [intl(P[10])]  # future OriginateTime waits
        assert len(store.pending(off.id)) == 1  # a stopped campaign does not dial
        assert store.dialled_total(on.id) == 10
    finally:
        store.close()


def test_dial_rate_drains_an_enabled_campaign(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    api(emulator, "AddCallsBulk", [{"Campaign": code, "Target": p} for p in P[:5]])
    api(emulator, "StopCampaign", {"Campaign": code})
    emulator.set_faults(FaultConfig(dial_rate=100))
    time.sleep(0.1)
    assert len(emulator.pending_phones(code)) == 5
    api(emulator, "GetCampaignList", {"Code": "demo"})  # ticks while stopped: nothing dialled
    assert len(emulator.pending_phones(code)) == 5
    api(emulator, "StartCampaign", {"Campaign": code})
    deadline = time.monotonic() + 10
    while emulator.pending_phones(code) and time.monotonic() < deadline:
        time.sleep(0.05)
        api(emulator, "GetCampaignDetails", {"Campaign": code})
    assert emulator.pending_phones(code) == []
    assert emulator.dialled_count(code) == 5
