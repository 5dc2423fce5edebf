"""Every Dialer API method of the emulator, over real HTTP with plain ``requests``."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from importer.emulator.server import EmulatorServer
from tests.emulator.helpers import api, get, intl, post, valid_mobiles

P1, P2, P3, P4 = valid_mobiles(4)


def smart(server: EmulatorServer) -> str:
    assert server.demo is not None
    return server.demo.campaigns["Hot leads"]


def agent(server: EmulatorServer) -> str:
    assert server.demo is not None
    return server.demo.campaigns["Callbacks"]


# --- GetCampaignList / GetCampaignDetails ----------------------------------------------------


def test_campaign_list_post_and_get_any_case(emulator: EmulatorServer) -> None:
    posted = api(emulator, "GetCampaignList", {"Code": "demo"})
    assert posted["ErrorCode"] == 0 and posted["Description"] == "OK"
    by_name = {c["Name"]: c for c in posted["Data"]}
    assert set(by_name) == {"Hot leads", "Callbacks"}
    assert by_name["Hot leads"]["Code"] == smart(emulator)
    assert by_name["Callbacks"]["TotalAwaitingCalls"] is None
    assert by_name["Hot leads"]["TotalAwaitingCalls"] == 0
    assert set(by_name["Hot leads"]) == {
        "Name",
        "StatusName",
        "TotalPendingCalls",
        "MaxPriority",
        "MinPriority",
        "TotalAwaitingCalls",
        "Code",
    }
    via_get = requests.get(f"{emulator.base_url}/getcampaignlist?code=demo", timeout=10).json()
    assert via_get == posted
    lower_json = api(emulator, "GETCAMPAIGNLIST", {"code": "demo"})
    assert lower_json == posted


@pytest.mark.parametrize(
    ("body", "description"),
    [({}, "Account code missing"), ({"Code": "nope"}, "Invalid account code")],
)
def test_campaign_list_bad_account(emulator: EmulatorServer, body: Any, description: str) -> None:
    answer = api(emulator, "GetCampaignList", body)
    assert answer == {"ErrorCode": 1, "Description": description}


def test_campaign_counts_and_priorities(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    for phone, priority in ((P1, 5), (P2, 42), (P3, None)):
        body: dict[str, Any] = {"Campaign": code, "Target": phone}
        if priority is not None:
            body["Priority"] = priority
        assert api(emulator, "AddCall", body)["ErrorCode"] == 0
    api(
        emulator,
        "AddCall",
        {"Campaign": code, "Target": P4, "OriginateTime": 4102444800, "IsDateLocal": "true"},
    )
    details = api(emulator, "GetCampaignDetails", {"Campaign": code})["Data"]
    assert details["TotalPendingCalls"] == 4
    assert details["TotalAwaitingCalls"] == 3  # the one due in 2100 is not awaiting yet
    assert (details["MaxPriority"], details["MinPriority"]) == (42, 1)
    assert details["StatusName"] == "Enabled" and details["Code"] == code
    listed = {c["Name"]: c for c in api(emulator, "GetCampaignList", {"Code": "demo"})["Data"]}
    assert listed["Hot leads"] == details


def test_campaign_details_errors_and_get(emulator: EmulatorServer) -> None:
    assert api(emulator, "GetCampaignDetails", {"Campaign": "nope"})["ErrorCode"] == 1
    assert api(emulator, "GetCampaignDetails", {})["ErrorCode"] == 1
    answer = get(emulator, "GetCampaignDetails", campaign=agent(emulator)).json()
    assert answer["Data"]["Name"] == "Callbacks"
    assert answer["Data"]["MaxPriority"] is None


# --- AddCall ---------------------------------------------------------------------------------


def test_add_call_post_stores_every_field(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    answer = api(
        emulator,
        "AddCall",
        {
            "Campaign": code,
            "Target": P1,
            "CustomerName": "John Doe",
            "CallerID": "0722776772",
            "Priority": 42,
            "OriginateTime": 1602750000,
            "IsDateLocal": "true",
            "IgnoreDncStatus": "true",
            "CustomData": {"var_LeadID": 1234567, "var_Src": "Facebook"},
        },
    )
    assert answer == {"ErrorCode": 0, "Description": "OK"}
    call = api(emulator, "GetCampaignPendingCalls", {"Campaign": code})["Data"]["Calls"][0]
    assert call["Phone"] == intl(P1)
    assert call["CustomerName"] == "John Doe"
    assert call["CallerID"] == "0722776772"
    assert call["Priorety"] == 42
    assert call["CustomData"] == {"var_LeadID": 1234567, "var_Src": "Facebook"}
    assert call["OriginateTime"] == 1602750000
    assert call["IsDateLocal"] is True


def test_add_call_get_with_var_params_and_lowercase_json(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    answer = get(
        emulator,
        "AddCall",
        Campaign=code,
        Target=P1,
        CustomerName="John Doe",
        Priority="42",
        var_leadID="1234567",
        isdatelocal="false",
    )
    assert answer.json() == {"ErrorCode": 0, "Description": "OK"}
    assert api(emulator, "addcall", {"campaign": code, "target": P2})["ErrorCode"] == 0
    calls = emulator.pending_calls(code)
    assert [c.phone for c in calls] == [intl(P2), intl(P1)]
    assert calls[1].custom_data == {"var_leadID": "1234567"}
    assert calls[1].priority == 42 and calls[1].is_date_local is False
    assert calls[0].custom_data is None and calls[0].priority == 1


@pytest.mark.parametrize(
    "form",
    ["{local}", "972{rest}", "+972{rest}", "00972{rest}", "+972-{rest}", "0{rest2}"],
)
def test_add_call_accepts_number_forms(emulator: EmulatorServer, form: str) -> None:
    rest = P1[1:]
    target = form.format(local=P1, rest=rest, rest2=f"{rest[:2]}-{rest[2:5]}-{rest[5:]}")
    assert (
        api(emulator, "AddCall", {"Campaign": smart(emulator), "Target": target})["ErrorCode"] == 0
    )
    assert emulator.pending_phones(smart(emulator)) == [intl(P1)]


def test_add_call_accepts_foreign_numbers_with_a_prefix(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    assert api(emulator, "AddCall", {"Campaign": code, "Target": "+12125550123"})["ErrorCode"] == 0
    assert api(emulator, "AddCall", {"Campaign": code, "Target": "0012125550123"})["ErrorCode"] == 0
    assert emulator.pending_phones(code) == ["12125550123", "12125550123"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Target": P1}, (1, "Campaign code missing")),
        ({"Campaign": "", "Target": P1}, (1, "Campaign code missing")),
        ({"Campaign": "WRONG", "Target": P1}, (1, "Invalid campaign code")),
        ({"Campaign": "{code}"}, (2, "Target missing")),
        ({"Campaign": "{code}", "Target": "  "}, (2, "Target missing")),
        ({"Campaign": "{code}", "Target": "0501234567"}, (-2, "Number is invalid")),
        ({"Campaign": "{code}", "Target": "12345"}, (-2, "Number is invalid")),
        ({"Campaign": "{code}", "Target": "not a phone"}, (-2, "Number is invalid")),
        (
            {"Campaign": "{code}", "Target": P1, "Priority": "high"},
            (3, "Invalid value for Priority"),
        ),
        ({"Campaign": "{code}", "Target": P1, "Priority": True}, (3, "Invalid value for Priority")),
        (
            {"Campaign": "{code}", "Target": P1, "IsDateLocal": "yes"},
            (3, "Invalid value for IsDateLocal"),
        ),
        (
            {"Campaign": "{code}", "Target": P1, "CustomData": "x=1"},
            (3, "Invalid value for CustomData"),
        ),
        (
            {"Campaign": "{code}", "Target": P1, "OriginateTime": "tomorrow"},
            (3, "Invalid value for OriginateTime"),
        ),
    ],
)
def test_add_call_errors_store_nothing(
    emulator: EmulatorServer, body: dict[str, Any], expected: tuple[int, str]
) -> None:
    code = smart(emulator)
    sent = {k: (code if v == "{code}" else v) for k, v in body.items()}
    answer = api(emulator, "AddCall", sent)
    assert (answer["ErrorCode"], answer["Description"]) == expected
    assert emulator.pending_phones(code) == []


def test_add_call_accepts_priority_and_boolean_spellings(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    for priority, local in (("7", "true"), (3.0, True), ("-2", "FALSE")):
        answer = api(
            emulator,
            "AddCall",
            {
                "Campaign": code,
                "Target": P1,
                "Priority": priority,
                "IsDateLocal": local,
                "IgnoreDncStatus": False,
            },
        )
        assert answer["ErrorCode"] == 0
    assert [c.priority for c in emulator.pending_calls(code)] == [-2, 3, 7]


def test_same_number_may_be_pending_several_times(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    for target in (P1, intl(P1), "+" + intl(P1)):
        assert api(emulator, "AddCall", {"Campaign": code, "Target": target})["ErrorCode"] == 0
    assert emulator.pending_phones(code) == [intl(P1)] * 3


# --- RemoveCall / UpdateCall / ClearCampaignCalls --------------------------------------------


def test_remove_call_removes_every_occurrence(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    for target in (P1, P2, intl(P1), P3):
        api(emulator, "AddCall", {"Campaign": code, "Target": target})
    answer = api(emulator, "RemoveCall", {"Campaign": code, "Target": "+" + intl(P1)})
    assert answer == {"ErrorCode": 0, "Description": "OK"}
    assert emulator.pending_phones(code) == [intl(P2), intl(P3)]
    # absent and impossible numbers still answer OK
    assert api(emulator, "RemoveCall", {"Campaign": code, "Target": P4})["ErrorCode"] == 0
    assert api(emulator, "RemoveCall", {"Campaign": code, "Target": "0501234567"})["ErrorCode"] == 0
    assert get(emulator, "RemoveCall", campaign=code, target=P2).json()["ErrorCode"] == 0
    assert emulator.pending_phones(code) == [intl(P3)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Target": P1}, (1, "Campaign code missing")),
        ({"Campaign": "WRONG", "Target": P1}, (1, "Invalid campaign code")),
        ({"Campaign": "{code}"}, (2, "Target missing")),
    ],
)
def test_remove_call_errors(
    emulator: EmulatorServer, body: dict[str, Any], expected: tuple[int, str]
) -> None:
    code = smart(emulator)
    api(emulator, "AddCall", {"Campaign": code, "Target": P1})
    sent = {k: (code if v == "{code}" else v) for k, v in body.items()}
    answer = api(emulator, "RemoveCall", sent)
    assert (answer["ErrorCode"], answer["Description"]) == expected
    assert emulator.pending_phones(code) == [intl(P1)]


def test_update_call_updates_all_occurrences_and_adds_missing(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    api(
        emulator,
        "AddCall",
        {
            "Campaign": code,
            "Target": P1,
            "CustomerName": "Dana",
            "Priority": 2,
            "CustomData": {"var_A": "1"},
        },
    )
    api(emulator, "AddCall", {"Campaign": code, "Target": intl(P1), "CustomerName": "Dana"})
    answer = api(
        emulator,
        "UpdateCall",
        {
            "Campaign": code,
            "Target": "+" + intl(P1),
            "Priority": 9,
            "CustomData": {"var_B": "2"},
            "IgnoreDncStatus": "true",
        },
    )
    assert answer == {"ErrorCode": 0, "Description": "OK"}
    calls = emulator.pending_calls(code)
    assert len(calls) == 2
    assert {(c.priority, c.customer_name) for c in calls} == {(9, "Dana")}
    assert all(c.custom_data == {"var_B": "2"} for c in calls)
    # a target that is not pending is added
    get_answer = get(
        emulator, "UpdateCall", Campaign=code, Target=P2, CustomerName="Avi", var_x="y"
    )
    assert get_answer.json()["ErrorCode"] == 0
    added = emulator.pending_calls(code)[0]
    assert (added.phone, added.customer_name) == (intl(P2), "Avi")
    assert added.custom_data == {"var_x": "y"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Target": P1}, (1, "Campaign code missing")),
        ({"Campaign": "WRONG", "Target": P1}, (1, "Invalid campaign code")),
        ({"Campaign": "{code}"}, (2, "Target missing")),
        ({"Campaign": "{code}", "Target": "0501234567"}, (-2, "Number is invalid")),
    ],
)
def test_update_call_errors(
    emulator: EmulatorServer, body: dict[str, Any], expected: tuple[int, str]
) -> None:
    code = smart(emulator)
    sent = {k: (code if v == "{code}" else v) for k, v in body.items()}
    answer = api(emulator, "UpdateCall", sent)
    assert (answer["ErrorCode"], answer["Description"]) == expected
    assert emulator.pending_phones(code) == []


def test_clear_campaign_calls(emulator: EmulatorServer) -> None:
    code, other = smart(emulator), agent(emulator)
    for phone in (P1, P2):
        api(emulator, "AddCall", {"Campaign": code, "Target": phone})
    api(emulator, "AddCall", {"Campaign": other, "Target": P3})
    assert api(emulator, "ClearCampaignCalls", {"Campaign": code}) == {
        "ErrorCode": 0,
        "Description": "OK",
    }
    assert emulator.pending_phones(code) == []
    assert emulator.pending_phones(other) == [intl(P3)]
    assert get(emulator, "ClearCampaignCalls", campaign=other).json()["ErrorCode"] == 0
    for body in ({"Campaign": "WRONG"}, {}):
        assert api(emulator, "ClearCampaignCalls", body) == {
            "ErrorCode": 4,
            "Description": "Internal error occurred",
        }


# --- GetCampaignPendingCalls -----------------------------------------------------------------


def test_pending_calls_shape(emulator: EmulatorServer) -> None:
    code = agent(emulator)
    for phone in (P1, P2, P3):
        api(emulator, "AddCall", {"Campaign": code, "Target": phone})
    api(emulator, "RemoveCall", {"Campaign": code, "Target": P2})
    api(emulator, "AddCall", {"Campaign": code, "Target": P4, "Priority": 3})
    data = api(emulator, "GetCampaignPendingCalls", {"Campaign": code})["Data"]
    campaign = data["Campaign"]
    assert campaign == {
        "ID": campaign["ID"],
        "Name": "Callbacks",
        "Status": 1,
        "Code": code,
        "StatusName": "Enabled",
        "TotalPendingCalls": 3,
        "MaxPriority": 3,
        "MinPriority": 1,
        "IsDynamic": 1,
    }
    assert isinstance(campaign["ID"], int)
    calls = data["Calls"]
    assert [c["CallID"] for c in calls] == ["4", "3", "1"]  # newest first, ids never reused
    assert [c["Phone"] for c in calls] == [intl(P4), intl(P3), intl(P1)]
    first = calls[0]
    assert first["CampaignID"] == campaign["ID"]
    assert first["CallStatus"] == {"Status": 1, "Description": "Tosend"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["CallInserted"])
    assert (first["CallerID"], first["CallerName"], first["CustomerName"]) == ("", "", "")
    assert first["Priorety"] == 3
    assert first["LastCallDate"] is None and first["CustomData"] is None
    assert first["OriginateTime"] is None and first["IsDateLocal"] is None
    smart_data = api(emulator, "GetCampaignPendingCalls", {"campaign": smart(emulator)})["Data"]
    assert smart_data["Campaign"]["IsDynamic"] == 0 and smart_data["Calls"] == []


def test_pending_calls_errors_and_post_only(emulator: EmulatorServer) -> None:
    for body in ({"Campaign": "WRONG"}, {}):
        assert api(emulator, "GetCampaignPendingCalls", body) == {
            "ErrorCode": 2,
            "Description": "Internal error occurred",
        }
    refused = get(emulator, "GetCampaignPendingCalls", Campaign=smart(emulator))
    assert refused.status_code == 405
    assert refused.json()["ErrorCode"] != 0
    assert refused.headers["Allow"] == "POST"


# --- Start / Stop ----------------------------------------------------------------------------


def test_stop_and_start_campaign(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    assert api(emulator, "StopCampaign", {"Campaign": code}) == {
        "ErrorCode": 0,
        "Description": "OK",
    }
    assert api(emulator, "GetCampaignDetails", {"Campaign": code})["Data"]["StatusName"] == (
        "Disabled"
    )
    pending = api(emulator, "GetCampaignPendingCalls", {"Campaign": code})["Data"]["Campaign"]
    assert (pending["Status"], pending["StatusName"]) == (2, "Disabled")
    assert get(emulator, "StartCampaign", campaign=code).json()["ErrorCode"] == 0
    assert api(emulator, "GetCampaignDetails", {"Campaign": code})["Data"]["StatusName"] == (
        "Enabled"
    )
    for method in ("StopCampaign", "StartCampaign"):
        assert api(emulator, method, {"Campaign": "WRONG"}) == {
            "ErrorCode": 1,
            "Description": "Invalid campaign code",
        }


# --- members ---------------------------------------------------------------------------------


def test_members_of_agent_campaign(emulator: EmulatorServer) -> None:
    code = agent(emulator)
    listed = api(emulator, "GetMembersList", {"Campaign": code})
    assert listed["Data"] == [
        {"Member": "SIP1001", "DisplayName": "Dana Cohen"},
        {"Member": "SIP1002", "DisplayName": "Yossi Levi"},
    ]
    assert get(emulator, "GetMembersList", campaign=code).json() == listed
    added = get(emulator, "AddMember", campaign=code, member="SIPSIP1").json()
    assert added == {"ErrorCode": 0, "Description": "OK", "Data": {"TotalAdded": 1}}
    again = api(emulator, "AddMember", {"Campaign": code, "Member": "SIPSIP1,SIPSIP2"})
    assert again["Data"] == {"TotalAdded": 1}
    removed = api(emulator, "RemoveMember", {"Campaign": code, "Member": "SIPSIP1,SIP1001"})
    assert removed == {"ErrorCode": 0, "Description": "OK", "Data": {"TotalRemoved": 2}}
    assert api(emulator, "RemoveMember", {"Campaign": code, "Member": "GHOST"})["Data"] == {
        "TotalRemoved": 0
    }
    assert [m for m, _ in emulator.members(code)] == ["SIP1002", "SIPSIP2"]


def test_member_errors(emulator: EmulatorServer) -> None:
    code = agent(emulator)
    for body in (
        {"Campaign": code},
        {"Campaign": code, "Member": ""},
        {"Campaign": code, "Member": "bad member!"},
    ):
        assert api(emulator, "AddMember", body) == {
            "ErrorCode": 2,
            "Description": "Member missing",
            "Data": {"TotalAdded": -1},
        }
        assert api(emulator, "RemoveMember", body) == {
            "ErrorCode": 2,
            "Description": "Member missing",
            "Data": {"TotalRemoved": 0},
        }
    bad = api(emulator, "AddMember", {"Campaign": "WRONG", "Member": "SIP9"})
    assert (bad["ErrorCode"], bad["Data"]) == (1, {"TotalAdded": -1})
    assert api(emulator, "GetMembersList", {"Campaign": "WRONG"})["ErrorCode"] == 1


def test_members_on_smart_dialer_campaign(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    assert api(emulator, "GetMembersList", {"Campaign": code}) == {
        "ErrorCode": 0,
        "Description": "OK",
        "Data": [],
    }
    added = api(emulator, "AddMember", {"Campaign": code, "Member": "SIP1"})
    assert (added["ErrorCode"], added["Data"]) == (3, {"TotalAdded": -1})
    removed = api(emulator, "RemoveMember", {"Campaign": code, "Member": "SIP1"})
    assert (removed["ErrorCode"], removed["Data"]) == (3, {"TotalRemoved": 0})


# --- smart-dialer settings -------------------------------------------------------------------


def test_settings_method(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    body = {
        "Campaign": code,
        "setQueueForMonitoring": 123456789,
        "setQueueMaximumCallers": 1,
        "setCoefficient": 2,
    }
    assert api(emulator, "UpdateCampaignSettings", body) == {"ErrorCode": 0, "Description": "OK"}
    stored = emulator.campaign(code)
    assert stored is not None
    assert (stored.queue_for_monitoring, stored.queue_maximum_callers, stored.coefficient) == (
        123456789,
        1,
        2,
    )
    as_strings = {
        "campaign": code,
        "SETQUEUEFORMONITORING": "5",
        "setqueuemaximumcallers": "3",
        "setcoefficient": "4",
    }
    assert api(emulator, "updatecampaignsettings", as_strings)["ErrorCode"] == 0
    assert get(emulator, "UpdateCampaignSettings", **as_strings).status_code == 405


@pytest.mark.parametrize(
    "change",
    [
        {"setQueueForMonitoring": None},
        {"setQueueMaximumCallers": None},
        {"setCoefficient": None},
        {"setQueueMaximumCallers": 0},
        {"setQueueMaximumCallers": -3},
        {"setCoefficient": 1},
        {"setCoefficient": "two"},
        {"setQueueForMonitoring": 1.5},
    ],
)
def test_settings_validation(emulator: EmulatorServer, change: dict[str, Any]) -> None:
    code = smart(emulator)
    body: dict[str, Any] = {
        "Campaign": code,
        "setQueueForMonitoring": 7,
        "setQueueMaximumCallers": 2,
        "setCoefficient": 3,
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    answer = api(emulator, "UpdateCampaignSettings", body)
    assert answer["ErrorCode"] not in (0, None)
    stored = emulator.campaign(code)
    assert stored is not None and stored.coefficient is None


def test_settings_only_for_smart_dialer_and_valid_code(emulator: EmulatorServer) -> None:
    body = {"setQueueForMonitoring": 7, "setQueueMaximumCallers": 2, "setCoefficient": 3}
    assert (
        api(emulator, "UpdateCampaignSettings", {"Campaign": agent(emulator), **body})["ErrorCode"]
        == 3
    )
    assert api(emulator, "UpdateCampaignSettings", {"Campaign": "WRONG", **body})["ErrorCode"] == 1


def test_settings_method_name_is_configurable(tmp_path: Any) -> None:
    with EmulatorServer(db_path=tmp_path / "e.db", settings_method="SetSmartDialer") as server:
        code = server.seed_demo().campaigns["Hot leads"]
        body = {
            "Campaign": code,
            "setQueueForMonitoring": 7,
            "setQueueMaximumCallers": 2,
            "setCoefficient": 3,
        }
        assert api(server, "SetSmartDialer", body)["ErrorCode"] == 0
        assert post(server, "UpdateCampaignSettings", body).status_code == 404


# --- transport-level answers -----------------------------------------------------------------


def test_unknown_method_and_path_answer_json_404(emulator: EmulatorServer) -> None:
    for url in (
        f"{emulator.base_url}/NoSuchMethod",
        f"{emulator.base_url}/AddCall/extra",
        emulator.base_url.rsplit("/", 2)[0] + "/other",
    ):
        response = requests.post(url, json={}, timeout=10)
        assert response.status_code == 404
        assert response.json()["ErrorCode"] == 404


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b'["a list"]', {"Content-Type": "application/json"}),
        (b'"text"', {"Content-Type": "application/json"}),
        (b"\xff\xfe{}", {"Content-Type": "application/json"}),
    ],
)
def test_malformed_bodies_answer_json_400(
    emulator: EmulatorServer, data: bytes, headers: dict[str, str]
) -> None:
    response = requests.post(f"{emulator.base_url}/AddCall", data=data, headers=headers, timeout=10)
    assert response.status_code == 400
    assert response.json()["ErrorCode"] == 400
    assert emulator.pending_phones(smart(emulator)) == []


def test_other_verbs_and_form_bodies(emulator: EmulatorServer) -> None:
    code = smart(emulator)
    refused = requests.put(f"{emulator.base_url}/AddCall", json={}, timeout=10)
    assert refused.status_code == 405 and refused.json()["ErrorCode"] == 405
    # a form body, and JSON sent with curl's default form content type, are both read
    form = requests.post(
        f"{emulator.base_url}/AddCall",
        data={"Campaign": code, "Target": P1, "var_k": "v"},
        timeout=10,
    )
    assert form.json()["ErrorCode"] == 0
    curl_like = requests.post(
        f"{emulator.base_url}/AddCall",
        data=f'{{"Campaign": "{code}", "Target": "{P2}"}}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert curl_like.json()["ErrorCode"] == 0
    assert emulator.pending_phones(code) == [intl(P1), intl(P2)]
    assert emulator.pending_calls(code)[1].custom_data == {"var_k": "v"}


def test_campaign_code_with_surrounding_spaces(emulator: EmulatorServer) -> None:
    code = agent(emulator)
    assert api(emulator, "GetMembersList", {"Campaign": f" {code} "})["ErrorCode"] == 0
