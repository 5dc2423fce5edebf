"""`lead-importer inbox init|run|check`: the drop folder for marketing teams and scheduled runs."""

from __future__ import annotations

import logging
import shlex
import threading
from pathlib import Path

import click

from importer.cli._common import echo_json, fail, language_flag, settings_from
from importer.errors import EXIT_BAD_INPUT, EXIT_OK, ConfigError
from importer.i18n import _
from importer.inbox import (
    InboxRunner,
    OnceResult,
    ProcessedFile,
    SetupProblem,
    init_inbox,
    install_stop_signals,
)
from importer.inbox.check import Check, check_config, worst_exit
from importer.inbox.config import load_inbox_config, missing_environment
from importer.inbox.runner import inbox_language
from importer.logs import configure_logging
from importer.plain_text import escape_controls
from importer.redact import redact

log = logging.getLogger("importer.inbox")


def _line(processed: ProcessedFile) -> str:
    """One line per file, for cron mail and scripts: outcome, inbox, name, place, why."""
    message = " ".join(processed.message.split())
    # A file name may hold line breaks: one file stays one line for the scripts reading it.
    name, location = escape_controls(processed.name), escape_controls(str(processed.location))
    return redact(
        f"{processed.outcome:<6} {processed.inbox}: {name} -> {location} ({message})"
    )


def _setup_line(problem: SetupProblem) -> str:
    """One line per inbox kept waiting by its set-up: what is wrong and what to change."""
    what = "; ".join(f"{c.subject}: {c.found} Fix: {c.fix}" for c in problem.checks)
    return redact(
        f"setup  {problem.inbox}: {len(problem.waiting)} file(s) left where they are "
        f"({' '.join(what.split())})"
    )


def _check_line(check: Check) -> str:
    """``ok    inbox 'Leads': campaign: ...``: one line per check, whatever the texts hold."""
    text = f"{check.where}: {check.found}"
    if check.fix and check.level in {"fail", "warn"}:
        text += f" Fix: {check.fix}"  # i18n: ok (check lines are English, for scripts)
    return redact(f"{check.level.upper() if check.level == 'fail' else check.level:<5} "
                  f"{escape_controls(' '.join(text.split()))}")


def _setup_json(problem: SetupProblem) -> dict[str, object]:
    return {
        "inbox": problem.inbox,
        "exit_code": problem.exit_code,
        "waiting": problem.waiting,
        "notified": problem.notified,
        "problems": [
            {"check": c.subject, "problem": c.found, "fix": c.fix} for c in problem.checks
        ],
    }


def _as_json(result: OnceResult) -> dict[str, object]:
    return {
        "exit_code": result.exit_code,
        "files": [
            {
                **f.notice.as_json(),
                "error_file": str(f.error_file) if f.error_file else None,
            }
            for f in result.files
        ],
        "locked_inboxes": result.locked,
        "still_changing": result.still_changing,
        "folder_errors": result.folder_errors,
        "setup_problems": [_setup_json(p) for p in result.setup_problems],
    }


_config_option = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The inbox.yaml describing the drop folders.",
)


