"""AddCallsBulk: per-item results, limits, and its body rules."""

from __future__ import annotations

import json

import requests

from importer.emulator.server import EmulatorServer
from tests.emulator.helpers import api, intl, post, valid_mobiles

PHONES = valid_mobiles(3001)


def codes(server: EmulatorServer) -> tuple[str, str]:
    assert server.demo is not None
    return server.demo.campaigns["Hot leads"], server.demo.campaigns["Callbacks"]


def test_per_item_results_in_order(emulator: EmulatorServer) -> None:
    smart, agent = codes(emulator)
    p = PHONES
    items = [
        {
            "Campaign": smart,
            "Target": p[0],
            "CustomerName": "John Doe",
            "Priority": 42,
            "IsDateLocal": "true",
            "IgnoreDncStatus": "true",
            "CustomData": {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"},
        },
        {"Campaign": smart, "Target": p[1]},
        {"Campaign": smart, "Target": "0501234567"},
        {"Campaign": smart},
        {"Campaign": "WRONG", "Target": p[2]},
        {"Target": p[3]},
        {"campaign": agent, "target": "+" + intl(p[4]), "customdata": {"var_x": "1"}},
        {"Campaign": smart, "Target": p[5], "Priority": "high"},
        "not an object",
        {"Campaign": smart, "Target": p[0]},
    ]
    answer = api(emulator, "AddCallsBulk", items)
    assert (answer["ErrorCode"], answer["Description"]) == (0, "OK")
    results = answer["AddResult"]
    assert [(r["ErrorCode"], r["Description"]) for r in results] == [
        (0, "OK"),
        (0, "OK"),
        (-2, "Number is invalid"),
        (2, "Target missing"),
        (1, "Invalid campaign code"),
        (1, "Campaign code missing"),
        (0, "OK"),
        (3, "Invalid value for Priority"),
        (2, "Target missing"),
        (0, "OK"),
    ]
    assert results[0] == {
        "Target": p[0],
        "ErrorCode": 0,
        "Description": "OK",
        "CustomData": {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"},
    }
    assert results[1]["CustomData"] == {}
    assert results[6]["Target"] == "+" + intl(p[4])
    assert results[6]["CustomData"] == {"var_x": "1"}
    assert emulator.pending_phones(smart) == [intl(p[0]), intl(p[1]), intl(p[0])]
    assert emulator.pending_phones(agent) == [intl(p[4])]
    first = emulator.pending_calls(smart)[-1]
    assert (first.customer_name, first.priority, first.is_date_local) == ("John Doe", 42, True)


def test_empty_array_is_ok(emulator: EmulatorServer) -> None:
    assert api(emulator, "AddCallsBulk", []) == {
        "ErrorCode": 0,
        "Description": "OK",
        "AddResult": [],
    }


def test_3000_items_get_details_and_more_do_not(emulator: EmulatorServer) -> None:
    smart, agent = codes(emulator)
    items = [{"Campaign": smart, "Target": phone} for phone in PHONES[:3000]]
    answer = api(emulator, "AddCallsBulk", items)
    assert len(answer["AddResult"]) == 3000
    assert all(r["ErrorCode"] == 0 for r in answer["AddResult"])
    bigger = [{"Campaign": agent, "Target": phone} for phone in PHONES[:3001]]
    bigger[5]["Target"] = "0501234567"
    answer = api(emulator, "AddCallsBulk", bigger)
    assert (answer["ErrorCode"], answer["AddResult"]) == (0, [])
    stored = emulator.pending_phones(agent)
    assert len(stored) == 3000 and intl(PHONES[5]) not in stored
    ids = [int(c.call_id) for c in emulator.pending_calls(agent)]
    assert sorted(ids) == list(range(1, 3001))


def test_more_than_100000_items_stores_nothing(emulator: EmulatorServer) -> None:
    smart, _ = codes(emulator)
    body = json.dumps([{"Campaign": smart, "Target": PHONES[0]}] * 100_001)
    response = requests.post(
        f"{emulator.base_url}/AddCallsBulk",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    answer = response.json()
    assert answer["ErrorCode"] == 5 and "100000" in answer["Description"]
    assert emulator.pending_phones(smart) == []


def test_bulk_body_rules(emulator: EmulatorServer) -> None:
    smart, _ = codes(emulator)
    as_object = post(emulator, "AddCallsBulk", {"Campaign": smart, "Target": PHONES[0]})
    assert as_object.status_code == 400 and as_object.json()["ErrorCode"] == 400
    empty = requests.post(f"{emulator.base_url}/AddCallsBulk", timeout=10)
    assert empty.status_code == 400
    via_get = requests.get(
        f"{emulator.base_url}/AddCallsBulk",
        params={"Campaign": smart, "Target": PHONES[0]},
        timeout=10,
    )
    assert via_get.status_code == 405 and via_get.json()["ErrorCode"] == 405
    assert emulator.pending_phones(smart) == []
