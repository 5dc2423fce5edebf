"""A typed client for every method of the Voicenter Dialer API (POST-JSON only).

Codes travel only in request bodies, never in URLs, and are masked in every
message.  Reads are retried with the ``RetryPolicy``; writes are sent once (a
429 apart, below) and their failures are classified so the caller knows
whether a resend is safe:

- ``DialerConnectionError``: the request surely never reached the server
  (connection refused, DNS failure, connect timeout): safe to resend.
- ``AmbiguousWriteError``: the request was sent and no answer came back (read
  timeout, connection dropped): it may have been applied; reconcile first.
- ``HTTPStatusError`` (5xx) / ``BadResponseError``: the server answered.  A 5xx
  or an unreadable answer from a real server may still hide an applied write
  (our emulator's 500 stores nothing), so the pipeline reconciles after those.
- ``RateLimitedError`` (429): "not processed", so safe to resend, and the
  client does so itself: every request, read or write, of every thread passes
  through one shared ``RateLimiter`` that follows Retry-After and lowers the
  concurrency.  The error reaches the caller only when the server has refused
  every request for longer than the policy's ``max_rate_limited``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.exceptions
import urllib3.exceptions

from importer import __version__
from importer.config import Settings
from importer.dialer.models import (
    AddResult,
    ApiObject,
    CallTarget,
    Campaign,
    CampaignDetails,
    Member,
    PendingCall,
    PendingCalls,
    to_custom_data,
    to_int,
    to_str,
)
from importer.dialer.ratelimit import RateLimiter
from importer.dialer.retry import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    build_retrying,
    parse_retry_after,
)
from importer.errors import (
    AmbiguousWriteError,
    ApiError,
    AuthorizationError,
    BadResponseError,
    ConfigError,
    DialerConnectionError,
    DialerError,
    DialerTimeoutError,
    HTTPStatusError,
    InvalidCampaignError,
    RateLimitedError,
)
from importer.i18n import N_
from importer.redact import mask, redact, register_secret

__all__ = [
    "BULK_MAX_TARGETS",
    "DEFAULT_POOL_MAXSIZE",
    "METHODS",
    "READ_METHODS",
    "CampaignRef",
    "DialerClient",
]

log = logging.getLogger("importer.dialer")

DEFAULT_POOL_MAXSIZE = 16

GET_CAMPAIGN_LIST = "GetCampaignList"
ADD_CALL = "AddCall"
ADD_CALLS_BULK = "AddCallsBulk"
REMOVE_CALL = "RemoveCall"
CLEAR_CAMPAIGN_CALLS = "ClearCampaignCalls"
GET_MEMBERS_LIST = "GetMembersList"
ADD_MEMBER = "AddMember"
REMOVE_MEMBER = "RemoveMember"
STOP_CAMPAIGN = "StopCampaign"
START_CAMPAIGN = "StartCampaign"
GET_CAMPAIGN_PENDING_CALLS = "GetCampaignPendingCalls"
UPDATE_CALL = "UpdateCall"
GET_CAMPAIGN_DETAILS = "GetCampaignDetails"

# The settings method's name is configurable (Settings.settings_method), so it is not listed.
METHODS: tuple[str, ...] = (
    GET_CAMPAIGN_LIST,
    ADD_CALL,
    ADD_CALLS_BULK,
    REMOVE_CALL,
    CLEAR_CAMPAIGN_CALLS,
    GET_MEMBERS_LIST,
    ADD_MEMBER,
    REMOVE_MEMBER,
    STOP_CAMPAIGN,
    START_CAMPAIGN,
    GET_CAMPAIGN_PENDING_CALLS,
    UPDATE_CALL,
    GET_CAMPAIGN_DETAILS,
)
READ_METHODS = frozenset(
    {GET_CAMPAIGN_LIST, GET_CAMPAIGN_DETAILS, GET_CAMPAIGN_PENDING_CALLS, GET_MEMBERS_LIST}
)

# ErrorCodes the vendor page documents as "the campaign code is invalid or missing".
_CAMPAIGN_ERROR_CODES: dict[str, frozenset[int]] = {
    ADD_CALL: frozenset({1}),
    ADD_CALLS_BULK: frozenset({1}),
    UPDATE_CALL: frozenset({1}),
    REMOVE_CALL: frozenset({1}),
    STOP_CAMPAIGN: frozenset({1}),
    START_CAMPAIGN: frozenset({1}),
    CLEAR_CAMPAIGN_CALLS: frozenset({4}),
    GET_CAMPAIGN_PENDING_CALLS: frozenset({2}),
}
_CAMPAIGN_ERROR_TEXT = re.compile(
    r"campaign\s*code|invalid\s+campaign|campaign\b.*\b(missing|invalid|not\s+found|unknown)",
    re.IGNORECASE,
)
_EXCERPT_CODE_VALUE = re.compile(r'("\s*(?:Code|Campaign)\s*"\s*:\s*")([^"]*)(")', re.IGNORECASE)
_LONG_TOKEN = re.compile(r"\b[A-Za-z0-9_-]{20,}\b")
_EXCERPT_LEN = 160
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

# Per-target AddResult comes back only for requests of up to 3,000 targets (Voicenter's notes);
# without it a row's fate is unknown, so the client never sends more in one request.
BULK_MAX_TARGETS = 3_000

CampaignRef = str | Campaign


def _one_object(value: Any) -> Any:
    """A lone object wrapped in a list (the Hebrew page types every object as "array") unwrapped."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    return value


