"""What ``runs undo`` and ``inbox undo`` share: the confirmation, the run, the output."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from importer.cli._common import echo_json, echo_notes_and_reports
from importer.config import Settings
from importer.errors import EXIT_BAD_INPUT, ConfigError
from importer.i18n import N_, _
from importer.outcomes import Status, status_name
from importer.plain_text import escape_controls
from importer.undo import UndoOptions, UndoResult, undo_run

__all__ = ["run_undo"]


def _counts_text(counts: dict[str, int]) -> str:
    each = _("{count} {status}")
    parts = [each.format(count=f"{n:,}", status=status_name(status))
             for status, n in counts.items() if n]
    return ", ".join(parts) or _("nothing to undo")


def _confirm(options: UndoOptions, settings: Settings, yes: bool) -> bool:
    """True when the undo may go ahead: --yes, or a person said yes on a terminal."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError(
            N_("an undo removes calls from a campaign: confirm with --yes (stdin is not a "
               "terminal, so nobody can be asked)")
        ).with_hint(_("`--dry-run` shows what undoing run {run_id} would do.").format(
            run_id=options.run_id))
    preview = undo_run(replace(options, dry_run=True, report_formats=frozenset()), settings)
    if preview.already_undone:
        return True  # nothing will change; the real call says so
    run = preview.run
    click.echo(
        _("Undoing run {run_id} ({file}, campaign {campaign}) would do: {counts}.").format(
            run_id=run.run_id, file=escape_controls(run.source_file),
            campaign=repr(run.campaign_name), counts=_counts_text(preview.counts))
    )
    return click.confirm(_("Go ahead?"), default=False)


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
    counts = _counts_text(result.counts)
    if result.already_undone:
        click.echo(_("{name}: run {run_id} was already undone; nothing was changed.").format(
            name=name, run_id=run.run_id))
    elif result.dry_run:
        click.echo(_("{name}: undo of run {run_id}: {counts} (dry run: nothing was changed)")
                   .format(name=name, run_id=run.run_id, counts=counts))
    else:
        click.echo(_("{name}: undo of run {run_id}: {counts}").format(
            name=name, run_id=run.run_id, counts=counts))
    echo_notes_and_reports(result.notes, result.reports)
    if not result.dry_run:
        click.echo(_("undo id: {undo_id}").format(undo_id=result.undo_id))
    failed = result.counts.get(Status.FAILED.value, 0)
    if failed:
        click.echo(
            _("{count} call(s) could not be removed or restored: run the same command again "
              "to retry them.").format(count=f"{failed:,}"),
            err=True,
        )


def run_undo(options: UndoOptions, settings: Settings, *, yes: bool, as_json: bool) -> None:
    """Confirm (unless dry or --yes), undo, print the outcome and exit with its code."""
    if not options.dry_run and not _confirm(options, settings, yes):
        click.echo(_("Nothing was changed."))
        sys.exit(EXIT_BAD_INPUT)
    result = undo_run(options, settings)
    if as_json:
        echo_json(_as_json(result))
    else:
        _print(result)
    sys.exit(result.exit_code)
