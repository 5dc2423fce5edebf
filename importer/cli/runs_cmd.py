"""``lead-importer runs`` (list, show, report, prune) and ``lead-importer history PHONE``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import phonenumbers

from importer.cli._common import echo_json, fail, report_format_option, settings_from
from importer.config import load_settings
from importer.errors import EXIT_BAD_INPUT
from importer.i18n import current_language
from importer.journal import HistoryEntry, Journal, RunRecord
from importer.outcomes import ADDED_GROUP, SKIPPED_GROUP, UPDATED_GROUP, Status
from importer.report import REPORT_FORMAT_NAMES

__all__ = ["register"]

F = TypeVar("F", bound=Callable[..., Any])




def _state_options(func: F) -> F:
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="A YAML or .env settings file (may set LEAD_IMPORTER_STATE_DIR).",
    )(func)
    func = click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Where the run journal lives (default: $LEAD_IMPORTER_STATE_DIR, then per user).",
    )(func)
    return func


def _state_dir(state_dir: Path | None, config_file: Path | None) -> Path:
    ctx = click.get_current_context()
    parent = ctx.find_object(dict) or {}
    state_dir = state_dir or parent.get("state_dir")
    config_file = config_file or parent.get("config_file")
    if state_dir is not None:
        return state_dir
    return load_settings(config_file).resolved_state_dir()


@contextmanager
def _journal(state_dir: Path) -> Iterator[Journal | None]:
    """The journal of ``state_dir``, or None when no run was ever recorded there."""
    if not Journal.path_for(state_dir).exists():
        yield None
        return
    with Journal.open(state_dir) as journal:
        yield journal


def _counts(journal: Journal, run: RunRecord) -> dict[str, int]:
    # A run that did not finish has no stored counts: count its rows as they stand.
    return dict(run.counts) or journal.status_counts(run.run_id)


def _outcome(run: RunRecord) -> str:
    return run.outcome or "unfinished"


def _mode(run: RunRecord) -> str:
    return f"{run.mode} (dry run)" if run.dry_run else run.mode


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _group(counts: dict[str, int], statuses: frozenset[Status]) -> int:
    return sum(counts.get(s.value, 0) for s in statuses)


def _run_json(journal: Journal, run: RunRecord, *, detail: bool = False) -> dict[str, Any]:
    data = asdict(run)
    data["key"] = asdict(run.key)
    data["counts"] = _counts(journal, run)
    if detail:
        data.update(journal.run_links(run.run_id))
        data["rejects_files"] = [asdict(r) for r in journal.rejects_files(run.run_id)]
        undo = journal.undo_of(run.run_id)
        data["undo"] = asdict(undo) if undo is not None else None
        data["unknown_chunks"] = [
            {"chunk_no": c.chunk_no, "rows": len(c.seqs), "sent_at": c.sent_at,
             "attempts": c.attempts}
            for c in journal.unknown_chunks(run.run_id)
        ]
    return data


def _link_lines(journal: Journal, run: RunRecord) -> list[tuple[str, str]]:
    """Its undo, the rejects file it wrote or imported, and the runs that imported that."""
    links = journal.run_links(run.run_id)
    lines: list[tuple[str, str]] = []
    for rejects in journal.rejects_files(run.run_id):
        lines.append(("Rejects file", f"{rejects.path} ({rejects.rows} row(s))"))
    if links["rejects_of"]:
        lines.append(("Rejects of", f"run {links['rejects_of']} (this file is its rejects file)"))
    for other in links["rejects_imported_by"]:
        lines.append(("Rejects imported", f"by run {other}"))
    undo = journal.undo_of(run.run_id)
    if undo is not None:
        state = f"finished {undo.finished_at}" if undo.outcome == "finished" else (
            f"{undo.outcome or 'unfinished'}: run `lead-importer runs undo {run.run_id}` again "
            "to finish it"
        )
        counts = ", ".join(f"{n} {s}" for s, n in sorted(undo.counts.items()) if n)
        lines.append(("Undone", f"by {undo.undo_id} ({state}){': ' + counts if counts else ''}"))
    return lines


def _table(rows: list[list[str]], numeric_from: int) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            cell.rjust(widths[i]) if i >= numeric_from else cell.ljust(widths[i])
            for i, cell in enumerate(r)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


@click.group("runs", invoke_without_command=True)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many recent runs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_state_options
@click.pass_context
def runs_group(
    ctx: click.Context,
    limit: int,
    as_json: bool,
    state_dir: Path | None,
    config_file: Path | None,
) -> None:
    """List recent import runs, newest first (see `runs show RUN`)."""
    ctx.ensure_object(dict).update(state_dir=state_dir, config_file=config_file)
    if ctx.invoked_subcommand is not None:
        return
    directory = _state_dir(state_dir, config_file)
    with _journal(directory) as journal:
        runs = journal.list_runs(limit) if journal is not None else []
        if journal is None or not runs:
            if as_json:
                echo_json({"state_dir": str(directory), "runs": []})
            else:
                click.echo(f"No runs recorded in {directory}.")
            return
        if as_json:
            echo_json({
                "state_dir": str(directory),
                "runs": [_run_json(journal, r) for r in runs],
            })
            return
        table = [["RUN", "STARTED (UTC)", "FILE", "CAMPAIGN", "MODE", "OUTCOME",
                  "ADDED", "UPDATED", "REMOVED", "SKIPPED", "REJECTED", "FAILED"]]
        for run in runs:
            counts = _counts(journal, run)
            table.append([
                run.run_id,
                run.started_at.replace("T", " ")[:16],
                _clip(run.source_file, 32),
                _clip(run.campaign_name, 20),
                _mode(run),
                _outcome(run),
                str(_group(counts, ADDED_GROUP)),
                str(_group(counts, UPDATED_GROUP)),
                str(counts.get(Status.REMOVED.value, 0)),
                str(_group(counts, SKIPPED_GROUP)),
                str(counts.get(Status.REJECTED.value, 0)),
                str(counts.get(Status.FAILED.value, 0)),
            ])
        for line in _table(table, numeric_from=6):
            click.echo(line)


@runs_group.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_state_options
def show_cmd(run_id: str, as_json: bool, state_dir: Path | None, config_file: Path | None) -> None:
    """Show one run: file, campaign, counts per status, reports, unanswered chunks."""
    with Journal.open(_state_dir(state_dir, config_file)) as journal:
        run = journal.get_run(run_id)
        if as_json:
            echo_json(_run_json(journal, run, detail=True))
            return
        counts = _counts(journal, run)
        unknown = journal.unknown_chunks(run.run_id)
        lines = [
            ("Run", run.run_id),
            ("File", run.source_file),
            ("Path", run.source_path),
            ("File SHA-256", run.key.file_sha256),
            ("Campaign", run.campaign_name),
            ("Mapping", run.mapping_name or "(suggested)"),
            ("Mode", _mode(run)),
            ("Started", run.started_at),
            ("Finished", run.finished_at or "-"),
            ("Outcome", _outcome(run)),
            ("Rows", str(sum(counts.values()))),
        ]
        lines += [(f"  {status}", str(n)) for status, n in sorted(counts.items()) if n]
        for fmt, path in sorted(run.report_paths.items()):
            lines.append((f"Report ({fmt})", path))
        lines += _link_lines(journal, run)
        if unknown:
            rows = sum(len(c.seqs) for c in unknown)
            lines.append((
                "Unanswered",
                f"{len(unknown)} chunk(s), {rows} row(s) sent without a recorded answer; "
                "re-running the import checks them against the campaign before resending",
            ))
        width = max(len(k) for k, _ in lines)
        for label, value in lines:
            click.echo(f"{label.ljust(width)}  {value}")


@runs_group.command("undo")
@click.argument("run_id", metavar="RUN")
@click.option("--dry-run", is_flag=True, help="Show what the undo would do; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--campaign", default=None,
              help="The run's campaign (name or code) when its name has changed since.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports"), show_default=True, help="Where to write the report.")
@report_format_option
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait while an import into the same campaign runs.")
@click.option("--api-url", default=None, help="Dialer base URL (default: $VOICENTER_API_URL).")
@_state_options
def undo_cmd(
    *,
    run_id: str,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    campaign: str | None,
    report_dir: Path,
    report_formats: frozenset[str],
    lock_timeout: float,
    api_url: str | None,
    state_dir: Path | None,
    config_file: Path | None,
) -> None:
    """Take a run back: remove the calls it added, restore the ones it updated.

    Only calls the run added and that are still pending are removed; numbers that were
    pending before it, dialled since or added again by a later run are left alone. A
    sync run's removals are added back. Killed half way, the same command finishes it.
    """
    from importer.cli.undo_cmd import run_undo
    from importer.undo import UndoOptions

    settings = settings_from(config_file or _parent("config_file"), api_url)
    options = UndoOptions(
        run_id=run_id,
        campaign=campaign,
        dry_run=dry_run,
        report_dir=report_dir,
        report_formats=report_formats,
        state_dir=_state_dir(state_dir, config_file),
        lock_timeout=lock_timeout,
        language=current_language(),
    )
    run_undo(options, settings, yes=yes, as_json=as_json)


def _parent(name: str) -> Any:
    """An option given to ``runs`` itself (``runs --state-dir D undo RUN``)."""
    parent = click.get_current_context().find_object(dict) or {}
    return parent.get(name)


@runs_group.command("report")
@click.argument("run_id", metavar="RUN")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports"), show_default=True, help="Where to write the reports.")
@report_format_option
@click.option("--json", "as_json", is_flag=True, help="Print the report paths as JSON.")
@_state_options
def report_cmd(
    *,
    run_id: str,
    report_dir: Path,
    report_formats: frozenset[str],
    as_json: bool,
    state_dir: Path | None,
    config_file: Path | None,
) -> None:
    """Write a run's report files again, from the journal."""
    from importer.outcomes import Summary
    from importer.report import ReportWriter

    with Journal.open(_state_dir(state_dir, config_file)) as journal:
        run = journal.get_run(run_id)
        if sum(run.counts.values()) and not journal.status_counts(run.run_id):
            fail(
                f"run {run.run_id}'s rows were pruned from the journal (`runs prune`), so its "
                f"report cannot be written again; `lead-importer runs show {run.run_id}` still "
                "shows its counts",
                EXIT_BAD_INPUT,
            )
        summary = Summary(
            source_file=run.source_file,
            campaign=run.campaign_name,
            mode=run.mode,
            dry_run=run.dry_run,
            started_at=run.started_at,
            finished_at=run.finished_at or "",
            run_id=run.run_id,
            notes=[f"Regenerated from the run journal (run {run.run_id})."],
        )
        if run.outcome != "finished":
            summary.notes.append(
                f"The run is {_outcome(run)}: rows not confirmed yet are shown as failed."
            )
        writer = ReportWriter(
            report_dir,
            run.source_file,
            formats=report_formats,
            field_names=journal.field_names(run.run_id),
            started_at=datetime.fromisoformat(run.started_at.replace("Z", "+00:00")),
            language=current_language(),
        )
        with writer:
            for row in journal.regenerate_report_rows(run.run_id):
                writer.write(row)
            paths = writer.close(summary)
    if as_json:
        echo_json({"run_id": run.run_id, "reports": {k: str(v) for k, v in paths.items()}})
        return
    for fmt in REPORT_FORMAT_NAMES:
        if fmt in paths:
            click.echo(f"Wrote {paths[fmt]}")


