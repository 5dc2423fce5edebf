"""Typed requests and results of the Dialer API (field names follow the spec).

The ``from_api`` constructors are tolerant of the vendor page's quirks: keys
with stray whitespace or another case (``" ErrorCode"``), numbers sent as
strings, ``Priorety`` for ``Priority``, ``IsDynamic`` as 0/1, ``null`` counters,
both date formats, and CustomData as null, an object or a JSON string.  They
raise ``ValueError`` only when an indispensable field (a campaign's Code) is
missing; the client turns that into ``BadResponseError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "AddResult",
    "ApiObject",
    "CallTarget",
    "Campaign",
    "CampaignDetails",
    "Member",
    "PendingCall",
    "PendingCalls",
]


class ApiObject:
    """Case- and whitespace-insensitive access to a JSON object's keys (``" ErrorCode"``)."""

    __slots__ = ("_folded", "_obj")

    def __init__(self, obj: Mapping[str, Any] | None = None) -> None:
        self._obj: Mapping[str, Any] = obj or {}
        self._folded: dict[str, Any] | None = None

    def _fold(self) -> dict[str, Any]:
        # Built only when an exact key misses: the common, well-formed answer never pays for it.
        if self._folded is None:
            folded: dict[str, Any] = {}
            for key, value in self._obj.items():
                folded.setdefault(str(key).strip().lower(), value)
            self._folded = folded
        return self._folded

    def has(self, name: str) -> bool:
        """True when the key is present (even with a null value)."""
        return name in self._obj or name.lower() in self._fold()

    def get(self, *names: str) -> Any:
        """The first non-null value among ``names``; None when none is set."""
        obj = self._obj
        for name in names:
            value = obj.get(name)
            if value is None and name not in obj:
                value = self._fold().get(name.lower())
            if value is not None:
                return value
        return None

    def obj(self, name: str) -> ApiObject | None:
        """A nested object as an ApiObject; None when absent or not an object."""
        value = self.get(name)
        return ApiObject(value) if isinstance(value, dict) else None


def to_int(value: Any) -> int | None:
    """An int from an int, an integral float or a numeric string ("23"); None otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            return int(number) if number.is_integer() else None
    return None


def to_bool(value: Any) -> bool | None:
    """A bool from true/false, 0/1 or their string forms; None when absent or unclear."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"1", "true", "yes", "y"}:
            return True
        if text in {"0", "false", "no", "n"}:
            return False
    return None


def to_str(value: Any) -> str:
    """Text of a scalar; "" for null; 23.0 becomes "23"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_datetime(value: Any) -> datetime | None:
    """ISO-8601 (UTC-aware), ``YYYY-MM-DD HH:mm:ss.SSS`` (naive) or an epoch number (UTC-aware)."""
    # The Hebrew page types LastCallDate as an integer while showing a date format: take both.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return _from_epoch(int(text)) if text.isdigit() else None


def _from_epoch(number: float) -> datetime | None:
    # Above 10^11 a value can only be milliseconds (10^11 seconds is the year 5138).
    seconds = number / 1000 if abs(number) >= 1e11 else number
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def to_epoch(value: Any) -> int | None:
    """Epoch seconds from a number, a numeric string or a date (naive dates taken as UTC)."""
    number = to_int(value)
    if number is not None:
        return number
    when = to_datetime(value)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def to_custom_data(value: Any) -> dict[str, Any] | None:
    """CustomData as a dict: null, an object, or an object serialised as a JSON string."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() == "null":
            return None
        try:
            parsed = json.loads(text)
        except ValueError:
            return {"CustomData": value}
        if parsed is None:
            return None
        if isinstance(parsed, dict):
            return {str(k): v for k, v in parsed.items()}
        return {"CustomData": parsed}
    if isinstance(value, list) and not value:
        return {}  # PHP-style empty "object"
    return {"CustomData": value}


def _status_name(status: int | None) -> str:
    return {1: "Enabled", 2: "Disabled"}.get(status or 0, "")


@dataclass(frozen=True, slots=True)
class CallTarget:
    """One target for AddCall / AddCallsBulk / UpdateCall (Campaign added by the client)."""

    target: str
    customer_name: str | None = None
    caller_id: str | None = None
    priority: int | None = None
    custom_data: dict[str, str] | None = None
    originate_time: int | None = None        # epoch seconds
    is_date_local: bool | None = None        # with an OriginateTime, None is sent as false
    ignore_dnc_status: bool | None = None    # AddCall / AddCallsBulk only; sent only when True

    def to_json(self, campaign: str, *, for_update: bool = False) -> dict[str, Any]:
        """The request object for this target, with only the fields that are set."""
        body: dict[str, Any] = {"Campaign": campaign, "Target": self.target}
        if self.customer_name is not None:
            body["CustomerName"] = self.customer_name
        if self.caller_id is not None:
            body["CallerID"] = self.caller_id
        if self.priority is not None:
            body["Priority"] = self.priority
        # An update sends an empty CustomData too: that is how its last key is cleared.
        if self.custom_data or (for_update and self.custom_data is not None):
            body["CustomData"] = dict(self.custom_data or {})
        if self.originate_time is not None:
            body["OriginateTime"] = self.originate_time
            # The page asks for IsDateLocal with every OriginateTime; our epochs are true UTC.
            body["IsDateLocal"] = bool(self.is_date_local)
        elif self.is_date_local is not None:
            body["IsDateLocal"] = self.is_date_local
        # The Hebrew page allows DNC numbers "if you pass this field": its mere presence may
        # count, so it is sent only to ignore the registry, never as false.
        if self.ignore_dnc_status and not for_update:
            body["IgnoreDncStatus"] = True
        return body


