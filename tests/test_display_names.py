"""ImportOptions.display_names: a file kept under another name (an upload) is named as people
know it in every report, file name, error and journal run (emulator over HTTP)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from importer.config import Settings
from importer.emulator.server import EmulatorServer
from importer.errors import ImporterError
from importer.journal import Journal
from importer.pipeline import ImportOptions, ProgressEvent, run_import
from importer.report import read_report_csv
from tests.phone_samples import valid_mobiles

MAPPING = """\
name: display names
phone:
  columns: [phone]
fields:
  CustomerName: {column: name}
dedupe:
  history_days: 0
"""

# XML 1.0 cannot hold these: an XLSX cell shows U+FFFD in their place, as for any cell.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

STORED = "3f9c0e5a1b2c4d6e.csv"  # the server's random name: must never reach a report

HOSTILE = [
    "leads march.csv",
    "../../etc/passwd",
    "a/b\\c.csv",
    "bad\x00name\x1b[31m\r\n.csv",
    "x" * 300 + ".csv",
    "לידים מרץ.csv",
    "..",
]


def _setup(tmp_path: Path, emulator: EmulatorServer) -> tuple[Path, Settings, ImportOptions]:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    stored = tmp_path / "uploads" / STORED
    stored.parent.mkdir()
    rows = [[f"lead {i}", phone] for i, phone in enumerate(valid_mobiles(5))]
    rows.append(["no phone", "12"])  # a reject: the rejects file is named after the file too
    with stored.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone"])
        out.writerows(rows)
    settings = Settings(
        api_url=emulator.base_url, account_code="demo", state_dir=tmp_path / "state",
        lock_dir=tmp_path / "locks",
    )
    options = ImportOptions(
        campaign="Hot leads",
        mapping_path=mapping,
        report_dir=tmp_path / "reports",
        report_formats=frozenset({"csv", "xlsx", "json"}),
    )
    return stored, settings, options


def _report_rows(paths: dict[str, Path]) -> list[dict[str, str]]:
    return read_report_csv(paths["csv"])


@pytest.mark.parametrize("display", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("engine", ["row", "columnar"])
def test_reports_journal_and_file_names_carry_the_display_name(
    emulator: EmulatorServer, tmp_path: Path, display: str, engine: str
) -> None:
    stored, settings, base = _setup(tmp_path, emulator)
    report_dir = base.report_dir
    events: list[ProgressEvent] = []
    options = ImportOptions(**{
        **{f: getattr(base, f) for f in base.__dataclass_fields__},
        "engine": engine,
        "display_names": {stored: display},
    })
    result = run_import([stored], options, settings, progress=events.append)
    (outcome,) = result.files
    assert outcome.path == stored
    assert outcome.summary.source_file == display

    # Every file written lies in the report folder, under a safe name made from the display
    # name's last part (as any odd file name's), never the stored name.
    written = sorted(report_dir.iterdir())
    assert {"csv", "xlsx", "json", "rejects"} <= set(outcome.reports)
    assert {p.resolve() for p in outcome.reports.values()} <= {p.resolve() for p in written}
    for path in written:
        assert path.resolve().parent == report_dir.resolve()
        assert STORED.split(".", maxsplit=1)[0] not in path.name
        assert not any(ch in path.name for ch in '/\\:*?"<>|') and path.name.isprintable()
        assert len(path.name.encode()) < 255 and not path.name.startswith(".")
    stem = outcome.reports["csv"].name.split(".")[0]
    if display == "leads march.csv":
        assert stem == "leads march"
    if display == "לידים מרץ.csv":
        assert stem == "לידים מרץ"
    if display == "../../etc/passwd":
        assert stem == "passwd"

    rows = _report_rows(outcome.reports)
    assert len(rows) == 6 and {r["source_file"] for r in rows} == {display}
    assert {r["status"] for r in rows} == {"added", "invalid_phone"}
    summary = json.loads(outcome.reports["json"].read_text(encoding="utf-8"))
    assert summary["source_file"] == display
    book = load_workbook(outcome.reports["xlsx"], read_only=True)
    try:
        facts = {
            r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if len(r) > 1 and r[0]
        }
        in_xml = _NOT_XML.sub("\ufffd", display)
        assert facts["Source file"] == in_xml
        header, *cells = list(book["Rows"].iter_rows(values_only=True))
        column = list(header).index("source_file")
        assert {row[column] for row in cells} == {in_xml}
    finally:
        book.close()
    assert outcome.reports["rejects"].name.startswith(stem + ".")

    with Journal.open(tmp_path / "state") as journal:
        run = journal.get_run(outcome.summary.run_id)
    assert run.source_file == display
    assert Path(run.source_path) == stored.resolve()  # resume finds the real file
    assert events and {e.file for e in events} == {display}


def test_both_engines_write_the_same_report_with_a_display_name(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    stored, settings, base = _setup(tmp_path, emulator)
    reports: dict[str, list[dict[str, str]]] = {}
    for engine in ("row", "columnar"):
        options = ImportOptions(
            campaign=base.campaign, mapping_path=base.mapping_path,
            report_dir=tmp_path / engine, report_formats=frozenset({"csv"}), dry_run=True,
            engine=engine, display_names={stored: "לידים.csv"},
        )
        (outcome,) = run_import([stored], options, settings).files
        rows = _report_rows(outcome.reports)
        reports[engine] = [{k: v for k, v in r.items() if k != "dial_after"} for r in rows]
        assert outcome.reports["csv"].name.startswith("לידים.")
    assert reports["row"] == reports["columnar"]
    assert {r["source_file"] for r in reports["row"]} == {"לידים.csv"}


def test_errors_about_a_file_name_its_display_name(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    stored, settings, base = _setup(tmp_path, emulator)
    stored.write_text("name,phone\n", encoding="utf-8")  # a header and no rows
    options = ImportOptions(
        campaign=base.campaign, mapping_path=base.mapping_path, report_dir=base.report_dir,
        display_names={stored: "March leads.csv"},
    )
    with pytest.raises(ImporterError) as caught:
        run_import([stored], options, settings)
    text = str(caught.value)
    assert "March leads.csv" in text and STORED.split(".", maxsplit=1)[0] not in text


def test_without_a_display_name_the_file_is_named_as_on_disk(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    stored, settings, base = _setup(tmp_path, emulator)
    (outcome,) = run_import([stored], base, settings).files
    assert {r["source_file"] for r in _report_rows(outcome.reports)} == {STORED}
    assert outcome.reports["csv"].name.startswith(STORED.split(".", maxsplit=1)[0] + ".")
