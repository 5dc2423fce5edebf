"""Typed requests and results of the Dialer API (field names follow the spec)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "AddResult",
    "CallTarget",
    "Campaign",
    "CampaignDetails",
    "Member",
    "PendingCall",
    "PendingCalls",
]


@dataclass(frozen=True, slots=True)
class CallTarget:
    """One target for AddCall / AddCallsBulk / UpdateCall (Campaign added by the client)."""

    target: str
    customer_name: str | None = None
    caller_id: str | None = None
    priority: int | None = None
    custom_data: dict[str, str] | None = None
    originate_time: int | None = None        # epoch seconds
    is_date_local: bool | None = None
    ignore_dnc_status: bool | None = None    # AddCall / AddCallsBulk only

    def to_json(self, campaign: str, *, for_update: bool = False) -> dict[str, Any]:
        """The request object for this target, with only the fields that are set."""
        body: dict[str, Any] = {"Campaign": campaign, "Target": self.target}
        if self.customer_name is not None:
            body["CustomerName"] = self.customer_name
        if self.caller_id is not None:
            body["CallerID"] = self.caller_id
        if self.priority is not None:
            body["Priority"] = self.priority
        if self.custom_data:
            body["CustomData"] = dict(self.custom_data)
        if self.originate_time is not None:
            body["OriginateTime"] = self.originate_time
        if self.is_date_local is not None:
            body["IsDateLocal"] = self.is_date_local
        if self.ignore_dnc_status is not None and not for_update:
            body["IgnoreDncStatus"] = self.ignore_dnc_status
        return body


@dataclass(frozen=True, slots=True)
class AddResult:
    """One item of AddCallsBulk's ``AddResult``."""

    target: str
    error_code: int
    description: str
    custom_data: dict[str, Any] | None = None


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


@dataclass(frozen=True, slots=True)
class PendingCalls:
    """GetCampaignPendingCalls' ``Data``."""

    campaign: CampaignDetails
    calls: list[PendingCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Member:
    """An agent of an agent-dialer campaign."""

    member: str
    display_name: str
