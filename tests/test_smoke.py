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
