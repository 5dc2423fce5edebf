"""Shared CLI plumbing: the error edge, output helpers, settings options."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from importer.config import Settings, load_settings
from importer.errors import (
    EXIT_API_UNUSABLE,
    EXIT_INTERNAL,
    EXIT_OK,
    ConfigError,
    ImporterError,
)
from importer.i18n import (
    LANGUAGES,
    N_,
    Lang,
    UnknownLanguageError,
    _,
    language_from_environment,
    parse_language,
    resolve_language,
    use_language,
)
from importer.outcomes import shown_note
from importer.plain_text import escape_controls
from importer.redact import install_log_redaction, redact
from importer.report import REPORT_FORMAT_NAMES, parse_report_formats

__all__ = [
    "ImporterGroup",
    "add_lang_option",
    "api_options",
    "choose_language",
    "echo_json",
    "fail",
    "language_flag",
    "report_format_option",
    "run_cli",
    "settings_from",
    "sheet_option",
    "show_error",
]

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("importer")


def sheet_option(value: str | None) -> str | int | None:
    """``--sheet``: a name, or a number counted from 1 as in mapping files (0-based inside)."""
    if value is None or value.strip().lower() == "auto":
        return None
    text = value.strip()
    if text.isdigit():
        if int(text) < 1:
            raise click.BadParameter(_("sheet numbers count from 1 (1 = the first sheet)"),
                                     param_hint="--sheet")
        return int(text) - 1
    return value


def now_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """``--now ISO``: a moment with its offset (a date alone is midnight in Israel)."""
    if value is None:
        return None
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            _("{value} is not a date and time like 2026-12-04T15:00+02:00", value=repr(value))
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Jerusalem"))
    return moment


def fail(message: str, exit_code: int) -> NoReturn:
    """Print one redacted paragraph to stderr and exit."""
    click.echo(_("Error: {message}").format(message=redact(message)), err=True)
    sys.exit(exit_code)


def show_error(exc: ImporterError, *, as_json: bool = False) -> None:
    """Print a library error: its message, then how to fix it (its hint), on stderr.

    Both in the language of the command (English when the catalogue has no translation).
    The hint is the one a drop folder's .error.txt note gives for the same error.
    """
    message = redact(exc.shown())
    hint = redact(exc.shown_hint())
    # Filled in after translating, not isolated: a whole paragraph takes the line's direction.
    click.echo(_("Error: {message}").format(message=message), err=True)
    if hint:
        click.echo(_("How to fix it: {hint}").format(hint=hint), err=True)
    if as_json:
        # A script reading stdout gets an answer too, not an empty stream; scripts read
        # English (the message's and the hint's English text), whatever the language.
        answer: dict[str, Any] = {"error": redact(str(exc)), "exit_code": exc.exit_code}
        if exc.hint:
            answer["hint"] = redact(exc.hint)
        echo_json(answer)


# --- the language of a command ---------------------------------------------------------

_LANG_KEY = "lead_importer.language"


def _lang_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--lang``: fixes the language for the whole command (it beats every file's)."""
    if value is None:
        return
    try:
        lang = parse_language(value)
    except UnknownLanguageError as exc:
        raise click.BadParameter(str(exc), param_hint="--lang") from None
    root = ctx.find_root()
    root.meta[_LANG_KEY] = lang
    # Reset when the whole command line is done (CliRunner runs many in one thread).
    root.with_resource(use_language(lang))


def _lang_param() -> click.Option:
    return click.Option(
        ["--lang"],
        metavar="|".join(LANGUAGES),
        default=None,
        expose_value=False,
        is_eager=True,   # before the other options: their errors are in this language
        callback=_lang_callback,
        help="The language of what people read (console, reports, notes): "
             + ", ".join(LANGUAGES) + ". Default: the mapping's, inbox.yaml's or config's "
             "`language:`, else $LC_MESSAGES/$LANG, else English.",
    )


def add_lang_option(command: click.Command) -> click.Command:
    """Give ``command`` (and, for a group, each of its commands) a ``--lang`` option."""
    if not any(p.name == "lang" for p in command.params):
        command.params.append(_lang_param())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_lang_option(sub)
    return command


def language_flag() -> Lang | None:
    """The language ``--lang`` asked for, if any."""
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.find_root().meta.get(_LANG_KEY)


