"""Set-up checks of the drop folders: ``lead-importer inbox check`` and the runner's pre-flight.

A set-up mistake is not the fault of the files waiting in ``inbox/``: a campaign name
the account does not have, a scheduled job without ``VOICENTER_ACCOUNT_CODE``, a broken
mapping file, a disabled campaign, a dialer that cannot be reached. The runner calls
:func:`preflight` for an inbox before it touches any of its files; a failing check
leaves them where they are, and the run after the fix imports them.
``inbox check`` runs :func:`check_config`: the same checks for every inbox, and the
account once. Every finding is a :class:`Check`; nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from importer.campaigns import resolve_campaign
from importer.config import Settings
from importer.dialer.client import GET_CAMPAIGN_LIST, DialerClient
from importer.dialer.models import Campaign
from importer.errors import (
    EXIT_API_UNUSABLE,
    EXIT_BAD_INPUT,
    ApiError,
    AuthorizationError,
    CampaignNotFoundError,
    ConfigError,
    DialerError,
    MappingError,
)
from importer.i18n import N_
from importer.inbox.config import Inbox, InboxConfig, missing_environment
from importer.mapping import Mapping, load_mapping
from importer.redact import redact, register_secret

__all__ = [
    "Check",
    "Level",
    "check_account",
    "check_config",
    "check_inbox",
    "check_inbox_offline",
    "check_settings",
    "check_state_dir",
    "failing",
    "preflight",
    "worst_exit",
]

Level = Literal["ok", "warn", "fail", "skip"]
_FOLDERS = ("inbox", "processing", "done", "failed")
_ACCOUNT_FIX = N_(
    "Set VOICENTER_ACCOUNT_CODE (issued by Voicenter) where the scheduled job can read it: in "
    "the file named by `settings_file:` in inbox.yaml, or in the service's environment (cron "
    "does not read your shell profile)."
)


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: what was checked, what was found and, when it is wrong, what to change."""

    subject: str                 # "config", "settings", "dialer", "state", "folders", ...
    level: Level
    found: str                   # redacted, plain language
    fix: str = ""                # what to change in the set-up (never "fix your file")
    exit_code: int = 0           # 2 configuration, 3 dialer or account; 0 unless "fail"
    inbox: str | None = None
    key: str = ""                # stable identity of the problem (notices are sent once per key)

    @property
    def where(self) -> str:
        """``inbox 'Leads': campaign`` or ``dialer``: what the line is about."""
        return f"inbox {self.inbox!r}: {self.subject}" if self.inbox else self.subject


def _ok(subject: str, found: str, inbox: str | None = None) -> Check:
    return Check(subject, "ok", found, inbox=inbox)


def _fail(
    subject: str, found: str, fix: str, code: int, *, inbox: str | None = None, key: str = ""
) -> Check:
    return Check(subject, "fail", redact(found), fix, code, inbox, key or subject)


def failing(checks: Sequence[Check]) -> list[Check]:
    """The checks that stop files from being imported."""
    return [c for c in checks if c.level == "fail"]


def worst_exit(checks: Sequence[Check]) -> int:
    """0 when nothing failed, else the highest exit code of the failures (2 or 3)."""
    return max((c.exit_code for c in checks if c.level == "fail"), default=0)


