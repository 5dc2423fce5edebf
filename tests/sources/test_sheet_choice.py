"""``sheet: auto`` reads the sheet that holds phone numbers, not merely the first one.

Workbooks often open on a pivot table's summary ("Row Labels | Count of phone"), a
chart or a cover page, with the leads on a later sheet.  Imports, ``mapping suggest``
and ``inspect`` must find the leads, say which sheet they read and why, and refuse
(exit 2, naming every sheet) a workbook in which no sheet holds phone numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.chart import BarChart, Reference

from importer.cli import cli
from importer.emulator.server import EmulatorServer
from importer.report import read_report_csv
from importer.sources import SourceOptions, open_source
from importer.sources.sheet_scan import SAMPLE_ROWS, take_sample
from tests.phone_samples import e164, valid_mobiles
from tests.sources.conftest import write_ods
from tests.workbooks import write_sheets

PIVOT: list[list[object]] = [
    ["Row Labels", "Count of phone"],
    ["Tel Aviv", 12],
    ["Haifa", 7],
    ["Grand Total", 19],
]
COVER: list[list[object]] = [["Leads report, November"], [], ["Prepared by the sales team"]]
MAPPING = """\
name: leads
phone:
  columns: [טלפון]
fields:
  CustomerName: שם
dedupe:
  history_days: 0
"""


def leads(phones: list[str]) -> list[list[object]]:
    return [["שם", "טלפון", "עיר"], *[[f"ליד {i}", p, "חיפה"] for i, p in enumerate(phones)]]


def write_xls(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import xlwt  # test-only dependency: the one maintained writer of BIFF8 .xls

    book = xlwt.Workbook(encoding="utf-8")
    for name, rows in sheets.items():
        sheet = book.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
    book.save(str(path))
    return path


def with_chart_first(path: Path) -> Path:
    """Put a chart sheet (xl/chartsheets/) in front of the workbook's sheets."""
    book = openpyxl.load_workbook(path)
    chart = BarChart()
    summary = book["Summary"]
    chart.add_data(Reference(summary, min_col=2, min_row=1, max_row=4), titles_from_data=True)
    book.create_chartsheet("Chart1", 0).add_chart(chart)
    book.save(path)
    return path


WRITERS: dict[str, Callable[[Path, dict[str, list[list[object]]]], Path]] = {
    "xlsx": write_sheets,
    "ods": write_ods,
    "xls": write_xls,
}


