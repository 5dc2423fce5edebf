"""The command line: the only place that parses arguments, prints and picks exit codes.

Each command group lives in its own module with a ``register(group)`` function.
"""

from __future__ import annotations

import importlib

import click

from importer.cli._common import ImporterGroup, add_lang_option, run_cli

__all__ = ["cli", "main"]

# Which module defines each command: a command's module (and its heavy imports) is loaded only
# when that command runs, so `lead-importer import` does not pay for the emulator or the inbox.
_COMMANDS = {
    "emulator": "emulator_cmd",
    "campaigns": "api_cmds",
    "clear": "api_cmds",
    "details": "api_cmds",
    "members": "api_cmds",
    "pending": "api_cmds",
    "remove": "api_cmds",
    "settings": "api_cmds",
    "start": "api_cmds",
    "stop": "api_cmds",
    "inspect": "inspect_cmd",
    "mapping": "mapping_cmd",
    "import": "import_cmd",
    "hours": "hours_cmd",
    "history": "runs_cmd",
    "runs": "runs_cmd",
    "inbox": "inbox_cmd",
    "serve": "serve_cmd",
    "users": "serve_cmd",
}


class _LazyGroup(ImporterGroup):
    """Imports a command's module on first use (each module's ``register`` adds its commands)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, without importing anything."""
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module the first time."""
        module = _COMMANDS.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"importer.cli.{module}").register(self)
        command = self.commands.get(cmd_name)
        # `--lang` on every command too, so `lead-importer import FILE --lang he` works.
        return None if command is None else add_lang_option(command)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="lead-importer")
def cli() -> None:
    """Move sales leads from spreadsheets into Voicenter dialer campaigns."""


add_lang_option(cli)   # `lead-importer --lang he COMMAND ...`


def main() -> None:
    """Console-script entry point."""
    run_cli(cli)
