"""Thin commands over the Dialer API: campaigns, details, pending, start/stop, remove, clear,
members and settings.  Campaigns are named by name or code; codes are shown masked."""

from __future__ import annotations

import csv
import io
import json
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from importer.campaigns import (
    clear_with_backup,
    export_phone,
    pending_csv_table,
    remove_numbers,
    resolve_campaign,
    write_pending_csv,
)
from importer.cli._common import api_options, echo_json, fail, settings_from
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import Campaign, PendingCalls
from importer.errors import EXIT_BAD_INPUT, EXIT_ROWS_FAILED
from importer.redact import mask

__all__ = ["register"]

F = TypeVar("F", bound=Callable[..., Any])
_TABLE_ROWS = 50


def _console() -> Console:
    # Wide when piped so tables are not truncated in logs and captured output.
    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, width=160, no_color=True)


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]], title: str | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for header in headers:
        table.add_column(header)
    for row in rows:
        # Text(): campaign names like "[VIP]" must not be read as rich markup.
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    _console().print(table)


def _json_flag(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def _open(
    config_file: Path | None, api_url: str | None, **extra: Any
) -> tuple[Settings, DialerClient]:
    settings = settings_from(config_file, api_url, **extra)
    return settings, DialerClient(settings)


def _resolve(client: DialerClient, settings: Settings, value: str) -> Campaign:
    return resolve_campaign(client, value, settings.account_code)


def _campaign_json(campaign: Campaign, *, show_code: bool = False) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "code": campaign.code if show_code else mask(campaign.code),
        "status": campaign.status_name,
        "enabled": campaign.enabled,
        "total_pending_calls": campaign.total_pending_calls,
        "total_awaiting_calls": campaign.total_awaiting_calls,
        "min_priority": campaign.min_priority,
        "max_priority": campaign.max_priority,
    }


def _campaign_arg(func: F) -> F:
    return click.argument("campaign", metavar="CAMPAIGN")(func)


@click.command("campaigns")
@api_options
@_json_flag
@click.option(
    "--show-codes", is_flag=True, help="Show the full campaign codes (secrets: admins only)."
)
def campaigns_cmd(
    *, config_file: Path | None, api_url: str | None, as_json: bool, show_codes: bool
) -> None:
    """List the account's campaigns (needs VOICENTER_ACCOUNT_CODE)."""
    settings, client = _open(config_file, api_url)
    with client:
        campaigns = client.get_campaign_list(settings.account_code)
    if show_codes:
        click.echo(
            "Warning: campaign codes are secrets; whoever holds one can add to, clear and "
            "stop that campaign. Do not paste this output into tickets or chats.",
            err=True,
        )
    if as_json:
        payload = [_campaign_json(c, show_code=show_codes) for c in campaigns]
        if show_codes:  # echo_json would mask them again
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            echo_json(payload)
        return
    rows = [
        (
            c.name,
            c.status_name,
            c.total_pending_calls,
            "" if c.total_awaiting_calls is None else c.total_awaiting_calls,
            _priority_range(c.min_priority, c.max_priority),
            c.code if show_codes else mask(c.code),
        )
        for c in campaigns
    ]
    if not rows:
        click.echo("The account has no campaigns.")
        return
    headers = ("Name", "Status", "Pending", "Awaiting", "Priority", "Code")
    if show_codes:
        table = Table()
        for header in headers:
            table.add_column(header)
        for row in rows:
            table.add_row(*(Text(str(v)) for v in row))
        # Printed without redaction on purpose: the admin asked for the codes.
        _console().print(table)
    else:
        _table(headers, rows)


