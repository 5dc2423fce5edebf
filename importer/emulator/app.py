"""The Dialer API methods: routing, parameter parsing, validation and error codes.

Independent of HTTP: ``DialerApp.route`` + ``DialerApp.handle`` turn a parsed request into
an ``ApiResponse`` (status, JSON envelope). ``importer.emulator.server`` puts it on the wire.

Documented behaviour (vendor page) is followed exactly; where the page is silent the
emulator behaves as listed here, so a reader can find every assumption in one place.

Requests
  * Methods live at ``/ForwardDialer/Dialer/<Method>``; method names and parameter names
    (query string AND JSON keys) are matched case-insensitively. Unknown keys are ignored
    (including an account ``Code`` sent along with per-campaign calls).
  * GET is refused for AddCallsBulk, GetCampaignPendingCalls and the settings method:
    HTTP 405 with the envelope. Other verbs (PUT, DELETE...) get 405 too.
  * POST bodies are JSON (UTF-8, a BOM is tolerated); a form-encoded body
    (``application/x-www-form-urlencoded``) is read like a query string, unless it starts with
    ``{`` or ``[`` (``curl -d '{...}'`` labels JSON as a form): then it is JSON. Query-string
    parameters of a POST are read too, the body wins. An empty POST body means "no
    parameters" (so the method answers its own "missing" error).
  * In GET (and form) requests the ``var_*`` parameters become ``CustomData``.
  * Campaign codes are compared exactly after trimming surrounding spaces (the vendor
    page's own example has a leading space).

Transport-level errors carry ``ErrorCode`` = the HTTP status:
  400 malformed JSON / wrong body shape, 404 unknown method, 405 verb not allowed,
  413 body too large, 429 rate limited, 500 injected failure. Every answer is JSON.

Per-method choices
  * Target fields, phone numbers and ``3 Invalid value for <Field>``: see
    ``importer.emulator.targets``. Checks run in this order: campaign code (1), Target
    missing (2), number invalid (-2), other fields (3).
  * GetCampaignList: missing ``Code`` -> ``1 Account code missing``; unknown code ->
    ``1 Invalid account code``. All campaigns are listed, enabled or not, oldest first.
  * Campaign objects: ``MaxPriority``/``MinPriority`` are ``null`` when nothing is pending
    (the page types them as integers but never shows an empty campaign);
    ``TotalAwaitingCalls`` (smart dialer only, else ``null``) counts pending calls that are
    due now (no ``OriginateTime`` or one in the past).
  * AddCallsBulk: the body must be a JSON array (else HTTP 400). More than 100,000 items ->
    ``5 Too many targets in one request (at most 100000)``, nothing stored. The top-level
    ErrorCode is 0 whenever the request was processed, whatever the items' fates. Each item
    gets AddCall's codes; an item that is not an object is ``2 Target missing``. For
    requests of more than 3,000 items the valid items are stored but ``AddResult`` is an
    empty list (the service reports details only for up to 3,000 items). An item's
    ``Target`` and ``CustomData`` are echoed as sent (``{}`` when none). An empty array is OK.
  * RemoveCall / UpdateCall treat a number in any accepted form as the same number.
    RemoveCall with a number that cannot be valid removes nothing and answers OK.
  * UpdateCall changes only the fields sent, on every pending call of that number; if the
    number is not pending it is added (with those fields). ``IgnoreDncStatus`` is ignored.
    A field sent replaces the old value: ``CustomData`` is one field, so it is replaced as a
    whole (the page does not say the service merges it; the importer merges before sending).
    ``"CustomerName": ""`` clears the name; an empty ``CallerID`` counts as not sent.
  * ClearCampaignCalls: missing or invalid code -> ``4 Internal error occurred``. On
    success it answers the ``{"ErrorCode": 0, "Description": "OK"}`` envelope, not the
    request body that the vendor page prints as its sample answer (a copy-paste slip there;
    the client accepts both).
  * GetCampaignPendingCalls: missing or invalid code -> ``2 Internal error occurred``.
    ``LastCallDate`` is always ``null`` (dialled calls leave the list); ``CallerName`` is
    ``""`` (no API field sets it).
  * Members (agent-dialer campaigns only): GetMembersList of a smart-dialer campaign
    answers OK with an empty list; AddMember/RemoveMember on one answer
    ``3 Members are only for agent-dialer campaigns``. ``Member`` may hold several SIP
    codes separated by commas (the vendor example adds one member and reports
    ``TotalAdded: 2``); a SIP code is 1-64 of ``A-Z a-z 0-9 _ . @ -``, else
    ``2 Member missing``. A bad request answers ``TotalAdded: -1`` / ``TotalRemoved: 0``.
    Adding a member already present counts 0. ``DisplayName`` is the optional request
    parameter of that name, else ``"Extension <SIP code>"``.
  * Settings method (name configurable, default ``UpdateCampaignSettings``): smart-dialer
    campaigns only (``3 Settings are only for smart-dialer campaigns``); each of
    ``setQueueForMonitoring``, ``setQueueMaximumCallers`` (> 0), ``setCoefficient`` (> 1)
    must be an integer (digit strings accepted), else ``2 <reason>``. The answer's key is
    ``ErrorCode``, without the stray space of the page's sample (``" ErrorCode"``).
  * Missing campaign code is ``1 Campaign code missing`` wherever code 1 is the campaign
    error (AddCall, RemoveCall, UpdateCall, Start/Stop, members, details, settings).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from importer.config import DEFAULT_SETTINGS_METHOD
from importer.emulator.store import CampaignRow, CampaignStats, NewCall, Store
from importer.emulator.targets import (
    FieldError,
    normalize_phone,
    parse_int,
    parse_target_fields,
)

__all__ = [
    "BULK_DETAIL_LIMIT",
    "BULK_MAX_ITEMS",
    "ApiRequest",
    "ApiResponse",
    "DialerApp",
    "MethodSpec",
    "RawJson",
    "envelope",
    "render",
]

BULK_MAX_ITEMS = 100_000
BULK_DETAIL_LIMIT = 3_000
_MEMBER_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RawJson:
    """Ready-made JSON text to splice into a response (see ``render``)."""

    text: str


def render(payload: dict[str, Any]) -> bytes:
    """Serialise a response object (UTF-8, compact), splicing in ``RawJson`` values."""
    raws: dict[str, str] = {}

    def default(obj: Any) -> Any:
        if isinstance(obj, RawJson):
            marker = f"\0raw{len(raws)}\0"
            raws[json.dumps(marker)] = obj.text
            return marker
        raise TypeError(f"cannot serialise {type(obj).__name__}")

    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=default)
    for marker, raw in raws.items():
        text = text.replace(marker, raw, 1)
    return text.encode("utf-8")


def envelope(code: int, description: str, **fields: Any) -> dict[str, Any]:
    """The response object: ErrorCode, Description and method fields."""
    return {"ErrorCode": code, "Description": description, **fields}


def _ok(**fields: Any) -> dict[str, Any]:
    return envelope(0, "OK", **fields)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One HTTP request as the app sees it."""

    verb: str
    query: str = ""
    body: bytes = b""
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """What to answer: an HTTP status and a JSON envelope."""

    status: int
    payload: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """One API method: its canonical name, handler and properties."""

    name: str
    handler: Callable[[Any], dict[str, Any]] = field(repr=False)
    allows_get: bool = True
    is_write: bool = False
    bulk: bool = False


