"""Reasons in Hebrew, end to end against the emulator over HTTP (issue 14).

* a Hebrew dry run and real import of a sample: the CSV ``reason`` is Hebrew, the
  ``reason_code`` the same as the English run's, the rejects file too;
* every reason the samples and the corpus produce is made of declared kinds, each with a
  Hebrew translation: no note is a bare ``text`` (English words shown as they are);
* the journal keeps a reason's notes: the "already imported" report rebuilt from it is
  Hebrew too, and rows of journals written before that show their English text.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from importer.config import Settings
from importer.emulator.server import EmulatorServer
from importer.errors import ImporterError
from importer.i18n import FSI, PDI, Lang
from importer.i18n.catalogue import lookup
from importer.i18n.reasons import KINDS, Reason
from importer.journal import Journal
from importer.journal.schema import MIGRATIONS
from importer.outcomes import RowResult, Status
from importer.pipeline import ImportOptions, run_import
from importer.report import ReportWriter, read_report_csv
from tests.engine.corpus import BIG_FILE, SAMPLE_MAPPINGS, build_corpus, corpus_names

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "crm_export_he.csv"
SAMPLE_MAPPING = ROOT / "mappings" / "hebrew-crm.yaml"
EVERYTHING = ROOT / "tests" / "engine" / "mappings" / "everything.yaml"
_HEBREW = re.compile(r"[\u0590-\u05ff]")


def _import(
    server: EmulatorServer, folder: Path, source: Path, mapping: Path, language: Lang,
    *, dry_run: bool = False, engine: str = "auto", formats: frozenset[str] = frozenset({"csv"}),
) -> dict[str, Path]:
    settings = Settings(api_url=server.base_url, account_code="demo",
                        state_dir=folder / "state", lock_dir=folder / "locks")
    options = ImportOptions(
        campaign="Hot leads", mapping_path=mapping, report_dir=folder / f"reports-{language}",
        report_formats=formats, dry_run=dry_run, engine=engine,  # type: ignore[arg-type]
        concurrency=1, language=language,
    )
    result = run_import([source], options, settings)
    return result.files[0].reports


def _rows(reports: dict[str, Path], key: str = "csv") -> list[dict[str, str]]:
    return read_report_csv(reports[key])


def test_hebrew_dry_run_and_import_give_hebrew_reasons_with_the_english_codes(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    en_dry = _rows(_import(emulator, tmp_path / "en", SAMPLE, SAMPLE_MAPPING, "en", dry_run=True))
    he_dry = _rows(_import(emulator, tmp_path / "he", SAMPLE, SAMPLE_MAPPING, "he", dry_run=True))
    assert [r["reason_code"] for r in he_dry] == [r["reason_code"] for r in en_dry]
    assert {"no_phone", "not_allocated_block", "duplicate_in_batch"} <= {
        r["reason_code"] for r in en_dry
    }
    for en, he in zip(en_dry, he_dry, strict=True):
        assert bool(en["reason"]) == bool(he["reason"]) == bool(en["reason_code"])
        if en["reason"]:
            assert _HEBREW.search(he["reason"]), he
            assert not _HEBREW.search(re.sub(r"'[^']*'", "", en["reason"])), en  # bar names
    missing = next(r for r in he_dry if r["reason_code"] == "no_phone")
    assert missing["reason"].startswith("אין מספר טלפון בעמודות")

    reports = _import(emulator, tmp_path / "he", SAMPLE, SAMPLE_MAPPING, "he",
                      formats=frozenset({"csv", "xlsx"}))
    real = _rows(reports)
    assert [r["reason_code"] for r in real if r["status"] != "added"] == [
        r["reason_code"] for r in he_dry if r["status"] != "would_add"
    ]
    # The rejects file: the reason in Hebrew, then its code, then the source row.
    rejects = read_report_csv(reports["rejects"])
    header = list(rejects[0])
    assert header[-3:] == ["reason", "reason_code", "source_row"]
    assert all(_HEBREW.search(r["reason"]) and r["reason_code"] in KINDS for r in rejects)

    # Imported again in Hebrew: nothing is sent, the report is rebuilt from the journal,
    # its reasons rendered in Hebrew from the notes the journal kept.
    again = _rows(_import(emulator, tmp_path / "he", SAMPLE, SAMPLE_MAPPING, "he"))
    assert [(r["status"], r["reason"], r["reason_code"]) for r in again] == [
        (r["status"], r["reason"], r["reason_code"]) for r in real
    ]


def test_an_english_run_rebuilt_in_hebrew_from_the_journal(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    en = _rows(_import(emulator, tmp_path, SAMPLE, SAMPLE_MAPPING, "en"))
    he = _rows(_import(emulator, tmp_path, SAMPLE, SAMPLE_MAPPING, "he"))  # already imported
    assert [r["reason_code"] for r in he] == [r["reason_code"] for r in en]
    assert any(r["reason"] for r in he)
    for en_row, he_row in zip(en, he, strict=True):
        if en_row["reason"]:
            assert he_row["reason"] != en_row["reason"] and _HEBREW.search(he_row["reason"])


def _walk(reason: str, where: str) -> Iterator[str]:
    """Every kind's code in a reason (nested ones too); fails on text outside a kind."""
    assert isinstance(reason, Reason), f"{where}: a reason made outside a ReasonKind: {reason!r}"
    for kind, values in reason.notes:
        assert kind.code != "text", f"{where}: English text kept as it is: {reason!r}"
        assert KINDS.get(kind.code) is kind
        assert lookup("he", kind.english, kind.code), f"{kind.code}: no Hebrew translation"
        yield kind.code
        for _key, value in values:
            if isinstance(value, Reason):
                yield from _walk(value, where)