@runs_group.command("prune")
@click.option("--older-than", "days", type=click.IntRange(min=1), required=True,
              help="Forget row detail of finished runs older than DAYS days.")
@click.option("--history-older-than", "history_days", type=click.IntRange(min=1), default=None,
              help="Also forget the import history older than DAYS days. Dedupe reads it: keep "
                   "it longer than every mapping's dedupe.history_days, or numbers imported "
                   "then can be dialled again.")
@_state_options
def prune_cmd(
    days: int, history_days: int | None, state_dir: Path | None, config_file: Path | None
) -> None:
    """Shrink the journal: drop rows of old finished runs (their summaries stay)."""
    directory = _state_dir(state_dir, config_file)
    with _journal(directory) as journal:
        dropped = journal.prune(days, history_days) if journal else 0
    click.echo(f"Dropped the rows of {dropped} finished run(s) older than {days} day(s).")
    if history_days is None:
        click.echo("The import history (what dedupe checks) was kept.")
    else:
        click.echo(f"Forgot the import history older than {history_days} day(s).")


def _normalise(phone: str, region: str) -> str | None:
    """E.164 for the user's input, or None when the phone library cannot tell."""
    from importer.phones import PhoneNormalizer, PhonePolicy

    result = PhoneNormalizer(PhonePolicy(default_region=region)).normalize(phone)
    return result.e164 or None