class BadRequest(Exception):
    """The request cannot be read (HTTP 400)."""


def _lower_keys(obj: dict[str, Any]) -> Params:
    return {str(k).lower(): v for k, v in obj.items()}


def _form_params(query: str) -> Params:
    """Query-string style parameters; ``var_*`` become CustomData."""
    params: Params = {}
    custom: dict[str, Any] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        value = values[-1]
        if key.lower().startswith("var_"):
            custom[key] = value
        else:
            params[key.lower()] = value
    if "customdata" in params:
        try:
            decoded = json.loads(params["customdata"])
        except ValueError:
            decoded = params["customdata"]  # refused later as an invalid CustomData
        params["customdata"] = {**decoded, **custom} if isinstance(decoded, dict) else decoded
    elif custom:
        params["customdata"] = custom
    return params


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | dict | list):
        return "\0invalid"  # never a valid code or number
    return str(value)


class DialerApp:
    """The emulated Dialer API over a ``Store``."""

    def __init__(self, store: Store, settings_method: str = DEFAULT_SETTINGS_METHOD) -> None:
        self.store = store
        self.settings_method = settings_method
        specs = [
            MethodSpec("GetCampaignList", self._get_campaign_list),
            MethodSpec("AddCall", self._add_call, is_write=True),
            MethodSpec("AddCallsBulk", self._add_calls_bulk, False, True, bulk=True),
            MethodSpec("RemoveCall", self._remove_call, is_write=True),
            MethodSpec("ClearCampaignCalls", self._clear_campaign_calls, is_write=True),
            MethodSpec("GetMembersList", self._get_members_list),
            MethodSpec("AddMember", self._add_member, is_write=True),
            MethodSpec("RemoveMember", self._remove_member, is_write=True),
            MethodSpec("StopCampaign", self._stop_campaign, is_write=True),
            MethodSpec("StartCampaign", self._start_campaign, is_write=True),
            MethodSpec("GetCampaignPendingCalls", self._get_pending_calls, allows_get=False),
            MethodSpec("UpdateCall", self._update_call, is_write=True),
            MethodSpec("GetCampaignDetails", self._get_campaign_details),
            MethodSpec(settings_method, self._update_settings, False, True),
        ]
        self.methods: dict[str, MethodSpec] = {}
        for spec in specs:
            key = spec.name.lower()
            if key in self.methods:
                raise ValueError(f"settings method name {settings_method!r} is already a method")
            self.methods[key] = spec

    # --- dispatch ------------------------------------------------------------------------

    def route(self, name: str) -> MethodSpec | None:
        """The method for a path segment (any case), or None."""
        return self.methods.get(name.lower())

    def parse(self, spec: MethodSpec, request: ApiRequest) -> Params | list[Any]:
        """Parameters of a request (raises BadRequest)."""
        params = _form_params(request.query) if request.query else {}
        if request.verb == "GET":
            return params
        try:
            text = request.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest("Request body is not UTF-8") from None
        # curl -d sends JSON labelled as a form: a body that looks like JSON is JSON
        is_form = "application/x-www-form-urlencoded" in request.content_type.lower() and (
            not text.lstrip().startswith(("{", "["))
        )
        if spec.bulk:
            if is_form or not text.strip():
                raise BadRequest("Request body must be a JSON array of target objects")
        elif is_form:
            return {**params, **_form_params(text)}
        elif not text.strip():
            return params
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadRequest(f"Malformed JSON body: {exc}") from None
        if spec.bulk:
            if not isinstance(data, list):
                raise BadRequest("Request body must be a JSON array of target objects")
            return data
        if not isinstance(data, dict):
            raise BadRequest("Request body must be a JSON object")
        return {**params, **_lower_keys(data)}

    def handle(self, spec: MethodSpec, request: ApiRequest) -> ApiResponse:
        """Run one method; never raises for bad input."""
        try:
            params = self.parse(spec, request)
        except BadRequest as exc:
            return ApiResponse(400, envelope(400, str(exc)))
        return ApiResponse(200, spec.handler(params))

    # --- helpers -------------------------------------------------------------------------

    def _campaign(self, params: Params) -> tuple[CampaignRow | None, str]:
        """The campaign named by ``Campaign``; else None and "missing"/"invalid"."""
        code = _text_of(params.get("campaign"))
        if not code:
            return None, "missing"
        row = self.store.campaign_by_code(code)
        return (row, "") if row else (None, "invalid")

    @staticmethod
    def _campaign_error(problem: str) -> dict[str, Any]:
        if problem == "missing":
            return envelope(1, "Campaign code missing")
        return envelope(1, "Invalid campaign code")

    def _campaign_object(self, row: CampaignRow, stats: CampaignStats) -> dict[str, Any]:
        return {
            "Name": row.name,
            "StatusName": "Enabled" if row.enabled else "Disabled",
            "TotalPendingCalls": stats.total_pending,
            "MaxPriority": stats.max_priority,
            "MinPriority": stats.min_priority,
            "TotalAwaitingCalls": None if row.is_dynamic else stats.awaiting,
            "Code": row.code,
        }

    def _prepare(
        self, params: Params, campaign: CampaignRow, *, for_update: bool = False
    ) -> tuple[int, str, NewCall | None, frozenset[str]]:
        """Validate one target: (code, description, call to store, fields sent)."""
        raw_target = _text_of(params.get("target"))
        if not raw_target:
            return 2, "Target missing", None, frozenset()
        phone = normalize_phone(raw_target)
        if phone is None:
            return -2, "Number is invalid", None, frozenset()
        try:
            fields = parse_target_fields(params)
        except FieldError as exc:
            return 3, str(exc), None, frozenset()
        present = fields.present - {"ignore_dnc_status"} if for_update else fields.present
        call = NewCall(
            campaign_id=campaign.id,
            phone=phone,
            customer_name=fields.customer_name or "",
            caller_id=fields.caller_id or "",
            priority=1 if fields.priority is None else fields.priority,
            custom_data=fields.custom_data,
            originate_time=fields.originate_time,
            is_date_local=fields.is_date_local,
            ignore_dnc=None if for_update else fields.ignore_dnc_status,
        )
        return 0, "OK", call, present

    # --- methods -------------------------------------------------------------------------

    def _get_campaign_list(self, params: Params) -> dict[str, Any]:
        code = _text_of(params.get("code"))
        if not code:
            return envelope(1, "Account code missing")
        if not self.store.account_exists(code):
            return envelope(1, "Invalid account code")
        rows = self.store.campaigns_of(code)
        stats = self.store.stats((r.id for r in rows), time.time())
        return _ok(Data=[self._campaign_object(r, stats[r.id]) for r in rows])

    def _get_campaign_details(self, params: Params) -> dict[str, Any]:
        row, problem = self._campaign(params)
        if row is None:
            return self._campaign_error(problem)
        stats = self.store.stats([row.id], time.time())[row.id]
        return _ok(Data=self._campaign_object(row, stats))

    def _add_call(self, params: Params) -> dict[str, Any]:
        row, problem = self._campaign(params)
        if row is None:
            return self._campaign_error(problem)
        code, description, call, _ = self._prepare(params, row)
        if call is None:
            return envelope(code, description)
        self.store.insert_calls([call])
        return _ok()

    def _add_calls_bulk(self, items: list[Any]) -> dict[str, Any]:
        if len(items) > BULK_MAX_ITEMS:
            return envelope(5, f"Too many targets in one request (at most {BULK_MAX_ITEMS})")
        campaigns: dict[str, CampaignRow | None] = {}
        results: list[dict[str, Any]] = []
        calls: list[NewCall] = []
        for item in items:
            if not isinstance(item, dict):
                results.append(
                    {
                        "Target": "",
                        "ErrorCode": 2,
                        "Description": "Target missing",
                        "CustomData": {},
                    }
                )
                continue
            params = _lower_keys(item)
            raw_target = params.get("target")
            custom = params.get("customdata")
            result: dict[str, Any] = {
                "Target": "" if raw_target is None else raw_target,
                "ErrorCode": 0,
                "Description": "OK",
                "CustomData": custom if isinstance(custom, dict) else {},
            }
            code = _text_of(params.get("campaign"))
            if not code:
                result.update(ErrorCode=1, Description="Campaign code missing")
            else:
                if code not in campaigns:
                    campaigns[code] = self.store.campaign_by_code(code)
                campaign = campaigns[code]
                if campaign is None:
                    result.update(ErrorCode=1, Description="Invalid campaign code")
                else:
                    err, description, call, _ = self._prepare(params, campaign)
                    result.update(ErrorCode=err, Description=description)
                    if call is not None:
                        calls.append(call)
            results.append(result)
        self.store.insert_calls(calls)
        return _ok(AddResult=results if len(items) <= BULK_DETAIL_LIMIT else [])

    def _remove_call(self, params: Params) -> dict[str, Any]:
        row, problem = self._campaign(params)
        if row is None:
            return self._campaign_error(problem)
        raw_target = _text_of(params.get("target"))
        if not raw_target:
            return envelope(2, "Target missing")
        phone = normalize_phone(raw_target)
        if phone is not None:
            self.store.remove_phone(row.id, phone)
        return _ok()

    def _update_call(self, params: Params) -> dict[str, Any]:
        row, problem = self._campaign(params)
        if row is None:
            return self._campaign_error(problem)
        code, description, call, present = self._prepare(params, row, for_update=True)
        if call is None:
            return envelope(code, description)
        self.store.update_or_insert(call, present)
        return _ok()

    def _clear_campaign_calls(self, params: Params) -> dict[str, Any]:
        row, _ = self._campaign(params)
        if row is None:
            return envelope(4, "Internal error occurred")
        self.store.clear(row.id)
        return _ok()

    def _set_enabled(self, params: Params, enabled: bool) -> dict[str, Any]:
        row, problem = self._campaign(params)
        if row is None:
            return self._campaign_error(problem)
        self.store.set_enabled(row.id, enabled)
        return _ok()

    def _stop_campaign(self, params: Params) -> dict[str, Any]:
        return self._set_enabled(params, False)

    def _start_campaign(self, params: Params) -> dict[str, Any]:
        return self._set_enabled(params, True)

    def _get_pending_calls(self, params: Params) -> dict[str, Any]:
        row, _ = self._campaign(params)
        if row is None:
            return envelope(2, "Internal error occurred")
        calls = RawJson(self.store.pending_json(row.id))
        stats = self.store.stats([row.id], time.time())[row.id]
        campaign = {
            "ID": row.id,
            "Name": row.name,
            "Status": 1 if row.enabled else 2,
            "Code": row.code,
            "StatusName": "Enabled" if row.enabled else "Disabled",
            "TotalPendingCalls": stats.total_pending,
            "MaxPriority": stats.max_priority,
            "MinPriority": stats.min_priority,
            "IsDynamic": 1 if row.is_dynamic else 0,
        }
        return _ok(Data={"Campaign": campaign, "Calls": calls})

    # --- members -------------------------------------------------------------------------

    @staticmethod
    def _member_list(params: Params) -> list[str] | None:
        raw = _text_of(params.get("member"))
        members = [m.strip() for m in raw.split(",")] if raw else []
        if not members or not all(_MEMBER_RE.fullmatch(m) for m in members):
            return None
        return list(dict.fromkeys(members))

    def _get_members_list(self, params: Params) -> dict[str, Any]:
        row, problem = self._campaign(params)
        if row is None:
            return self._campaign_error(problem)
        data = [
            {"Member": member, "DisplayName": display}
            for member, display in self.store.members(row.id)
        ]
        return _ok(Data=data)

    def _member_change(self, params: Params, *, add: bool) -> dict[str, Any]:
        key = "TotalAdded" if add else "TotalRemoved"
        bad = {key: -1 if add else 0}
        row, problem = self._campaign(params)
        if row is None:
            return {**self._campaign_error(problem), "Data": bad}
        if not row.is_dynamic:
            return envelope(3, "Members are only for agent-dialer campaigns", Data=bad)
        members = self._member_list(params)
        if members is None:
            return envelope(2, "Member missing", Data=bad)
        if add:
            display = _text_of(params.get("displayname"))
            pairs = [(m, display or f"Extension {m}") for m in members]
            return _ok(Data={key: self.store.add_members(row.id, pairs)})
        return _ok(Data={key: self.store.remove_members(row.id, members)})

    def _add_member(self, params: Params) -> dict[str, Any]:
        return self._member_change(params, add=True)

    def _remove_member(self, params: Params) -> dict[str, Any]:
        return self._member_change(params, add=False)

    # --- smart-dialer settings -----------------------------------------------------------

    def _update_settings(self, params: Params) -> dict[str, Any]:
        row, problem = self._campaign(params)
        if row is None:
            return self._campaign_error(problem)
        if row.is_dynamic:
            return envelope(3, "Settings are only for smart-dialer campaigns")
        values: dict[str, int] = {}
        for name in ("setQueueForMonitoring", "setQueueMaximumCallers", "setCoefficient"):
            raw = params.get(name.lower())
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                return envelope(2, f"{name} missing")
            try:
                values[name] = parse_int(raw, name)
            except FieldError as exc:
                return envelope(2, str(exc))
        if values["setQueueMaximumCallers"] <= 0:
            return envelope(2, "setQueueMaximumCallers must be greater than 0")
        if values["setCoefficient"] <= 1:
            return envelope(2, "setCoefficient must be greater than 1")
        self.store.set_settings(
            row.id,
            values["setQueueForMonitoring"],
            values["setQueueMaximumCallers"],
            values["setCoefficient"],
        )
        return _ok()