def _journal_codes(state: Path, label: str) -> set[str]:
    codes: set[str] = set()
    with Journal.open(state) as journal:
        for run in journal.list_runs():
            for row in journal.rows(run.run_id):
                if row.reason:
                    codes |= set(_walk(row.reason, f"{label} row {row.row}"))
    return codes


def _sources(corpus: dict[str, Path]) -> Iterator[tuple[str, Path, Path]]:
    for name, mapping in sorted(SAMPLE_MAPPINGS.items()):
        yield name, ROOT / "sample_data" / name, ROOT / "mappings" / mapping
    for name in corpus_names():
        if name != BIG_FILE:
            yield name, corpus[name], EVERYTHING


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The differential tests' corpus, written once for this module."""
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def test_every_reason_of_the_samples_and_the_corpus_is_a_translated_kind(
    emulator: EmulatorServer, corpus: dict[str, Path], tmp_path: Path
) -> None:
    """Real imports (the journal keeps every row's reason with its notes), twice each: the
    second run adds the duplicates' reasons.  A reason built by pasting text fails here."""
    seen: set[str] = set()
    for name, source, mapping in _sources(corpus):
        state = tmp_path / name
        for _attempt in range(2):
            try:
                _import(emulator, state, source, mapping, "he", engine="row")
            except ImporterError:
                break   # a mapping that does not bind to the file: no rows
        seen |= _journal_codes(state / "state", name)
    # The corpus is meant to hit the phone problems, the not-a-lead rows and dedupe.
    # The files are meant to hit phone problems, field notes, not-a-lead rows and dedupe.
    assert {"no_phone", "not_allocated_block", "too_short", "star_code", "type_not_allowed",
            "scientific_notation", "extra_cells", "originate_unreadable", "field_default",
            "blank_row", "group_title", "duplicate_in_batch", "duplicate_pending",
            "suppressed"} <= seen, " ".join(sorted(seen))


def test_a_journal_from_before_reason_notes_shows_its_english_text(tmp_path: Path) -> None:
    """Rows of a version-4 journal have no notes: English text, code "text", in Hebrew too."""
    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / "journal.sqlite3")
    for version in range(1, 5):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("PRAGMA application_id=0x4C494D50")
    conn.execute("PRAGMA user_version=4")
    conn.execute(
        "INSERT INTO runs (run_id, file_sha256, mapping_sha256, campaign_key, mode, "
        "source_file, source_path, campaign_name, mapping_name, dry_run, started_at, "
        "finished_at, outcome) VALUES ('20261101-090000-ab12', 'f', 'm', 'c', 'append', "
        "'old.csv', '/old.csv', 'Hot leads', 'm', 0, '2026-11-01T09:00:00Z', "
        "'2026-11-01T09:01:00Z', 'finished')"
    )
    conn.execute(
        "INSERT INTO run_rows (run_id, seq, sheet, row, phone_raw, phone, status, reason, "
        "fields_json) VALUES ('20261101-090000-ab12', 0, NULL, 2, '12', '', 'invalid_phone', "
        "'too short for an Israeli number (2 digits after the prefix)', '{}')"
    )
    conn.commit()
    conn.close()
    with Journal.open(state) as journal:
        (row,) = list(journal.regenerate_report_rows("20261101-090000-ab12"))
        assert row.reason == "too short for an Israeli number (2 digits after the prefix)"
        assert not isinstance(row.reason, Reason)
        texts = _written(tmp_path, row, "he")
    assert texts["reason"] == f"{FSI}{row.reason}{PDI}"
    assert texts["reason_code"] == "text"


