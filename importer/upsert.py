"""``--mode upsert``: what an UpdateCall sends, so a pending call keeps what the file leaves out.

UpdateCall "updates an existing target's details" (the spec): we take it, as the
emulator does, that a field the request leaves out keeps its value and a field it
sends replaces the old one.  CustomData is one field, so the server replaces it as a
whole; the update therefore sends the pending call's current CustomData with the
file's keys on top.  A field or key the file maps but leaves empty keeps its old
value; with the mapping's ``upsert: {clear_empty: true}`` an empty CustomerName or
CustomData key is cleared instead.  Priority, CallerID and OriginateTime have no
empty value the API takes, so an empty cell always keeps them.  The details an
update replaces (``Previous``) go to the journal, so they can be restored later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from importer.dialer.models import CallTarget, PendingCall, to_bool, to_custom_data, to_int, to_str
from importer.i18n.reasons import ReasonKind
from importer.phones import pending_key

__all__ = ["Previous", "UpdatePlan", "plan_update", "previous_by_phone"]

CUSTOMER_NAME = "CustomerName"
CLEARED = " (cleared)"


UPDATED_NOTHING = ReasonKind("updated_nothing_changed", "updated: nothing changed")()
UPDATED_FIELDS = ReasonKind("updated", "updated: {fields}")

@dataclass(frozen=True, slots=True)
class Previous:
    """A pending call's details before an upsert changed them."""

    customer_name: str = ""
    priority: int | None = None
    caller_id: str = ""
    custom_data: dict[str, Any] | None = None
    originate_time: int | None = None
    is_date_local: bool | None = None

    @classmethod
    def from_call(cls, call: PendingCall) -> Previous:
        """The details of one pending call, as GetCampaignPendingCalls returned them."""
        return cls(
            customer_name=call.customer_name,
            priority=call.priority,
            caller_id=call.caller_id,
            custom_data=call.custom_data,
            originate_time=call.originate_time,
            is_date_local=call.is_date_local,
        )

    def to_json(self) -> str:
        """The details under the API's field names: an UpdateCall body can restore them."""
        return json.dumps(
            {
                "CustomerName": self.customer_name,
                "Priority": self.priority,
                "CallerID": self.caller_id,
                "CustomData": self.custom_data,
                "OriginateTime": self.originate_time,
                "IsDateLocal": self.is_date_local,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Previous:
        """Read details stored by ``to_json``."""
        data = json.loads(text)
        return cls(
            customer_name=to_str(data.get("CustomerName")),
            priority=to_int(data.get("Priority")),
            caller_id=to_str(data.get("CallerID")),
            custom_data=to_custom_data(data.get("CustomData")),
            originate_time=to_int(data.get("OriginateTime")),
            is_date_local=to_bool(data.get("IsDateLocal")),
        )


def previous_by_phone(calls: Iterable[PendingCall]) -> dict[str, Previous]:
    """Each pending number (E.164) and its details; the first call of a number stands for all.

    UpdateCall changes every pending call of a number alike, so one set of details
    is all an update can merge with or an undo could restore.
    """
    found: dict[str, Previous] = {}
    for call in calls:
        e164 = pending_key(call.phone)
        if e164 not in found:
            found[e164] = Previous.from_call(call)
    return found


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    """The UpdateCall for one pending number, what it changes, and what it replaces."""

    target: CallTarget
    changed: tuple[str, ...]   # field and CustomData names, cleared ones marked so
    previous: Previous

    @property
    def reason(self) -> str:
        """The report's reason: the names whose value changes."""
        if not self.changed:
            return UPDATED_NOTHING
        return UPDATED_FIELDS(fields=", ".join(self.changed))


def plan_update(
    target: CallTarget,
    current: Previous,
    *,
    empty: Iterable[str],
    clear_empty: bool,
    ref_key: str | None,
    baseline: Previous | None = None,
) -> UpdatePlan:
    """Merge the file's target onto the pending call's ``current`` details.

    ``empty`` names what the file maps but leaves empty in this row (fields and
    CustomData keys whose column is in the file).  Changes are named against
    ``baseline`` (default ``current``): a resumed run passes the details recorded
    before its first attempt, which may already have been applied.
    """
    before = baseline or current
    cleared = {
        name for name in empty if clear_empty and (name == CUSTOMER_NAME or name.startswith("var_"))
    }
    name = target.customer_name
    if name is None and CUSTOMER_NAME in cleared and current.customer_name:
        name = ""
    merged = {k: v for k, v in (current.custom_data or {}).items() if k not in cleared}
    merged.update(target.custom_data or {})
    # Sent only when it differs: an equal CustomData needs no replacing.
    custom = merged if merged != (current.custom_data or {}) else None
    plan_target = replace(target, customer_name=name, custom_data=custom)
    changed = _changed_fields(plan_target, before) + _changed_keys(
        merged, before.custom_data or {}, ref_key
    )
    return UpdatePlan(plan_target, tuple(changed), before)


def _changed_fields(target: CallTarget, before: Previous) -> list[str]:
    pairs = (
        ("CustomerName", target.customer_name, before.customer_name),
        ("Priority", target.priority, before.priority),
        ("CallerID", target.caller_id, before.caller_id),
        ("OriginateTime", target.originate_time, before.originate_time),
    )
    changed = []
    for field_name, new, old in pairs:
        if new is not None and new != old:
            changed.append(field_name + (CLEARED if new == "" else ""))
    return changed


def _changed_keys(merged: dict[str, Any], old: dict[str, Any], ref_key: str | None) -> list[str]:
    # The import reference changes on every run: bookkeeping, not a detail the agent sees.
    # Values compare as text: the agent sees 123 and "123" alike.
    changed = [
        key
        for key, value in merged.items()
        if key != ref_key and (key not in old or to_str(old[key]) != to_str(value))
    ]
    changed += [key + CLEARED for key in old if key not in merged and key != ref_key]
    return changed
