"""No words for people outside the catalogue in the modules that speak to them (docs/i18n.md)."""

from __future__ import annotations

from pathlib import Path

from importer.i18n.strings_check import check_file, check_files

ROOT = Path(__file__).resolve().parents[2]

#: The translated modules: a literal shown to people must be inside _() or N_().
TRANSLATED = [
    "importer/cli/__init__.py",
    "importer/cli/_common.py",
    "importer/cli/import_cmd.py",
    "importer/cli/inbox_cmd.py",
    "importer/cli/serve_cmd.py",
    "importer/cli/undo_cmd.py",
    "importer/report/xlsx.py",
    "importer/report/writer.py",
    "importer/inbox/notify.py",
    "importer/inbox/runner.py",
]
#: Commands whose own output is still English (docs/i18n.md lists them); their errors,
#: hints and the shared output of _common.py are translated.  Move a module up when it is.
NOT_YET = [
    "importer/cli/api_cmds.py",
    "importer/cli/emulator_cmd.py",
    "importer/cli/hours_cmd.py",
    "importer/cli/inspect_cmd.py",
    "importer/cli/mapping_cmd.py",
    "importer/cli/runs_cmd.py",
]


def test_every_cli_module_is_listed() -> None:
    listed = {p for p in TRANSLATED + NOT_YET if p.startswith("importer/cli/")}
    assert listed == {str(p.relative_to(ROOT)) for p in (ROOT / "importer/cli").glob("*.py")}


def test_translated_modules_show_people_only_catalogue_words() -> None:
    findings = check_files([ROOT / p for p in TRANSLATED], ROOT)
    assert not findings, "\n".join(map(str, findings))


def test_the_check_finds_what_it_should_and_nothing_else(tmp_path: Path) -> None:
    module = tmp_path / "speaks.py"
    module.write_text(
        'import click\n'
        'def shown(n, cell, ws, chart, Block, log):\n'
        '    click.echo(f"{n} rows imported")\n'                          # 3: found
        '    click.echo(_("{n} rows").format(n=n) + " left")\n'            # 4: " left"
        '    click.echo(_("{n} rows").format(n=n))\n'
        '    click.echo("  " + "-----" + ": ")\n'                          # no letters
        '    cell("Total", "D9E1F2", bold=True)\n'                         # 7: "Total" only
        '    cell(N_("Total"), "D9E1F2")\n'
        '    ws.create_sheet("Rows")\n'                                    # 9: found
        '    chart.title = "Rows per status"\n'                            # 10: found
        '    Block("text", "hello")\n'                                     # 11: "hello" only
        '    message = "x" if n else _("y")\n'                             # 12: found
        '    message = "Imported." if n else _("y")\n'                     # 13: found
        '    lines.append("How to fix it")\n'                              # 14: found
        '    log.warning("inbox %r: not for people", n)\n'
        '    raise click.BadParameter("bad value", param_hint="--sheet")\n'  # 16: "bad value"
        '    click.echo("lead-importer")  # i18n: ok (the program name)\n'
        '    """A docstring is not shown."""\n',
        encoding="utf-8",
    )
    found = [(f.line, f.text) for f in check_file(module)]
    assert found == [
        (3, " rows imported"), (4, " left"), (7, "Total"), (9, "Rows"),
        (10, "Rows per status"), (11, "hello"), (12, "x"), (13, "Imported."),
        (14, "How to fix it"), (16, "bad value"),
    ]
