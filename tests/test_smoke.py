"""The package imports and the CLI answers --help."""

from __future__ import annotations

from click.testing import CliRunner

from importer.cli import cli


def test_cli_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Voicenter" in result.output


def test_public_api_names_all_resolve() -> None:
    import importer

    for name in importer.__all__:
        assert getattr(importer, name) is not None


def test_the_lazy_command_table_names_every_command_once() -> None:
    """A command added to a module must be listed in importer.cli._COMMANDS, and vice versa."""
    import importlib

    import click

    from importer.cli import _COMMANDS

    found: dict[str, str] = {}
    for module in sorted(set(_COMMANDS.values())):
        group = click.Group()
        importlib.import_module(f"importer.cli.{module}").register(group)
        for name in group.commands:
            found[name] = module
    assert found == _COMMANDS
