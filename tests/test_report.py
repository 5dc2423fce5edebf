"""Tests for the report writers (csv, xlsx, json)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importer.redact as redact_module
from importer.errors import ConfigError
from importer.outcomes import IMPORT_STATUSES, RowResult, Status, Summary
from importer.report import (
    BASE_COLUMNS,
    ReportWriter,
    count_statuses,
    escape_cell,
    is_formula_like,
    read_report_csv,
    summary_to_dict,
    unescape_cell,
)

T0 = datetime(2026, 11, 28, 14, 30, 5, tzinfo=UTC)
FIELDS = ["CustomerName", "Priority", "var_city"]
HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+972521234567",
    "-",
    "-2+3",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1",
    " =HYPERLINK(\"http://x\")",
    "\u00a0=1",
    "\u200f=1",
    "＝1+1",
    "'already quoted",
    "#N/A",
]
_DANGER_START = set("=+-@\t\r\n\x00＝＋－＠")


@contextmanager
def no_secrets() -> Iterator[None]:
    """Run without codes registered by other tests (redaction is process-wide)."""
    saved = redact_module._secrets
    redact_module._secrets = set()
    try:
        yield
    finally:
        redact_module._secrets = saved


@pytest.fixture(autouse=True)
def _isolated_secrets() -> Iterator[None]:
    with no_secrets():
        yield


def make_row(n: int, status: Status = Status.ADDED, **fields: str) -> RowResult:
    return RowResult(
        source_file="leads.csv",
        sheet=None,
        row=n,
        phone_raw="052-123-4567",
        phone="+972521234567" if status is Status.ADDED else "",
        status=status,
        reason="" if status is Status.ADDED else "too short",
        error_code=None,
        campaign="Spring leads",
        fields=fields,
    )


def summary(**kw: object) -> Summary:
    base = Summary(source_file="leads.csv", campaign="Spring leads", mode="append",
                   dry_run=False, started_at="2026-11-28T14:30:05Z")
    for key, value in kw.items():
        setattr(base, key, value)
    return base


def write_report(
    tmp_path: Path, rows: list[RowResult], **kw: object
) -> tuple[ReportWriter, Summary]:
    options: dict[str, object] = {"field_names": FIELDS, "started_at": T0}
    options.update(kw)
    writer = ReportWriter(tmp_path, "leads.csv", **options)  # type: ignore[arg-type]
    with writer:
        for row in rows:
            writer.write(row)
        s = summary()
        writer.close(s)
    return writer, s


# ------------------------------------------------------------------ cells


@pytest.mark.parametrize("value", [v for v in HOSTILE if v != "#N/A"])
def test_escape_neutralises_and_reverses(value: str) -> None:
    escaped = escape_cell(value)
    assert escaped.startswith("'")
    assert unescape_cell(escaped) == value


@pytest.mark.parametrize(
    "value", ["", "Dana", "052-123", "0521234567", "תל אביב", "a=b", "1-2", "#N/A"]
)
def test_plain_cells_unchanged(value: str) -> None:
    assert escape_cell(value) == value
    assert not is_formula_like(value)


def test_count_statuses_has_every_status() -> None:
    counts = count_statuses([make_row(2), make_row(3, Status.INVALID_PHONE), make_row(4)])
    assert list(counts) == [s.value for s in IMPORT_STATUSES]
    assert counts["added"] == 2 and counts["invalid_phone"] == 1 and counts["failed"] == 0


# ------------------------------------------------------------------ csv


def test_csv_exact_bytes(tmp_path: Path) -> None:
    rows = [
        make_row(2, CustomerName="דנה כהן", Priority="5", var_city="Haifa"),
        RowResult("leads.csv", "Sheet1", 3, "12", "", Status.REJECTED, "bad, \"really\"", 4,
                  "Spring leads", {"CustomerName": "=1+1"}),
    ]
    writer, _ = write_report(tmp_path, rows, formats=frozenset({"csv"}))
    data = writer.paths["csv"].read_bytes()
    expected = (
        "\ufeffsource_file,sheet,row,phone_raw,phone,status,reason,reason_code,error_code,"
        "campaign,dial_after,CustomerName,Priority,var_city\r\n"
        "leads.csv,,2,052-123-4567,'+972521234567,added,,,,Spring leads,,דנה כהן,5,Haifa\r\n"
        'leads.csv,Sheet1,3,12,,rejected,"bad, ""really""",text,4,Spring leads,,\'=1+1,,\r\n'
    ).encode("utf-8")
    assert data == expected
    assert writer.paths["csv"].name == "leads.20261128T143005Z.report.csv"


