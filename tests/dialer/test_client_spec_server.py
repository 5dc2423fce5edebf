"""The client against an independent, minimal server that answers with the vendor page's own
example bodies (made valid) and with the broken bodies a real service may send.

This server shares no code with our emulator: it proves the client follows the spec, not our
implementation of it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.dialer.retry import RetryPolicy
from importer.errors import (
    AmbiguousWriteError,
    AuthorizationError,
    BadResponseError,
    ConfigError,
    DialerConnectionError,
    HTTPStatusError,
    InvalidCampaignError,
    RateLimitedError,
)

CODE = "cNnBe03V3A9LdNIRXVslapVNhEKG75GO"   # the code shown in the vendor's pending-calls sample
CODE2 = "Hk29dLqPw8ZtR4vYxN7mCb3JfE6sUa1G"
ACCOUNT = "Acc0untC0deFromOperati0ns12345"


@dataclass
class Canned:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate_to: int | None = None     # announce the full length, send this many bytes, close


class _Handler(BaseHTTPRequestHandler):
    server: _SpecServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        method = self.path.rsplit("/", 1)[-1]
        self.server.seen.append((self.command, self.path, body))
        canned = self.server.answers.get(method)
        if canned is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = canned.body.encode("utf-8") if isinstance(canned.body, str) else canned.body
        self.send_response(canned.status)
        for key, value in {"Content-Type": "application/json", **canned.headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if canned.truncate_to is not None:
            self.wfile.write(data[: canned.truncate_to])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


class _SpecServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: dict[str, Canned] = {}
        self.seen: list[tuple[str, str, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ForwardDialer/Dialer/"


@pytest.fixture
def spec_server() -> Iterator[_SpecServer]:
    srv = _SpecServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture
def spec_client(spec_server: _SpecServer) -> Iterator[DialerClient]:
    settings = Settings(api_url=spec_server.url, account_code=ACCOUNT, read_timeout=5.0)
    policy = RetryPolicy(
        max_attempts=3, initial_wait=0.01, max_wait=0.02, max_retry_after=0.05, max_rate_limited=0.2
    )
    with DialerClient(settings, retry=policy) as client:
        yield client


# --- the vendor page's examples, with the missing commas restored -------------------------

CAMPAIGN_LIST = """{
"Data": [
{"Name": "Campaign1", "StatusName": "Enabled", "TotalPendingCalls": 23, "MaxPriority": 1,
 "MinPriority": 1, "TotalAwaitingCalls": 23, "Code": "@CODE@"},
{"Name": "Campaign2", "StatusName": "Enabled", "TotalPendingCalls": 19, "MaxPriority": 52,
 "MinPriority": 1, "TotalAwaitingCalls": null, "Code": "@CODE2@"}
],
"ErrorCode": 0,
"Description": "OK"
}""".replace("@CODE@", CODE).replace("@CODE2@", CODE2)

# As printed on the vendor page: no comma between the objects nor before "ErrorCode".
CAMPAIGN_LIST_AS_PRINTED = CAMPAIGN_LIST.replace("},\n{", "}\n{").replace("],\n", "]\n")

PENDING = """{
"ErrorCode": 0,
"Description": "OK",
"Data": {
"Campaign": {"ID": 13570, "Name": "קמפיין לידים חמים", "Status": 1, "Code": "@CODE@",
 "StatusName": "Enabled", "TotalPendingCalls": 7, "MaxPriority": 1, "MinPriority": 1,
 "IsDynamic": 1},
"Calls": [
{"CampaignID": 13570, "CallID": "29", "Phone": "972722776772",
 "CallStatus": {"Status": 1, "Description": "Tosend"},
 "CallInserted": "2022-08-31T14:31:11.400Z", "CallerID": "", "CallerName": "",
 "CustomerName": "", "Priorety": 1, "LastCallDate": null, "CustomData": null},
{"CampaignID": "13570", "CallID": 28, "Phone": "972776048812",
 "CallStatus": {"Status": "1", "Description": "Call is in Queue on service"},
 "CallInserted": "2022-08-30T16:32:41.223Z", "CallerID": "0722776772", "CallerName": "",
 "CustomerName": "John Doe", "Priority": "42", "LastCallDate": "2022-08-31 10:00:00.125",
 "CustomData": "{\\"var_LeadID\\": 1234567, \\"var_LeadCampaign\\": \\"Facebook\\"}",
 "OriginateTime": "1602750000", "IsDateLocal": "true"}
]
}
}""".replace("@CODE@", CODE)

ADD_CALLS_BULK = """{
"AddResult": [
{"Target": "0501234567", "ErrorCode": 0, "Description": "OK",
 "CustomData": {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"}},
{"Target": "0501234568", "ErrorCode": -2, "Description": "Number is invalid", "CustomData": {}}
],
"ErrorCode": 0,
"Description": "OK"
}"""


def test_spec_examples_parse(spec_server: _SpecServer, spec_client: DialerClient) -> None:
    spec_server.answers["GetCampaignList"] = Canned(body=CAMPAIGN_LIST)
    spec_server.answers["GetCampaignPendingCalls"] = Canned(body=PENDING)
    spec_server.answers["AddCallsBulk"] = Canned(body=ADD_CALLS_BULK)
    spec_server.answers["GetMembersList"] = Canned(body="""{"Data": [
        {"Member": "SIPSIP1", "DisplayName": "Walter Melon"},
        {"Member": "SIPSIP2", "DisplayName": "John Doe"}], "ErrorCode": 0, "Description": "OK"}""")
    spec_server.answers["AddMember"] = Canned(
        body='{"Data": {"TotalAdded": 2}, "ErrorCode": 0, "Description": "OK"}'
    )
    spec_server.answers["RemoveMember"] = Canned(
        body='{"Data": {"TotalRemoved": "2"}, "ErrorCode": 0, "Description": "OK"}'
    )

    first, second = spec_client.get_campaign_list()
    assert (first.name, first.code, first.total_awaiting_calls) == ("Campaign1", CODE, 23)
    assert (second.max_priority, second.total_awaiting_calls) == (52, None)

    pending = spec_client.get_campaign_pending_calls(CODE)
    assert pending.campaign.name == "קמפיין לידים חמים" and pending.campaign.is_dynamic
    assert pending.campaign.id == 13570 and pending.campaign.enabled
    newest, older = pending.calls
    assert newest.call_inserted == datetime(2022, 8, 31, 14, 31, 11, 400_000, tzinfo=UTC)
    assert (newest.priority, newest.last_call_date, newest.custom_data) == (1, None, None)
    assert older.campaign_id == 13570 and older.call_id == "28" and older.priority == 42
    assert older.call_status == 1 and older.call_status_description.startswith("Call is in")
    assert older.last_call_date == datetime(2022, 8, 31, 10, 0, 0, 125_000)
    assert older.custom_data == {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"}
    assert (older.originate_time, older.is_date_local) == (1602750000, True)

    results = spec_client.add_calls_bulk(CODE, [CallTarget("0501234567"), CallTarget("0501234568")])
    assert [(r.target, r.error_code) for r in results] == [("0501234567", 0), ("0501234568", -2)]
    assert results[0].custom_data == {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"}
    sent = json.loads(spec_server.seen[-1][2])
    assert sent == [
        {"Campaign": CODE, "Target": "0501234567"},
        {"Campaign": CODE, "Target": "0501234568"},
    ]

    assert [m.member for m in spec_client.get_members_list(CODE)] == ["SIPSIP1", "SIPSIP2"]
    assert spec_client.add_member(CODE, "SIPSIP1") == 2
    assert spec_client.remove_member(CODE, "SIPSIP1") == 2
    assert all(m == "POST" and CODE not in p and "?" not in p for m, p, _ in spec_server.seen)


def test_envelope_quirks(spec_server: _SpecServer, spec_client: DialerClient) -> None:
    # The settings sample's key has a leading space; numbers may come as strings.
    spec_server.answers["UpdateCampaignSettings"] = Canned(
        body='{" ErrorCode": 0, "Description": "OK"}'
    )
    spec_client.update_campaign_settings(CODE, 123456789, 1, 2)
    spec_server.answers["GetCampaignDetails"] = Canned(
        body='{"Data": {"Name": "Campaign1", "StatusName": "Enabled", "TotalPendingCalls": "23",'
        ' "MaxPriority": "1", "MinPriority": 1, "TotalAwaitingCalls": "23", "Code": "@CODE@"},'
        ' "ErrorCode": "0", "Description": "OK"}'.replace("@CODE@", CODE)
    )
    details = spec_client.get_campaign_details(CODE)
    assert (details.total_pending_calls, details.max_priority, details.total_awaiting_calls) == (
        23, 1, 23,
    )
    # ClearCampaignCalls' sample answer is the request body itself.
    spec_server.answers["ClearCampaignCalls"] = Canned(body=json.dumps({"Campaign": CODE}))
    spec_client.clear_campaign_calls(CODE)
    # A UTF-8 BOM and an error code sent as a string.
    spec_server.answers["StopCampaign"] = Canned(
        body='\ufeff{"ErrorCode": "1", "Description": "Invalid campaign code"}'
    )
    with pytest.raises(InvalidCampaignError) as info:
        spec_client.stop_campaign(CODE)
    assert info.value.code == 1 and CODE not in str(info.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (CAMPAIGN_LIST_AS_PRINTED, "not valid JSON"),
        (CAMPAIGN_LIST[:120], "not valid JSON"),
        ("<html><body><h1>Service Unavailable</h1></body></html>", "HTML page"),
        ("", "empty body"),
        ('["not", "an", "object"]', "expected a JSON object"),
        ('{"Data": [], "Status": "OK"}', "envelope"),
        ('{"ErrorCode": "zero", "Description": "OK"}', "non-numeric ErrorCode"),
        ('{"ErrorCode": 0, "Description": "OK", "Data": {"Name": "x"}}', "not a list"),
    ],
)
def test_broken_bodies_are_bad_responses(
    spec_server: _SpecServer, spec_client: DialerClient, body: str, message: str
) -> None:
    spec_server.answers["GetCampaignList"] = Canned(body=body)
    with pytest.raises(BadResponseError, match=message) as info:
        spec_client.get_campaign_list()
    text = str(info.value)
    assert CODE not in text and CODE2 not in text and ACCOUNT not in text
    assert "Traceback" not in text and "JSONDecodeError" not in text
    assert info.value.__cause__ is None or not isinstance(info.value.__cause__, ValueError)


def test_bulk_results_must_match_targets(
    spec_server: _SpecServer, spec_client: DialerClient
) -> None:
    spec_server.answers["AddCallsBulk"] = Canned(body=ADD_CALLS_BULK)
    with pytest.raises(BadResponseError, match="2 item"):
        spec_client.add_calls_bulk(CODE, [CallTarget("0501234567")])
    spec_server.answers["AddCallsBulk"] = Canned(
        body='{"AddResult": [], "ErrorCode": 0, "Description": "OK"}'
    )
    with pytest.raises(BadResponseError, match="3,000"):
        spec_client.add_calls_bulk(CODE, [CallTarget("0501234567")])
    spec_server.answers["AddCallsBulk"] = Canned(
        body=json.dumps(
            {
                "AddResult": [
                    {"Target": t, "ErrorCode": 1, "Description": "Invalid campaign code"}
                    for t in ("1", "2")
                ],
                "ErrorCode": 0,
                "Description": "OK",
            }
        )
    )
    with pytest.raises(InvalidCampaignError):
        spec_client.add_calls_bulk(CODE, [CallTarget("1"), CallTarget("2")])


def test_http_statuses(spec_server: _SpecServer, spec_client: DialerClient) -> None:
    spec_server.answers["GetCampaignDetails"] = Canned(status=403, body="Forbidden")
    with pytest.raises(AuthorizationError, match="whitelisted") as auth:
        spec_client.get_campaign_details(CODE)
    assert auth.value.status == 403
    assert sum(1 for _, p, _ in spec_server.seen if p.endswith("GetCampaignDetails")) == 1

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    spec_server.answers["StartCampaign"] = Canned(
        status=429, body='{"ErrorCode": 429, "Description": "Too many"}',
        headers={"Retry-After": when},
    )
    with pytest.raises(RateLimitedError) as limited:
        spec_client.start_campaign(CODE)
    assert limited.value.retry_after is not None and 2 <= limited.value.retry_after <= 5

    spec_server.answers["GetMembersList"] = Canned(status=502, body="<html>Bad gateway</html>")
    with pytest.raises(HTTPStatusError) as bad_gateway:
        spec_client.get_members_list(CODE)
    assert bad_gateway.value.status == 502
    assert sum(1 for _, p, _ in spec_server.seen if p.endswith("GetMembersList")) == 3  # retried

    spec_server.answers["StopCampaign"] = Canned(
        status=301, headers={"Location": "https://elsewhere.example/"}
    )
    with pytest.raises(HTTPStatusError, match="VOICENTER_API_URL"):
        spec_client.stop_campaign(CODE)

    spec_server.answers["RemoveCall"] = Canned(
        status=400, body='{"ErrorCode": 2, "Description": "Target missing"}'
    )
    with pytest.raises(Exception) as api:
        spec_client.remove_call(CODE, "0501234567")
    assert getattr(api.value, "code", None) == 2


def test_answer_cut_off_mid_transfer(spec_server: _SpecServer, spec_client: DialerClient) -> None:
    spec_server.answers["GetCampaignList"] = Canned(body=CAMPAIGN_LIST, truncate_to=40)
    with pytest.raises(DialerConnectionError, match="broke"):
        spec_client.get_campaign_list()
    spec_server.answers["AddCall"] = Canned(
        body='{"ErrorCode": 0, "Description": "OK"}', truncate_to=10
    )
    with pytest.raises(AmbiguousWriteError, match="may or may not"):
        spec_client.add_call(CODE, CallTarget("0501234567"))



# --- what goes over the wire, method by method ---------------------------------------------

OK = '{"ErrorCode": 0, "Description": "OK"}'
# The vendor page's AddCall / AddCallsBulk / UpdateCall example target (IsDateLocal and
# IgnoreDncStatus as JSON booleans: the page's type column says boolean).
FULL = CallTarget(
    target="0501234567",
    customer_name="John Doe",
    caller_id="0722776772",
    priority=42,
    custom_data={"var_LeadID": "1234567", "var_LeadCampaign": "Facebook"},
    originate_time=1602750000,
    is_date_local=True,
    ignore_dnc_status=True,
)
FULL_JSON: dict[str, Any] = {
    "Campaign": CODE,
    "Target": "0501234567",
    "CustomerName": "John Doe",
    "CallerID": "0722776772",
    "Priority": 42,
    "CustomData": {"var_LeadID": "1234567", "var_LeadCampaign": "Facebook"},
    "OriginateTime": 1602750000,
    "IsDateLocal": True,
    "IgnoreDncStatus": True,
}


def _typed(value: Any) -> str:
    """JSON text with sorted keys: tells true from 1 and "42" from 42, unlike ==."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def test_every_method_sends_the_spec_request(
    spec_server: _SpecServer, spec_client: DialerClient
) -> None:
    bulk_answer = {
        "AddResult": [
            {"Target": t, "ErrorCode": 0, "Description": "OK", "CustomData": {}}
            for t in ("0501234567", "0501234568", "0501234569")
        ],
        "ErrorCode": 0,
        "Description": "OK",
    }
    for method in ("AddCall", "RemoveCall", "ClearCampaignCalls", "StopCampaign",
                   "StartCampaign", "UpdateCall", "UpdateCampaignSettings"):
        spec_server.answers[method] = Canned(body=OK)
    spec_server.answers["GetCampaignList"] = Canned(body=CAMPAIGN_LIST)
    spec_server.answers["AddCallsBulk"] = Canned(body=json.dumps(bulk_answer))
    spec_server.answers["GetMembersList"] = Canned(body='{"Data": [], "ErrorCode": 0}')
    spec_server.answers["AddMember"] = Canned(body='{"Data": {"TotalAdded": 1}, "ErrorCode": 0}')
    spec_server.answers["RemoveMember"] = Canned(
        body='{"Data": {"TotalRemoved": 1}, "ErrorCode": 0}'
    )
    spec_server.answers["GetCampaignPendingCalls"] = Canned(body=PENDING)
    spec_server.answers["GetCampaignDetails"] = Canned(
        body=json.dumps({"Data": json.loads(CAMPAIGN_LIST)["Data"][0], "ErrorCode": 0})
    )
    campaign = {"Campaign": CODE}
    bare = CallTarget("0501234568")
    # IgnoreDncStatus=False must not be sent (the page: DNC numbers pass "if you pass this
    # field"); an OriginateTime always goes with an IsDateLocal (false: a true UTC epoch).
    later = CallTarget("0501234569", originate_time=1602750000, ignore_dnc_status=False)
    calls: list[tuple[str, Any, Any]] = [
        ("GetCampaignList", spec_client.get_campaign_list, {"Code": ACCOUNT}),
        ("AddCall", lambda: spec_client.add_call(CODE, FULL), FULL_JSON),
        (
            "AddCallsBulk",
            lambda: spec_client.add_calls_bulk(CODE, [FULL, bare, later]),
            [
                FULL_JSON,
                {"Campaign": CODE, "Target": "0501234568"},
                {"Campaign": CODE, "Target": "0501234569", "OriginateTime": 1602750000,
                 "IsDateLocal": False},
            ],
        ),
        ("RemoveCall", lambda: spec_client.remove_call(CODE, "0501234567"),
         {"Campaign": CODE, "Target": "0501234567"}),
        ("ClearCampaignCalls", lambda: spec_client.clear_campaign_calls(CODE), campaign),
        ("GetMembersList", lambda: spec_client.get_members_list(CODE), campaign),
        ("AddMember", lambda: spec_client.add_member(CODE, "SIPSIP1"),
         {"Campaign": CODE, "Member": "SIPSIP1"}),
        ("RemoveMember", lambda: spec_client.remove_member(CODE, "SIPSIP1"),
         {"Campaign": CODE, "Member": "SIPSIP1"}),
        ("StopCampaign", lambda: spec_client.stop_campaign(CODE), campaign),
        ("StartCampaign", lambda: spec_client.start_campaign(CODE), campaign),
        ("GetCampaignPendingCalls", lambda: spec_client.get_campaign_pending_calls(CODE),
         campaign),
        ("UpdateCall", lambda: spec_client.update_call(CODE, FULL),
         {k: v for k, v in FULL_JSON.items() if k != "IgnoreDncStatus"}),
        ("GetCampaignDetails", lambda: spec_client.get_campaign_details(CODE), campaign),
        ("UpdateCampaignSettings",
         lambda: spec_client.update_campaign_settings(CODE, 123456789, 1, 2),
         {"Campaign": CODE, "setQueueForMonitoring": 123456789, "setQueueMaximumCallers": 1,
          "setCoefficient": 2}),
    ]
    assert len(calls) == 14
    for method, call, expected in calls:
        spec_server.seen.clear()
        call()
        assert len(spec_server.seen) == 1, method
        verb, path, body = spec_server.seen[0]
        assert (verb, path) == ("POST", f"/ForwardDialer/Dialer/{method}")
        assert _typed(json.loads(body)) == _typed(expected), method


def test_bulk_over_3000_targets_is_refused_before_sending(
    spec_server: _SpecServer, spec_client: DialerClient
) -> None:
    spec_server.answers["AddCallsBulk"] = Canned(body=ADD_CALLS_BULK)
    with pytest.raises(ConfigError, match="3,000"):
        spec_client.add_calls_bulk(CODE, [CallTarget(f"05012{n:05d}") for n in range(3001)])
    assert spec_server.seen == []


def test_tolerated_shapes_of_data(spec_server: _SpecServer, spec_client: DialerClient) -> None:
    # The Hebrew page types Data (and Data.Campaign) as "array" and LastCallDate as an integer.
    spec_server.answers["AddMember"] = Canned(
        body='{"Data": [{"TotalAdded": "2"}], "ErrorCode": 0, "Description": "OK"}'
    )
    assert spec_client.add_member(CODE, "SIPSIP1") == 2
    pending = json.loads(PENDING)
    pending["Data"]["Campaign"] = [pending["Data"]["Campaign"]]
    pending["Data"]["Calls"][0]["LastCallDate"] = 1661956271
    pending["Data"]["Calls"][1]["LastCallDate"] = "1661956271400"
    pending["Data"] = [pending["Data"]]
    spec_server.answers["GetCampaignPendingCalls"] = Canned(body=json.dumps(pending))
    result = spec_client.get_campaign_pending_calls(CODE)
    assert result.campaign.id == 13570 and len(result.calls) == 2
    when = datetime(2022, 8, 31, 14, 31, 11, tzinfo=UTC)
    assert result.calls[0].last_call_date == when
    assert result.calls[1].last_call_date == when + timedelta(milliseconds=400)
    assert len(spec_client.get_pending_numbers(CODE)) == 2


@pytest.mark.parametrize(
    ("calls", "total", "expect_error"),
    [("absent", 7, True), ("null", "7", True), ("null", 0, False), ("absent", None, False)],
)
def test_missing_calls_list_is_empty_only_if_the_counter_agrees(
    spec_server: _SpecServer, spec_client: DialerClient, calls: str, total: Any,
    expect_error: bool,
) -> None:
    # Dedupe and reconciliation read this list: "nothing pending" must never be a guess.
    pending = json.loads(PENDING)
    if calls == "absent":
        del pending["Data"]["Calls"]
    else:
        pending["Data"]["Calls"] = None
    if total is None:
        del pending["Data"]["Campaign"]["TotalPendingCalls"]
    else:
        pending["Data"]["Campaign"]["TotalPendingCalls"] = total
    spec_server.answers["GetCampaignPendingCalls"] = Canned(body=json.dumps(pending))
    if expect_error:
        with pytest.raises(BadResponseError, match="TotalPendingCalls is 7"):
            spec_client.get_campaign_pending_calls(CODE)
        with pytest.raises(BadResponseError, match="TotalPendingCalls is 7"):
            spec_client.get_pending_numbers(CODE)
    else:
        assert spec_client.get_campaign_pending_calls(CODE).calls == []
        assert spec_client.get_pending_numbers(CODE) == []


def test_unknown_settings_method_points_at_its_setting(
    spec_server: _SpecServer, spec_client: DialerClient
) -> None:
    with pytest.raises(HTTPStatusError, match="VOICENTER_SETTINGS_METHOD") as info:
        spec_client.update_campaign_settings(CODE, 1, 2, 3)
    assert info.value.status == 404 and CODE not in str(info.value)


def test_redirects_and_url_credentials_stay_out_of_messages(
    spec_server: _SpecServer, spec_client: DialerClient
) -> None:
    spec_server.answers["StopCampaign"] = Canned(
        status=302, headers={"Location": f"https://elsewhere.example/Dialer?Campaign={CODE}"}
    )
    with pytest.raises(HTTPStatusError, match=r"elsewhere\.example") as info:
        spec_client.stop_campaign(CODE)
    assert CODE not in str(info.value)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://apiuser:Pa55w0rdInUrl@127.0.0.1:{port}/ForwardDialer/Dialer"
    client = DialerClient(Settings(api_url=url, connect_timeout=1.0))
    with client, pytest.raises(DialerConnectionError) as refused:
        client.stop_campaign(CODE)
    assert f"127.0.0.1:{port}" in str(refused.value)
    assert "Pa55w0rd" not in str(refused.value) and "apiuser" not in str(refused.value)
