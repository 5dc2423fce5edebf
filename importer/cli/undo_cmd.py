"""What ``runs undo`` and ``inbox undo`` share: the confirmation, the run, the output."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from importer.cli._common import echo_json, echo_notes_and_reports
from importer.config import Settings
from importer.errors import EXIT_BAD_INPUT, ConfigError
from importer.outcomes import Status
from importer.plain_text import escape_controls
from importer.undo import UndoOptions, UndoResult, undo_run

__all__ = ["run_undo"]


def _counts_text(counts: dict[str, int]) -> str:
    parts = [f"{n:,} {status}" for status, n in counts.items() if n]
    return ", ".join(parts) or "nothing to undo"


def _confirm(options: UndoOptions, settings: Settings, yes: bool) -> bool:
    """True when the undo may go ahead: --yes, or a person said yes on a terminal."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError(
            "an undo removes calls from a campaign: confirm with --yes (stdin is not a "
            "terminal, so nobody can be asked)"
        ).with_hint(f"`--dry-run` shows what undoing run {options.run_id} would do.")
    preview = undo_run(replace(options, dry_run=True, report_formats=frozenset()), settings)
    if preview.already_undone:
        return True  # nothing will change; the real call says so
    run = preview.run
    click.echo(
        f"Undoing run {run.run_id} ({escape_controls(run.source_file)}, campaign "
        f"{run.campaign_name!r}) would do: {_counts_text(preview.counts)}."
    )
    return click.confirm("Go ahead?", default=False)


def _as_json(result: UndoResult) -> dict[str, Any]:
    return {
        "undo_id": result.undo_id,
        "run_id": result.run.run_id,
        "source_file": result.run.source_file,
        "campaign": result.run.campaign_name,
        "dry_run": result.dry_run,
        "already_undone": result.already_undone,
        "resumed": result.resumed,
        "exit_code": result.exit_code,
        "counts": {s.value: result.counts.get(s.value, 0) for s in _UNDO_ORDER},
        "reports": {k: str(v) for k, v in result.reports.items()},
        "notes": result.notes,
    }


_UNDO_ORDER = (
    Status.REMOVED, Status.RESTORED, Status.ALREADY_DIALLED, Status.KEPT_ADDED_LATER,
    Status.FAILED,
)


def _print(result: UndoResult) -> None:
    run = result.run
    name = escape_controls(run.source_file)
    if result.already_undone:
        click.echo(f"{name}: run {run.run_id} was already undone; nothing was changed.")
    else:
        dry = " (dry run: nothing was changed)" if result.dry_run else ""
        click.echo(f"{name}: undo of run {run.run_id}: {_counts_text(result.counts)}{dry}")
    echo_notes_and_reports(result.notes, result.reports)
    if not result.dry_run:
        click.echo(f"undo id: {result.undo_id}")
    failed = result.counts.get(Status.FAILED.value, 0)
    if failed:
        click.echo(
            f"{failed:,} call(s) could not be removed or restored: run the same command "
            "again to retry them.",
            err=True,
        )


def run_undo(options: UndoOptions, settings: Settings, *, yes: bool, as_json: bool) -> None:
    """Confirm (unless dry or --yes), undo, print the outcome and exit with its code."""
    if not options.dry_run and not _confirm(options, settings, yes):
        click.echo("Nothing was changed.")
        sys.exit(EXIT_BAD_INPUT)
    result = undo_run(options, settings)
    if as_json:
        echo_json(_as_json(result))
    else:
        _print(result)
    sys.exit(result.exit_code)