def test_csv_neutralises_every_hostile_cell(tmp_path: Path) -> None:
    rows = [make_row(i + 2, CustomerName=v, var_city=v) for i, v in enumerate(HOSTILE)]
    writer, _ = write_report(tmp_path, rows, formats=frozenset({"csv"}))
    with writer.paths["csv"].open(encoding="utf-8-sig", newline="") as fh:
        for record in csv.reader(fh):
            for cell in record:
                assert not is_formula_like(cell), cell
    back = read_report_csv(writer.paths["csv"])
    assert [r["CustomerName"] for r in back] == HOSTILE


def test_fields_default_to_first_rows_keys_and_missing_is_empty(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, "x.csv", formats=frozenset({"csv"}), started_at=T0)
    with writer:
        writer.write(make_row(2, CustomerName="A", Priority="1"))
        writer.write(make_row(3, Priority="2"))
        writer.close(summary())
    back = read_report_csv(writer.paths["csv"])
    assert list(back[0]) == [*BASE_COLUMNS, "CustomerName", "Priority"]
    assert back[1]["CustomerName"] == "" and back[1]["Priority"] == "2"


def test_field_named_like_a_base_column_keeps_both(tmp_path: Path) -> None:
    writer, _ = write_report(tmp_path, [make_row(2, phone="x")], field_names=["phone", "phone"])
    back = read_report_csv(writer.paths["csv"])
    assert list(back[0])[-1] == "phone (field)" and len(back[0]) == len(BASE_COLUMNS) + 1
    assert back[0]["phone (field)"] == "x" and back[0]["phone"] == "+972521234567"
    with pytest.raises(ValueError, match="closed"):
        writer.write(make_row(3))


def test_registered_codes_never_reach_the_report(tmp_path: Path) -> None:
    redact_module.register_secret("SECRETCODE123")
    row = make_row(2, CustomerName="code SECRETCODE123 leaked")
    writer, s = write_report(tmp_path, [row])
    s.notes.append("x")
    for path in writer.paths.values():
        if path.suffix != ".xlsx":
            assert "SECRETCODE123" not in path.read_text(encoding="utf-8-sig")
    wb = openpyxl.load_workbook(writer.paths["xlsx"])
    for ws in wb:
        for r in ws.iter_rows(values_only=True):
            assert not any("SECRETCODE123" in str(v) for v in r)


# ------------------------------------------------------------------ xlsx


def rows_and_cells(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)


def test_xlsx_layout(tmp_path: Path) -> None:
    rows = [make_row(2), make_row(3, Status.INVALID_PHONE), make_row(4, Status.DUPLICATE_IN_BATCH)]
    writer, s = write_report(tmp_path, rows)
    wb = rows_and_cells(writer.paths["xlsx"])
    assert wb.sheetnames == ["Summary", "Rows"]
    summary_ws, rows_ws = wb["Summary"], wb["Rows"]

    labels = {r[0]: r[1] for r in summary_ws.iter_rows(values_only=True) if r and r[0]}
    assert labels["Source file"] == "leads.csv"
    assert labels["Campaign"] == "Spring leads"
    assert labels["Total rows"] == 3
    for status in IMPORT_STATUSES:
        assert labels[status.value] == s.counts[status.value]
    assert labels["added"] == 1 and labels["invalid_phone"] == 1 and labels["removed"] == 0
    assert len(summary_ws._charts) == 1

    assert rows_ws.freeze_panes == "A2"
    assert rows_ws.auto_filter.ref == f"A1:N{len(rows) + 1}"
    header = [c.value for c in rows_ws[1]]
    assert header == [*BASE_COLUMNS, *FIELDS]
    assert all(c.font.bold for c in rows_ws[1])
    assert [c.value for c in rows_ws["F"]][1:] == ["added", "invalid_phone", "duplicate_in_batch"]
    assert rows_ws["C2"].value == 2 and rows_ws["C2"].data_type == "n"

    rules = {
        rule.formula[0]: rule.dxf.fill.fgColor.rgb
        for cf in rows_ws.conditional_formatting
        for rule in cf.rules
    }
    assert set(rules) == {f'$F2="{st.value}"' for st in Status}
    assert rules['$F2="added"'].endswith("E2EFDA")
    assert rules['$F2="failed"'] != rules['$F2="added"']
    assert not rows_ws.sheet_view.rightToLeft


def test_xlsx_never_has_formula_cells(tmp_path: Path) -> None:
    rows = [
        make_row(i + 2, Status.REJECTED, CustomerName=v, var_city=v) for i, v in enumerate(HOSTILE)
    ]
    rows[0].reason = "=HYPERLINK(\"http://evil\")"
    writer, _ = write_report(tmp_path, rows)
    wb = rows_and_cells(writer.paths["xlsx"])
    seen = []
    for ws in wb:
        for record in ws.iter_rows():
            for cell in record:
                assert cell.data_type != "f", cell.coordinate
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    if is_formula_like(cell.value):
                        assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
    for cell in wb["Rows"]["L"][1:]:
        seen.append(cell.value)
    # lxml escapes a bare CR (&#13;) so it comes back as written; a raw CR in XML would be
    # read back as a newline.
    assert len(seen) == len(HOSTILE)
    for got, wrote in zip(seen, HOSTILE, strict=True):
        assert got in {wrote, wrote.replace("\r", "\n")}


