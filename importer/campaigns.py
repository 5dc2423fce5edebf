"""Find a campaign by name or code, export its pending calls to CSV, remove numbers, clear it.

Names are what people write in mapping files and on the command line; codes
are secrets.  Messages list campaign names only and mask whatever was typed
unless it cannot be a code (it holds a space or a non-ASCII letter).
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from importer.dialer.client import DialerClient
from importer.dialer.idempotent import idempotent_call
from importer.dialer.models import Campaign, PendingCall, PendingCalls
from importer.dialer.retry import RetryPolicy
from importer.errors import (
    ApiError,
    CampaignNotFoundError,
    ConfigError,
    InvalidCampaignError,
    StorageError,
)
from importer.i18n import N_
from importer.phones import PhoneNormalizer, api_form
from importer.redact import mask, register_secret

__all__ = [
    "PENDING_CSV_COLUMNS",
    "Cleared",
    "Removal",
    "backup_file_name",
    "clear_with_backup",
    "export_phone",
    "pending_csv_table",
    "remove_numbers",
    "resolve_campaign",
    "write_pending_csv",
]

PENDING_CSV_COLUMNS: tuple[str, ...] = (
    "Phone",
    "CustomerName",
    "Priority",
    "CallerID",
    "CallInserted",
    "OriginateTime",
)
_MAX_NAMES_LISTED = 30
_CODE_LIKE = re.compile(r"[A-Za-z0-9_-]{12,}")
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _may_be_code(value: str) -> bool:
    """Whether a campaign reference someone typed might be a code.

    The API documents no code format, and a wrong code is often a real one mistyped, so
    anything may be one except what a code never holds: campaign codes are single tokens
    of ASCII characters, so text with a space or a non-ASCII letter (Hebrew) is a name.
    """
    return value.isascii() and not any(ch.isspace() for ch in value)


def _shown(value: str) -> str:
    """How a user-supplied campaign reference may appear in a message (codes masked)."""
    return mask(value) if _may_be_code(value) else repr(value)


def _not_found(value: str, campaigns: list[Campaign]) -> CampaignNotFoundError:
    what = f"named {value!r}"
    if _may_be_code(value):
        what = f"named or coded {mask(value)} (shown masked: it may be a code)"
    by_key = {_name_key(c.name): c.name for c in campaigns}
    close = difflib.get_close_matches(_name_key(value), list(by_key), n=1, cutoff=0.75)
    if close:
        return CampaignNotFoundError(
            N_("no campaign {what} in this account; did you mean {close}?; {available}"),
            what=what, close=repr(by_key[close[0]]), available=_names(campaigns),
        )
    return CampaignNotFoundError(
        N_("no campaign {what} in this account; {available}"), what=what,
        available=_names(campaigns),
    )


def _names(campaigns: Iterable[Campaign]) -> str:
    names = [repr(c.name) for c in campaigns]
    if not names:
        return "the account has no campaigns"
    more = len(names) - _MAX_NAMES_LISTED
    listed = ", ".join(names[:_MAX_NAMES_LISTED]) + (f" and {more} more" if more > 0 else "")
    return f"available campaigns: {listed}"


def resolve_campaign(client: DialerClient, name_or_code: str, account_code: str | None) -> Campaign:
    """The campaign named (case- and space-insensitively) or coded ``name_or_code``.

    With an account code, GetCampaignList is searched by name first, then by
    code; without one, the value must be a campaign code and is checked with
    GetCampaignDetails.
    """
    value = (name_or_code or "").strip()
    if not value:
        raise ConfigError(
            N_("no campaign given: pass --campaign NAME (or set VOICENTER_CAMPAIGN)")
        ).with_hint("")
    if _CODE_LIKE.fullmatch(value) and not account_code:
        register_secret(value)
    if account_code:
        campaigns = client.get_campaign_list(account_code)
        key = _name_key(value)
        named = [c for c in campaigns if _name_key(c.name) == key]
        if len(named) > 1:
            raise ConfigError(
                f"{len(named)} campaigns are named {named[0].name!r}; rename one in the Voicenter "
                "admin interface or pass the campaign code instead of the name"
            )
        if named:
            return named[0]
        for campaign in campaigns:
            if campaign.code == value:
                return campaign
        raise _not_found(value, campaigns)
    if any(ch.isspace() for ch in value):
        raise ConfigError(
            N_("{name} looks like a campaign name: finding campaigns by name needs the account "
               "code (set VOICENTER_ACCOUNT_CODE), or pass the campaign code"), name=repr(value)
        )
    register_secret(value)
    try:
        return client.get_campaign_details(value)
    except InvalidCampaignError as exc:
        raise CampaignNotFoundError(
            f"the API does not know campaign {_shown(value)} ({exc.description}); check the code, "
            "or set VOICENTER_ACCOUNT_CODE to choose the campaign by name"
        ) from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    # Plain numbers (a Priority of -5) stay as they are: Excel reads them as the same number.
    return text if _NUMBER.fullmatch(text) else _guard(text)


def _guard(text: str) -> str:
    """A leading apostrophe on a cell that Excel would run as a formula.

    A text of apostrophes before such a character ("'=x") gets one more too, so that
    source.unescape_formulas, which drops one there, gives back exactly what the API holds.
    """
    if text.startswith(_DANGEROUS_START) or (
        text[:1] == "'" and text.lstrip("'").startswith(_DANGEROUS_START)
    ):
        return "'" + text
    return text


def export_phone(phone: str) -> str:
    """The E.164 form of a number as the API lists it (``4930901820`` -> ``+4930901820``).

    The API gives international digits without "+"; written that way, a German
    ``4930901820`` reads back as a too-long Israeli landline.  Anything else (a local
    ``0501234567``, text) is kept as it came.
    """
    text = (phone or "").strip()
    if text.isascii() and text.isdigit() and text[:1] != "0":
        return "+" + text
    return text


def _phone_cell(phone: str) -> str:
    # Not exempt like other numbers: Excel would evaluate +972521234567 and show 9.72521E+11.
    return _guard(export_phone(phone))


def _iso(when: datetime | None) -> str | None:
    """ISO-8601 with milliseconds, ``Z`` for UTC: the form the API itself uses."""
    if when is None:
        return None
    text = when.isoformat(timespec="milliseconds")
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def _custom_keys(calls: Iterable[PendingCall]) -> list[str]:
    keys: dict[str, None] = {}
    for call in calls:
        for key in call.custom_data or {}:
            keys.setdefault(key, None)
    return list(keys)


def pending_csv_table(pending: PendingCalls) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per pending call, CustomData flattened to one column per key.

    Phones are E.164 behind the formula guard (``'+4930901820``): read back with
    ``source.unescape_formulas`` (mappings/voicenter-pending.yaml) they are the same number.
    """
    keys = _custom_keys(pending.calls)
    base = set(PENDING_CSV_COLUMNS)
    header = list(PENDING_CSV_COLUMNS) + [f"CustomData.{k}" if k in base else k for k in keys]
    rows = []
    for call in pending.calls:
        data = call.custom_data or {}
        inserted = call.call_inserted
        rows.append(
            [
                _phone_cell(call.phone),
                _cell(call.customer_name),
                _cell(call.priority),
                _cell(call.caller_id),
                _cell(_iso(inserted)),
                _cell(call.originate_time),
            ]
            + [_cell(data.get(k)) for k in keys]
        )
    return header, rows


