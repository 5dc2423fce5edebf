"""DialerClient against the emulator over real HTTP: every method, errors, retries, secrecy."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable
from datetime import datetime

import pytest

from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.dialer.retry import RetryPolicy
from importer.emulator.faults import FaultConfig
from importer.emulator.server import DemoAccount, EmulatorServer
from importer.errors import (
    AmbiguousWriteError,
    ApiError,
    ConfigError,
    DialerConnectionError,
    DialerTimeoutError,
    InvalidCampaignError,
    RateLimitedError,
)
from importer.redact import mask

# Allocated Israeli mobile numbers (050-2345-67x); 050-1234567 style numbers are not valid.
P1, P2, P3 = "0502345670", "0502345671", "0502345672"
E1, E2, E3 = "972502345670", "972502345671", "972502345672"
BAD_CODE = "Zq8RxkT2mWvN4pLs9dYh3cFb7gJe5aUo"


def test_campaign_list_and_details(client: DialerClient, demo: DemoAccount) -> None:
    campaigns = client.get_campaign_list()
    assert {c.name: c.code for c in campaigns} == demo.campaigns
    hot = next(c for c in campaigns if c.name == "Hot leads")
    assert hot.enabled and hot.total_pending_calls == 0
    agent = next(c for c in campaigns if c.name == "Callbacks")
    assert agent.total_awaiting_calls is None  # null for agent-dialer campaigns
    details = client.get_campaign_details(hot.code)
    assert details.name == "Hot leads" and details.code == hot.code
    assert client.get_campaign_details(hot).code == hot.code  # a Campaign works as well


def test_add_update_pending_remove_clear(
    client: DialerClient, server: EmulatorServer, hot: str
) -> None:
    client.add_call(
        hot,
        CallTarget(
            target=P1,
            customer_name="דנה כהן",
            priority=5,
            custom_data={"var_LeadID": "42"},
            originate_time=1_900_000_000,
            is_date_local=True,
        ),
    )
    results = client.add_calls_bulk(
        hot, [CallTarget(P2), CallTarget("12345"), CallTarget(""), CallTarget(P3)]
    )
    assert [r.error_code for r in results] == [0, -2, 2, 0]
    assert results[1].description == "Number is invalid" and not results[1].ok
    assert results[0].target == P2 and results[0].ok
    assert sorted(server.pending_phones(hot)) == [E1, E2, E3]

    client.update_call(hot, CallTarget(target=P2, priority=9, customer_name="Yossi"))
    pending = client.get_campaign_pending_calls(hot)
    assert pending.campaign.name == "Hot leads" and pending.campaign.is_dynamic is False
    assert pending.phones() == {E1, E2, E3}
    by_phone = {c.phone: c for c in pending.calls}
    first = by_phone[E1]
    assert first.customer_name == "דנה כהן" and first.priority == 5
    assert first.custom_data == {"var_LeadID": "42"}
    assert first.originate_time == 1_900_000_000 and first.is_date_local is True
    assert isinstance(first.call_inserted, datetime) and first.call_inserted.tzinfo is not None
    assert first.call_status == 1 and first.call_id
    assert by_phone[E2].priority == 9 and by_phone[E2].customer_name == "Yossi"
    assert by_phone[E3].custom_data is None

    client.remove_call(hot, P1)
    client.remove_call(hot, P1)  # absent: still OK per the spec
    assert sorted(server.pending_phones(hot)) == [E2, E3]
    client.clear_campaign_calls(hot)
    assert server.pending_phones(hot) == []
    assert client.add_calls_bulk(hot, []) == []


def test_members_start_stop_and_settings(
    client: DialerClient, server: EmulatorServer, hot: str, callbacks: str
) -> None:
    members = client.get_members_list(callbacks)
    assert [m.member for m in members] == ["SIP1001", "SIP1002"]
    assert members[0].display_name == "Dana Cohen"
    assert client.add_member(callbacks, "SIP2001") == 1
    assert client.remove_member(callbacks, "SIP1001") == 1
    assert client.remove_member(callbacks, "SIP9999") == 0
    assert [m.member for m in client.get_members_list(callbacks)] == ["SIP1002", "SIP2001"]

    client.stop_campaign(hot)
    assert not client.get_campaign_details(hot).enabled
    assert client.get_campaign_pending_calls(hot).campaign.status == 2
    client.start_campaign(hot)
    assert client.get_campaign_details(hot).status_name == "Enabled"

    client.update_campaign_settings(hot, 123456789, 3, 2)
    sent = [r for r in server.request_log if r.method == "UpdateCampaignSettings"]
    assert json.loads(sent[-1].body) == {
        "Campaign": hot,
        "setQueueForMonitoring": 123456789,
        "setQueueMaximumCallers": 3,
        "setCoefficient": 2,
    }


@pytest.mark.parametrize(
    ("max_callers", "coefficient", "bad"),
    [(0, 2, "maximum callers"), (3, 1, "coefficient"), (3, True, "whole number")],
)
def test_settings_validated_before_sending(
    client: DialerClient, server: EmulatorServer, hot: str, max_callers: int, coefficient: int,
    bad: str,
) -> None:
    before = len(server.request_log)
    with pytest.raises(ConfigError, match=bad):
        client.update_campaign_settings(hot, 1, max_callers, coefficient)
    assert len(server.request_log) == before


def _calls(client: DialerClient, code: str) -> dict[str, Callable[[], object]]:
    target = CallTarget(P1)
    return {
        "AddCall": lambda: client.add_call(code, target),
        "AddCallsBulk": lambda: client.add_calls_bulk(code, [target, CallTarget(P2)]),
        "UpdateCall": lambda: client.update_call(code, target),
        "RemoveCall": lambda: client.remove_call(code, P1),
        "ClearCampaignCalls": lambda: client.clear_campaign_calls(code),
        "GetCampaignPendingCalls": lambda: client.get_campaign_pending_calls(code),
        "GetCampaignDetails": lambda: client.get_campaign_details(code),
        "GetMembersList": lambda: client.get_members_list(code),
        "AddMember": lambda: client.add_member(code, "SIP1"),
        "RemoveMember": lambda: client.remove_member(code, "SIP1"),
        "StopCampaign": lambda: client.stop_campaign(code),
        "StartCampaign": lambda: client.start_campaign(code),
        "UpdateCampaignSettings": lambda: client.update_campaign_settings(code, 1, 2, 3),
    }


EXPECTED_CAMPAIGN_CODES = {
    "AddCall": 1, "AddCallsBulk": 1, "UpdateCall": 1, "RemoveCall": 1,
    "ClearCampaignCalls": 4, "GetCampaignPendingCalls": 2, "GetCampaignDetails": 1,
    "GetMembersList": 1, "AddMember": 1, "RemoveMember": 1, "StopCampaign": 1,
    "StartCampaign": 1, "UpdateCampaignSettings": 1,
}


@pytest.mark.parametrize("method", sorted(EXPECTED_CAMPAIGN_CODES))
def test_invalid_campaign_code_is_invalid_campaign_error(
    client: DialerClient, method: str
) -> None:
    call = _calls(client, BAD_CODE)[method]
    with pytest.raises(InvalidCampaignError) as info:
        call()
    assert info.value.method == method
    assert info.value.code == EXPECTED_CAMPAIGN_CODES[method]
    assert BAD_CODE not in str(info.value)


def test_row_level_errors_are_api_errors_not_campaign_errors(
    client: DialerClient, hot: str, callbacks: str
) -> None:
    with pytest.raises(ApiError) as info:
        client.add_call(hot, CallTarget("12345"))
    assert (info.value.code, info.value.description) == (-2, "Number is invalid")
    assert not isinstance(info.value, InvalidCampaignError)
    with pytest.raises(ApiError) as info:
        client.update_call(hot, CallTarget("12345"))
    assert info.value.code == -2
    with pytest.raises(ApiError) as info:
        client.add_member(callbacks, "not a sip code!")
    assert (info.value.code, info.value.description) == (2, "Member missing")
    with pytest.raises(ApiError) as info:
        client.add_member(hot, "SIP1")  # a smart-dialer campaign has no members
    assert not isinstance(info.value, InvalidCampaignError)
    with pytest.raises(ApiError) as info:
        client.get_campaign_list("not-the-account")
    assert info.value.code == 1 and not isinstance(info.value, InvalidCampaignError)
    with pytest.raises(ConfigError):
        client.remove_call(hot, "  ")
    with pytest.raises(ConfigError):
        client.add_call("", CallTarget(P1))


def test_every_request_is_post_and_codes_never_in_urls(
    client: DialerClient, server: EmulatorServer, demo: DemoAccount, hot: str, callbacks: str
) -> None:
    client.get_campaign_list()
    agent_calls = _calls(client, callbacks)
    for method, call in _calls(client, hot).items():
        chosen = agent_calls[method] if "Member" in method else call
        with contextlib.suppress(ApiError):  # only what went over the wire matters here
            chosen()
    log = server.request_log
    assert {entry.method for entry in log} >= set(EXPECTED_CAMPAIGN_CODES) | {"GetCampaignList"}
    secrets = [demo.account_code, *demo.campaigns.values()]
    for entry in log:
        assert entry.http_method == "POST"
        assert entry.query == ""
        assert not any(secret in entry.path for secret in secrets)
        body = json.loads(entry.body)
        assert "Code" not in (body if isinstance(body, dict) else body[0]) or (
            entry.method == "GetCampaignList"
        )


def test_account_code_added_to_bodies_when_configured(
    settings: Settings, server: EmulatorServer, hot: str, callbacks: str
) -> None:
    server.clear_request_log()
    with DialerClient(settings.model_copy(update={"send_account_code": True})) as c:
        c.add_calls_bulk(hot, [CallTarget(P1)])
        c.stop_campaign(hot)
        # reads too: "every request body", as the option promises
        c.get_campaign_details(hot)
        c.get_campaign_pending_calls(hot)
        c.get_pending_numbers(hot)
        c.get_members_list(callbacks)
    log = server.request_log
    assert [e.method for e in log] == [
        "AddCallsBulk", "StopCampaign", "GetCampaignDetails", "GetCampaignPendingCalls",
        "GetCampaignPendingCalls", "GetMembersList",
    ]
    assert json.loads(log[0].body)[0]["Code"] == settings.account_code
    assert json.loads(log[1].body) == {"Campaign": hot, "Code": settings.account_code}
    for entry in log[2:]:
        assert json.loads(entry.body)["Code"] == settings.account_code, entry.method


def test_reads_are_retried_through_500s(
    client: DialerClient, server: EmulatorServer, hot: str
) -> None:
    server.set_faults(FaultConfig(fail_rate=0.5, methods=["GetCampaignPendingCalls",
                                                         "GetCampaignDetails"]))
    for _ in range(8):
        assert client.get_campaign_pending_calls(hot).campaign.name == "Hot leads"
        assert client.get_campaign_details(hot).name == "Hot leads"
    faults = [e for e in server.request_log if e.fault == "fail"]
    assert faults, "the seeded fault injector should have failed some requests"
    assert all(e.status == 500 for e in faults)


def test_reads_are_retried_through_429s_and_retry_after_is_parsed(
    settings: Settings, server: EmulatorServer, hot: str, fast_retry: RetryPolicy
) -> None:
    server.set_faults(FaultConfig(rate_limit=20))
    with DialerClient(settings, retry=fast_retry) as c:
        for _ in range(25):
            assert c.get_campaign_details(hot).name == "Hot leads"
    assert any(e.status == 429 for e in server.request_log)
    # No patience for 429s: the client hands the first one to the caller, Retry-After parsed.
    once = DialerClient(settings, retry=RetryPolicy(max_attempts=1, max_rate_limited=0))
    with once, pytest.raises(RateLimitedError) as info:
        for _ in range(50):
            once.get_campaign_details(hot)
    assert info.value.retry_after is not None and info.value.retry_after >= 1
    assert info.value.status == 429


def test_writes_are_not_retried(client: DialerClient, server: EmulatorServer, hot: str) -> None:
    server.set_faults(FaultConfig(fail_rate=1.0, methods=["AddCall"]))
    with pytest.raises(Exception) as info:
        client.add_call(hot, CallTarget(P1))
    assert getattr(info.value, "status", None) == 500
    assert [e.method for e in server.request_log].count("AddCall") == 1


def test_dropped_write_is_ambiguous(client: DialerClient, server: EmulatorServer, hot: str) -> None:
    server.set_faults(FaultConfig(ambiguous_rate=1.0, methods=["AddCall", "AddCallsBulk"]))
    with pytest.raises(AmbiguousWriteError) as info:
        client.add_call(hot, CallTarget(P1))
    assert "may or may not have been applied" in str(info.value)
    assert hot not in str(info.value)
    with pytest.raises(AmbiguousWriteError):
        client.add_calls_bulk(hot, [CallTarget(P2)])
    # The emulator applied both writes before dropping the connection: truly ambiguous.
    assert sorted(server.pending_phones(hot)) == [E1, E2]
    assert [e.method for e in server.request_log].count("AddCall") == 1


def test_read_timeout_vs_ambiguous_write(
    settings: Settings, server: EmulatorServer, hot: str
) -> None:
    server.set_faults(FaultConfig(latency_ms=400))
    slow = settings.model_copy(update={"read_timeout": 0.1})
    with DialerClient(slow, retry=RetryPolicy(max_attempts=2, initial_wait=0.01)) as c:
        with pytest.raises(DialerTimeoutError, match="no answer"):
            c.get_campaign_details(hot)
        with pytest.raises(AmbiguousWriteError, match="no answer within"):
            c.stop_campaign(hot)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_safe_to_retry_for_writes(fast_retry: RetryPolicy) -> None:
    dead = Settings(api_url=f"http://127.0.0.1:{_closed_port()}/ForwardDialer/Dialer",
                    connect_timeout=1.0)
    with DialerClient(dead, retry=RetryPolicy(max_attempts=2, initial_wait=0.01)) as c:
        with pytest.raises(DialerConnectionError, match="connection refused") as info:
            c.add_call(BAD_CODE, CallTarget(P1))
        assert "nothing was sent" in str(info.value)
        assert not isinstance(info.value, AmbiguousWriteError)
        with pytest.raises(DialerConnectionError):
            c.get_campaign_details(BAD_CODE)
    assert BAD_CODE not in str(info.value)


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        DialerClient(Settings(api_url="api.voicenter.com/ForwardDialer/Dialer"))


def test_masked_codes_in_messages(client: DialerClient, hot: str) -> None:
    with pytest.raises(InvalidCampaignError) as info:
        client.clear_campaign_calls(BAD_CODE)
    assert BAD_CODE not in str(info.value)
    assert mask(BAD_CODE) == "Zq8…aUo"


def test_lean_pending_read_gives_the_numbers_and_import_refs(
    client: DialerClient, demo: DemoAccount
) -> None:
    code = demo.campaigns["Hot leads"]
    client.add_calls_bulk(
        code,
        [
            CallTarget(target="0531000000", custom_data={"var_ImportRef": "run-1", "var_X": "y"}),
            CallTarget(target="+972531000001"),
        ],
    )
    numbers = client.get_pending_numbers(code, "var_ImportRef")
    assert sorted(numbers) == [("972531000000", "run-1"), ("972531000001", None)]
    full = client.get_campaign_pending_calls(code)
    assert sorted(c.phone for c in full.calls) == sorted(p for p, _ in numbers)
    assert client.get_pending_numbers(code) == [(p, None) for p, _ in numbers]


def test_dnc_flag_only_when_true_and_is_date_local_with_every_originate_time(
    client: DialerClient, server: EmulatorServer, hot: str
) -> None:
    client.add_calls_bulk(
        hot,
        [
            CallTarget(P1, originate_time=1_900_000_000, ignore_dnc_status=False),
            CallTarget(P2, ignore_dnc_status=True),
        ],
    )
    sent = json.loads(server.request_log[-1].body)
    assert sent[0] == {
        "Campaign": hot, "Target": P1, "OriginateTime": 1_900_000_000, "IsDateLocal": False,
    }
    assert sent[1] == {"Campaign": hot, "Target": P2, "IgnoreDncStatus": True}
    by_phone = {c.phone: c for c in client.get_campaign_pending_calls(hot).calls}
    assert by_phone[E1].is_date_local is False and by_phone[E1].originate_time == 1_900_000_000