def _written(folder: Path, row: RowResult, language: Lang) -> dict[str, Any]:
    writer = ReportWriter(folder / "reports", "old.csv", formats=frozenset({"csv"}),
                          language=language)
    with writer:
        writer.write(row)
    return read_report_csv(writer.paths["csv"])[0]


def test_a_reason_is_rendered_once_per_run(tmp_path: Path) -> None:
    from importer.dedupe import DUPLICATE_IN_BATCH

    writer = ReportWriter(tmp_path, "x.csv", formats=frozenset({"csv"}), language="he")
    with writer:
        for i in range(3):
            writer.write(RowResult("x.csv", None, i + 2, "050", "+972501234567",
                                   Status.DUPLICATE_IN_BATCH, DUPLICATE_IN_BATCH, None, "c", {}))
    first, *rest = [writer.reason_texts(DUPLICATE_IN_BATCH) for _ in range(3)]
    assert all(r is first for r in rest)
    assert first == ("המספר כבר הופיע קודם בריצה הזו, ולכן לא נוסף שוב", "duplicate_in_batch")
    assert {r["reason"] for r in read_report_csv(writer.paths["csv"])} == {first[0]}


def test_docs_list_every_reason_code() -> None:
    import importer.pipeline
    import importer.undo  # noqa: F401 - with the pipeline, every module that declares kinds

    listed = (ROOT / "docs" / "reasons.md").read_text(encoding="utf-8")
    missing = [code for code in KINDS if f"| `{code}` |" not in listed]
    assert not missing, f"docs/reasons.md lacks {missing}"


def test_a_run_resumed_in_hebrew_shows_the_first_attempt_s_reasons_in_hebrew(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    """The rows an interrupted attempt settled come back from the journal with their notes."""
    import csv
    import threading

    from importer.errors import RunInterruptedError
    from importer.pipeline import ProgressEvent
    from tests.phone_samples import valid_mobiles

    numbers = valid_mobiles(20)
    source = tmp_path / "leads.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone", "score"])
        out.writerow(["First", numbers[0], "hot"])
        out.writerow(["Again", numbers[0], "warm"])          # duplicate_in_batch, in chunk 1
        out.writerow(["Odd", numbers[1], "lukewarm"])        # a Priority note
        out.writerows([[f"L{i}", n, "hot"] for i, n in enumerate(numbers[2:])])
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "name: resume\nphone: {columns: [phone]}\nfields:\n  CustomerName: {column: name}\n"
        "  Priority: {column: score, map: {hot: 10, warm: 5}, default: 1}\n"
        "dedupe: {history_days: 0}\n", encoding="utf-8",
    )
    settings = Settings(api_url=emulator.base_url, account_code="demo",
                        state_dir=tmp_path / "state", lock_dir=tmp_path / "locks")
    cancel = threading.Event()

    def progress(event: ProgressEvent) -> None:
        if event.done >= 5:
            cancel.set()

    first = ImportOptions(campaign="Hot leads", mapping_path=mapping, engine="row",
                          report_dir=tmp_path / "first", report_formats=frozenset({"csv"}),
                          chunk_size=3, concurrency=1, language="en")
    with pytest.raises(RunInterruptedError):
        run_import([source], first, settings, progress=progress, cancel=cancel)
    resumed = ImportOptions(campaign="Hot leads", mapping_path=mapping, engine="row",
                            report_dir=tmp_path / "resumed", report_formats=frozenset({"csv"}),
                            chunk_size=3, concurrency=1, language="he")
    result = run_import([source], resumed, settings)
    rows = {r["row"]: r for r in read_report_csv(result.files[0].reports["csv"])}
    assert rows["3"]["status"] == "duplicate_in_batch"
    assert rows["3"]["reason_code"] == "duplicate_in_batch"
    assert rows["3"]["reason"] == "המספר כבר הופיע קודם בריצה הזו, ולכן לא נוסף שוב"
    assert rows["4"]["reason_code"] == "priority_not_in_map_default"
    assert _HEBREW.search(rows["4"]["reason"]) and "lukewarm" in rows["4"]["reason"]
    assert {r["status"] for r in rows.values()} <= {"added", "duplicate_in_batch"}