def _priority_range(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return ""
    if low == high:
        return str(low)
    return f"{'' if low is None else low}–{'' if high is None else high}"


@click.command("details")
@api_options
@_json_flag
@_campaign_arg
def details_cmd(
    *, config_file: Path | None, api_url: str | None, as_json: bool, campaign: str
) -> None:
    """Show one campaign's status and counters."""
    settings, client = _open(config_file, api_url)
    with client:
        found = _resolve(client, settings, campaign)
        details = client.get_campaign_details(found)
    if as_json:
        echo_json(_campaign_json(details))
        return
    info = _campaign_json(details)
    _table(("Field", "Value"), [(k, "" if v is None else v) for k, v in info.items()])


def _pending_json(pending: PendingCalls) -> dict[str, Any]:
    c = pending.campaign
    return {
        "campaign": {
            "name": c.name,
            "code": mask(c.code),
            "status": c.status_name,
            "is_dynamic": c.is_dynamic,
            "total_pending_calls": c.total_pending_calls,
        },
        "count": len(pending.calls),
        "calls": [
            {
                "call_id": call.call_id,
                "phone": call.phone,
                "customer_name": call.customer_name,
                "priority": call.priority,
                "caller_id": call.caller_id,
                "call_inserted": call.call_inserted.isoformat() if call.call_inserted else None,
                "originate_time": call.originate_time,
                "last_call_date": call.last_call_date.isoformat() if call.last_call_date else None,
                "status": call.call_status_description or call.call_status,
                "custom_data": call.custom_data,
            }
            for call in pending.calls
        ],
    }


@click.command("pending")
@api_options
@_json_flag
@_campaign_arg
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default=None,
    help="Output format (default: table, or csv with --output).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (CSV is UTF-8 with BOM, re-importable).",
)
def pending_cmd(
    *,
    config_file: Path | None,
    api_url: str | None,
    as_json: bool,
    campaign: str,
    fmt: str | None,
    output: Path | None,
) -> None:
    """List the calls still waiting to be dialled in a campaign."""
    fmt = "json" if as_json else fmt or ("csv" if output else "table")
    settings, client = _open(config_file, api_url)
    with client:
        found = _resolve(client, settings, campaign)
        pending = client.get_campaign_pending_calls(found)
    if fmt == "csv":
        if output is not None:
            write_pending_csv(pending, output)
            click.echo(f"Wrote {len(pending.calls)} pending call(s) to {output}", err=True)
            return
        header, csv_rows = pending_csv_table(pending)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(csv_rows)
        click.echo(buffer.getvalue(), nl=False)
        return
    if fmt == "json":
        if output is not None:
            text = json.dumps(_pending_json(pending), ensure_ascii=False, indent=2)
            output.write_text(text + "\n", encoding="utf-8")
            click.echo(f"Wrote {len(pending.calls)} pending call(s) to {output}", err=True)
        else:
            echo_json(_pending_json(pending))
        return
    if output is not None:
        fail(
            "--format table prints to the terminal; use --format csv or json with --output",
            EXIT_BAD_INPUT,
        )
    name = pending.campaign.name or found.name
    if not pending.calls:
        click.echo(f"No pending calls in {name!r}.")
        return
    rows = [
        (
            export_phone(call.phone),  # +4930901820: what `remove` and the mappings read back
            call.customer_name,
            "" if call.priority is None else call.priority,
            call.caller_id,
            call.call_inserted.strftime("%Y-%m-%d %H:%M") if call.call_inserted else "",
            ", ".join(f"{k}={v}" for k, v in (call.custom_data or {}).items()),
        )
        for call in pending.calls[:_TABLE_ROWS]
    ]
    _table(
        ("Phone", "Customer", "Priority", "CallerID", "Inserted", "CustomData"),
        rows,
        title=f"{name}: {len(pending.calls)} pending call(s)",
    )
    if len(pending.calls) > _TABLE_ROWS:
        click.echo(
            f"… and {len(pending.calls) - _TABLE_ROWS} more; use --format csv --output FILE "
            "for the full list."
        )


def _simple_action(
    name: str, verb: str, call: Callable[[DialerClient, Campaign], None]
) -> click.Command:
    @click.command(name)
    @api_options
    @_json_flag
    @_campaign_arg
    def command(
        *, config_file: Path | None, api_url: str | None, as_json: bool, campaign: str
    ) -> None:
        settings, client = _open(config_file, api_url)
        with client:
            found = _resolve(client, settings, campaign)
            call(client, found)
        if as_json:
            echo_json({"campaign": found.name, "action": name, "ok": True})
        else:
            click.echo(f"Campaign {found.name!r} {verb}.")

    command.help = f"{name.capitalize()} a campaign's dialling."
    return command