def test_xlsx_rtl_for_hebrew(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, "לידים.xlsx", field_names=["שם"], started_at=T0,
                          formats=frozenset({"xlsx"}))
    with writer:
        writer.write(make_row(2, **{"שם": "דנה"}))
        writer.close(summary())
    wb = rows_and_cells(writer.paths["xlsx"])
    assert wb["Rows"].sheet_view.rightToLeft and wb["Summary"].sheet_view.rightToLeft
    assert writer.paths["xlsx"].name == "לידים.20261128T143005Z.report.xlsx"
    forced = ReportWriter(tmp_path, "x.csv", rtl=False, field_names=["שם"],
                          formats=frozenset({"xlsx"}))
    forced.close(summary())
    assert not rows_and_cells(forced.paths["xlsx"])["Rows"].sheet_view.rightToLeft


@pytest.mark.parametrize("expected_rows", [None, 10])
def test_big_file_keeps_only_rows_needing_attention(
    tmp_path: Path, expected_rows: int | None
) -> None:
    statuses = [Status.ADDED, Status.ADDED, Status.INVALID_PHONE, Status.WOULD_ADD, Status.FAILED]
    rows = [make_row(i + 2, statuses[i % 5]) for i in range(10)]
    writer, s = write_report(tmp_path, rows, xlsx_row_limit=4, expected_rows=expected_rows)
    wb = rows_and_cells(writer.paths["xlsx"])
    listed = [(r[2], r[5]) for r in wb["Rows"].iter_rows(min_row=2, values_only=True)]
    assert listed == [(4, "invalid_phone"), (6, "failed"), (9, "invalid_phone"), (11, "failed")]
    texts = [str(v) for r in wb["Summary"].iter_rows(values_only=True) for v in r if v]
    note = next(t for t in texts if t.startswith("This file had 10 rows"))
    assert "lists only the 4 rows that were not added" in note
    assert writer.paths["csv"].name in note
    assert any(n.startswith("This file had 10 rows") for n in s.notes)
    assert len(read_report_csv(writer.paths["csv"])) == 10


def test_big_file_caps_attention_rows(tmp_path: Path) -> None:
    rows = [make_row(i + 2, Status.INVALID_PHONE) for i in range(7)]
    writer, _ = write_report(tmp_path, rows, xlsx_row_limit=3)
    wb = rows_and_cells(writer.paths["xlsx"])
    assert [r[2] for r in wb["Rows"].iter_rows(min_row=2, values_only=True)] == [2, 3, 4]
    texts = [str(v) for r in wb["Summary"].iter_rows(values_only=True) for v in r if v]
    assert any("first 3 of the 7 rows" in t for t in texts)


def test_xlsx_replaces_characters_xml_cannot_hold(tmp_path: Path) -> None:
    writer, _ = write_report(tmp_path, [make_row(2, CustomerName="a\x00b\x07c")])
    assert rows_and_cells(writer.paths["xlsx"])["Rows"]["L2"].value == "a\ufffdb\ufffdc"
    assert read_report_csv(writer.paths["csv"])[0]["CustomerName"] == "a\x00b\x07c"


# ------------------------------------------------------------------ files and json


def test_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "leads.20261128T143005Z.summary.json").write_text("mine")
    first, _ = write_report(tmp_path, [make_row(2)])
    second, _ = write_report(tmp_path, [make_row(2)])
    assert first.paths["csv"].name == "leads.20261128T143005Z-2.report.csv"
    assert second.paths["xlsx"].name == "leads.20261128T143005Z-3.report.xlsx"
    assert (tmp_path / "leads.20261128T143005Z.summary.json").read_text() == "mine"
    assert not (tmp_path / "leads.20261128T143005Z.report.csv").exists()


def test_creates_report_dir_and_rejects_unusable_dir(tmp_path: Path) -> None:
    writer, _ = write_report(tmp_path / "a" / "b", [make_row(2)])
    assert writer.paths["csv"].parent == tmp_path / "a" / "b"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write reports"):
        ReportWriter(blocker / "reports", "leads.csv")