def choose_language(*choices: str | None) -> Lang:
    """The command's language: ``--lang``, else the first of ``choices``, else $LANG's.

    ``choices`` are the files' ``language:`` in precedence order (mapping, inbox.yaml,
    config); the language stays in force until the command line is done.
    """
    root = click.get_current_context().find_root()
    flag: Lang | None = root.meta.get(_LANG_KEY)
    lang = flag or resolve_language(*choices)
    if flag is None:
        root.with_resource(use_language(lang))
    return lang


class ImporterGroup(click.Group):
    """A click group that turns library errors into one-paragraph messages and exit codes.

    Every command's ImporterError ends here (nested groups' too). Doing it here
    (not only in ``main``) means click's CliRunner sees the same output and exit
    codes as a user does.
    """

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; ImporterError becomes a message on stderr and its exit code."""
        # Read before invoking: click consumes the arguments as it parses them.
        # (ctx.args holds what follows the subcommand's name.)
        wants_json = "--json" in ctx.args
        if ctx.parent is None and _LANG_KEY not in ctx.meta:
            # Until a flag or a file says otherwise: the environment's ($LC_MESSAGES, $LANG).
            ctx.with_resource(use_language(language_from_environment(os.environ)))
        try:
            return super().invoke(ctx)
        except ImporterError as exc:
            show_error(exc, as_json=wants_json)
            ctx.exit(exc.exit_code)


def run_cli(group: click.Group) -> None:
    """Run the click group as a program: never a traceback, always a meaningful exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    try:
        code = group.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(_("Aborted."), err=True)
        sys.exit(EXIT_API_UNUSABLE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ImporterError as exc:
        show_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo(_("Interrupted."), err=True)
        sys.exit(EXIT_API_UNUSABLE)
    except Exception as exc:  # last resort: never show a traceback to a user
        log.debug("unexpected error", exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
        fail(
            _("unexpected internal error ({error}). Please report it with the command you ran.",
              error=error),
            EXIT_INTERNAL,
        )
    # The process is ending: the collector's last passes over every object left (~0.1 s
    # after a 1M-row run) would find nothing to do.  Files and locks are closed already.
    gc.freeze()
    sys.exit(code if isinstance(code, int) else EXIT_OK)


# What each report is, in words (English keeps the format keys scripts may read).
_REPORT_KINDS: dict[str, str] = {
    "csv": N_("csv"), "xlsx": N_("xlsx"), "json": N_("json"),
    "rejects": N_("rejects"), "rejects_xlsx": N_("rejects_xlsx"),
}


def echo_notes_and_reports(notes: Iterable[str], reports: Mapping[str, Path]) -> None:
    """The lines under a file's summary: its notes, then where each report went."""
    for note in notes:
        click.echo(_("  note: {note}").format(note=shown_note(note)))
    for fmt, path in reports.items():
        kind = _(_REPORT_KINDS[fmt]) if fmt in _REPORT_KINDS else fmt
        click.echo(_("  report ({format}): {path}").format(format=kind,
                                                           path=escape_controls(str(path))))


def echo_json(obj: Any) -> None:
    """Print one JSON object on stdout (UTF-8, Hebrew kept readable)."""
    click.echo(redact(json.dumps(obj, ensure_ascii=False, indent=2, default=str)))


def api_options(func: F) -> F:
    """Options shared by every command that talks to the API."""
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="A YAML or .env file with VOICENTER_* settings.",
    )(func)
    func = click.option(
        "--api-url", default=None, help="Dialer base URL (default: $VOICENTER_API_URL)."
    )(func)
    return func


def _report_formats(_ctx: click.Context, _param: click.Parameter, value: str) -> frozenset[str]:
    try:
        return parse_report_formats(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--report-format") from None


def report_format_option(func: F) -> F:
    """``--report-format csv,xlsx,json``: the command receives ``report_formats``, a frozenset."""
    names = ",".join(REPORT_FORMAT_NAMES)
    return click.option(
        "--report-format",
        "report_formats",
        default=names,
        show_default=True,
        callback=_report_formats,
        help=f"Comma-separated subset of {names}.",
    )(func)


def settings_from(config_file: Path | None, api_url: str | None, **extra: Any) -> Settings:
    """Load settings with CLI flags taking precedence (and the config's ``language:``)."""
    settings = load_settings(config_file, api_url=api_url, **extra)
    if click.get_current_context(silent=True) is not None:
        choose_language(settings.language)
    return settings