def register(group: click.Group) -> None:
    """Add the ``inbox`` command group to the CLI."""

    @group.group("inbox")
    def inbox() -> None:
        """Drop folders: files saved into inbox/ are imported and reported."""

    @inbox.command("init")
    @click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
    @click.option("--campaign", default=None, help="Campaign NAME the files go to.")
    @click.option(
        "--mapping",
        default="auto",
        show_default=True,
        help="A mapping file, or `auto` to suggest one from each file's columns.",
    )
    def init_cmd(*, directory: Path, campaign: str | None, mapping: str) -> None:
        """Create DIRECTORY/inbox.yaml and the folders inbox/ processing/ done/ failed/ reports/."""
        config_path = init_inbox(directory, campaign=campaign, mapping=mapping,
                                 language=language_flag())
        click.echo(_("Created {file} and the folders:").format(file=config_path))
        for name in ("inbox", "processing", "done", "failed", "reports"):
            click.echo(f"  {directory / name}")
        click.echo(_("Staff save files into the inbox folder. Check the settings, then run:"))
        click.echo("  " + shlex.join(["lead-importer", "inbox", "run", "--config",
                                      str(config_path), "--once"]))

    @inbox.command("run")
    @_config_option
    @click.option("--once", is_flag=True, help="Process what is there and exit (for cron).")
    @click.option("--api-url", default=None, help="Dialer base URL (default: $VOICENTER_API_URL).")
    @click.option(
        "--log-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Append the log here (stderr then shows only warnings and errors).",
    )
    @click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON object per line, for log collectors.",
    )
    @click.option("-v", "--verbose", is_flag=True, help="Log debugging detail too.")
    @click.option("--json", "as_json", is_flag=True, help="With --once: print a JSON summary.")
    def run_cmd(
        *,
        config_path: Path,
        once: bool,
        api_url: str | None,
        log_file: Path | None,
        log_format: str,
        verbose: bool,
        as_json: bool,
    ) -> None:
        """Import the files dropped into the inboxes of --config.

        Without --once it keeps watching (polling, so network shares work) until
        SIGTERM or Ctrl+C, which finish the current file first.  With --once the
        exit code is the worst of the files': 0 all fine, 1 some rows rejected or a
        file had no row to add, 2 a file could not be imported or the configuration is
        wrong, 3 the dialer or the account could not be used. Set-up problems leave the
        files where they are.
        """
        configure_logging(
            level=logging.DEBUG if verbose else logging.INFO,
            log_format="json" if log_format == "json" else "text",
            log_file=log_file,
        )
        config = load_inbox_config(config_path)
        settings = settings_from(config.settings_file, api_url, state_dir=config.state_dir)
        for missing in missing_environment(config):
            log.warning("notifications: %s is not set; that notification will fail", missing)
        stop, cancel = threading.Event(), threading.Event()
        install_stop_signals(stop, cancel)
        runner = InboxRunner(config, settings, stop=stop, cancel=cancel,
                             language=language_flag())
        if once:
            result = runner.run_once()
            if as_json:
                echo_json(_as_json(result))
            else:
                for processed in result.files:
                    click.echo(_line(processed))
                for problem in result.setup_problems:
                    click.echo(_setup_line(problem))
            for message in result.folder_errors:
                click.echo(_("Error: {message}").format(message=redact(message)), err=True)
            raise SystemExit(result.exit_code)
        if as_json:
            fail(_("--json needs --once"), EXIT_BAD_INPUT)

        def show(processed: ProcessedFile) -> None:
            click.echo(_line(processed))

        runner.watch(on_file=show)
        raise SystemExit(EXIT_OK)

    @inbox.command("undo")
    @click.argument("file_name", metavar="FILE")
    @_config_option
    @click.option("--dry-run", is_flag=True, help="Show what the undo would do; change nothing.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
    @click.option("--api-url", default=None, help="Dialer base URL (default: $VOICENTER_API_URL).")
    def undo_cmd(
        *, file_name: str, config_path: Path, dry_run: bool, yes: bool, as_json: bool,
        api_url: str | None,
    ) -> None:
        """Take back the import of FILE, a file in an inbox's done/ folder.

        Does what `lead-importer runs undo RUN` does for the run that imported it:
        removes the calls it added that are still pending and restores what it
        updated. The file stays in done/; the report goes to the inbox's reports/.
        """
        from importer.cli.undo_cmd import run_undo
        from importer.journal import Journal
        from importer.undo import UndoOptions, find_run_of_file

        config = load_inbox_config(config_path)
        settings = settings_from(config.settings_file, api_url, state_dir=config.state_dir)
        name = Path(file_name).name
        found = [i for i in config.inboxes if (i.folder("done") / name).is_file()]
        if not found:
            folders = ", ".join(str(i.folder("done")) for i in config.inboxes)
            raise ConfigError(
                f"{escape_controls(name)!r} is not in a done/ folder ({folders})"
            ).with_hint("Name a file that an inbox imported (it is then in its done/ folder).")
        inbox = found[0]
        state_dir = settings.resolved_state_dir()
        if not Journal.path_for(state_dir).exists():
            raise ConfigError(f"no imports are recorded in {state_dir}").with_hint("")
        with Journal.open(state_dir) as journal:
            run = find_run_of_file(journal, inbox.folder("done") / name)
        options = UndoOptions(
            run_id=run.run_id,
            campaign=None,
            dry_run=dry_run,
            report_dir=inbox.reports_dir,
            report_formats=frozenset(inbox.report_formats),
            state_dir=state_dir,
            language=inbox_language(inbox, settings, language_flag()),
        )
        run_undo(options, settings, yes=yes, as_json=as_json)

    @inbox.command("check")
    @_config_option
    @click.option("--api-url", default=None, help="Dialer base URL (default: $VOICENTER_API_URL).")
    @click.option("--json", "as_json", is_flag=True, help="Print the checks as one JSON object.")
    def check_cmd(*, config_path: Path, api_url: str | None, as_json: bool) -> None:
        """Check the set-up of the drop folders without touching any file.

        One line per check: the configuration, the API settings, the dialer and the
        account, the state folder, and per inbox its folders, mapping and campaign.
        Exit 0 when files would be imported, 2 when the configuration must be fixed,
        3 when the dialer or the account cannot be used.
        """
        try:
            config = load_inbox_config(config_path)
            settings = settings_from(config.settings_file, api_url, state_dir=config.state_dir)
        except ConfigError as exc:
            checks = [Check("config", "fail", redact(str(exc)),
                            "Correct inbox.yaml (or the settings file it names).", EXIT_BAD_INPUT)]
        else:
            checks = check_config(config, settings, config_path)
        code = worst_exit(checks)
        if as_json:
            echo_json({
                "exit_code": code,
                "checks": [
                    {"check": c.subject, "inbox": c.inbox, "level": c.level, "found": c.found,
                     "fix": c.fix, "exit_code": c.exit_code}
                    for c in checks
                ],
            })
        else:
            for check in checks:
                click.echo(_check_line(check))
            problems = sum(1 for c in checks if c.level == "fail")
            click.echo(
                _("{count} problem(s): files would wait in inbox/ until fixed (exit {code}).")
                .format(count=problems, code=code)
                if problems else _("All checks passed: dropped files will be imported.")
            )
        raise SystemExit(code)
