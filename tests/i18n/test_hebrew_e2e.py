"""Hebrew end to end: the CLI, the reports and the drop folder, against the emulator over HTTP."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from importer.cli import cli
from importer.emulator.server import EmulatorServer
from importer.i18n import FSI, PDI
from importer.report.writer import BASE_COLUMNS
from tests.phone_samples import valid_mobiles

MAPPING = """\
name: Test leads
phone:
  columns: [phone]
fields:
  CustomerName:
    column: name
"""


def _leads(path: Path) -> Path:
    good = valid_mobiles(2)
    rows = [["name", "phone"], ["Dana", good[0]], ["Ron", good[1]], ["Short", "12345"],
            ["Again", good[0]]]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _import(tmp_path: Path, *args: str, mapping: str = MAPPING) -> tuple[int, str, str]:
    (tmp_path / "mapping.yaml").write_text(mapping, encoding="utf-8")
    source = _leads(tmp_path / "leads.csv")
    result = CliRunner().invoke(
        cli,
        ["import", str(source), "--mapping", str(tmp_path / "mapping.yaml"), "--campaign",
         "Hot leads", "--report-dir", str(tmp_path / "reports"), "--state-dir",
         str(tmp_path / "state"), *args],
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def _report(tmp_path: Path, suffix: str) -> Path:
    [path] = (tmp_path / "reports").glob(f"*{suffix}")
    return path


def test_import_in_hebrew_console_xlsx_and_unchanged_contracts(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    code, out, err = _import(tmp_path, "--lang", "he")
    assert code == 0, err
    # The console: Hebrew words, the statuses by their Hebrew names.
    assert "4 שורות: נוסף: 2, כפול בקובץ: 1, טלפון לא תקין: 1" in out, out
    assert "מזהה הרצה:" in out
    assert "שורות לתיקון נמצאות בקובץ" in out   # the summary's notes too

    wb = load_workbook(_report(tmp_path, ".report.xlsx"))
    assert wb.sheetnames == ["סיכום", "שורות"]
    assert all(ws.sheet_view.rightToLeft for ws in wb.worksheets)
    summary = wb["סיכום"]
    assert summary["A1"].value == "דוח ייבוא לידים"
    labels = {row[0].value: row[1].value for row in summary.iter_rows() if row[0].value}
    assert labels["קובץ מקור"] == "leads.csv"
    assert labels["מצב"] == "הוספה"
    assert labels["נוסף"] == 2 and labels["טלפון לא תקין"] == 1
    header_row = next(r for r in summary.iter_rows(values_only=True) if r[0] == "סטטוס")
    assert header_row[:4] == ("סטטוס", "שורות", "משמעות", "קוד")   # the codes stay visible
    codes = {r[0]: r[3] for r in summary.iter_rows(values_only=True) if len(r) > 3 and r[3]}
    assert codes["נוסף"] == "added" and codes["לא ליד"] == "not_a_lead"
    assert summary._charts[0].title is not None  # the chart is kept (its title is translated)

    rows = wb["שורות"]
    header = [c.value for c in rows[1]]
    assert header[:6] == ["קובץ מקור", "גיליון", "שורה", "טלפון כפי שנכתב", "טלפון", "סטטוס"]
    assert "name" in header or "CustomerName" in header   # the file's own columns as they are
    statuses = sorted(str(r[5]) for r in rows.iter_rows(min_row=2, values_only=True))
    assert statuses == sorted(["נוסף", "נוסף", "טלפון לא תקין", "כפול בקובץ"])
    # The row colours compare the cell's text: the Hebrew names.
    formulas = [rule.formula[0] for rng in rows.conditional_formatting for rule in rng.rules]
    assert '$F2="נוסף"' in formulas

    # Machine contracts: the CSV header, status codes and JSON keys stay English.
    with _report(tmp_path, ".report.csv").open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.reader(fh))
    assert tuple(records[0][: len(BASE_COLUMNS)]) == BASE_COLUMNS
    assert {r[5] for r in records[1:]} == {"added", "invalid_phone", "duplicate_in_batch"}
    data = json.loads(_report(tmp_path, ".summary.json").read_text(encoding="utf-8"))
    assert data["counts"]["added"] == 2 and "source_file" in data


def test_english_stays_as_it_was(emulator_env: EmulatorServer, tmp_path: Path) -> None:
    code, out, _err = _import(tmp_path, "--lang", "en")
    assert code == 0
    assert "4 row(s): 2 added, 1 duplicate_in_batch, 1 invalid_phone" in out
    wb = load_workbook(_report(tmp_path, ".report.xlsx"))
    assert wb.sheetnames == ["Summary", "Rows"]
    assert not any(ws.sheet_view.rightToLeft for ws in wb.worksheets)   # Latin headers
    assert wb["Summary"]["A1"].value == "Lead import report"
    assert [c.value for c in wb["Rows"][1]][:6] == list(BASE_COLUMNS[:6])


def test_the_environment_chooses_hebrew_and_the_flag_wins(
    emulator_env: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "he_IL.UTF-8")
    _code, out, _err = _import(tmp_path)
    assert "נוסף: 2" in out
    missing = CliRunner().invoke(cli, ["import", str(tmp_path / "nope.csv"), "--lang", "en"])
    assert missing.exit_code == 2
    assert "Error: file(s) not found:" in missing.stderr


def test_mapping_beats_config_and_the_flag_beats_both(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("language: he\n", encoding="utf-8")
    english_mapping = MAPPING + "report:\n  language: en\n"
    runs = {name: tmp_path / name for name in ("mapping", "flag", "config")}
    for folder in runs.values():
        folder.mkdir()
    _code, out, _err = _import(runs["mapping"], "--config", str(config), mapping=english_mapping)
    assert " row(s): " in out and "שורות" not in out
    _code, out, _err = _import(runs["flag"], "--config", str(config), "--lang", "he",
                               mapping=english_mapping)
    assert " שורות: " in out
    _code, out, _err = _import(runs["config"], "--config", str(config))  # the mapping: nothing
    assert " שורות: " in out
    assert load_workbook(_report(runs["config"], ".report.xlsx")).sheetnames[0] == "סיכום"
    assert load_workbook(_report(runs["mapping"], ".report.xlsx")).sheetnames[0] == "Summary"


def test_errors_and_hints_in_hebrew(tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli, ["import", str(tmp_path / "אין.csv"), "--lang", "he"])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("שגיאה: הקובץ לא נמצא: ")
    assert f"{FSI}{tmp_path / 'אין.csv'}{PDI}" in missing.stderr   # the path keeps its order
    before = CliRunner().invoke(cli, ["--lang", "he", "import", str(tmp_path / "x.csv")])
    assert before.stderr.startswith("שגיאה: ")   # the group's option works as well
    hint = CliRunner().invoke(cli, ["campaigns", "--lang", "he"], env={
        "VOICENTER_ACCOUNT_CODE": "", "VOICENTER_API_URL": "http://127.0.0.1:9"})
    assert "כדי להציג את רשימת הקמפיינים צריך את קוד החשבון" in hint.stderr
    assert "איך מתקנים: זו בעיה בהגדרות" in hint.stderr
    bad_sheet = CliRunner().invoke(cli, ["import", "x.csv", "--sheet", "0", "--lang", "he"])
    assert "מספרי הגיליונות מתחילים ב-1" in bad_sheet.stderr


@pytest.mark.parametrize(("where", "text"), [
    ("settings.yaml", "language: klingon\n"),
    ("mapping.yaml", MAPPING + "report:\n  language: klingon\n"),
])
def test_an_unknown_language_is_one_clear_paragraph(
    emulator_env: EmulatorServer, tmp_path: Path, where: str, text: str
) -> None:
    (tmp_path / where).write_text(text, encoding="utf-8")
    args = ["--config", str(tmp_path / where)] if where == "settings.yaml" else []
    code, _out, err = _import(tmp_path, *args, mapping=text if where == "mapping.yaml" else MAPPING)
    assert code == 2
    assert str(tmp_path / where) in err and "language" in err
    assert 'unknown language "klingon"; choose one of: en, he' in err
    assert "Traceback" not in err


def test_unknown_lang_flag() -> None:
    result = CliRunner().invoke(cli, ["campaigns", "--lang", "fr"])
    assert result.exit_code == 2
    assert 'unknown language "fr"' in result.stderr