def _read_phones(phones: tuple[str, ...], file: Path | None) -> list[str]:
    values = [p for p in phones if p.strip()]
    if file is not None:
        from importer.phone_lists import read_phone_list
        from importer.phones import PhoneNormalizer

        # Read like a suppression list: CSV/TSV/XLSX/ODS..., any encoding; the phone column
        # (by its name, else by its numbers), so an import report or a pending export works.
        found = sorted(read_phone_list(file, PhoneNormalizer()))
        if not found:
            fail(f"{file}: no usable phone number in the file's phone column", EXIT_BAD_INPUT)
        values += found
    return values


@click.command("remove")
@api_options
@_json_flag
@_campaign_arg
@click.argument("phones", nargs=-1)
@click.option(
    "--file",
    "phones_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A list file (CSV/XLSX/...): its phone/טלפון column, else the column of numbers "
    "(an import report or a pending export works as it is).",
)
def remove_cmd(
    *,
    config_file: Path | None,
    api_url: str | None,
    as_json: bool,
    campaign: str,
    phones: tuple[str, ...],
    phones_file: Path | None,
) -> None:
    """Remove numbers from a campaign's pending calls (every occurrence)."""
    raw_phones = _read_phones(phones, phones_file)
    if not raw_phones:
        fail("no phone numbers given: pass PHONE... or --file PATH", EXIT_BAD_INPUT)
    settings, client = _open(config_file, api_url)
    with client:
        found = _resolve(client, settings, campaign)
        removals = remove_numbers(client, found, raw_phones)
    sent = sum(1 for r in removals if r.sent)
    not_sent = len(removals) - sent
    if as_json:
        echo_json(
            {
                "campaign": found.name,
                "sent": sent,
                "skipped": not_sent,
                "results": [r.to_json() for r in removals],
            }
        )
    else:
        for r in removals:
            if not r.sent:
                click.echo(f"not removed {r.phone}: {r.reason}", err=True)
        click.echo(
            f"Asked {found.name!r} to remove {sent} number(s)"
            + (f"; {not_sent} not removed (listed above; run again for those)" if not_sent else "")
            + ". (The API answers OK even for numbers that were not pending.)"
        )
    if not_sent:
        sys.exit(EXIT_ROWS_FAILED)


@click.command("clear")
@api_options
@_json_flag
@_campaign_arg
@click.option("--yes", is_flag=True, help="Really remove every pending call of the campaign.")
@click.option(
    "--backup-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where the pending list is saved (CSV) before clearing.",
)
def clear_cmd(
    *,
    config_file: Path | None,
    api_url: str | None,
    as_json: bool,
    campaign: str,
    yes: bool,
    backup_dir: Path,
) -> None:
    """Remove every pending call of a campaign, after saving them to a backup CSV."""
    if not yes:
        fail(
            "clear removes EVERY pending call of the campaign. Re-run with --yes to confirm "
            "(the pending list is saved to a backup CSV first).",
            EXIT_BAD_INPUT,
        )
    settings, client = _open(config_file, api_url)

    def saved(path: Path, count: int) -> None:
        click.echo(f"Backup of {count} pending call(s): {path}", err=True)

    with client:
        found = _resolve(client, settings, campaign)
        cleared = clear_with_backup(client, found, backup_dir, on_backup=saved)
    if as_json:
        echo_json(
            {"campaign": found.name, "cleared": cleared.count, "backup": str(cleared.backup)}
        )
    else:
        click.echo(
            f"Cleared {cleared.count} pending call(s) from {found.name!r}. "
            f"Backup: {cleared.backup}"
        )