def write_pending_csv(pending: PendingCalls, path: Path) -> Path:
    """Write the pending calls as UTF-8-with-BOM CSV (opens in Excel, Hebrew intact)."""
    header, rows = pending_csv_table(pending)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)   # a full disk must not leave half a backup behind
        raise
    return path


def backup_file_name(campaign_name: str, when: datetime | None = None) -> str:
    """``<campaign-name>.pending-backup.<UTC timestamp>.csv`` with unsafe characters replaced."""
    stem = re.sub(r"[^\w.-]+", "_", campaign_name.strip(), flags=re.UNICODE).strip("._")
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stem or 'campaign'}.pending-backup.{stamp}.csv"


@dataclass(frozen=True, slots=True)
class Removal:
    """What became of one number asked to be removed.

    ``target`` is the form sent to RemoveCall, None when the number was not usable
    (``reason`` says why); ``sent`` is True once the API answered OK.
    """

    phone: str
    target: str | None
    sent: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``remove --json`` lists (no ``target`` for an unusable number)."""
        body: dict[str, Any] = {"phone": self.phone}
        if self.target is not None:
            body["target"] = self.target
        body |= {"sent": self.sent, "reason": self.reason}
        return body


def _target_for_api(raw: str, normalizer: PhoneNormalizer) -> tuple[str | None, str]:
    """(the Target to send, problem): E.164 digits, the form numbers are added in."""
    result = normalizer.normalize(raw)
    if not result.ok or result.e164 is None:
        return None, result.reason or (result.problem or "invalid phone")
    return api_form(result.e164), ""


def remove_numbers(
    client: DialerClient,
    campaign: Campaign,
    phones: Iterable[str],
    *,
    normalizer: PhoneNormalizer | None = None,
    policy: RetryPolicy | None = None,
    on_removal: Callable[[Removal], None] | None = None,
) -> list[Removal]:
    """Remove every pending occurrence of each number; one Removal per number, in order.

    RemoveCall is safe to repeat, so a lost answer or a 500 is retried (``policy``,
    default the client's), and a number that still fails, or that the API refuses,
    does not stop the others: a do-not-call request must not wait.  Numbers that are
    not valid phone numbers are not sent.  ``on_removal`` is called after each number
    (progress).  The API answers OK for numbers that were not pending, too.
    """
    normalizer = normalizer or PhoneNormalizer()
    policy = policy or client.retry_policy
    removals: list[Removal] = []
    for raw in phones:
        removal = _remove_one(client, campaign, raw, normalizer, policy)
        removals.append(removal)
        if on_removal is not None:
            on_removal(removal)
    return removals


def _remove_one(
    client: DialerClient,
    campaign: Campaign,
    raw: str,
    normalizer: PhoneNormalizer,
    policy: RetryPolicy,
) -> Removal:
    target, problem = _target_for_api(raw, normalizer)
    if target is None:
        return Removal(raw, None, False, problem)
    try:
        ok, error = idempotent_call(
            lambda: client.remove_call(campaign, target),
            policy,
            paused=client.limiter.thread_waited,
        )
    except ApiError as exc:
        ok, error = False, f"refused: {exc.description}"
    return Removal(raw, target, ok, error)


@dataclass(frozen=True, slots=True)
class Cleared:
    """A cleared campaign: how many pending calls it held and where they were saved."""

    campaign: Campaign
    count: int
    backup: Path


def clear_with_backup(
    client: DialerClient,
    campaign: Campaign,
    backup_dir: Path,
    *,
    on_backup: Callable[[Path, int], None] | None = None,
) -> Cleared:
    """Save the campaign's pending calls to a CSV in ``backup_dir``, then clear the campaign.

    The backup (``backup_file_name``, readable by mappings/voicenter-pending.yaml) is
    written before anything is removed; if it cannot be written, nothing is cleared.
    ``on_backup(path, count)`` is called once it is saved, so a caller can say where it
    is even if clearing then fails.
    """
    pending = client.get_campaign_pending_calls(campaign)
    path = Path(backup_dir) / backup_file_name(campaign.name)
    try:
        write_pending_csv(pending, path)
    except OSError as exc:
        if StorageError.no_room(exc):  # free space and run it again: exit 3, like a sync backup
            raise StorageError(
                f"{path}: the disk is full, so the backup could not be written; nothing was "
                "cleared. Free space there and run the same command again.",
                folder=path.parent,
            ) from None
        raise ConfigError(
            f"{path}: cannot write the backup ({exc.strerror or exc}); nothing was cleared"
        ) from None
    if on_backup is not None:
        on_backup(path, len(pending.calls))
    client.clear_campaign_calls(campaign)
    return Cleared(campaign, len(pending.calls), path)
