"""``lead-importer emulator``: run the local Dialer API emulator until Ctrl-C / SIGTERM."""

from __future__ import annotations

import ipaddress
import logging
import os
import shlex
import sqlite3
import sys
import threading
from pathlib import Path

import click

from importer.cli._common import fail
from importer.config import DEFAULT_SETTINGS_METHOD
from importer.emulator.faults import FaultConfig
from importer.emulator.server import (
    DEMO_AGENT_CAMPAIGN,
    DEMO_MEMBERS,
    DEMO_SMART_CAMPAIGN,
    EmulatorServer,
    default_db_path,
    install_stop_signals,
)
from importer.errors import EXIT_BAD_INPUT

__all__ = ["emulator_command", "register"]


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _env_line(name: str, value: str) -> str:
    if os.name == "nt":
        return f"set {name}={value}"
    return f"export {name}={shlex.quote(value)}"


def _describe_faults(faults: FaultConfig) -> str:
    parts = []
    if faults.latency_ms:
        parts.append(f"latency {faults.latency_ms} ms")
    if faults.fail_rate:
        parts.append(f"HTTP 500 on {faults.fail_rate:.0%}")
    if faults.ambiguous_rate:
        parts.append(f"dropped answers on {faults.ambiguous_rate:.0%} of writes")
    if faults.rate_limit:
        parts.append(f"rate limit {faults.rate_limit:g}/s")
    if faults.dial_rate:
        parts.append(f"dialling {faults.dial_rate:g} calls/s per enabled campaign")
    if faults.methods is not None and parts:
        parts.append("only for " + ", ".join(sorted(faults.methods)))
    return "; ".join(parts) or "none"


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file holding the emulator's state (default: the per-user data directory).",
)
@click.option("--demo", is_flag=True, help="Create the demo account and campaigns if missing.")
@click.option("--seed", type=int, default=None, help="Seed for reproducible fault injection.")
@click.option("--latency-ms", type=click.IntRange(min=0), default=0, help="Delay every answer.")
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests answered HTTP 500 (nothing stored).",
)
@click.option(
    "--ambiguous-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of writes applied and then left unanswered (connection closed).",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Requests per second before HTTP 429 with Retry-After.",
)
@click.option(
    "--dial-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Calls per second each enabled campaign dials (consumes pending calls).",
)
@click.option(
    "--fault-methods",
    default=None,
    metavar="M1,M2",
    help="Inject faults only into these API methods (comma-separated).",
)
@click.option(
    "--request-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append every request as received (JSON lines, secrets included) to this file.",
)
@click.option(
    "--settings-method",
    default=DEFAULT_SETTINGS_METHOD,
    show_default=True,
    help="Name of the smart-dialer settings method (missing from the vendor page).",
)
@click.option("--allow-remote", is_flag=True, help="Allow listening on a non-loopback address.")
@click.option("-v", "--verbose", is_flag=True, help="Log each request's method and status.")
def emulator_command(
    *,
    host: str,
    port: int,
    db_path: Path | None,
    demo: bool,
    seed: int | None,
    latency_ms: int,
    fail_rate: float,
    ambiguous_rate: float,
    rate_limit: float | None,
    dial_rate: float | None,
    fault_methods: str | None,
    request_log: Path | None,
    settings_method: str,
    allow_remote: bool,
    verbose: bool,
) -> None:
    """Run a local emulator of the Voicenter Dialer API (a test tool)."""
    if not _is_loopback(host) and not allow_remote:
        raise click.UsageError(
            f"refusing to listen on {host}: the emulator is a test tool. "
            "Use a loopback address, or add --allow-remote if you really mean it."
        )
    methods: list[str] | None = None
    if fault_methods:
        methods = [m.strip() for m in fault_methods.split(",") if m.strip()]
    if not settings_method.strip() or not settings_method.isidentifier():
        raise click.UsageError("--settings-method must be a method name such as UpdateCampaign")
    faults = FaultConfig(
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        ambiguous_rate=ambiguous_rate,
        rate_limit=rate_limit,
        dial_rate=dial_rate,
        methods=methods,
    )
    db = db_path or default_db_path()
    try:
        server = EmulatorServer(
            db_path=db,
            host=host,
            port=port,
            faults=faults,
            seed=seed,
            settings_method=settings_method,
            request_log_path=request_log,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except (OSError, sqlite3.Error) as exc:
        fail(f"cannot open the emulator database {db}: {exc}", EXIT_BAD_INPUT)
    if methods:
        unknown = [m for m in methods if server.app.route(m) is None]
        if unknown:
            server.stop()
            known = ", ".join(spec.name for spec in server.app.methods.values())
            raise click.UsageError(
                f"--fault-methods: unknown method(s) {', '.join(unknown)}; known: {known}"
            )
    if verbose:
        logging.getLogger("importer.emulator").setLevel(logging.INFO)
    try:
        server.start()
    except OSError as exc:
        server.stop()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_BAD_INPUT)

    _print_banner(server, demo, faults)
    stop = threading.Event()
    install_stop_signals(stop)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    click.echo("Emulator stopped.")


def _print_banner(server: EmulatorServer, demo: bool, faults: FaultConfig) -> None:
    """Print where to reach the emulator and the environment lines to copy."""
    seeded = server.seed_demo() if demo else None
    click.echo(f"Voicenter Dialer API emulator listening on {server.base_url}")
    click.echo(f"State: {server.db_path}")
    click.echo(f"Faults: {_describe_faults(faults)}")
    if server.app.settings_method != DEFAULT_SETTINGS_METHOD:
        click.echo(f"Settings method: {server.app.settings_method}")
    click.echo("Environment lines to copy:")
    click.echo(_env_line("VOICENTER_API_URL", server.base_url))
    if seeded is not None:
        click.echo(_env_line("VOICENTER_ACCOUNT_CODE", seeded.account_code))
        click.echo(_env_line("VOICENTER_CAMPAIGN", DEMO_SMART_CAMPAIGN))
        click.echo(
            f'Demo account "{seeded.account_code}": campaigns "{DEMO_SMART_CAMPAIGN}" '
            f'(smart dialer) and "{DEMO_AGENT_CAMPAIGN}" (agent dialer, '
            f"{len(DEMO_MEMBERS)} members)."
        )
    click.echo("Press Ctrl-C to stop.")
    sys.stdout.flush()


def register(group: click.Group) -> None:
    """Add the ``emulator`` command to the CLI group."""
    group.add_command(emulator_command)