@dataclass(frozen=True, slots=True)
class AddResult:
    """One item of AddCallsBulk's ``AddResult``."""

    target: str
    error_code: int
    description: str
    custom_data: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the dialer accepted the target."""
        return self.error_code == 0


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as listed by GetCampaignList / GetCampaignDetails."""

    name: str
    code: str
    status_name: str                         # "Enabled" | "Disabled"
    total_pending_calls: int
    max_priority: int | None
    min_priority: int | None
    total_awaiting_calls: int | None         # null for agent-dialer campaigns

    @property
    def enabled(self) -> bool:
        """True when the campaign's StatusName is Enabled."""
        return self.status_name.strip().lower() == "enabled"

    @classmethod
    def from_api(cls, f: ApiObject, fallback_code: str | None = None) -> Campaign:
        """Parse a campaign object; ValueError when it has no Code (and no fallback)."""
        code = to_str(f.get("Code", "CampaignCode")).strip() or (fallback_code or "")
        name = to_str(f.get("Name", "CampaignName"))
        if not code:
            raise ValueError(f"campaign {name!r} has no Code")
        status_name = to_str(f.get("StatusName")).strip()
        return cls(
            name=name,
            code=code,
            status_name=status_name or _status_name(to_int(f.get("Status"))),
            total_pending_calls=to_int(f.get("TotalPendingCalls")) or 0,
            max_priority=to_int(f.get("MaxPriority")),
            min_priority=to_int(f.get("MinPriority")),
            total_awaiting_calls=to_int(f.get("TotalAwaitingCalls")),
        )


@dataclass(frozen=True, slots=True)
class CampaignDetails:
    """The ``Campaign`` object of GetCampaignPendingCalls."""

    id: int
    name: str
    code: str
    status: int                              # 1 enabled, 2 disabled
    status_name: str
    total_pending_calls: int
    max_priority: int | None
    min_priority: int | None
    is_dynamic: bool                         # True: agent dialer; False: smart dialer

    @property
    def enabled(self) -> bool:
        """True when the campaign is enabled."""
        return self.status == 1 or self.status_name.strip().lower() == "enabled"

    @classmethod
    def from_api(cls, f: ApiObject, fallback_code: str) -> CampaignDetails:
        """Parse GetCampaignPendingCalls' Data.Campaign (missing fields get neutral defaults)."""
        status = to_int(f.get("Status"))
        status_name = to_str(f.get("StatusName")).strip()
        if status is None:
            status = {"enabled": 1, "disabled": 2}.get(status_name.lower(), 0)
        return cls(
            id=to_int(f.get("ID", "CampaignID")) or 0,
            name=to_str(f.get("Name")),
            code=to_str(f.get("Code")).strip() or fallback_code,
            status=status,
            status_name=status_name or _status_name(status),
            total_pending_calls=to_int(f.get("TotalPendingCalls")) or 0,
            max_priority=to_int(f.get("MaxPriority")),
            min_priority=to_int(f.get("MinPriority")),
            is_dynamic=bool(to_bool(f.get("IsDynamic"))),
        )


@dataclass(frozen=True, slots=True)
class PendingCall:
    """One pending target of a campaign."""

    campaign_id: int
    call_id: str
    phone: str                               # international digits without "+"
    call_status: int
    call_status_description: str
    call_inserted: datetime | None
    caller_id: str
    caller_name: str
    customer_name: str
    priority: int | None                     # the API spells it "Priorety"
    last_call_date: datetime | None
    custom_data: dict[str, Any] | None
    originate_time: int | None = None
    is_date_local: bool | None = None

    @classmethod
    def from_api(cls, f: ApiObject) -> PendingCall:
        """Parse one item of GetCampaignPendingCalls' Data.Calls."""
        raw_status = f.get("CallStatus")
        if isinstance(raw_status, dict):
            sf = ApiObject(raw_status)
            call_status = to_int(sf.get("Status")) or 0
            status_description = to_str(sf.get("Description"))
        else:
            number = to_int(raw_status)
            call_status = number or 0
            status_description = "" if number is not None else to_str(raw_status)
        return cls(
            campaign_id=to_int(f.get("CampaignID")) or 0,
            call_id=to_str(f.get("CallID")),
            phone=to_str(f.get("Phone", "Target")).strip(),
            call_status=call_status,
            call_status_description=status_description,
            call_inserted=to_datetime(f.get("CallInserted")),
            caller_id=to_str(f.get("CallerID")),
            caller_name=to_str(f.get("CallerName")),
            customer_name=to_str(f.get("CustomerName")),
            priority=to_int(f.get("Priorety", "Priority")),
            last_call_date=to_datetime(f.get("LastCallDate")),
            custom_data=to_custom_data(f.get("CustomData")),
            originate_time=to_epoch(f.get("OriginateTime")),
            is_date_local=to_bool(f.get("IsDateLocal")),
        )


@dataclass(frozen=True, slots=True)
class PendingCalls:
    """GetCampaignPendingCalls' ``Data``."""

    campaign: CampaignDetails
    calls: list[PendingCall] = field(default_factory=list)

    def phones(self) -> set[str]:
        """The pending numbers, as the API returns them (digits without "+")."""
        return {call.phone for call in self.calls}


@dataclass(frozen=True, slots=True)
class Member:
    """An agent of an agent-dialer campaign."""

    member: str
    display_name: str

    @classmethod
    def from_api(cls, item: Any) -> Member:
        """Parse one item of GetMembersList's Data (an object, or a bare SIP code)."""
        if isinstance(item, dict):
            f = ApiObject(item)
            member = to_str(f.get("Member", "SipCode"))
            return cls(member=member, display_name=to_str(f.get("DisplayName")))
        return cls(member=to_str(item), display_name="")
