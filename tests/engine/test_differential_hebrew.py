"""Both engines give byte-identical Hebrew reports: reasons rendered once per distinct value
(the columnar engine) or per distinct reason (the row engine) read the same.

The runs go through ``run_import`` with ``ImportOptions(language="he")``: every sample with
its own mapping and every corpus file with the mapping that uses most features, dry runs
against the emulator over HTTP. The CSV reports and rejects files must be the same bytes
(only the time stamp in their names differs) and the XLSX Rows sheets the same values.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from importer.config import Settings
from importer.emulator.server import EmulatorServer
from importer.errors import ImporterError
from importer.i18n import FSI, Lang, translate
from importer.pipeline import ImportOptions, run_import
from importer.report import read_report_csv
from tests.engine.corpus import BIG_FILE, SAMPLE_MAPPINGS, corpus_names
from tests.engine.differential import small_pieces, with_helper

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
_STAMP = re.compile(r"\d{8}T\d{6}Z(?:-\d+)?")
_HEBREW = re.compile(r"[\u0590-\u05ff]")


def _run(
    engine: str, source: Path, mapping: Path, folder: Path, server: EmulatorServer,
    language: Lang,
) -> tuple[str, dict[str, bytes], dict[str, list[list[object]]]]:
    """(error or "", report/rejects CSV name -> bytes, workbook name -> Rows sheet values)."""
    settings = Settings(api_url=server.base_url, account_code="demo",
                        state_dir=folder / "state", lock_dir=folder / "locks")
    options = ImportOptions(
        campaign="Hot leads", mapping_path=mapping, report_dir=folder / "reports",
        report_formats=frozenset({"csv", "xlsx"}), dry_run=True, engine=engine,  # type: ignore[arg-type]
        concurrency=1, language=language,
    )
    error = ""
    # The columnar runs hand their phones to a helper process: its reasons cross a pipe
    # (pickled) before they are shown in Hebrew.
    with (small_pieces() if engine == "columnar" else contextlib.nullcontext(),
          with_helper() if engine == "columnar" else contextlib.nullcontext()):
        try:
            run_import([source], options, settings)
        except ImporterError as exc:
            error = str(exc)
    texts = {_STAMP.sub("<STAMP>", p.name): p.read_bytes()
             for p in sorted((folder / "reports").glob("*.csv"))}
    books = {}
    for path in sorted((folder / "reports").glob("*.xlsx")):
        book = load_workbook(path, read_only=True)
        try:
            rows = translate(language, "Rows")   # the sheet's name in the report's language
            sheet = book[rows] if rows in book.sheetnames else book.worksheets[0]
            books[_STAMP.sub("<STAMP>", path.name)] = [
                list(r) for r in sheet.iter_rows(values_only=True)
            ]
        finally:
            book.close()
    return error, texts, books


def _cases() -> Iterator[tuple[str, str, str]]:
    for name, mapping in sorted(SAMPLE_MAPPINGS.items()):
        yield "sample", name, mapping
    for name in corpus_names():
        if name != BIG_FILE:
            yield "corpus", name, "everything.yaml"


@pytest.mark.parametrize(("kind", "name", "mapping"), list(_cases()),
                         ids=[f"{n}×{m}" for _, n, m in _cases()])
def test_both_engines_write_the_same_hebrew_reports(
    kind: str, name: str, mapping: str, corpus: dict[str, Path],
    shared_emulator: EmulatorServer, tmp_path: Path,
) -> None:
    source = ROOT / "sample_data" / name if kind == "sample" else corpus[name]
    mapping_path = (ROOT / "mappings" if kind == "sample" else HERE / "mappings") / mapping
    row = _run("row", source, mapping_path, tmp_path / "row", shared_emulator, "he")
    columnar = _run("columnar", source, mapping_path, tmp_path / "columnar", shared_emulator,
                    "he")
    assert row[0] == columnar[0]
    assert row[1].keys() == columnar[1].keys()
    for report, data in row[1].items():
        assert data == columnar[1][report], f"{name}: {report} differs between the engines"
    assert row[2] == columnar[2]
    if row[0]:
        return
    rows = read_report_csv(next(p for p in (tmp_path / "row" / "reports").glob("*.report.csv")))
    for r in rows:
        # A reason is shown in Hebrew with its code; a row without one has neither.
        assert bool(r["reason"]) == bool(r["reason_code"]), r
        if r["reason"] and r["reason_code"] not in {"api_rejected", "holiday"}:
            assert _HEBREW.search(r["reason"]) or r["reason"].startswith(FSI), r


def test_hebrew_and_english_reports_have_the_same_codes(
    corpus: dict[str, Path], shared_emulator: EmulatorServer, tmp_path: Path
) -> None:
    source = corpus["he_utf8_titles.csv"]
    mapping = HERE / "mappings" / "everything.yaml"
    he = _run("columnar", source, mapping, tmp_path / "he", shared_emulator, "he")
    en = _run("columnar", source, mapping, tmp_path / "en", shared_emulator, "en")
    he_rows = read_report_csv(next((tmp_path / "he" / "reports").glob("*.report.csv")))
    en_rows = read_report_csv(next((tmp_path / "en" / "reports").glob("*.report.csv")))
    assert [r["reason_code"] for r in he_rows] == [r["reason_code"] for r in en_rows]
    assert {r["reason_code"] for r in en_rows} - {""}, "the file gives no reason at all"
    assert [r["status"] for r in he_rows] == [r["status"] for r in en_rows]
    assert [r["reason"] for r in he_rows] != [r["reason"] for r in en_rows]
    assert he[1].keys() == en[1].keys()