def run_import(workdir: Path, *args: str) -> tuple[int, str, str]:
    (workdir / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["import", *args, "--campaign", "Hot leads", "--report-dir", str(workdir / "reports"),
         "--state-dir", str(workdir / "state")],
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def report_rows(workdir: Path) -> list[dict[str, str]]:
    (path,) = sorted((workdir / "reports").glob("*.report.csv"))
    return read_report_csv(path)


def summary_notes(workdir: Path) -> list[str]:
    (path,) = sorted((workdir / "reports").glob("*.summary.json"))
    notes: list[str] = json.loads(path.read_text(encoding="utf-8"))["notes"]
    return notes


# ------------------------------------------------------------------- import, end to end


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_import_reads_the_leads_behind_a_pivot_summary_and_a_cover(
    emulator_env: EmulatorServer, tmp_path: Path, fmt: str
) -> None:
    phones = valid_mobiles(3, start=3_000_000)
    path = WRITERS[fmt](
        tmp_path / f"report.{fmt}", {"Summary": PIVOT, "Cover": COVER, "Leads": leads(phones)}
    )
    code, out, err = run_import(
        tmp_path, str(path), "--mapping", str(tmp_path / "mapping.yaml"),
        "--report-format", "csv,json",
    )
    assert code == 0, err
    rows = report_rows(tmp_path)
    assert [(r["sheet"], r["row"], r["status"]) for r in rows] == [
        ("Leads", "2", "added"), ("Leads", "3", "added"), ("Leads", "4", "added")
    ]
    pending = emulator_env.pending_phones(emulator_env.demo.campaigns["Hot leads"])
    assert sorted(pending) == sorted(e164(p)[1:] for p in phones)
    why = (
        "read sheet 'Leads' because it holds the most phone numbers: 3 of 3 sampled values "
        "in column 'טלפון' are phone numbers (sheet 'Summary': no phone numbers in 3 sampled "
        "rows; sheet 'Cover': no phone numbers in 1 sampled row)"
    )
    assert why in out  # the console
    assert any(why in note for note in summary_notes(tmp_path))  # the report's summary


def test_import_without_a_mapping_skips_a_chart_sheet_and_a_summary(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    phones = valid_mobiles(2, start=3_100_000)
    path = with_chart_first(
        write_sheets(tmp_path / "charts.xlsx", {"Summary": PIVOT, "Leads": leads(phones)})
    )
    code, out, err = run_import(tmp_path, str(path))
    assert code == 0, err
    assert [(r["sheet"], r["status"]) for r in report_rows(tmp_path)] == [
        ("Leads", "added"), ("Leads", "added")
    ]
    assert "chart sheet(s) skipped: 'Chart1'" in out
    assert "read sheet 'Leads' because it holds the most phone numbers" in out
    pending = emulator_env.pending_phones(emulator_env.demo.campaigns["Hot leads"])
    assert sorted(pending) == sorted(e164(p)[1:] for p in phones)


def test_the_sheet_with_more_phone_numbers_wins_and_an_explicit_sheet_still_wins(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    """A stray number on a notes sheet does not outweigh the leads; --sheet overrides."""
    few, many = valid_mobiles(1, start=3_200_000), valid_mobiles(3, start=3_300_000)
    path = write_sheets(tmp_path / "two.xlsx", {"Old": leads(few), "New": leads(many)})
    code, out, err = run_import(tmp_path, str(path), "--mapping", str(tmp_path / "mapping.yaml"))
    assert code == 0, err
    assert {r["sheet"] for r in report_rows(tmp_path)} == {"New"}
    assert "read sheet 'New'" in out and "sheet 'Old': 1 of 1 sampled values" in out

    other = tmp_path / "again"
    other.mkdir()
    code, out, err = run_import(
        other, str(path), "--sheet", "Old", "--mapping", str(tmp_path / "mapping.yaml")
    )
    assert code == 0, err
    assert {r["sheet"] for r in report_rows(other)} == {"Old"}
    assert "because it holds the most phone numbers" not in out


def test_no_sheet_with_phone_numbers_stops_the_import_naming_every_sheet(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    book = write_sheets(tmp_path / "no-phones.xlsx", {
        "Summary": PIVOT,
        "Cover": COVER,
        "Secret": leads(valid_mobiles(2, start=3_400_000)),
        "Leads": [["שם", "טלפון"], ["דנה", "9.72501E+11"], ["משה", "9.72502E+11"]],
    })
    wb = openpyxl.load_workbook(book)
    wb["Secret"].sheet_state = "hidden"
    wb.save(book)
    path = with_chart_first(book)
    code, out, err = run_import(tmp_path, str(path), "--mapping", str(tmp_path / "mapping.yaml"))
    assert code == 2
    assert "Traceback" not in err and out == ""
    message = " ".join(err.split())  # one paragraph, however the terminal wrapped it
    assert "no-phones.xlsx: no sheet holds phone numbers, so no lead can be read" in message
    for part in (
        "sheet 'Chart1': a chart sheet, not a table",
        "sheet 'Summary': no phone numbers in 3 sampled rows",
        "sheet 'Cover': no phone numbers in 1 sampled row",
        "sheet 'Secret' (hidden): not read unless chosen by name",
        "sheet 'Leads': no phone numbers in 2 sampled rows",
        "--sheet NAME",
    ):
        assert part in message
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").iterdir())
    assert emulator_env.pending_phones(emulator_env.demo.campaigns["Hot leads"]) == []

    # Chosen by name, the damaged sheet is read and each row says what is wrong.
    code, out, err = run_import(
        tmp_path, str(path), "--sheet", "Leads", "--mapping", str(tmp_path / "mapping.yaml")
    )
    assert code == 0, err
    assert [r["status"] for r in report_rows(tmp_path)] == ["invalid_phone", "invalid_phone"]


# ------------------------------------------------------------- mapping suggest, inspect


def suggest(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["mapping", "suggest", *args])
    return result.exit_code, result.stdout, result.stderr


def test_mapping_suggest_names_the_sheet_that_holds_the_phones(tmp_path: Path) -> None:
    phones = valid_mobiles(2, start=3_500_000)
    path = write_sheets(tmp_path / "pivot.xlsx", {"Summary": PIVOT, "Leads": leads(phones)})
    code, out, err = suggest(str(path))
    assert code == 0, err
    assert '# Sheet "Leads" holds the phone numbers:' in out
    assert "#   sheet 'Leads': 2 of 2 sampled values in column 'טלפון' are phone numbers" in out
    assert "#   sheet 'Summary': no phone numbers in 3 sampled rows" in out
    assert "columns: [טלפון]" in out


def test_mapping_suggest_and_check_name_every_sheet_when_none_holds_phones(
    tmp_path: Path,
) -> None:
    path = write_sheets(
        tmp_path / "none.xlsx", {"Summary": PIVOT, "Cover": COVER, "Notes": [["a", "b"], [1, 2]]}
    )
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    for args in (["suggest", str(path)], ["check", str(tmp_path / "mapping.yaml"), str(path)]):
        result = CliRunner().invoke(cli, ["mapping", *args])
        assert result.exit_code == 2 and result.stdout == ""
        message = " ".join(result.stderr.split())
        assert "none.xlsx: no sheet holds phone numbers" in message
        for name in ("Summary", "Cover", "Notes"):
            assert f"sheet '{name}': no phone numbers" in message


def test_inspect_shows_the_phone_likeness_of_each_sheet(tmp_path: Path) -> None:
    phones = valid_mobiles(2, start=3_600_000)
    path = with_chart_first(
        write_sheets(tmp_path / "look.xlsx", {"Summary": PIVOT, "Leads": leads(phones)})
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Sheets:     Chart1 (chart), Summary, Leads" in lines
    assert "Sheet:      Leads" in lines
    assert "Phones:     sheet 'Chart1': a chart sheet, not a table" in lines
    assert "Phones:     sheet 'Summary': no phone numbers in 3 sampled rows" in lines
    assert (
        "Phones:     sheet 'Leads': 2 of 2 sampled values in column 'טלפון' are phone numbers"
        in lines
    )
    # With --sheet nothing is chosen, yet each sheet's phone-likeness is still shown.
    result = runner.invoke(cli, ["inspect", str(path), "--sheet", "Summary", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["sheet"] == "Summary"
    assert [(s["sheet"], s["phone_values"], s["column"]) for s in data["sheet_phones"]] == [
        ("Chart1", 0, None), ("Summary", 0, None), ("Leads", 2, "טלפון")
    ]


# ----------------------------------------------------------------- the library itself


def test_counts_are_never_phone_numbers_and_ties_go_to_the_first(tmp_path: Path) -> None:
    """Counts in a "phone" column are no phones; two lead sheets alike: the first is read."""
    counts = [["city", "phone"], *[[f"c{i}", n] for i, n in enumerate((12, 7, 19, 5000, 31))]]
    a, b = valid_mobiles(2, start=3_700_000)
    path = write_sheets(
        tmp_path / "t.xlsx", {"Counts": counts, "North": leads([a]), "South": leads([b])}
    )
    with open_source(path) as source:
        info = source.info
    assert info.sheet == "North"
    assert [(s.sheet, s.phones) for s in info.sheet_scan] == [
        ("Counts", 0), ("North", 1), ("South", 1)
    ]


def test_a_hidden_sheet_is_never_chosen_by_itself(tmp_path: Path) -> None:
    path = write_sheets(tmp_path / "h.xlsx", {
        "Secret": leads(valid_mobiles(3, start=3_800_000)),
        "Summary": PIVOT,
        "Leads": leads(valid_mobiles(1, start=3_900_000)),
    })
    wb = openpyxl.load_workbook(path)
    wb["Secret"].sheet_state = "hidden"
    wb.save(path)
    with open_source(path) as source:
        assert source.info.sheet == "Leads"
        assert "hidden sheet(s) skipped: 'Secret'" in source.info.warnings
    with open_source(path, SourceOptions(sheet="Secret")) as source:
        assert source.info.sheet == "Secret" and source.info.sheet_scan == []


def test_one_sheet_with_data_is_read_without_a_choice(tmp_path: Path) -> None:
    """A blank sheet beside the leads is no choice: nothing is compared or refused."""
    path = write_sheets(tmp_path / "b.xlsx", {"Empty": [], "Data": [["a", "b"], [1, 2]]})
    with open_source(path) as source:
        assert source.info.sheet == "Data" and source.info.sheet_scan == []
    # Beside two sheets with data, a blank one is named as such, never compared.
    path = write_sheets(tmp_path / "c.xlsx", {
        "Summary": PIVOT, "Empty": [], "Leads": leads(valid_mobiles(1, start=4_100_000))
    })
    with open_source(path) as source:
        assert source.info.sheet == "Leads"
        assert [s.describe() for s in source.info.sheet_scan][1] == "sheet 'Empty': blank"
        assert "sheet(s) 'Empty' are blank; reading 'Leads'" in source.info.warnings


def test_sampling_is_bounded_and_closes_what_it_read() -> None:
    closed: list[bool] = []

    def endless() -> Iterator[tuple[int, list[str], frozenset[int], int]]:
        n = 0
        try:
            while True:
                n += 1
                yield n, ["x", str(n)], frozenset(), n
        finally:
            closed.append(True)

    sample = take_sample(endless())
    assert len(sample.rows) == SAMPLE_ROWS and not sample.complete and closed == [True]


def test_at_most_so_many_sheets_are_compared_and_the_refusal_says_so(tmp_path: Path) -> None:
    from importer.errors import SourceError
    from importer.sources import require_phone_sheet
    from importer.sources.sheet_scan import MAX_COMPARED

    sheets = {f"S{i}": PIVOT for i in range(MAX_COMPARED)}
    sheets["Leads"] = leads(valid_mobiles(1, start=4_000_000))
    path = write_sheets(tmp_path / "many.xlsx", sheets)
    with open_source(path) as source:
        info = source.info
    assert info.sheet == "S0"
    assert info.sheet_scan[-1].describe() == (
        f"sheet 'Leads': not compared: only the first {MAX_COMPARED} sheets with data are"
    )
    with pytest.raises(SourceError, match=f"none of the first {MAX_COMPARED} sheets with data"):
        require_phone_sheet(info)
