"""The command line: the only place that parses arguments, prints and picks exit codes.

Each command group lives in its own module with a ``register(group)`` function.
"""

from __future__ import annotations

import importlib

import click

from importer.cli._common import ImporterGroup, run_cli

__all__ = ["cli", "main"]

_COMMAND_MODULES = (
    "emulator_cmd",
    "api_cmds",
    "inspect_cmd",
    "mapping_cmd",
    "import_cmd",
    "runs_cmd",
    "inbox_cmd",
)


@click.group(
    cls=ImporterGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="lead-importer")
def cli() -> None:
    """Move sales leads from spreadsheets into Voicenter dialer campaigns."""


for _name in _COMMAND_MODULES:
    importlib.import_module(f"importer.cli.{_name}").register(cli)


def main() -> None:
    """Console-script entry point."""
    run_cli(cli)
