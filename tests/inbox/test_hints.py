"""Hints travel with errors: `import` prints the "how to fix it" the drop folder's note gives.

Both run the real import against the emulator: the CLI in-process with click's runner, the
drop folder through InboxRunner with the real run_import.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.config import Settings
from importer.emulator.server import EmulatorServer
from importer.errors import EncryptedFileError, MappingError
from importer.inbox import InboxRunner
from importer.inbox.config import load_inbox_config
from tests.inbox.conftest import write_config
from tests.sources.conftest import write_xlsx

NOTE_HEADING = "How to fix it\n-------------\n"
CLI_LABEL = "How to fix it: "


def locked_workbook(folder: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile  # test-only dependency

    plain = write_xlsx(folder / "plain.xlsx", [["name", "phone"], ["Dana", "0521234567"]])
    out = io.BytesIO()
    with plain.open("rb") as fh:
        OOXMLFile(fh).encrypt("secret", out)
    plain.unlink()
    path = folder / "locked.xlsx"
    path.write_bytes(out.getvalue())
    return path


def no_phone_column(folder: Path) -> Path:
    path = folder / "nophone.csv"
    path.write_text("name,email\nDana,d@x.co\n", encoding="utf-8")
    return path


def not_the_mappings_columns(folder: Path) -> Path:
    path = folder / "renamed.csv"
    path.write_text("name,phone number\nDana,0521234567\n", encoding="utf-8")
    return path


def write_mapping(folder: Path) -> Path:
    path = folder / "leads.yaml"
    path.write_text("phone: [Mobile]\nfields:\n  CustomerName: name\n", encoding="utf-8")
    return path


def cli_hint(source: Path, workdir: Path, mapping: Path | None) -> tuple[int, str]:
    args = [
        "import", str(source), "--campaign", "Hot leads", "--no-progress",
        "--report-dir", str(workdir / "reports"), "--state-dir", str(workdir / "state"),
    ]
    if mapping is not None:
        args += ["--mapping", str(mapping)]
    result = CliRunner().invoke(cli, args)
    hints = [
        line.removeprefix(CLI_LABEL)
        for line in result.stderr.splitlines()
        if line.startswith(CLI_LABEL)
    ]
    assert result.stderr.startswith("Error: "), result.output
    assert len(hints) == 1, result.stderr
    return result.exit_code, hints[0]


def note_hint(source: Path, root: Path, emulator: EmulatorServer, mapping: Path | None) -> str:
    inbox: dict[str, str] = {"name": "Leads", "path": ".", "campaign": "Hot leads"}
    if mapping is not None:
        inbox["mapping"] = str(mapping)
    root.mkdir()
    config = load_inbox_config(write_config(root, [inbox]))
    settings = Settings(
        api_url=emulator.base_url, account_code="demo",
        state_dir=root / "state", lock_dir=root / "locks",
    )
    runner = InboxRunner(config, settings)
    runner.prepare()
    dropped = root / "inbox" / source.name
    dropped.write_bytes(source.read_bytes())
    past = time.time() - 3600  # settled: older than settle_seconds
    os.utime(dropped, (past, past))
    result = runner.run_once()
    assert [f.outcome for f in result.files] == ["failed"]
    note = (root / "failed" / f"{source.name}.error.txt").read_text(encoding="utf-8-sig")
    return note.split(NOTE_HEADING, 1)[1].split("\n\n", 1)[0]


@pytest.mark.parametrize(
    ("make", "named_mapping", "expected"),
    [
        (locked_workbook, False, EncryptedFileError.default_hint),
        (no_phone_column, False, MappingError.AUTOMATIC_HINT),
        (not_the_mappings_columns, True, MappingError.COLUMNS_HINT),
    ],
    ids=["encrypted workbook", "automatic mapping", "named mapping"],
)
def test_import_prints_the_hint_of_the_drop_folder_note(
    emulator_env: EmulatorServer,
    tmp_path: Path,
    make: Callable[[Path], Path],
    named_mapping: bool,
    expected: str,
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    source = make(files)
    mapping = write_mapping(files) if named_mapping else None

    code, printed = cli_hint(source, tmp_path / "cli", mapping)
    noted = note_hint(source, tmp_path / "drop", emulator_env, mapping)

    assert code == 2
    assert printed == noted == expected
    sent = [r.method for r in emulator_env.request_log if r.method.lower().startswith("add")]
    assert sent == []


def test_encrypted_workbook_advice_is_given_once(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    source = locked_workbook(tmp_path)
    result = CliRunner().invoke(
        cli, ["import", str(source), "--campaign", "Hot leads", "--no-progress",
              "--state-dir", str(tmp_path / "state")],
    )
    assert result.exit_code == 2
    assert "password-protected" in result.stderr
    assert result.stderr.count("Encrypt with Password") == 1