def _host(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


# --- the dialer -------------------------------------------------------------------


def _dialer_problem(
    subject: str, exc: DialerError, settings: Settings, inbox: str | None
) -> Check:
    """A dialer error as a set-up finding (exit 3) with what to do about it."""
    host = _host(settings.api_url)
    if isinstance(exc, ApiError) and exc.method == GET_CAMPAIGN_LIST:
        return _fail(
            subject,
            f"the dialer at {host} refused the account code ({exc})",
            N_("Check VOICENTER_ACCOUNT_CODE: it must be the account code Voicenter issued, in the "
              "file named by `settings_file:` in inbox.yaml or in the service's environment."),
            EXIT_API_UNUSABLE, inbox=inbox, key="account-refused",
        )
    if isinstance(exc, AuthorizationError):
        return _fail(
            subject,
            f"the dialer at {host} refused this machine ({exc})",
            N_("Ask Voicenter to allow this machine's public IP address for the API, and check "
              "VOICENTER_ACCOUNT_CODE."),
            EXIT_API_UNUSABLE, inbox=inbox, key="unauthorized",
        )
    return _fail(
        subject,
        f"the dialer at {host} could not be used ({exc})",
        N_("Usually temporary: nothing needs to be done with the files, the next run imports "
          "them. If it lasts, check VOICENTER_API_URL and that this machine can reach that "
          "address (network, proxy, firewall)."),
        EXIT_API_UNUSABLE, inbox=inbox, key=f"dialer:{type(exc).__name__}",
    )


@contextlib.contextmanager
def _client(settings: Settings) -> Iterator[DialerClient]:
    client = DialerClient(settings)
    try:
        yield client
    finally:
        client.close()


# --- global checks ----------------------------------------------------------------------


def check_settings(settings: Settings) -> list[Check]:
    """The API address and whether the account code is set (the environment of the job)."""
    checks: list[Check] = []
    try:
        DialerClient(settings).close()
        checks.append(_ok("settings", f"dialer API at {_host(settings.api_url)}"))
    except ConfigError as exc:
        checks.append(_fail(
            "settings", str(exc),
            N_("Correct VOICENTER_API_URL (or leave it unset for Voicenter's own address)."),
            EXIT_BAD_INPUT, key="api-url",
        ))
    if settings.account_code:
        checks.append(_ok("settings", "VOICENTER_ACCOUNT_CODE is set"))
    else:
        checks.append(Check(
            "settings", "warn",
            "VOICENTER_ACCOUNT_CODE is not set: campaigns can be found by code only, not by name",
            _ACCOUNT_FIX,
        ))
    return checks


def check_account(settings: Settings, client: DialerClient) -> Check:
    """The dialer answers and accepts the account code (GetCampaignList)."""
    if not settings.account_code:
        return Check("dialer", "skip", "account not checked: VOICENTER_ACCOUNT_CODE is not set")
    try:
        campaigns = client.get_campaign_list(settings.account_code)
    except DialerError as exc:
        return _dialer_problem("dialer", exc, settings, None)
    return _ok(
        "dialer",
        f"{_host(settings.api_url)} answered; account accepted ({len(campaigns)} campaign(s))",
    )


def _probe(folder: Path) -> str | None:
    """None if a file can be created in ``folder`` (really tried: ACLs and shares lie)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".lead-importer-check-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    with contextlib.suppress(OSError):
        Path(name).unlink()
    return None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_state_dir(settings: Settings) -> Check:
    """The state folder (import journal and history) exists or can be created, and is writable."""
    state = settings.resolved_state_dir()
    target = state if state.is_dir() else _nearest_existing(state)
    problem = _probe(target) if target.is_dir() else "not a folder"
    if problem is None:
        later = "" if state.is_dir() else " (created by the first import)"
        return _ok("state", f"{state} is writable{later}")
    return _fail(
        "state", f"the state folder {state} cannot be written ({target}: {problem})",
        N_("Give the account that runs lead-importer write access to it, or point `state_dir:` in "
          "inbox.yaml (or LEAD_IMPORTER_STATE_DIR) at a folder it may write."),
        EXIT_BAD_INPUT, key="state",
    )


# --- one inbox --------------------------------------------------------------------------


def _check_folders(inbox: Inbox) -> Check:
    if not inbox.path.is_dir():
        return _fail(
            "folders", f"the folder {inbox.path} does not exist",
            N_("Create it with `lead-importer inbox init FOLDER`, or correct `path:` of this inbox "
              "in inbox.yaml."),
            EXIT_BAD_INPUT, inbox=inbox.name,
        )
    problems = []
    for folder in [*(inbox.folder(n) for n in _FOLDERS), inbox.reports_dir]:
        target = folder if folder.is_dir() else _nearest_existing(folder)
        problem = _probe(target) if target.is_dir() else "not a folder"
        if problem is not None:
            problems.append(f"{folder} ({problem})")
    if problems:
        return _fail(
            "folders", "cannot write to " + ", ".join(problems),
            N_("Give the account that runs lead-importer write access to these folders (on a "
              "share: both the share and the folder permissions)."),
            EXIT_BAD_INPUT, inbox=inbox.name,
        )
    return _ok("folders", f"{inbox.path} and its folders are writable", inbox.name)


def _check_mapping(inbox: Inbox) -> tuple[Check, Mapping | None]:
    path = inbox.mapping_path
    if path is None:
        return _ok("mapping", "auto (suggested from each file's columns)", inbox.name), None
    try:
        mapping = load_mapping(path)
    except ConfigError as exc:
        fix = "Correct the mapping file (`lead-importer mapping check MAPPING FILE` lists every "
        fix += "problem), or set `mapping:` of this inbox in inbox.yaml to another file or auto."
        found = str(exc) if isinstance(exc, MappingError) else f"{path}: {exc}"
        return _fail("mapping", found, fix, EXIT_BAD_INPUT, inbox=inbox.name), None
    return _ok("mapping", f"{path} is valid", inbox.name), mapping


def _mapping_needs(inbox: Inbox, mapping: Mapping, settings: Settings) -> list[Check]:
    """What a valid mapping asks of the set-up that would otherwise fail every file."""
    checks = []
    if mapping.dedupe.pending_scope == "account" and not settings.account_code:
        checks.append(_fail(
            "mapping", f"{inbox.mapping_path}: `dedupe: pending_scope: account` checks every "
            "campaign of the account, which needs VOICENTER_ACCOUNT_CODE",
            _ACCOUNT_FIX, EXIT_BAD_INPUT, inbox=inbox.name, key="scope-needs-account-code",
        ))
    if inbox.mode is None and mapping.mode == "sync" and not mapping.sync_confirm \
            and not inbox.dry_run:
        checks.append(_fail(
            "mapping", f"{inbox.mapping_path} asks for `mode: sync`, which removes pending "
            "calls missing from each file, and nobody confirmed it",
            N_("Confirm it with `mode: sync` for this inbox in inbox.yaml (or `sync_confirm: "
              "true` in the mapping), or choose another mode."),
            EXIT_BAD_INPUT, inbox=inbox.name, key="sync-unconfirmed",
        ))
    return checks


def _wanted_campaign(
    inbox: Inbox, mapping: Mapping | None, settings: Settings
) -> tuple[str | None, str]:
    """The campaign the inbox's files go to, and where it was named (the pipeline's order)."""
    if inbox.campaign:
        return inbox.campaign, "inbox.yaml"
    if mapping is not None and mapping.campaign:
        return mapping.campaign, f"the mapping {inbox.mapping_path}"
    if settings.campaign:
        return settings.campaign, "VOICENTER_CAMPAIGN"
    return None, ""


def _campaign_fix(source: str, inbox: Inbox) -> str:
    if source == "inbox.yaml":
        where = f"`campaign:` of the inbox {inbox.name!r} in inbox.yaml"
    elif source == "VOICENTER_CAMPAIGN":
        where = "VOICENTER_CAMPAIGN (or add `campaign:` to this inbox in inbox.yaml)"
    else:
        where = f"`campaign:` in {source} (or set `campaign:` of this inbox in inbox.yaml)"
    return (
        f"Correct {where}: write the campaign's name exactly as the dialer shows it "
        "(`lead-importer campaigns` lists them)."
    )


def _check_campaign(
    inbox: Inbox, mapping: Mapping | None, settings: Settings, client: DialerClient
) -> Check:
    wanted, source = _wanted_campaign(inbox, mapping, settings)
    if not wanted:
        return _fail(
            "campaign", "no campaign is named for this inbox",
            f"Add `campaign: NAME` to the inbox {inbox.name!r} in inbox.yaml (or set "
            "VOICENTER_CAMPAIGN, or add a `campaign:` line to its mapping file).",
            EXIT_BAD_INPUT, inbox=inbox.name, key="campaign-missing",
        )
    key = f"{source}:{wanted}"
    try:
        campaign: Campaign = resolve_campaign(client, wanted, settings.account_code)
    except CampaignNotFoundError as exc:
        return _fail("campaign", str(exc), _campaign_fix(source, inbox), EXIT_BAD_INPUT,
                     inbox=inbox.name, key=f"not-found:{key}")
    except DialerError as exc:
        return _dialer_problem("campaign", exc, settings, inbox.name)
    except ConfigError as exc:
        if not settings.account_code:
            return _fail("campaign", str(exc), _ACCOUNT_FIX, EXIT_BAD_INPUT, inbox=inbox.name,
                         key=f"no-account-code:{key}")
        return _fail("campaign", str(exc), _campaign_fix(source, inbox), EXIT_BAD_INPUT,
                     inbox=inbox.name, key=f"ambiguous:{key}")
    register_secret(campaign.code)
    if not campaign.enabled:
        return _fail(
            "campaign", f"the campaign {campaign.name!r} is disabled ({campaign.status_name})",
            "Enable the campaign in the Voicenter admin interface (or name another campaign in "
            f"{source}).",
            EXIT_API_UNUSABLE, inbox=inbox.name, key=f"disabled:{key}",
        )
    return _ok("campaign", f"{campaign.name!r} (named in {source}) exists and is enabled",
               inbox.name)


def check_inbox(inbox: Inbox, settings: Settings, client: DialerClient) -> list[Check]:
    """Folders, mapping and campaign of one inbox."""
    mapping_check, mapping = _check_mapping(inbox)
    checks = [_check_folders(inbox), mapping_check]
    if mapping is not None:
        checks += _mapping_needs(inbox, mapping, settings)
    if mapping_check.level == "fail" and inbox.campaign is None:
        # the mapping may be what names the campaign
        checks.append(Check("campaign", "skip", "not checked: the mapping cannot be read",
                            inbox=inbox.name))
    else:
        checks.append(_check_campaign(inbox, mapping, settings, client))
    return checks


def preflight(inbox: Inbox, settings: Settings) -> list[Check]:
    """What the runner checks before touching an inbox's files (the dialer is asked once)."""
    try:
        with _client(settings) as client:
            checks = check_inbox(inbox, settings, client)
    except ConfigError as exc:                    # VOICENTER_API_URL is not a URL
        checks = [_fail("settings", str(exc), "Correct VOICENTER_API_URL.", EXIT_BAD_INPUT,
                        inbox=inbox.name, key="api-url")]
    if not inbox.dry_run:
        checks.append(check_state_dir(settings))
    return checks


