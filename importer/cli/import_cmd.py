"""``lead-importer import``: the main job."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, cast

import click

from importer.cli._common import (
    api_options,
    choose_language,
    echo_json,
    echo_notes_and_reports,
    now_option,
    report_format_option,
    settings_from,
    sheet_option,
)
from importer.errors import RunInterruptedError
from importer.i18n import N_, _
from importer.logs import configure_logging
from importer.mapping.schema import mapping_language
from importer.outcomes import IMPORT_STATUSES, Status, status_name
from importer.pipeline import (
    ENGINES,
    Engine,
    ImportOptions,
    ImportResult,
    Mode,
    ProgressEvent,
    run_import,
)
from importer.plain_text import escape_controls
from importer.report import summary_to_dict
from importer.sources.model import SourceOptions

__all__ = ["register"]

@contextmanager
def _graceful_signals(cancel: threading.Event) -> Iterator[None]:
    """First SIGTERM/Ctrl-C asks the run to stop after the chunks in flight; a second one aborts."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        click.echo(
            _("Stopping after the chunks in flight (press Ctrl-C again to abort)..."), err=True
        )

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Only the main thread may install handlers (not so under some test runners).
        with suppress(ValueError):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _estimate_rows(path: Path) -> int | None:
    """Line count of a text file (a cheap byte scan), for the progress bar's ETA.

    Workbooks (ZIP or OLE2 containers) give no cheap count: their bar shows no ETA.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
                return None
            lines = head.count(b"\n")
            for block in iter(lambda: fh.read(1 << 20), b""):
                lines += block.count(b"\n")
    except OSError:
        return None
    return max(lines, 1)


# TRANSLATORS: the stages of an import, shown next to a progress bar.
_STAGES = {"read": N_("read"), "push": N_("push"), "sync": N_("sync")}


class _Progress:
    """A rich progress bar on a terminal; silent otherwise."""

    def __init__(self, enabled: bool, paths: tuple[Path, ...] = ()) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._tasks: dict[tuple[str, str], Any] = {}
        self._estimates = {p.name: _estimate_rows(p) for p in paths} if enabled else {}

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(_("{rate} rows/s").replace("{rate}", "{task.fields[rate]}")),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            for task in self._bar.tasks:  # estimates count lines: end every bar at 100%
                self._bar.update(task.id, total=task.completed)
            self._bar.__exit__(*exc)

    def __call__(self, event: ProgressEvent) -> None:
        if self._bar is None:
            return
        key = (event.file, event.stage)
        total = event.total or self._estimates.get(event.file)
        if total is not None:
            total = max(total, event.done)  # the estimate counts lines, not records
        task = self._tasks.get(key)
        if task is None:
            stage = _STAGES.get(event.stage)
            task = self._bar.add_task(f"{event.file} [{_(stage) if stage else event.stage}]",
                                      total=total, rate="-")
            self._tasks[key] = task
        elapsed = self._bar.tasks[task].elapsed or 0.0
        rate = f"{event.done / elapsed:,.0f}" if elapsed > 0 else "-"
        self._bar.update(task, completed=event.done, total=total, rate=rate)


def _print_summary(result: ImportResult) -> None:
    for outcome in result.files:
        summary = outcome.summary
        name = escape_controls(summary.source_file)  # one file, one line, read as written
        parts = _count_parts(summary.counts)
        rows = f"{summary.total_rows:,}"
        if summary.already_imported:
            click.echo(_("{name}: already imported, nothing sent now (run {run_id} had {rows} "
                         "row(s): {parts})").format(name=name, run_id=summary.run_id, rows=rows,
                                                    parts=parts))
        elif summary.dry_run:
            click.echo(_("{name}: {rows} row(s): {parts} (dry run: nothing was sent or "
                         "removed)").format(name=name, rows=rows, parts=parts))
        else:
            click.echo(_("{name}: {rows} row(s): {parts}").format(name=name, rows=rows,
                                                                  parts=parts))
        echo_notes_and_reports(summary.notes, outcome.reports)
    if result.run_id:
        click.echo(_("run id: {run_id}").format(run_id=result.run_id))
    failed = sum(
        o.summary.counts.get(Status.FAILED.value, 0)
        + o.summary.counts.get(Status.REJECTED.value, 0)
        for o in result.files
    )
    if failed:
        click.echo(
            _("{count} row(s) were rejected or not delivered: see the reports; run the same "
              "command again to retry the undelivered ones.").format(count=f"{failed:,}"),
            err=True,
        )


def _count_parts(counts: dict[str, int]) -> str:
    """``"12 added, 1 missing_phone; 3 not_a_lead"``: rows that are not leads come apart."""
    apart = counts.get(Status.NOT_A_LEAD.value, 0)
    # TRANSLATORS: one status's count in the console summary, e.g. "12 added".
    each = _("{count} {status}")
    leads = ", ".join(
        each.format(count=f"{v:,}", status=status_name(k))
        for k, v in counts.items() if v and k != Status.NOT_A_LEAD.value
    )
    if not apart:
        return leads or _("no rows")
    not_leads = each.format(count=f"{apart:,}", status=status_name(Status.NOT_A_LEAD))
    return "; ".join(filter(None, [leads, not_leads]))


def _result_to_json(result: ImportResult) -> dict[str, Any]:
    totals: dict[str, int] = {s.value: 0 for s in IMPORT_STATUSES}
    files = []
    for outcome in result.files:
        entry = summary_to_dict(outcome.summary)
        entry["exit_code"] = outcome.exit_code
        entry["reports"] = {k: str(v) for k, v in outcome.reports.items()}
        files.append(entry)
        if outcome.summary.already_imported:
            continue  # its counts are an earlier run's: a script summing them would count twice
        for key, value in outcome.summary.counts.items():
            totals[key] = totals.get(key, 0) + value
    return {
        "run_id": result.run_id,
        "exit_code": result.exit_code,
        "counts": totals,
        "files": files,
        "already_imported": [o.summary.source_file for o in result.files
                             if o.summary.already_imported],
        "backups": [str(p) for p in result.backups],
    }


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--mapping", "mapping_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Mapping file (YAML). Without it the columns are mapped automatically.")
@click.option(
    "--campaign", help="Campaign name or code (default: the mapping's, then $VOICENTER_CAMPAIGN)."
)
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports"), show_default=True)
@report_format_option
@click.option("--mode", type=click.Choice(["append", "upsert", "sync"]), default=None,
              help="append (default): add new numbers; upsert: also update pending ones; "
                   "sync: also remove pending numbers not in the source.")
@click.option("--dry-run", is_flag=True, help="Do everything except the writes.")
@click.option("--calling-hours", "calling_hours", type=click.Choice(["on", "off"]), default="on",
              show_default=True,
              help="off: every lead is dialled at once, whatever the mapping's calling_hours say.")
@click.option("--now", "now", callback=now_option, default=None, metavar="ISO",
              help="Decide calling hours as if it were this moment, e.g. 2026-12-04T15:00+02:00.")
@click.option("--chunk-size", type=click.IntRange(1, 3000), default=3000, show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="auto", show_default=True,
              help="How rows are mapped: columnar (fast, blocks of rows), row (one row at a "
                   "time, the reference), auto (columnar where it covers the mapping).")
@click.option("--concurrency", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the run journal lives (default: per-user data directory).")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait while another import into the same campaign runs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object on stdout.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append a log of the run here (for scheduled runs).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per line, for log collectors.")
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail too.")
@click.option("--no-progress", is_flag=True, help="Never show a progress bar.")
@click.option("--yes", is_flag=True, help="Confirm --mode sync removals.")
@click.option("--force", is_flag=True, help="Let --mode sync remove a large share of the campaign.")
@click.option("--again", is_flag=True, help="Import a file again even if it was imported before.")
@click.option("--allow-disabled", is_flag=True, help="Import into a disabled campaign.")
@click.option("--start-campaign", is_flag=True, help="Start a disabled campaign, then import.")
@click.option("--no-journal", is_flag=True, help="Do not record the run (no resume, no history).")
@click.option("--suppression", "suppression", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A do-not-call list (CSV/XLSX of numbers); repeat for several.")
@click.option("--encoding", default=None, help="Override encoding detection (e.g. cp1255).")
@click.option("--delimiter", default=None, help="Override delimiter sniffing.")
@click.option("--sheet", default=None,
              help="Sheet name or number (1 = the first sheet); default: auto, the visible "
                   "sheet holding the most phone numbers.")
@click.option("--all-sheets", is_flag=True, help="Read every visible sheet.")
@click.option("--header-row", type=click.IntRange(1), default=None,
              help="Row number of the header, as Excel shows it.")
@api_options
def import_command(
    paths: tuple[Path, ...],
    mapping_path: Path | None,
    campaign: str | None,
    report_dir: Path,
    report_formats: frozenset[str],
    mode: str | None,
    dry_run: bool,
    calling_hours: str,
    now: datetime | None,
    chunk_size: int,
    engine: str,
    concurrency: int,
    state_dir: Path | None,
    lock_timeout: float,
    as_json: bool,
    log_file: Path | None,
    log_format: str,
    verbose: bool,
    no_progress: bool,
    yes: bool,
    force: bool,
    again: bool,
    allow_disabled: bool,
    start_campaign: bool,
    no_journal: bool,
    suppression: tuple[Path, ...],
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    all_sheets: bool,
    header_row: int | None,
    config_file: Path | None,
    api_url: str | None,
) -> None:
    """Import lead files into a dialer campaign and write a per-row report."""
    # Quiet on a terminal (warnings only, the summary says the rest); a log file gets the story.
    level = logging.DEBUG if verbose else logging.INFO if log_file else logging.WARNING
    configure_logging(level=level, log_format="json" if log_format == "json" else "text",
                      log_file=log_file)
    settings = settings_from(config_file, api_url, state_dir=state_dir)
    language = choose_language(mapping_language(mapping_path), settings.language)
    sheet_value = sheet_option(sheet)
    options = ImportOptions(
        campaign=campaign,
        mapping_path=mapping_path,
        report_dir=report_dir,
        report_formats=report_formats,
        mode=cast("Mode | None", mode),  # click.Choice has checked the value
        dry_run=dry_run,
        chunk_size=chunk_size,
        engine=cast("Engine", engine),
        concurrency=concurrency,
        allow_disabled=allow_disabled,
        start_campaign=start_campaign,
        yes=yes,
        force=force,
        again=again,
        use_journal=not no_journal,
        state_dir=state_dir,
        lock_timeout=lock_timeout,
        suppression=suppression,
        calling_hours_off=calling_hours == "off",
        now=now,
        language=language,
        source_options=SourceOptions(
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet_value,
            all_sheets=all_sheets,
            header_row=header_row,
        ),
    )
    cancel = threading.Event()
    show_progress = not no_progress and not as_json and sys.stderr.isatty()
    try:
        with _graceful_signals(cancel), _Progress(show_progress, paths) as progress:
            result = run_import(list(paths), options, settings, progress=progress, cancel=cancel)
    except KeyboardInterrupt:
        raise RunInterruptedError(
            N_("aborted by a second signal before the chunks in flight were recorded. Run the "
               "same command again: it checks them against the campaign before sending "
               "anything.")
        ) from None
    if as_json:
        echo_json(_result_to_json(result))
    else:
        _print_summary(result)
    sys.exit(result.exit_code)


def register(group: click.Group) -> None:
    """Add the import command."""
    group.add_command(import_command)
