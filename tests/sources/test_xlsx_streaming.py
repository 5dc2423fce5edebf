"""The streaming .xlsx reader gives exactly the rows calamine gives, with flat memory.

Every workbook here is read twice, once through python-calamine (the default for small
sheets) and once streamed (``stream_above_bytes=0``), and the two results must match:
columns, header row, sheet, warnings (bar the streaming note), and every ``SourceRow``
(cells, numeric marks, row numbers, problems), or the same error.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from importer.errors import ImporterError, SourceError, UnsafeFileError
from importer.sources import SourceOptions, open_source, open_sources
from importer.sources.xlsx_stream_reader import DATETIME, OTHER, TIMEDELTA, number_format_kind
from tests.sources.conftest import write_xlsx
from tests.sources.test_sheet_choice import PIVOT, with_chart_first
from tests.sources.test_workbooks import ROWS
from tests.workbooks import write_sheets

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
STREAM = SourceOptions(stream_above_bytes=0)
CALAMINE = SourceOptions(stream_above_bytes=1 << 62)
NOTE = "read in streaming mode"


def _read(path: Path, options: SourceOptions) -> object:
    try:
        with open_source(path, options) as src:
            info = src.info
            return (
                info.format, info.sheet, info.sheets, info.header_row, info.columns,
                [w for w in info.warnings if NOTE not in w], list(src.rows()),
            )
    except ImporterError as exc:
        # the detail in brackets is each parser's own wording
        return type(exc), str(exc).split(" (")[0]


def assert_same(path: Path, **options: object) -> object:
    """Read ``path`` both ways and check the results are identical; return one."""
    base = SourceOptions(**options)  # type: ignore[arg-type]
    from dataclasses import replace

    streamed = _read(path, replace(base, stream_above_bytes=0))
    decoded = _read(path, replace(base, stream_above_bytes=1 << 62))
    assert streamed == decoded
    return streamed


# --------------------------------------------------------------------------- builders

def _title_rows(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["B2"] = "Leads from the home show 2026"
    ws.merge_cells("B2:E2")
    ws["B3"] = "prepared by marketing"
    ws["B5"], ws["C5"], ws["D5"], ws["E5"] = "שם", "טלפון", "עיר", "הערות"
    ws["B6"], ws["C6"], ws["D6"] = "דני", 521234567, "חיפה"
    ws["B8"], ws["C8"], ws["E8"] = "רות", "054-1234567", "חם"
    ws["H8"] = "stray note"        # outside the header: reported as a ragged row
    wb.save(path)
    return path


def _numbers(path: Path) -> Path:
    rows: list[list[object]] = [["name", "phone", "amount", "flag", "code"]]
    values: list[object] = [
        521234567, "0521234567", 972501234567, 1.5, 0.1, -2, 1e20, 123456789012345678,
        1e15, 999999999999999, 2.5e-7, 0, -0.0, True, False, "", " ", "#N/A", None,
    ]
    for i, v in enumerate(values):
        rows.append([f"n{i}", v, v, i % 2 == 0, f"{i:05d}"])
    path = write_xlsx(path, rows)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws is not None
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        row[0].number_format = "0000000000"        # shows a leading zero, stores none
    ws["C2"] = "=B2*2"                               # a formula without a cached value
    wb.save(path)
    return path


FORMATS = [
    "General", "DD/MM/YYYY", "yyyy-mm-dd h:mm", "h:mm:ss", "[h]:mm:ss", "mm:ss", "[mm]:ss",
    "0000000000", "#,##0.00", "0%", '"₪"#,##0', "[$-he-IL]dd/mm/yyyy", "[Red]0.00", "@",
    "0.00E+00", "d-mmm-yy", "[$₪-40D] #,##0.00", "#,##0*y", '0 "days"', "m/d/yy h:mm AM/PM",
    "ss.0", "h:mm AM/PM", "[Blue]\\+[h]:mm;[Red]\\-[h]:mm", "0_ ;[Red]\\-0\\ ",
]
SERIALS = [0, 0.25, 0.999999, 1, 2, 59, 60, 61, 45000, 45000.75, 45000.5000001, -1, -0.5,
           2958465, 1e7]


def _dates(path: Path, epoch: dt.datetime | None = None) -> Path:
    wb = openpyxl.Workbook()
    if epoch is not None:
        wb.epoch = epoch
    ws = wb.active
    assert ws is not None
    ws.append(["serial"] + [f"f{i}" for i in range(len(FORMATS))])
    for serial in SERIALS:
        ws.append([str(serial)] + [serial] * len(FORMATS))
    for col, fmt in enumerate(FORMATS, start=2):
        for row in range(2, len(SERIALS) + 2):
            ws.cell(row, col).number_format = fmt
    ws.append(["typed", dt.date(2026, 11, 28), dt.datetime(2026, 11, 28, 14, 30, 15),
               dt.time(9, 5), dt.timedelta(hours=27, minutes=3), dt.datetime(1900, 1, 1)])
    wb.save(path)
    return path


def _empty_rows(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A4"], ws["B4"] = "name", "phone"
    ws["A7"], ws["B7"] = "Dan", 521234567
    ws["A8"].number_format = "0.00"              # styled, no value
    ws["C9"] = ""                                # an empty string
    ws["B12"] = "0541234567"
    ws.row_dimensions[30].height = 40            # a formatted row after the data
    ws["F40"].number_format = "0"
    wb.save(path)
    return path


def _shifted(path: Path) -> Path:
    rows: list[list[object]] = [[None, None, None, "name", "phone", None, "city"]]
    rows += [[None, None, None, f"n{i}", 520000000 + i, None, "x" if i % 3 else None]
             for i in range(30)]
    rows.append([None, "left", None, "n", "p", None, "c", "far right"])
    return write_xlsx(path, rows)


def _hidden_sheets(path: Path) -> Path:
    wb = openpyxl.Workbook()
    first = wb.active
    assert first is not None
    first.title = "Secret"
    first.append(["x", "y"])
    first.append(["1", "2"])
    first.sheet_state = "hidden"
    for name in ("North", "South"):
        ws = wb.create_sheet(name)
        ws.append(["name", "phone"])
        ws.append([name, 521234567])
    wb.create_sheet("Empty")
    very = wb.create_sheet("Very")
    very.append(["a", "b"])
    very.append(["c", "d"])
    very.sheet_state = "veryHidden"
    wb.save(path)
    return path


def _write_only(path: Path) -> Path:
    # openpyxl's write-only mode stores strings inline (<is>), not in sharedStrings.xml.
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Leads")
    ws.append(["שם", "טלפון", "תאריך"])
    for i in range(50):
        ws.append([f"ליד {i}", 520000000 + i, dt.date(2026, 1, 1) + dt.timedelta(days=i)])
    wb.save(path)
    return path


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "cells": lambda p: write_xlsx(p, ROWS),
    "title_rows_merged": _title_rows,
    "numbering_column": lambda p: write_xlsx(
        p, [[None, "name", "phone"]] + [[i, f"n{i}", f"05{i}"] for i in range(1, 6)]
    ),
    "numbers": _numbers,
    "dates": _dates,
    "dates_1904": lambda p: _dates(p, CALENDAR_MAC_1904),
    "empty_rows": _empty_rows,
    "shifted_table": _shifted,
    "hidden_sheets": _hidden_sheets,
    "blank_first_sheet": lambda p: write_xlsx(p, [], Data=[["a", "b"], ["1", "2"]]),
    "header_only": lambda p: write_xlsx(p, [["name", "phone"]]),
    "empty": lambda p: write_xlsx(p, []),
    "inline_strings": _write_only,
    # sheet: auto samples every sheet as a stream either way; the sheet read must match too.
    "chart_and_summary_first": lambda p: with_chart_first(write_sheets(
        p, {"Summary": PIVOT, "Leads": [["name", "phone"], ["a", "053-1000001"]]}
    )),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_streaming_matches_calamine(tmp_path: Path, name: str) -> None:
    path = BUILDERS[name](tmp_path / f"{name}.xlsx")
    assert_same(path)


def test_handmade_sample_matches() -> None:
    result = assert_same(SAMPLES / "handmade_leads.xlsx")
    assert isinstance(result, tuple) and result[3] == 4


@pytest.mark.parametrize(
    "options",
    [{"sheet": "South"}, {"sheet": 2}, {"sheet": "Secret"}, {"sheet": "Very"},
     {"sheet": "Empty"}, {"header_row": 1}, {"header_row": 3}, {"header_row": 9}],
)
def test_sheet_and_header_choices_match(tmp_path: Path, options: dict[str, object]) -> None:
    assert_same(_hidden_sheets(tmp_path / "h.xlsx"), **options)
    assert_same(_empty_rows(tmp_path / "e.xlsx"), **options)


def test_cells_are_what_the_user_sees(tmp_path: Path) -> None:
    result = assert_same(_dates(tmp_path / "d.xlsx"))
    assert isinstance(result, tuple)
    rows = {r.cells[0]: r for r in result[6]}
    # DD/MM/YYYY is column f1, h:mm:ss f3, [h]:mm:ss f4, 0000000000 f7
    assert rows["45000"].cells[2] == "2023-03-15" and 2 not in rows["45000"].numeric
    assert rows["45000.75"].cells[2] == "2023-03-15T18:00:00"
    assert rows["0.25"].cells[4] == "06:00:00"
    assert rows["45000.75"].cells[5] == "1080018:00:00"
    assert rows["45000"].cells[8] == "45000" and 8 in rows["45000"].numeric
    assert rows["typed"].cells[1:5] == (
        "2026-11-28", "2026-11-28T14:30:15", "09:05:00", "27:03:00"
    )


def test_numbers_that_lost_a_leading_zero_stay_marked(tmp_path: Path) -> None:
    result = assert_same(_numbers(tmp_path / "n.xlsx"))
    assert isinstance(result, tuple)
    first = result[6][0]
    # C2 is a formula without a cached value: empty, like calamine shows it
    assert first.cells[:3] == ("n0", "521234567", "") and first.numeric == frozenset({1})
    assert {r.cells[0]: r.cells[1] for r in result[6]}["n6"] == "1e+20"


def test_all_sheets_match(tmp_path: Path) -> None:
    path = _hidden_sheets(tmp_path / "h.xlsx")
    got = []
    for options in (STREAM, CALAMINE):
        from dataclasses import replace

        sources = list(open_sources(path, replace(options, all_sheets=True)))
        got.append([(s.info.sheet, list(s.rows())) for s in sources])
        for s in sources:
            s.close()
    assert got[0] == got[1] and [name for name, _ in got[0]] == ["North", "South"]


def test_the_note_says_how_the_sheet_was_read(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", ROWS)
    with open_source(path, STREAM) as src:
        assert any(NOTE in w and "MiB of XML" in w for w in src.info.warnings)
    with open_source(path) as src:       # the default threshold: small sheets use calamine
        assert not any(NOTE in w for w in src.info.warnings)
    small = SourceOptions(stream_above_bytes=path.stat().st_size * 100)
    with open_source(path, small) as src:
        assert not any(NOTE in w for w in src.info.warnings)


def _replace_member(src: Path, dst: Path, member: str, body: bytes) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, body if info.filename == member else zin.read(info))
    return dst


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def write_raw_xlsx(path: Path, sheet_data: str, strings: list[str]) -> Path:
    """A workbook written the way Excel writes it: text in sharedStrings.xml."""
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
            '</Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            '<sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="/xl/sharedStrings.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": (
            f'<styleSheet xmlns="{_MAIN}"><numFmts count="1"><numFmt numFmtId="164" '
            'formatCode="dd/mm/yyyy"/></numFmts><cellStyleXfs count="1"><xf numFmtId="14"/>'
            '</cellStyleXfs><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="164"/>'
            '<xf numFmtId="22"/></cellXfs></styleSheet>'
        ),
        "xl/sharedStrings.xml": f'<sst xmlns="{_MAIN}">' + "".join(strings) + "</sst>",
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{_MAIN}"><sheetData>{sheet_data}</sheetData></worksheet>'
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in parts.items():
            zf.writestr(name, head + body)
    return path


TEXTS = [
    "<t>name</t>", "<t>phone</t>", "<t> </t>", '<t xml:space="preserve"> </t>', "<t> a </t>",
    "<t>a\r\nb</t>", '<t xml:space="preserve">  x</t>', "<t>a_x000D_b</t>",
    "<t>a_x005F_x000D_b</t>", "<t>a&amp;b &lt;c&gt;&#13;</t>",
    '<r><t> a</t></r><r><rPr><b/></rPr><t xml:space="preserve"> b </t></r>', "<t/>",
    '<t>田中</t><rPh sb="0" eb="2"><t>タナカ</t></rPh>', "<t>0521234567</t>",
]
CELLS = [
    '<c t="str"><f>A1</f><v> a_x000D_ </v></c>', '<c t="e"><v>#N/A</v></c>',
    '<c t="b"><v>0</v></c>', '<c t="d"><v>2026-11-28T10:00:00</v></c>',
    '<c t="d"><v>2026-11-28</v></c>', '<c><v></v></c>', '<c><f>A1</f></c>',
    '<c><v>1E+20</v></c>', '<c><v>-0</v></c>', '<c s="1"><v>46000</v></c>',
    '<c s="2"><v>46000.5</v></c>', '<c s="9"><v>46000</v></c>',
    '<c t="inlineStr"><is><t> in </t><rPh><t>x</t></rPh></is></c>',
]


def _sst_sheet() -> str:
    rows = ['<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>']
    for i in range(2, len(TEXTS)):
        rows.append(f'<row r="{i}"><c r="A{i}" t="s"><v>{i}</v></c>'
                    f'<c r="B{i}" t="s"><v>{i}</v></c></row>')
    # cells without r attributes follow on from the previous one
    for j, cell in enumerate(CELLS, start=len(TEXTS) + 2):
        rows.append(f'<row r="{j}"><c r="A{j}" t="s"><v>13</v></c>{cell}</row>')
    rows.append("<row><c><v>5</v></c><c><v>6</v></c></row>")
    return "".join(rows)


def test_shared_strings_rich_text_escapes_and_cell_types(tmp_path: Path) -> None:
    path = write_raw_xlsx(tmp_path / "excel.xlsx", _sst_sheet(), [f"<si>{t}</si>" for t in TEXTS])
    result = assert_same(path)
    assert isinstance(result, tuple)
    got = {r.row: r.cells[1] for r in result[6]}
    assert result[4] == ["name", "phone"] and 2 not in got and 3 not in got  # blank rows
    assert [got[n] for n in range(4, 11)] == [
        "a", "a\nb", "  x", "a\rb", "a_x000D_b", "a&b <c>", "a b "
    ]
    assert got[12] == "田中" and got[16] == " a\r "
    assert [got[n] for n in range(17, 29)] == [
        "", "FALSE", "2026-11-28T10:00:00", "2026-11-28", "", "", "1e+20", "0", "2025-12-09",
        "2025-12-09T12:00:00", "46000", "in",
    ]
    assert result[6][-1].cells == ("5", "6") and result[6][-1].row == 29


@pytest.mark.parametrize("number", [" 5 ", "abc", "1_000", "0x10", "1e5", "+3", ".5"])
def test_numbers_that_do_not_parse_stay_text(tmp_path: Path, number: str) -> None:
    sheet = _sst_sheet() + f'<row r="99"><c r="A99"><v>{number}</v></c></row>'
    path = write_raw_xlsx(tmp_path / "odd.xlsx", sheet, [f"<si>{t}</si>" for t in TEXTS])
    result = assert_same(path)
    assert isinstance(result, tuple) and result[6][-1].row == 99


def test_missing_shared_string_is_damaged_both_ways(tmp_path: Path) -> None:
    sheet = _sst_sheet() + '<row r="99"><c r="A99" t="s"><v>99</v></c></row>'
    path = write_raw_xlsx(tmp_path / "bad.xlsx", sheet, [f"<si>{t}</si>" for t in TEXTS])
    result = assert_same(path)
    assert result == (SourceError, "bad.xlsx: the workbook is damaged or incomplete")


def test_entities_are_refused_when_streaming(tmp_path: Path) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol1;</t></is></c></row></sheetData>'
        b"</worksheet>"
    )
    src = write_xlsx(tmp_path / "a.xlsx", ROWS)
    path = _replace_member(src, tmp_path / "laughs.xlsx", "xl/worksheets/sheet1.xml", laughs)
    with pytest.raises(UnsafeFileError, match=r"laughs.xlsx: .*entities"):
        open_source(path, STREAM)


def test_truncated_worksheet_is_damaged_when_streaming(tmp_path: Path) -> None:
    rows: list[list[object]] = [["name", "phone"]] + [[f"n{i}", i] for i in range(2000)]
    src = write_xlsx(tmp_path / "a.xlsx", rows)
    with zipfile.ZipFile(src) as zf:
        body = zf.read("xl/worksheets/sheet1.xml")
    path = _replace_member(src, tmp_path / "cut.xlsx", "xl/worksheets/sheet1.xml",
                           body[: len(body) // 2])
    with pytest.raises(SourceError, match=r"cut.xlsx: the workbook is damaged"), \
            open_source(path, STREAM) as source:
        list(source.rows())


@pytest.mark.parametrize(
    ("code", "kind"),
    [("DD/MM/YY", DATETIME), ("H:MM:SS;@", DATETIME), ("[h]:mm:ss", TIMEDELTA),
     ("[ss]", TIMEDELTA), ("[>=100][Magenta][s].00", TIMEDELTA), ("[h]:mm;[=0]\\-", TIMEDELTA),
     ("#,##0\\ [$\\u20bd-46D]", OTHER), ('"$"#,##0_);[Red]("$"#,##0)', OTHER),
     ("\\Y000000", OTHER), ('#,##0.0####" YMD"', OTHER), ("[>=100][Magenta]General", OTHER),
     ("ha/p\\\\m", DATETIME), ("#,##0*y", OTHER), ("*-yyyy-mm-dd", DATETIME),
     ('m"M"d"D";@', DATETIME), ("0.00%", OTHER)],
)
def test_number_format_kinds(code: str, kind: int) -> None:
    assert number_format_kind(code) == kind


def test_only_sheets_above_the_threshold_are_streamed(tmp_path: Path) -> None:
    big: list[list[object]] = [["name", "phone"]] + [[f"n{i}", 520000000 + i] for i in range(500)]
    path = write_xlsx(tmp_path / "mixed.xlsx", [["name", "phone"], ["Dan", 521234567]], Big=big)
    with zipfile.ZipFile(path) as zf:
        small_xml = zf.getinfo("xl/worksheets/sheet1.xml").file_size
    from dataclasses import replace

    options = SourceOptions(stream_above_bytes=small_xml, all_sheets=True)
    mixed = list(open_sources(path, options))
    decoded = list(open_sources(path, replace(options, stream_above_bytes=1 << 62)))
    try:
        assert [s.info.sheet for s in mixed] == ["Leads", "Big"]
        assert [any(NOTE in w for w in s.info.warnings) for s in mixed] == [False, True]
        # the small sheet is read by calamine, opened only now
        assert [list(s.rows()) for s in mixed] == [list(s.rows()) for s in decoded]
        assert [s.info.sheets for s in mixed] == [s.info.sheets for s in decoded]
    finally:
        for s in mixed + decoded:
            s.close()
