"""The columnar engine's shortcuts, each against the row engine where it could differ.

* The whole-file quote check made when a big text file is opened is not made again by
  the piece reader, and is not trusted once the file has changed.
* The rejects file is written from columns, cells moved to the file's column order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from importer.emulator.server import EmulatorServer
from importer.engine import csv_reader
from importer.sources import SourceOptions, open_source, text_reader
from importer.sources.quotes import QuoteScan
from tests.engine.corpus import mobiles
from tests.engine.differential import assert_same, run_both, small_pieces
from tests.workbooks import write_sheets


def _clean_file(path: Path, rows: int = 3000) -> None:
    """Quoted cells (delimiters, doubled quotes), formulas, ragged and blank rows, no line
    break inside a quote: every piece of it is well-quoted."""
    numbers = mobiles()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["First Name", "Last Name", "Mobile", "City", "Notes"])
    for i in range(rows):
        row = [f"Dana{i % 7}", "Levi, Jr" if i % 3 else 'Cohen "C"', numbers[i % len(numbers)],
               "תל אביב", ["", "call, after 5", "=1+2", 'said "no"', "'quoted"][i % 5]]
        if i % 97 == 0:
            row = row[:3]  # ragged
        writer.writerow(row)
        if i % 211 == 0:
            out.write("\r\n")  # blank line
    path.write_text(out.getvalue(), encoding="utf-8")


@pytest.fixture
def checked_at_open(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every text file is checked whole at open; returns the piece reader's own scans."""
    monkeypatch.setattr(text_reader, "CHECK_WHOLE_ABOVE", 0)
    scans: list[int] = []
    real: Callable[[bytes, int], QuoteScan] = csv_reader.scan_quotes

    def counted(data: bytes, delimiter: int) -> QuoteScan:
        scans.append(len(data))
        return real(data, delimiter)

    monkeypatch.setattr(csv_reader, "scan_quotes", counted)
    return scans


def test_a_file_checked_at_open_is_read_without_scanning_pieces(
    checked_at_open: list[int], shared_emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "clean.csv"
    _clean_file(path)
    with small_pieces(piece=4000, first=300):
        row, columnar = run_both([path], tmp_path, shared_emulator, mapping=None,
                                 formats="csv,json")
    assert_same(row, columnar, "clean file checked at open")
    assert row.exit_code == 0
    assert checked_at_open == []


def test_pieces_are_scanned_when_a_quoted_cell_holds_a_line_break(
    checked_at_open: list[int], shared_emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "multiline.csv"
    _clean_file(path)
    with path.open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\r\n").writerow(["Noa", "Bar", mobiles()[0], "x", "a\nb"])
    with small_pieces(piece=4000, first=300):
        row, columnar = run_both([path], tmp_path, shared_emulator, mapping=None,
                                 formats="csv,json")
    assert_same(row, columnar, "file with a line break in a quoted cell")
    assert checked_at_open


def test_the_open_time_check_is_dropped_when_the_file_changes(
    checked_at_open: list[int], tmp_path: Path
) -> None:
    path = tmp_path / "changing.csv"
    _clean_file(path, rows=50)
    with open_source(path, SourceOptions()) as source:
        found = source.text_layout()
        assert found is not None
        table = found[0]
        scan = table.quote_scan()
        assert scan is not None and scan.ok and not scan.multiline
        with path.open("a", encoding="utf-8") as fh:
            fh.write('Dana,5" tall,0521234567,x,y\r\n')
        assert table.quote_scan() is None


def test_rejects_of_sheets_with_their_columns_in_other_orders(
    shared_emulator: EmulatorServer, tmp_path: Path
) -> None:
    # One rejects file for the workbook: the second sheet's cells move to the first's columns.
    path = write_sheets(tmp_path / "two.xlsx", {
        "One": [["Mobile", "Name", "City"], ["0521234567", "Dana", "x"], ["abc", "Noa", "y, z"],
                ["12345", "=1+2", "q"]],
        "Two": [["City", "Name", "Mobile"], ["Tel Aviv", "e1", "0527654321"],
                ["a,b", "e2", "999"], ["Haifa", "'e3", ""]],
    })
    row, columnar = run_both([path], tmp_path, shared_emulator, mapping=None,
                             formats="csv,json", extra=["--all-sheets"])
    assert_same(row, columnar, "two sheets, columns in other orders")
    rejects = [data for name, data in row.csv.items() if ".rejects." in name]
    assert len(rejects) == 1 and b"Haifa" in rejects[0] and b"abc" in rejects[0]