def _excerpt(body: bytes | str) -> str:
    """A short, single-line, redacted excerpt of a response body for error messages."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    if len(text) > _EXCERPT_LEN:
        text = text[:_EXCERPT_LEN] + "…"
    text = redact(text)
    text = _EXCERPT_CODE_VALUE.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)
    return _LONG_TOKEN.sub(lambda m: mask(m.group(0)), text)


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (requests puts urllib3's error in args), and its causes."""
    seen: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        stack.extend(a for a in current.args if isinstance(a, BaseException))
        if current.__cause__ is not None:
            stack.append(current.__cause__)
        if current.__context__ is not None:
            stack.append(current.__context__)
    return seen


def _short_reason(chain: list[BaseException]) -> str:
    for exc in chain:
        if isinstance(exc, urllib3.exceptions.NameResolutionError):
            return "the host name could not be resolved"
    for exc in chain:
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
    for exc in chain:
        if isinstance(exc, OSError) and exc.strerror:
            return exc.strerror.lower()
    return type(chain[-1]).__name__


class DialerClient:
    """One method per Dialer API call; typed results; errors from ``importer.errors``."""

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        pool_maxsize: int = DEFAULT_POOL_MAXSIZE,
        cancel: threading.Event | None = None,
    ) -> None:
        parts = urlsplit(settings.api_url.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(
                f"VOICENTER_API_URL {settings.api_url!r} is not an http(s) URL "
                "(expected e.g. https://api.voicenter.com/ForwardDialer/Dialer)"
            )
        if parts.scheme == "http" and (parts.hostname or "") not in _LOCAL_HOSTS:
            log.warning("VOICENTER_API_URL uses plain http: campaign codes travel unencrypted")
        self.settings = settings
        self.retry_policy = retry or DEFAULT_RETRY_POLICY
        # One for all threads using this client: a 429 is everyone's signal to slow down.
        self.limiter = RateLimiter(
            self.retry_policy, max_concurrency=max(pool_maxsize, 1), cancel=cancel
        )
        self._base = settings.api_url.strip().rstrip("/")
        # hostname[:port] only: a user:password@ in the URL must not reach any message
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        self._host = f"{host}:{parts.port}" if parts.port else host
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self._owns_session = session is None
        self._session = session or self._make_session(pool_maxsize)
        register_secret(settings.account_code)

    @staticmethod
    def _make_session(pool_maxsize: int) -> requests.Session:
        session = requests.Session()
        # max_retries=0: no urllib3 retries under our own (attempts would multiply).
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=max(pool_maxsize, 8), max_retries=0
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update(
            {
                "User-Agent": f"lead-importer/{__version__}",
                "Accept": "application/json",
                "Content-Type": "application/json; charset=utf-8",
            }
        )
        return session

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> DialerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ methods

    def get_campaign_list(self, account_code: str | None = None) -> list[Campaign]:
        """GetCampaignList: the account's campaigns (needs the account code)."""
        code = (account_code or self.settings.account_code or "").strip()
        if not code:
            raise ConfigError(
                N_("listing campaigns needs the account code: set VOICENTER_ACCOUNT_CODE "
                   "(issued by Voicenter's operations department), or pass a campaign code")
            )
        register_secret(code)
        fields = self._read(GET_CAMPAIGN_LIST, {"Code": code}, campaign=None)
        data = fields.get("Data")
        if data is None:
            if not fields.has("Data"):
                raise BadResponseError("the answer has no Data list", method=GET_CAMPAIGN_LIST)
            return []
        if not isinstance(data, list):
            raise BadResponseError("Data is not a list of campaigns", method=GET_CAMPAIGN_LIST)
        campaigns = []
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise BadResponseError(
                    f"campaign #{index + 1} in Data is not an object", method=GET_CAMPAIGN_LIST
                )
            campaigns.append(self._campaign(ApiObject(item), GET_CAMPAIGN_LIST, None))
        return campaigns

    def get_campaign_details(self, campaign: CampaignRef) -> Campaign:
        """GetCampaignDetails: one campaign's name, status and counters."""
        code = self._code(campaign)
        fields = self._read(GET_CAMPAIGN_DETAILS, self._campaign_body(code), campaign=code)
        data = _one_object(fields.get("Data"))
        if not isinstance(data, dict):
            raise BadResponseError(
                "the answer has no campaign object in Data", method=GET_CAMPAIGN_DETAILS
            )
        return self._campaign(ApiObject(data), GET_CAMPAIGN_DETAILS, code)

    def get_campaign_pending_calls(self, campaign: CampaignRef) -> PendingCalls:
        """GetCampaignPendingCalls: the campaign and every target still waiting to be dialled."""
        code = self._code(campaign)
        method = GET_CAMPAIGN_PENDING_CALLS
        data_fields = self._pending_data(code)
        raw_campaign = _one_object(data_fields.get("Campaign"))
        details = CampaignDetails.from_api(
            ApiObject(raw_campaign if isinstance(raw_campaign, dict) else {}), code
        )
        register_secret(details.code)
        raw_calls = self._pending_calls_list(data_fields)
        calls = []
        for index, item in enumerate(raw_calls):
            if not isinstance(item, dict):
                raise BadResponseError(
                    f"call #{index + 1} in Data.Calls is not an object", method=method
                )
            calls.append(PendingCall.from_api(ApiObject(item)))
        return PendingCalls(campaign=details, calls=calls)

    def get_pending_numbers(
        self, campaign: CampaignRef, ref_key: str | None = None
    ) -> list[tuple[str, str | None]]:
        """GetCampaignPendingCalls read lean: (Phone, CustomData[ref_key]) of each pending call.

        The whole list comes back in one answer (no paging), so for dedupe and
        reconciliation only the two fields they need are taken: no dates are
        parsed and no objects built per call (~3x faster on 400k calls).
        """
        code = self._code(campaign)
        method = GET_CAMPAIGN_PENDING_CALLS
        raw_calls = self._pending_calls_list(self._pending_data(code))
        numbers: list[tuple[str, str | None]] = []
        for index, item in enumerate(raw_calls):
            if not isinstance(item, dict):
                raise BadResponseError(
                    f"call #{index + 1} in Data.Calls is not an object", method=method
                )
            phone = item.get("Phone")
            custom = item.get("CustomData")
            if phone is None:  # keys in another case or with stray spaces: the tolerant path
                tolerant = ApiObject(item)
                phone, custom = tolerant.get("Phone"), tolerant.get("CustomData")
            ref: str | None = None
            if ref_key and custom is not None:
                data_map = custom if isinstance(custom, dict) else to_custom_data(custom)
                value = data_map.get(ref_key) if data_map else None
                ref = None if value is None else str(value)
            numbers.append((to_str(phone).strip(), ref))
        return numbers

    def get_members_list(self, campaign: CampaignRef) -> list[Member]:
        """GetMembersList: the agents of an agent-dialer campaign."""
        code = self._code(campaign)
        fields = self._read(GET_MEMBERS_LIST, self._campaign_body(code), campaign=code)
        data = fields.get("Data")
        if data is None:
            return []
        if not isinstance(data, list):
            raise BadResponseError("Data is not a list of members", method=GET_MEMBERS_LIST)
        return [Member.from_api(item) for item in data]

    def add_call(self, campaign: CampaignRef, target: CallTarget) -> None:
        """AddCall: add one target (ApiError -2 when the number is refused)."""
        code = self._code(campaign)
        self._write(ADD_CALL, self._with_account(target.to_json(code)), campaign=code)

    def add_calls_bulk(
        self, campaign: CampaignRef, targets: Sequence[CallTarget]
    ) -> list[AddResult]:
        """AddCallsBulk: add up to BULK_MAX_TARGETS targets; one AddResult each, in input order."""
        code = self._code(campaign)
        if not targets:
            return []
        if len(targets) > BULK_MAX_TARGETS:
            raise ConfigError(
                f"AddCallsBulk reports each target's result only for up to {BULK_MAX_TARGETS:,} "
                f"targets per request; {len(targets):,} were given (use a smaller --chunk-size)"
            )
        body = [self._with_account(t.to_json(code)) for t in targets]
        fields = self._write(ADD_CALLS_BULK, body, campaign=code, check=False)
        return self._parse_add_results(fields, targets)

    def update_call(self, campaign: CampaignRef, target: CallTarget) -> None:
        """UpdateCall: update a pending target (the server adds it when it is not pending)."""
        code = self._code(campaign)
        body = self._with_account(target.to_json(code, for_update=True))
        self._write(UPDATE_CALL, body, campaign=code)

    def remove_call(self, campaign: CampaignRef, target: str) -> None:
        """RemoveCall: remove every pending occurrence of a number (OK if it is absent)."""
        code = self._code(campaign)
        if not str(target).strip():
            raise ConfigError("RemoveCall needs a phone number (Target is empty)")
        body = self._with_account({"Campaign": code, "Target": str(target).strip()})
        self._write(REMOVE_CALL, body, campaign=code)

    def clear_campaign_calls(self, campaign: CampaignRef) -> None:
        """ClearCampaignCalls: remove every pending target of the campaign."""
        code = self._code(campaign)
        self._write(CLEAR_CAMPAIGN_CALLS, self._with_account({"Campaign": code}), campaign=code)

    def add_member(self, campaign: CampaignRef, member: str) -> int:
        """AddMember: add an agent (SIP code); returns TotalAdded (-1: nothing added)."""
        return self._member_call(ADD_MEMBER, campaign, member, "TotalAdded")

    def remove_member(self, campaign: CampaignRef, member: str) -> int:
        """RemoveMember: remove an agent (SIP code); returns TotalRemoved (0: nothing removed)."""
        return self._member_call(REMOVE_MEMBER, campaign, member, "TotalRemoved")

    def stop_campaign(self, campaign: CampaignRef) -> None:
        """StopCampaign: stop dialling."""
        code = self._code(campaign)
        self._write(STOP_CAMPAIGN, self._with_account({"Campaign": code}), campaign=code)

    def start_campaign(self, campaign: CampaignRef) -> None:
        """StartCampaign: resume dialling."""
        code = self._code(campaign)
        self._write(START_CAMPAIGN, self._with_account({"Campaign": code}), campaign=code)

    def update_campaign_settings(
        self,
        campaign: CampaignRef,
        queue_for_monitoring: int,
        queue_maximum_callers: int,
        coefficient: int,
    ) -> None:
        """The smart-dialer settings method (its name is Settings.settings_method)."""
        code = self._code(campaign)
        values = {
            "queue_for_monitoring": queue_for_monitoring,
            "queue_maximum_callers": queue_maximum_callers,
            "coefficient": coefficient,
        }
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a whole number, not {value!r}")
        if queue_maximum_callers <= 0:
            raise ConfigError("the queue's maximum callers must be greater than 0")
        if coefficient <= 1:
            raise ConfigError("the dialling-rate coefficient must be greater than 1")
        method = self.settings.settings_method.strip()
        if not method or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", method):
            raise ConfigError(f"VOICENTER_SETTINGS_METHOD {method!r} is not a method name")
        body = {
            "Campaign": code,
            "setQueueForMonitoring": queue_for_monitoring,
            "setQueueMaximumCallers": queue_maximum_callers,
            "setCoefficient": coefficient,
        }
        self._write(method, self._with_account(body), campaign=code)

    # ---------------------------------------------------------------- plumbing

    def _code(self, campaign: CampaignRef) -> str:
        code = (campaign.code if isinstance(campaign, Campaign) else str(campaign or "")).strip()
        if not code:
            raise ConfigError("no campaign code given (set --campaign or VOICENTER_CAMPAIGN)")
        register_secret(code)
        return code

    def _campaign_body(self, code: str) -> dict[str, Any]:
        return self._with_account({"Campaign": code})

    def _pending_data(self, code: str) -> ApiObject:
        """GetCampaignPendingCalls' Data object (BadResponseError when there is none)."""
        method = GET_CAMPAIGN_PENDING_CALLS
        fields = self._read(method, self._campaign_body(code), campaign=code)
        data = _one_object(fields.get("Data"))
        if not isinstance(data, dict):
            raise BadResponseError("the answer has no Data object", method=method)
        return ApiObject(data)

    @staticmethod
    def _pending_calls_list(data: ApiObject) -> list[Any]:
        """Data.Calls; null or absent is an empty campaign only if the counter agrees."""
        method = GET_CAMPAIGN_PENDING_CALLS
        raw_calls = data.get("Calls")
        if raw_calls is None:
            # Dedupe and reconciliation trust this list: "none pending" must not be a guess.
            campaign = _one_object(data.get("Campaign"))
            counter = (
                ApiObject(campaign).get("TotalPendingCalls") if isinstance(campaign, dict) else None
            )
            total = to_int(counter)
            if total:
                raise BadResponseError(
                    f"Data.Calls is missing although TotalPendingCalls is {total}", method=method
                )
            return []
        if not isinstance(raw_calls, list):
            raise BadResponseError("Data.Calls is not a list", method=method)
        return raw_calls

    def _with_account(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.settings.send_account_code and self.settings.account_code:
            body.setdefault("Code", self.settings.account_code.strip())
        return body

    def _member_call(self, method: str, campaign: CampaignRef, member: str, key: str) -> int:
        code = self._code(campaign)
        if not str(member).strip():
            raise ConfigError(f"{method} needs the agent's SIP code (Member is empty)")
        body = self._with_account({"Campaign": code, "Member": str(member).strip()})
        fields = self._write(method, body, campaign=code)
        data = _one_object(fields.get("Data"))
        value = to_int(ApiObject(data).get(key)) if isinstance(data, dict) else to_int(data)
        if value is None:
            raise BadResponseError(f"the answer has no Data.{key} count", method=method)
        return value

    def _read(self, method: str, body: dict[str, Any], *, campaign: str | None) -> ApiObject:
        retrying = build_retrying(self.retry_policy, paused=self.limiter.thread_waited)
        fields: ApiObject = retrying(self._send, method, body, is_read=True)
        self._check(method, fields, campaign)
        return fields

    def _write(
        self, method: str, body: Any, *, campaign: str | None, check: bool = True
    ) -> ApiObject:
        fields = self._send(method, body, is_read=False)
        # Quirk: the vendor page's sample answer to ClearCampaignCalls is the request body.
        if (
            method == CLEAR_CAMPAIGN_CALLS
            and not fields.has("ErrorCode")
            and to_str(fields.get("Campaign")).strip() == campaign
        ):
            return fields
        if check:
            self._check(method, fields, campaign)
        return fields

    def _send(self, method: str, body: Any, *, is_read: bool) -> ApiObject:
        """POST through the rate limiter; a 429 stored nothing, so it is sent again when let."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        items = len(body) if isinstance(body, list) else 1
        permit = self.limiter.acquire()
        while True:
            try:
                fields = self._post(method, data, items, is_read=is_read)
            except RateLimitedError as exc:
                self.limiter.refused(permit, exc)  # raises once the limiter's patience is spent
                permit = self.limiter.acquire(permit.order)
                continue
            except BaseException:
                self.limiter.failed(permit)
                raise
            self.limiter.succeeded(permit)
            return fields

    def _post(self, method: str, data: bytes, items: int, *, is_read: bool) -> ApiObject:
        url = f"{self._base}/{method}"
        started = time.monotonic()
        try:
            response = self._session.post(
                url, data=data, timeout=self._timeout, allow_redirects=False
            )
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise ConfigError(f"VOICENTER_API_URL is not usable: {redact(str(exc))}") from None
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(method, exc, is_read=is_read) from exc
        log.debug(
            "POST %s (%d item(s)) -> HTTP %d in %.0f ms",
            method,
            items,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return self._parse_response(method, response)

    def _transport_error(
        self, method: str, exc: requests.exceptions.RequestException, *, is_read: bool
    ) -> DialerError:
        chain = _exception_chain(exc)
        not_sent = isinstance(
            exc,
            requests.exceptions.ConnectTimeout
            | requests.exceptions.SSLError
            | requests.exceptions.ProxyError,
        ) or (
            any(isinstance(e, urllib3.exceptions.ConnectTimeoutError) for e in chain)
            and not any(isinstance(e, urllib3.exceptions.ReadTimeoutError) for e in chain)
        )
        if not_sent:
            if isinstance(exc, requests.exceptions.SSLError):
                reason = "the TLS handshake failed (certificate or proxy problem)"
            elif isinstance(exc, requests.exceptions.ConnectTimeout) and not any(
                isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain
            ):
                reason = f"no connection within {self.settings.connect_timeout:g} s"
            else:
                reason = _short_reason(chain)
            return DialerConnectionError(
                f"cannot connect to the Dialer API at {self._host}: {reason}; nothing was sent",
                method=method,
            )
        timed_out = isinstance(exc, requests.exceptions.ReadTimeout) or any(
            isinstance(e, urllib3.exceptions.ReadTimeoutError | TimeoutError) for e in chain
        )
        if is_read:
            if timed_out:
                return DialerTimeoutError(
                    f"no answer from {self._host} within {self.settings.read_timeout:g} s",
                    method=method,
                )
            return DialerConnectionError(
                f"the connection to {self._host} broke before the answer arrived "
                f"({_short_reason(chain)})",
                method=method,
            )
        what = (
            f"no answer within {self.settings.read_timeout:g} s"
            if timed_out
            else f"the connection broke before the answer arrived ({_short_reason(chain)})"
        )
        return AmbiguousWriteError(
            f"the request was sent to {self._host} but {what}: it may or may not have been "
            "applied (the campaign's pending calls tell which: `lead-importer pending`)",
            method=method,
        )

    def _parse_response(self, method: str, response: requests.Response) -> ApiObject:
        status = response.status_code
        body = response.content or b""
        if status in (401, 403):
            detail = self._description_of(body)
            raise AuthorizationError(
                f"HTTP {status}: access refused{detail}. Check that this machine's IP address "
                "is whitelisted in the account's API settings and that the account/campaign "
                "codes are right",
                method=method,
                status=status,
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            raise RateLimitedError(
                f"HTTP 429: too many requests{hint}", method=method, retry_after=retry_after
            )
        if 300 <= status < 400:
            location = _excerpt(response.headers.get("Location", "?"))
            raise HTTPStatusError(
                f"HTTP {status}: the API redirected to {location!r}; "
                "check VOICENTER_API_URL (http vs https, trailing path)",
                method=method,
                status=status,
            )
        if status >= 400:
            fields = self._try_envelope(body)
            api_code = to_int(fields.get("ErrorCode")) if fields is not None else None
            if fields is not None and status < 500 and api_code not in (None, 0, status):
                return fields  # a genuine API error code says more than the HTTP status
            if fields is not None and fields.get("Description"):
                detail = redact(to_str(fields.get("Description")))
            else:
                detail = _excerpt(body) or "(empty body)"
            if status == 404 and method == self.settings.settings_method.strip():
                # The vendor page never names this method: our name is a guess.
                detail += (
                    f" (the settings method's name is not documented; {method!r} may be "
                    "wrong: set VOICENTER_SETTINGS_METHOD)"
                )
            raise HTTPStatusError(
                redact(f"HTTP {status} {response.reason or ''}".rstrip()) + f": {detail}",
                method=method,
                status=status,
            )
        obj = self._decode_json(method, body, response.encoding)
        if not isinstance(obj, dict):
            raise BadResponseError(
                f"expected a JSON object with ErrorCode and Description, got: {_excerpt(body)}",
                method=method,
            )
        return ApiObject(obj)

    @staticmethod
    def _decode_json(method: str, body: bytes, encoding: str | None) -> Any:
        if not body.strip():
            raise BadResponseError("the API answered with an empty body", method=method)
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = body.decode(encoding or "cp1255", errors="replace")
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            where = (
                f"line {exc.lineno}, column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else "nested too deeply"
            )
            html = text.lstrip()[:1].startswith("<")
            hint = " (an HTML page: is VOICENTER_API_URL right?)" if html else ""
            raise BadResponseError(
                f"the answer is not valid JSON ({where}){hint}: {_excerpt(text)}", method=method
            ) from None

    @staticmethod
    def _try_envelope(body: bytes) -> ApiObject | None:
        try:
            obj = json.loads(body.decode("utf-8-sig"))
        except (ValueError, RecursionError):
            return None
        return ApiObject(obj) if isinstance(obj, dict) else None

    @staticmethod
    def _description_of(body: bytes) -> str:
        fields = DialerClient._try_envelope(body)
        if fields is None:
            return ""
        description = fields.get("Description")
        return f" ({redact(to_str(description))})" if description else ""

    @staticmethod
    def _check(method: str, fields: ApiObject, campaign: str | None) -> None:
        raw = fields.get("ErrorCode")
        code = to_int(raw)
        if code is None:
            what = (
                "lacks the ErrorCode/Description envelope"
                if raw is None
                else "has a non-numeric ErrorCode"
            )
            raise BadResponseError(f"the answer {what}", method=method)
        if code == 0:
            return
        description = redact(to_str(fields.get("Description")).strip()) or "(no description)"
        if _is_campaign_error(method, code, description):
            raise InvalidCampaignError(method, code, description)
        raise ApiError(method, code, description)

    @staticmethod
    def _campaign(f: ApiObject, method: str, fallback_code: str | None) -> Campaign:
        try:
            campaign = Campaign.from_api(f, fallback_code)
        except ValueError as exc:
            raise BadResponseError(redact(str(exc)), method=method) from None
        register_secret(campaign.code)
        return campaign

    @staticmethod
    def _parse_add_results(fields: ApiObject, targets: Sequence[CallTarget]) -> list[AddResult]:
        method = ADD_CALLS_BULK
        top_code = to_int(fields.get("ErrorCode"))
        if top_code is None and not fields.has("AddResult"):
            raise BadResponseError(
                "the answer lacks the ErrorCode/Description envelope", method=method
            )
        raw = fields.get("AddResult")
        if not isinstance(raw, list) or not raw:
            if top_code not in (None, 0):
                DialerClient._check(method, fields, None)
            raise BadResponseError(
                f"the answer has no per-target AddResult for {len(targets)} target(s) "
                "(the service reports them only for requests of 3,000 targets or fewer)",
                method=method,
            )
        if len(raw) != len(targets):
            raise BadResponseError(
                f"AddResult has {len(raw)} item(s) for {len(targets)} target(s) sent",
                method=method,
            )
        results = []
        for item, target in zip(raw, targets, strict=True):
            f = ApiObject(item) if isinstance(item, dict) else ApiObject({})
            code = to_int(f.get("ErrorCode"))
            if code is None:
                raise BadResponseError("an AddResult item has no ErrorCode", method=method)
            results.append(
                AddResult(
                    target=to_str(f.get("Target")).strip() or target.target,
                    error_code=code,
                    description=redact(to_str(f.get("Description"))),
                    custom_data=to_custom_data(f.get("CustomData")),
                )
            )
        if all(r.error_code in _CAMPAIGN_ERROR_CODES[method] for r in results):
            first = results[0]
            raise InvalidCampaignError(
                method, first.error_code, first.description or "Invalid campaign code"
            )
        return results


def _is_campaign_error(method: str, code: int, description: str) -> bool:
    if method == GET_CAMPAIGN_LIST:
        return False
    if code in _CAMPAIGN_ERROR_CODES.get(method, frozenset()):
        return True
    return bool(_CAMPAIGN_ERROR_TEXT.search(description))
