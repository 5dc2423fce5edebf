"""Properties of whole runs (hypothesis), through the reader, mapping, dedupe and writers.

The unit-level properties live next to their modules: phone normalisation is
idempotent and agrees with phonenumbers (tests/test_phones*.py), a report
written by ``ReportWriter`` reads back equal and never carries a formula
(tests/test_report.py), any table written in any format reads back equal
(tests/sources/test_roundtrip_property.py).  What they cannot show is that the
stages agree with each other on arbitrary files: here a CSV of random leads,
hostile cells included, goes through ``run_import --dry-run`` against the
emulator and the report must hold exactly one row per input row, in input
order, with the status the normaliser and batch dedupe predict, and no cell a
spreadsheet would run.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.config import Settings
from importer.emulator.server import EmulatorServer
from importer.mapping import load_mapping
from importer.outcomes import Status
from importer.phones import PhoneNormalizer
from importer.pipeline import ImportOptions, run_import
from importer.report import is_formula_like, read_report_csv
from tests.hardening._run import valid_mobiles

_PHONES = valid_mobiles(4)
# The same numbers as people type them: duplicates in a batch must be found across forms.
_PHONE_FORMS = [
    *_PHONES,
    *(f"+972-{p[1:3]}-{p[3:6]}-{p[6:]}" for p in _PHONES),
    *(f"972{p[1:]}" for p in _PHONES[:2]),
    "",
    "12345",
    "=1+1",
    "+972",
    "@SUM(A1)",
    "1-800-800-800",
]
_HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@x", "\t=1", "\r=1", " =1", "\u200f=1", "＝1"]

# Anything a person can type into a cell, NUL and lone surrogates aside (a file holding
# them is refused as a whole, see test_bad_input).
_wild_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
    | st.sampled_from(["\n", "\t", "\r", '"', ",", ";", "'"]),
    max_size=20,
)
_hostile_text = st.sampled_from(_HOSTILE)
_phone = st.sampled_from(_PHONE_FORMS) | st.text(alphabet="0123456789+-() ", max_size=14)

_MAPPING = """\
name: property leads
{source}
phone:
  columns: [phone]
fields:
  CustomerName: {{column: name}}
custom_data:
  var_Notes: {{column: notes, optional: true}}
dedupe:
  history_days: 0
"""

_PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _dry_run(
    server: EmulatorServer, base: Path, rows: list[list[str]], source: str
) -> tuple[list[dict[str, str]], Path, Path]:
    """Write ``rows`` under a header to a fresh CSV, import it --dry-run, read the report."""
    work = Path(tempfile.mkdtemp(dir=base))
    mapping = work / "mapping.yaml"
    mapping.write_text(_MAPPING.format(source=source), encoding="utf-8")
    path = work / "leads.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone", "notes"])
        writer.writerows(rows)
    result = run_import(
        [path],
        ImportOptions(
            campaign="Hot leads",
            mapping_path=mapping,
            report_dir=work / "reports",
            dry_run=True,
            use_journal=False,
        ),
        Settings(api_url=server.base_url, account_code="demo"),
    )
    (outcome,) = result.files
    return read_report_csv(outcome.reports["csv"]), outcome.reports["csv"], outcome.reports["xlsx"]


def _expected_statuses(mapping_path: Path, phones: list[str]) -> list[str]:
    """What the normaliser plus first-occurrence-wins batch dedupe predict for each row."""
    normalizer = PhoneNormalizer(load_mapping(mapping_path).phone_policy())
    seen: set[str] = set()
    out: list[str] = []
    for raw in phones:
        result = normalizer.normalize(raw.strip())
        if not result.ok or not result.e164:
            out.append(result.problem or Status.INVALID_PHONE.value)
        elif result.e164 in seen:
            out.append(Status.DUPLICATE_IN_BATCH.value)
        else:
            seen.add(result.e164)
            out.append(Status.WOULD_ADD.value)
    return out


def _assert_no_live_formula(csv_path: Path, xlsx_path: Path) -> None:
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        for line in csv.reader(fh):
            for cell in line:
                assert not is_formula_like(cell), cell
    workbook = openpyxl.load_workbook(xlsx_path)
    try:
        for sheet in workbook.worksheets:
            for xl_row in sheet.iter_rows():
                for xl_cell in xl_row:
                    assert xl_cell.data_type != "f", (sheet.title, xl_cell.coordinate)
    finally:
        workbook.close()


@_PROPERTY_SETTINGS
@given(
    rows=st.lists(
        st.tuples(_wild_text | _hostile_text, _phone | _hostile_text, _wild_text | _hostile_text),
        min_size=1,
        max_size=12,
    )
)
def test_any_csv_gives_one_report_row_per_input_row_in_order(
    emulator: EmulatorServer, tmp_path: Path, rows: list[tuple[str, str, str]]
) -> None:
    # "L<n> " keeps every row non-blank: a blank line is not a data row.
    table = [[f"L{i} {name}", phone, notes] for i, (name, phone, notes) in enumerate(rows)]
    report, csv_path, xlsx_path = _dry_run(
        emulator, tmp_path, table, "source: {header_row: 1, delimiter: comma, encoding: utf-8}"
    )
    assert [r["row"] for r in report] == [str(i + 2) for i in range(len(table))]
    assert [r["phone_raw"] for r in report] == [phone.strip() for _, phone, _ in table]
    assert [r["status"] for r in report] == _expected_statuses(
        csv_path.parent.parent / "mapping.yaml", [phone for _, phone, _ in table]
    )
    assert all(r["campaign"] == "Hot leads" for r in report)
    _assert_no_live_formula(csv_path, xlsx_path)


_plain_words = st.text(
    alphabet=st.sampled_from("abcdefghij ABCXYZ אבגדהוזחטי-'.0123"), min_size=1, max_size=15
)


@settings(_PROPERTY_SETTINGS, max_examples=15)
@given(
    rows=st.lists(
        st.tuples(_plain_words | _hostile_text, st.sampled_from(_PHONE_FORMS), _plain_words),
        min_size=2,
        max_size=12,
    )
)
def test_detected_layout_keeps_every_row_too(
    emulator: EmulatorServer, tmp_path: Path, rows: list[tuple[str, str, str]]
) -> None:
    """Everyday cells with header, delimiter and encoding left to detection."""
    table = [[f"L{i} {name}", phone, notes] for i, (name, phone, notes) in enumerate(rows)]
    report, csv_path, xlsx_path = _dry_run(emulator, tmp_path, table, "")
    assert [r["row"] for r in report] == [str(i + 2) for i in range(len(table))]
    assert [r["status"] for r in report] == _expected_statuses(
        csv_path.parent.parent / "mapping.yaml", [phone for _, phone, _ in table]
    )
    _assert_no_live_formula(csv_path, xlsx_path)
