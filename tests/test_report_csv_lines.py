"""The CSV report writes plain rows directly and hands the rest to the csv module."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from importer.outcomes import RowResult, Status
from importer.report import ReportWriter, escape_cell, read_report_csv
from importer.report.writer import _escaped_line

CELLS = ["plain", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "=1+2", "-5", "", "'quoted", "שלום"]


def test_every_row_is_what_the_csv_module_writes(tmp_path: Path) -> None:
    rows = [
        RowResult("leads.csv", None, n + 2, cell, "+972523456789", Status.WOULD_ADD, cell,
                  None if n % 2 else -2, "Hot leads", {"Name": cell, "Note": "x"})
        for n, cell in enumerate(CELLS)
    ]
    writer = ReportWriter(tmp_path, "leads.csv", formats=frozenset({"csv"}),
                          field_names=["Name", "Note"])
    for result in rows:
        writer.write(result)
    path = writer.close()["csv"]

    expected = tmp_path / "expected.csv"
    with expected.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow([
            "source_file", "sheet", "row", "phone_raw", "phone", "status", "reason",
            "reason_code", "error_code", "campaign", "dial_after", "Name", "Note",
        ])
        for r in rows:
            code = "" if r.error_code is None else str(r.error_code)
            texts = [r.source_file, "", str(r.row), r.phone_raw, r.phone, "would_add", r.reason,
                     "text" if r.reason else "", code, r.campaign, "", r.fields["Name"], "x"]
            out.writerow([escape_cell(t) for t in texts])
    assert path.read_bytes() == expected.read_bytes()
    assert [row["Name"] for row in read_report_csv(path)] == CELLS


def test_fields_that_are_not_text_are_written_as_text(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, "leads.csv", formats=frozenset({"csv"}),
                          field_names=["CustomerName", "Priority"])
    writer.write(RowResult("leads.csv", None, 2, "", "", Status.REMOVED, "", None, "c",
                           {"CustomerName": None, "Priority": 5}))  # type: ignore[dict-item]
    row = read_report_csv(writer.close()["csv"])[0]
    assert (row["CustomerName"], row["Priority"]) == ("", "5")


_CELL_TEXT = st.text(
    alphabet=st.sampled_from(list("ab, '\"=+-@\t\r\n\x00\u00a0\u200f\u202fשל9＝")), max_size=6
)


@given(st.lists(_CELL_TEXT, min_size=9, max_size=14))
@settings(max_examples=400, deadline=None)
def test_fast_escaping_equals_escaping_every_cell(texts: list[str]) -> None:
    assert _escaped_line(texts) == ",".join(escape_cell(t) for t in texts)
