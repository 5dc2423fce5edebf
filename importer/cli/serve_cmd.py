"""``lead-importer serve`` and ``lead-importer users``: the web workspace and its users."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from importer.cli._common import fail, language_flag, settings_from
from importer.i18n import _
from importer.logs import configure_logging
from importer.redact import install_log_redaction

__all__ = ["register"]


def default_data_dir(config_file: Path | None) -> Path:
    """``<state dir>/web``: where the web workspace keeps its data by default."""
    return settings_from(config_file, None).resolved_state_dir() / "web"


def _users_file(users: Path | None, config_file: Path | None) -> Path:
    return users or default_data_dir(config_file) / "users.json"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep 127.0.0.1 behind a reverse proxy for HTTPS.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port (0: any free port).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="A YAML or .env file with VOICENTER_* settings.")
@click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The users file (default: DATA_DIR/users.json).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where uploads, reports and the web database live (default: STATE_DIR/web).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=200.0,
              show_default=True, help="Largest upload (all files of one upload together).")
@click.option("--keep-uploads-days", type=click.FloatRange(min=0.01), default=7.0,
              show_default=True, help="Uploaded files older than this are removed.")
@click.option("--inbox", "inbox_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="An inbox.yaml: the Upload page offers its recent files.")
@click.option("--trusted-proxies", default="127.0.0.1", show_default=True,
              help="Addresses whose X-Forwarded-For/-Proto headers are believed.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append the log here (default: stderr).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def serve_cmd(
    host: str,
    port: int,
    config_file: Path | None,
    users_file: Path | None,
    data_dir: Path | None,
    max_upload_mb: float,
    keep_uploads_days: float,
    inbox_file: Path | None,
    trusted_proxies: str,
    log_file: Path | None,
    log_format: str,
) -> None:
    """Serve the web workspace (upload, check the columns, preview, import, undo)."""
    from importer.inbox.config import load_inbox_config
    from importer.web.config import WebConfig
    from importer.web.server import WebServer

    configure_logging(level=logging.INFO, log_format="json" if log_format == "json" else "text",
                      log_file=log_file)
    install_log_redaction()
    settings = settings_from(config_file, None)
    folder = data_dir or settings.resolved_state_dir() / "web"
    config = WebConfig(
        settings=settings,
        data_dir=folder,
        users_file=users_file or folder / "users.json",
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        keep_uploads_days=keep_uploads_days,
        # The pages' language for a user who has chosen none: --lang, then the config's
        # `language:`; without either, each request's is the server's environment's.
        language=language_flag() or settings.language,
        inbox=load_inbox_config(inbox_file) if inbox_file is not None else None,
    )
    server = WebServer(config, host, port, trusted_proxies=trusted_proxies)
    if not config.users_file.exists():
        click.echo(_("No users yet: add one with `lead-importer users add NAME --users {path}`.",
                     path=config.users_file), err=True)
    click.echo(_("Serving the web workspace on {url}", url=server.url), err=True)
    sys.stderr.flush()
    server.serve_forever()


@click.group("users")
def users_group() -> None:
    """Add, remove and list the users of the web workspace."""


def _users_option(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="Settings file (for the default users file).")(func)
    return click.option(
        "--users", "users_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="The users file (default: STATE_DIR/web/users.json).",
    )(func)


@users_group.command("add")
@click.argument("name")
@_users_option
def users_add(name: str, users_file: Path | None, config_file: Path | None) -> None:
    """Add a user, or set a new password (asked for; read from stdin when it is not a terminal)."""
    from importer.web.users import UserStore

    if sys.stdin.isatty():
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    store = UserStore(_users_file(users_file, config_file))
    new = store.add(name, password)
    if new:
        click.echo(_("Added {name} to {path}.", name=name, path=store.path))
    else:
        click.echo(_("Changed the password of {name} in {path}.", name=name, path=store.path))


@users_group.command("remove")
@click.argument("name")
@_users_option
def users_remove(name: str, users_file: Path | None, config_file: Path | None) -> None:
    """Remove a user (their sessions end at their next request)."""
    from importer.errors import EXIT_BAD_INPUT
    from importer.web.users import UserStore

    store = UserStore(_users_file(users_file, config_file))
    if not store.remove(name):
        fail(_("there is no user {name} in {path}", name=name, path=store.path), EXIT_BAD_INPUT)
    click.echo(_("Removed {name} from {path}.", name=name, path=store.path))


@users_group.command("list")
@_users_option
def users_list(users_file: Path | None, config_file: Path | None) -> None:
    """List the users."""
    from importer.web.users import UserStore

    store = UserStore(_users_file(users_file, config_file))
    names = store.names()
    if not names:
        click.echo(_("No users in {path}.", path=store.path))
    for name in names:
        click.echo(name)


def register(group: click.Group) -> None:
    """Add ``serve`` and ``users``."""
    group.add_command(serve_cmd)
    group.add_command(users_group)