def check_config(config: InboxConfig, settings: Settings, source: Path) -> list[Check]:
    """Everything ``inbox check`` reports, in the order it is printed."""
    checks = [_ok("config", f"{source} is valid ({len(config.inboxes)} inbox(es))")]
    checks += check_settings(settings)
    if failing(checks):
        return checks
    with _client(settings) as client:
        account = check_account(settings, client)
        checks.append(account)
        if any(not i.dry_run for i in config.inboxes):
            checks.append(check_state_dir(settings))
        for inbox in config.inboxes:
            found = check_inbox(inbox, settings, client) if account.level != "fail" else [
                *check_inbox_offline(inbox),
                Check("campaign", "skip", "not checked: the dialer could not be used",
                      inbox=inbox.name),
            ]
            checks += found
            checks += [
                Check("notify", "warn", f"{m} is not set; that notification will fail",
                      "Set that variable in the service's environment.", inbox=inbox.name)
                for m in _missing_for(config, inbox)
            ]
    return checks


def check_inbox_offline(inbox: Inbox) -> list[Check]:
    """The checks of one inbox that need no dialer (folders, mapping)."""
    return [_check_folders(inbox), _check_mapping(inbox)[0]]


def _missing_for(config: InboxConfig, inbox: Inbox) -> list[str]:
    prefix = f"{inbox.name}: "
    return [m.removeprefix(prefix) for m in missing_environment(config) if m.startswith(prefix)]