@click.command("members")
@api_options
@_json_flag
@_campaign_arg
@click.argument("action", required=False, type=click.Choice(["add", "remove"]))
@click.argument("member", required=False)
def members_cmd(
    *,
    config_file: Path | None,
    api_url: str | None,
    as_json: bool,
    campaign: str,
    action: str | None,
    member: str | None,
) -> None:
    """List the agents of an agent-dialer campaign, or add/remove one (SIP code)."""
    if action and not (member or "").strip():
        fail(
            f"members {action} needs the agent's SIP code: members CAMPAIGN {action} SIPCODE",
            EXIT_BAD_INPUT,
        )
    settings, client = _open(config_file, api_url)
    with client:
        found = _resolve(client, settings, campaign)
        if action is None:
            members = client.get_members_list(found)
        elif action == "add":
            count = client.add_member(found, member or "")
        else:
            count = client.remove_member(found, member or "")
    if action is None:
        if as_json:
            echo_json(
                {
                    "campaign": found.name,
                    "members": [
                        {"member": m.member, "display_name": m.display_name} for m in members
                    ],
                }
            )
        elif not members:
            # TotalAwaitingCalls is set for smart-dialer campaigns only.
            smart = found.total_awaiting_calls is not None
            why = " (members belong to agent-dialer campaigns only)" if smart else ""
            click.echo(f"{found.name!r} has no members{why}.")
        else:
            _table(("Member", "DisplayName"), [(m.member, m.display_name) for m in members])
        return
    changed = count > 0
    if as_json:
        echo_json({"campaign": found.name, "action": action, "member": member, "count": count})
    elif changed:
        done = "added to" if action == "add" else "removed from"
        click.echo(f"{count} member(s) {done} {found.name!r}.")
    else:
        likely = (
            f"{member} is probably a member already" if action == "add"
            else f"{member} is probably not a member"
        )
        click.echo(
            f"Nothing was {'added' if action == 'add' else 'removed'} (the API answered "
            f"{count}: {likely}; `lead-importer members {shlex.quote(found.name)}` lists them).",
            err=True,
        )
    if not changed:
        sys.exit(EXIT_ROWS_FAILED)


@click.command("settings")
@api_options
@_json_flag
@_campaign_arg
@click.option("--queue", "queue", type=int, required=True, help="Queue id the dialer monitors.")
@click.option(
    "--max-callers", type=int, required=True, help="Most callers waiting in that queue (> 0)."
)
@click.option("--coefficient", type=int, required=True, help="Dialling-rate coefficient (> 1).")
@click.option(
    "--method",
    "settings_method",
    default=None,
    help="API method name for the settings call (default: $VOICENTER_SETTINGS_METHOD).",
)
def settings_cmd(
    *,
    config_file: Path | None,
    api_url: str | None,
    as_json: bool,
    campaign: str,
    queue: int,
    max_callers: int,
    coefficient: int,
    settings_method: str | None,
) -> None:
    """Set a smart-dialer campaign's pacing (queue, max callers, coefficient)."""
    settings, client = _open(config_file, api_url, settings_method=settings_method)
    with client:
        found = _resolve(client, settings, campaign)
        client.update_campaign_settings(found, queue, max_callers, coefficient)
    if as_json:
        echo_json(
            {
                "campaign": found.name,
                "queue": queue,
                "max_callers": max_callers,
                "coefficient": coefficient,
                "ok": True,
            }
        )
    else:
        click.echo(
            f"Settings of {found.name!r} updated: queue {queue}, at most {max_callers} "
            f"caller(s) waiting, coefficient {coefficient}."
        )


def register(group: click.Group) -> None:
    """Add the API commands to the CLI group."""
    for command in (
        campaigns_cmd,
        details_cmd,
        pending_cmd,
        _simple_action("start", "started", lambda c, camp: c.start_campaign(camp)),
        _simple_action("stop", "stopped", lambda c, camp: c.stop_campaign(camp)),
        remove_cmd,
        clear_cmd,
        members_cmd,
        settings_cmd,
    ):
        group.add_command(command)
