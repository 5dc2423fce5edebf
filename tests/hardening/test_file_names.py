"""A file's name never changes what an import does (issue #18.1).

The automatic mapping (``import`` without ``--mapping``, drop folders with
``mapping: auto``) once pasted the file name into YAML comment lines, so a name
holding a newline could add settings: ``mode: sync`` removed every pending call.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
import yaml

from importer.emulator.server import EmulatorServer
from importer.logs import TextFormatter
from importer.mapping import parse_mapping, suggest_mapping
from importer.mapping.suggest import AUTOMATIC_KEYS
from importer.plain_text import escape_controls
from importer.sources import open_source
from tests.inbox.test_e2e import (
    age,
    e164,
    env_for,
    il_mobiles,
    init,
    names,
    pending_e164,
    report_rows,
    run,
    write_leads,
)

pytestmark = pytest.mark.slow

ATTACK = 'leads\nmode: sync\nsync_confirm: true\nsync_max_remove_share: 1\ncampaign: "\n#.csv'
HOSTILE_NAMES = [
    ATTACK,
    "leads\r\nmode: sync\r\nsync_confirm: true.csv",
    "leads\u2028mode: sync\u2029sync_confirm: true.csv",  # YAML 1.1 line breaks
    "leads\x85mode: sync.csv",  # NEL, another YAML 1.1 line break
    "ordinary\nnewline.csv",
    "leads \"quoted\" and 'single'.csv",
    "# leads #1 # comment.csv",
    "leads: mode: sync.csv",
    "---\n...\n--- leads.csv",
    "%YAML 1.1 !!python-object &a *a leads.csv",
    "leads\u202egpj.exe.csv",  # right-to-left override
    "..\\..\\leads.csv",
    "..leads.csv",
    "{leads} [1], {2}.csv",
]


def test_a_suggested_mapping_holds_only_what_the_file_says(tmp_path: Path) -> None:
    for number, name in enumerate(HOSTILE_NAMES):
        path = tmp_path / name
        write_leads(path, il_mobiles(2, start=number))
        text = suggest_mapping(path)
        data = yaml.safe_load(text)
        assert set(data) <= set(AUTOMATIC_KEYS), name
        assert "mode" not in data and "campaign" not in data
        assert not any(key.startswith("sync") for key in data)
        mapping = parse_mapping(text)
        assert mapping.mode is None and mapping.sync_confirm is False
        assert mapping.phone.columns == ["Mobile"]
        for line in text.splitlines():  # every comment line is one whole comment line
            assert line == "" or line.startswith(("#", " ")) or ":" in line


def test_hostile_headers_stay_data(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    headers = ["Mobile", "name\nmode: sync", "x: y # z", "--- ...", "{brace}", "a\u2028b"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for phone in il_mobiles(3):
            writer.writerow([phone, "Dana", "v", "w", "q", "r"])
    text = suggest_mapping(path)
    mapping = parse_mapping(text)
    assert mapping.mode is None
    data = yaml.safe_load(text)
    assert set(data) <= set(AUTOMATIC_KEYS)
    columns = {str(spec["column"] if isinstance(spec, dict) else spec)
               for spec in data.get("custom_data", {}).values()}
    with open_source(path) as source:  # the reader folds line breaks inside headers
        assert columns <= set(source.info.columns)
    assert len(columns) == 5


def test_hostile_names_import_like_ordinary_files_and_remove_nothing(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator, tmp_path)
    # Calls already pending, which a sync would remove.
    before_file = tmp_path / "before.csv"
    write_leads(before_file, il_mobiles(30, start=90))
    first = run(["import", str(before_file), "--campaign", "Hot leads", "--report-dir",
                 str(tmp_path / "r0")], env)
    assert first.returncode == 0, first.stderr
    before = set(pending_e164(emulator))
    assert len(before) == 30

    # `import` without --mapping, every hostile name in one run.
    files = tmp_path / "in"
    files.mkdir()
    paths = []
    for number, name in enumerate(HOSTILE_NAMES):
        path = files / name
        write_leads(path, il_mobiles(3, start=number))
        paths.append(str(path))
    result = run(["import", *paths, "--campaign", "Hot leads", "--report-dir",
                  str(tmp_path / "r1")], env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    expected = before | {e164(p) for n in range(len(HOSTILE_NAMES)) for p in il_mobiles(3, n)}
    assert set(pending_e164(emulator)) == expected
    assert sorted(pending_e164(emulator)) == sorted(expected)  # each once
    rows = report_rows(tmp_path / "r1")
    # the CSV formula guard writes "---..." as "'---..."
    assert {r["source_file"].removeprefix("'") for r in rows} == set(HOSTILE_NAMES)
    assert {r["status"] for r in rows} == {"added"}
    assert not any(r.method.lower() in {"removecall", "clearcampaigncalls"}
                   for r in emulator.request_log)


def test_a_drop_folder_with_hostile_names_removes_nothing(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator, tmp_path)
    root = tmp_path / "leads"
    config = init(root, env)  # mapping: auto
    pre = root / "inbox" / "first.csv"
    write_leads(pre, il_mobiles(20, start=80))
    age(pre)
    assert run(["inbox", "run", "--config", str(config), "--once"], env).returncode == 0
    before = set(pending_e164(emulator))
    assert len(before) == 20
    for number, name in enumerate(HOSTILE_NAMES):
        path = root / "inbox" / name
        write_leads(path, il_mobiles(3, start=number))
        age(path)
    result = run(["inbox", "run", "--config", str(config), "--once"], env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # A name starting with "." is a hidden or temporary file: it stays, and the log says why.
    hidden = {name for name in HOSTILE_NAMES if name.startswith(".")}
    assert sorted(names(root / "done")) == sorted(["first.csv", *set(HOSTILE_NAMES) - hidden])
    assert set(names(root / "inbox")) == hidden
    for name in hidden:
        assert f"{name} is not imported: a name starting with '.'" in result.stderr
    for line in result.stdout.splitlines():  # one line per file, whatever its name
        assert line.split()[0] == "done"
    expected = before | {
        e164(p)
        for n, name in enumerate(HOSTILE_NAMES)
        if name not in hidden
        for p in il_mobiles(3, n)
    }
    assert sorted(pending_e164(emulator)) == sorted(expected)
    assert not any(r.method.lower() in {"removecall", "clearcampaigncalls"}
                   for r in emulator.request_log)
    statuses = {r["status"] for r in report_rows(root / "reports")}
    assert statuses == {"added"}


def test_a_file_name_cannot_forge_a_log_line() -> None:
    record = logging.LogRecord(
        "importer", logging.INFO, __file__, 1, "imported %s: %d rows", (ATTACK, 3), None
    )
    line = TextFormatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line
    assert line == f"INFO imported {escape_controls(ATTACK)}: 3 rows"
    assert escape_controls("דנה\u202e") == "דנה\\u202e"