def test_json_summary(tmp_path: Path) -> None:
    rows = [make_row(2), make_row(3, Status.INVALID_PHONE)]
    writer = ReportWriter(tmp_path, "leads.csv", started_at=T0, field_names=FIELDS)
    for row in rows:
        writer.write(row)
    s = summary(run_id="r-1", exit_code=0, notes=["Mapped automatically."])
    paths = writer.close(s)
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data == summary_to_dict(s)
    assert data["counts"] == {st.value: {"added": 1, "invalid_phone": 1}.get(st.value, 0)
                              for st in IMPORT_STATUSES}
    assert data["total_rows"] == 2 and data["exit_code"] == 0 and data["run_id"] == "r-1"
    assert data["reports"] == {k: str(v) for k, v in paths.items()}
    assert set(paths) == {"csv", "xlsx", "json"}
    assert data["interrupted"] is False and data["finished_at"].endswith("Z")
    assert "exit_code" not in summary_to_dict(summary())
    assert writer.counts["added"] == 1 and writer.total == 2


def test_interrupted_run_keeps_rows_and_says_so(tmp_path: Path) -> None:
    base = summary(run_id="r-9")
    writer = ReportWriter(tmp_path, "leads.csv", started_at=T0, field_names=FIELDS, summary=base)
    with pytest.raises(KeyboardInterrupt), writer:
        writer.write(make_row(2))
        writer.write(make_row(3, Status.INVALID_PHONE))
        raise KeyboardInterrupt
    assert len(read_report_csv(writer.paths["csv"])) == 2
    data = json.loads(writer.paths["json"].read_text(encoding="utf-8"))
    assert data["interrupted"] is True and data["total_rows"] == 2 and data["run_id"] == "r-9"
    assert data["campaign"] == "Spring leads"
    assert "interrupted (KeyboardInterrupt) after 2 rows" in data["notes"][-1]
    sheet = rows_and_cells(writer.paths["xlsx"])["Summary"]
    texts = [str(v) for r in sheet.iter_rows(values_only=True) for v in r if v]
    assert any(t.startswith("RUN INTERRUPTED") for t in texts)


def test_json_written_at_start_says_in_progress(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, "leads.csv", started_at=T0)
    data = json.loads(writer.paths["json"].read_text(encoding="utf-8"))
    assert data["finished_at"] == "" and "in progress" in data["notes"][0]
    writer.close(summary())


def test_empty_report_has_header(tmp_path: Path) -> None:
    writer, s = write_report(tmp_path, [])
    raw = writer.paths["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfsource_file,") and raw.count(b"\r\n") == 1
    assert s.total_rows == 0
    assert rows_and_cells(writer.paths["xlsx"])["Rows"].max_row == 1


# ------------------------------------------------------------------ properties

cell_text = st.one_of(
    st.sampled_from([*HOSTILE, "", "'", "''x", "\ufeff=1", "😀", "שלום", "a\r\nb", '"q"']),
    st.text(max_size=30),
    st.text(alphabet="=+-@'\t\r\n \"'abc,😀ש", max_size=12),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.tuples(cell_text, cell_text, cell_text), min_size=1, max_size=5))
def test_csv_round_trips_and_never_carries_formulas(values: list[tuple[str, str, str]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, no_secrets():
        rows = [
            RowResult(a, b or None, i + 2, b, c, Status.REJECTED, reason=a, error_code=-i,
                      campaign=c, fields={"CustomerName": a, "var_x": c})
            for i, (a, b, c) in enumerate(values)
        ]
        writer = ReportWriter(Path(tmp), "f.csv", field_names=["CustomerName", "var_x"],
                              formats=frozenset({"csv"}))
        with writer:
            for row in rows:
                writer.write(row)
            writer.close()
        expected = [
            {
                "source_file": r.source_file, "sheet": r.sheet or "", "row": str(r.row),
                "phone_raw": r.phone_raw, "phone": r.phone, "status": "rejected",
                "reason": r.reason, "reason_code": "text" if r.reason else "",
                "error_code": str(r.error_code), "campaign": r.campaign,
                "dial_after": "",
                "CustomerName": r.fields["CustomerName"], "var_x": r.fields["var_x"],
            }
            for r in rows
        ]
        assert read_report_csv(writer.paths["csv"]) == expected
        text = writer.paths["csv"].read_text(encoding="utf-8-sig")
        for record in csv.reader(io.StringIO(text, newline="")):
            for cell in record:
                assert not is_formula_like(cell)
                assert cell[:1] not in _DANGER_START


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(cell_text, min_size=1, max_size=6))
def test_xlsx_never_carries_formulas(values: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, no_secrets():
        writer = ReportWriter(Path(tmp), "f.csv", field_names=["CustomerName"],
                              formats=frozenset({"xlsx"}))
        with writer:
            for i, v in enumerate(values):
                writer.write(RowResult(v, v, i + 2, v, v, Status.FAILED, v, None, v,
                                       {"CustomerName": v}))
            writer.close()
        wb = openpyxl.load_workbook(writer.paths["xlsx"])
        for ws in wb:
            for record in ws.iter_rows():
                for cell in record:
                    assert cell.data_type != "f"
                    if isinstance(cell.value, str) and is_formula_like(cell.value):
                        assert cell.quotePrefix