def _history_json(entry: HistoryEntry) -> dict[str, Any]:
    return asdict(entry)


@click.command("history")
@click.argument("phone")
@click.option("--region", default="IL", show_default=True,
              help="Region for numbers written without a country code.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_state_options
def history_cmd(
    phone: str, region: str, as_json: bool, state_dir: Path | None, config_file: Path | None
) -> None:
    """Show when, into which campaign and from which file a number was imported."""
    directory = _state_dir(state_dir, config_file)
    if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise click.BadParameter(
            f"{region!r} is not a country code phonenumbers knows (e.g. IL, US, GB)",
            param_hint="--region",
        )
    e164 = _normalise(phone, region.upper())
    digits = "".join(ch for ch in phone if ch.isdigit())
    if e164 is None and len(digits.lstrip("0")) < 6:
        raise click.BadParameter(f"{phone!r} is not a phone number", param_hint="PHONE")
    with _journal(directory) as journal:
        entries: list[HistoryEntry] = []
        if journal is not None:
            entries = journal.history(e164) if e164 else []
            if not entries and e164 is None:
                entries = journal.history_matching(digits)
    shown = e164 or phone
    if as_json:
        echo_json({"phone": shown, "imports": [_history_json(e) for e in entries]})
        return
    if not entries:
        click.echo(f"{shown} was never imported by lead-importer (journal: {directory}).")
        return
    table = [["WHEN (UTC)", "PHONE", "ACTION", "CAMPAIGN", "FILE", "ROW", "RUN"]]
    for e in entries:
        table.append([e.added_at.replace("T", " ").rstrip("Z"), e.phone, e.action,
                      e.campaign_name, e.source_file, str(e.row), e.run_id])
    for line in _table(table, numeric_from=99):
        click.echo(line)


def register(group: click.Group) -> None:
    """Add ``runs`` and ``history`` to the CLI group."""
    group.add_command(runs_group)
    group.add_command(history_cmd)
