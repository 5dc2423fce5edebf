"""xlsx / xlsm / xls / ods through python-calamine: cells, layout, sheets, bad workbooks."""

from __future__ import annotations

import datetime as dt
import io
import random
import zipfile
from pathlib import Path

import openpyxl
import pytest

from importer.errors import (
    EmptySourceError,
    EncryptedFileError,
    SourceError,
    UnsafeFileError,
    UnsupportedFormatError,
)
from importer.sources import SourceOptions, open_source, open_sources
from tests.sources.conftest import cells, read_all, write_ods, write_xlsx

ROWS: list[list[object]] = [
    ["name", "phone", "joined", "score"],
    ["Dan", 521234567, dt.date(2026, 11, 28), 1.5],
    ["Ruth", "0541234567", dt.datetime(2026, 11, 28, 14, 30), True],
    ["Avi", 972501234567, dt.time(9, 5), 0.1],
]


def test_xlsx_cells_arrive_as_displayed_text(tmp_path: Path) -> None:
    columns, rows, info = read_all(write_xlsx(tmp_path / "a.xlsx", ROWS))
    assert info.format == "xlsx" and info.sheet == "Leads"  # type: ignore[attr-defined]
    assert columns == ["name", "phone", "joined", "score"]
    assert cells(rows) == [
        ("Dan", "521234567", "2026-11-28", "1.5"),
        ("Ruth", "0541234567", "2026-11-28T14:30:00", "TRUE"),
        ("Avi", "972501234567", "09:05:00", "0.1"),
    ]
    # numbers are marked so the phone stage can repair a lost leading zero
    assert [r.numeric for r in rows] == [frozenset({1, 3}), frozenset(), frozenset({1, 3})]
    assert [(r.file, r.sheet, r.row) for r in rows] == [
        ("a.xlsx", "Leads", 2), ("a.xlsx", "Leads", 3), ("a.xlsx", "Leads", 4)
    ]


def test_scientific_notation_text_stays_text(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "s.xlsx", [["name", "phone"], ["Dan", "9.72501E+11"]])
    _, rows, _ = read_all(path)
    assert rows[0].cells == ("Dan", "9.72501E+11") and rows[0].numeric == frozenset()


def test_title_rows_merged_cells_and_blank_rows_above_header(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["B2"] = "Leads from the home show 2026"
    ws.merge_cells("B2:E2")
    ws["B3"] = "prepared by marketing"
    ws["B5"], ws["C5"], ws["D5"], ws["E5"] = "שם", "טלפון", "עיר", "הערות"
    ws["B6"], ws["C6"], ws["D6"] = "דני", 521234567, "חיפה"
    ws["B8"], ws["C8"], ws["E8"] = "רות", "054-1234567", "חם"
    wb.save(tmp_path / "t.xlsx")
    columns, rows, info = read_all(tmp_path / "t.xlsx")
    assert info.header_row == 5  # type: ignore[attr-defined]
    assert columns == ["שם", "טלפון", "עיר", "הערות"]
    assert [(r.row, r.cells) for r in rows] == [
        (6, ("דני", "521234567", "חיפה", "")),
        (8, ("רות", "054-1234567", "", "חם")),
    ]


def test_unlabelled_numbering_column_gets_a_name(tmp_path: Path) -> None:
    rows: list[list[object]] = [[None, "name", "phone"]] + [
        [i, f"n{i}", f"05{i}"] for i in range(1, 6)
    ]
    columns, got, _ = read_all(write_xlsx(tmp_path / "n.xlsx", rows))
    assert columns == ["Column A", "name", "phone"]
    assert got[0].cells == ("1", "n1", "051") and got[0].problems == ()


def test_sheets_hidden_by_name_by_index_and_all(tmp_path: Path) -> None:
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
        ws.append([name, "0521234567"])
    wb.create_sheet("Empty")
    wb.save(tmp_path / "s.xlsx")
    path = tmp_path / "s.xlsx"
    _, _rows, info = read_all(path)
    assert info.sheet == "North"  # type: ignore[attr-defined]
    assert [(s.name, s.hidden) for s in info.sheets] == [  # type: ignore[attr-defined]
        ("Secret", True), ("North", False), ("South", False), ("Empty", False)
    ]
    assert read_all(path, sheet="South")[1][0].cells == ("South", "0521234567")
    assert read_all(path, sheet="south")[1][0].sheet == "South"
    assert read_all(path, sheet=2)[1][0].sheet == "South"
    hidden = read_all(path, sheet="Secret")
    assert hidden[1][0].cells == ("1", "2")
    assert any("hidden sheet" in w for w in hidden[2].warnings)  # type: ignore[attr-defined]
    with pytest.raises(SourceError, match=r"has no sheet named 'West'; its sheets: 'Secret' "):
        open_source(path, SourceOptions(sheet="West"))
    with pytest.raises(SourceError, match=r"has no sheet number 9"):
        open_source(path, SourceOptions(sheet=9))
    sources = list(open_sources(path, SourceOptions(all_sheets=True)))
    assert [s.info.sheet for s in sources] == ["North", "South"]
    assert [next(s.rows()).cells[0] for s in sources] == ["North", "South"]
    for s in sources:
        s.close()


def test_blank_first_sheet_falls_through_to_the_next(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "b.xlsx", [], Data=[["a", "b"], ["1", "2"]])
    _, rows, info = read_all(path)
    assert info.sheet == "Data" and cells(rows) == [("1", "2")]  # type: ignore[attr-defined]


def test_header_only_and_empty_workbooks(tmp_path: Path) -> None:
    with pytest.raises(EmptySourceError, match=r"h.xlsx, sheet 'Leads': has a header row"):
        open_source(write_xlsx(tmp_path / "h.xlsx", [["name", "phone"]]))
    with pytest.raises(EmptySourceError, match=r"every visible sheet is blank"):
        open_source(write_xlsx(tmp_path / "e.xlsx", []))


def test_xlsm_is_detected(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "m.xlsm", ROWS)
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
    )
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert read_all(path)[2].format == "xlsm"  # type: ignore[attr-defined]


def test_xls_biff_written_by_xlwt(tmp_path: Path) -> None:
    import xlwt  # test-only dependency: the one maintained writer of BIFF8 .xls

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("לידים")
    ws.write(0, 0, "דוח לידים")
    for c, v in enumerate(["שם", "טלפון", "תאריך"]):
        ws.write(2, c, v)
    ws.write(3, 0, "דני")
    ws.write(3, 1, 521234567)
    ws.write(3, 2, dt.date(2026, 11, 28), xlwt.easyxf(num_format_str="DD/MM/YYYY"))
    hidden = wb.add_sheet("hidden")
    hidden.write(0, 0, "x")
    hidden.visibility = 1
    wb.save(str(tmp_path / "old.xls"))
    columns, rows, info = read_all(tmp_path / "old.xls")
    assert info.format == "xls" and info.header_row == 3  # type: ignore[attr-defined]
    assert columns == ["שם", "טלפון", "תאריך"]
    assert [(r.row, r.cells, r.numeric) for r in rows] == [
        (4, ("דני", "521234567", "2026-11-28"), frozenset({1}))
    ]
    assert [s.hidden for s in info.sheets] == [False, True]  # type: ignore[attr-defined]


def test_ods_built_by_hand(tmp_path: Path) -> None:
    path = write_ods(
        tmp_path / "a.ods",
        {"Hidden": [["x", "y"], ["1", "2"]],
         "לידים": [[], ["שם", "טלפון", "פעיל"], ["דני", 521234567, True], [], ["רות", 1.5, False]]},
        hidden=["Hidden"],
    )
    columns, rows, info = read_all(path)
    assert info.format == "ods" and info.sheet == "לידים"  # type: ignore[attr-defined]
    assert columns == ["שם", "טלפון", "פעיל"]
    assert [(r.row, r.cells) for r in rows] == [
        (3, ("דני", "521234567", "TRUE")), (5, ("רות", "1.5", "FALSE"))
    ]


def test_content_not_extension_decides(tmp_path: Path) -> None:
    src = write_xlsx(tmp_path / "a.xlsx", ROWS)
    disguised = tmp_path / "export.xls"
    disguised.write_bytes(src.read_bytes())
    assert read_all(disguised)[2].format == "xlsx"  # type: ignore[attr-defined]
    as_csv = tmp_path / "export.csv"
    as_csv.write_bytes(src.read_bytes())
    assert len(read_all(as_csv)[1]) == 3


def test_password_protected_workbook(tmp_path: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile  # test-only dependency

    plain = write_xlsx(tmp_path / "plain.xlsx", ROWS)
    out = io.BytesIO()
    with plain.open("rb") as fh:
        OOXMLFile(fh).encrypt("secret", out)
    path = tmp_path / "locked.xlsx"
    path.write_bytes(out.getvalue())
    with pytest.raises(EncryptedFileError, match=r"locked.xlsx: the workbook is password-prot"):
        open_source(path)


def test_truncated_and_random_workbooks(tmp_path: Path) -> None:
    data = write_xlsx(tmp_path / "a.xlsx", ROWS).read_bytes()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"cut.xlsx: the workbook is damaged or incomplete"):
        open_source(cut)
    noise = tmp_path / "noise.xlsx"
    noise.write_bytes(random.Random(2).randbytes(4000))
    with pytest.raises(UnsupportedFormatError, match=r"noise.xlsx: looks like a binary file"):
        open_source(noise)
    corrupt = tmp_path / "corrupt.xlsx"
    with zipfile.ZipFile(tmp_path / "a.xlsx") as zin, zipfile.ZipFile(corrupt, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body[: len(body) // 2]
            zout.writestr(info, body)
    with pytest.raises(SourceError, match=r"damaged"):
        read_all(corrupt)


def test_word_document_is_not_a_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    with pytest.raises(UnsupportedFormatError, match=r"Word document"):
        open_source(path)


def test_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bomb.xlsx", ROWS)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf, zf.open(
        "xl/media/padding.bin", "w"
    ) as member:
        block = b"\0" * (1 << 20)
        for _ in range(30):  # 30 MiB of zeros, stored in ~30 KiB
            member.write(block)
    with pytest.raises(UnsafeFileError, match=r"decompression bomb"):
        open_source(path)
    with pytest.raises(UnsafeFileError, match=r"would unpack to"):
        open_source(write_xlsx(tmp_path / "a.xlsx", ROWS),
                    SourceOptions(max_uncompressed_bytes=1000))


def test_billion_laughs_in_a_workbook_is_refused(tmp_path: Path) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData>'
        "</worksheet>"
    )
    src = write_xlsx(tmp_path / "a.xlsx", ROWS)
    path = tmp_path / "laughs.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = laughs.encode()
            zout.writestr(info, body)
    with pytest.raises(UnsafeFileError, match=r"entities"):
        read_all(path)


def test_ten_thousand_columns_and_the_longest_cell(tmp_path: Path) -> None:
    # Excel cells hold at most 32,767 characters (openpyxl truncates to that when writing;
    # the 10 MB cell is tested on CSV, where it can exist).
    big = "y" * 32_767
    path = write_xlsx(
        tmp_path / "w.xlsx",
        [[f"c{i}" for i in range(10_000)], [str(i) for i in range(10_000)]],
    )
    columns, rows, _ = read_all(path)
    assert len(columns) == 10_000 and rows[0].cells[-1] == "9999"
    path = write_xlsx(tmp_path / "big.xlsx", [["name", "notes"], ["Dan", big]])
    assert len(read_all(path)[1][0].cells[1]) == len(big)


def test_all_sheets_skips_a_sheet_without_data_and_says_so(tmp_path: Path) -> None:
    """A notes sheet between two lead sheets must not stop them; only an all-empty book fails."""
    from importer.errors import EmptySourceError
    from importer.sources import open_sources
    from importer.sources.model import SourceOptions
    from tests.workbooks import write_sheets

    path = write_sheets(tmp_path / "book.xlsx", {
        "ינואר": [["name", "phone"], ["A", "053-1000001"]],
        "הערות": [["לזכור לחזור ללקוחות"]],
        "פברואר": [["name", "phone"], ["B", "053-1000002"]],
    })
    options = SourceOptions(all_sheets=True)
    infos = []
    for source in open_sources(path, options):
        with source:
            assert len(list(source.rows())) == 1
            infos.append(source.info)
    assert [i.sheet for i in infos] == ["ינואר", "פברואר"]
    notes = [w for i in infos for w in i.warnings]
    assert any(w.startswith("sheet 'הערות' skipped:") for w in notes)

    empty_path = write_sheets(
        tmp_path / "empty.xlsx", {"one": [["only a title"]], "two": [["another title"]]}
    )
    with pytest.raises(EmptySourceError):
        for source in open_sources(empty_path, options):
            source.close()


LINKED_ROWS: list[list[object]] = [
    ["name", "phone", "city"],
    ["Dan", "0521234567", "Tel Aviv"],
    ["Ruth", 541234567, "Haifa"],
    ["Avi", "0531234567", "Eilat"],
]
LINKS = {
    "A2": "<f>[1]Sheet1!A2</f>",
    "B3": "<f>'[1]Leads 2026'!B3</f>",
    # a column filled down: the first cell holds the formula the others share
    "C2": '<f t="shared" si="0" ref="C2:C3">[1]Sheet1!C2</f>',
    "C3": '<f t="shared" si="0"/>',
}
LINK_NOTE = (
    "4 cells (A2, C2, B3, C3) show values linked from another workbook: they are copies "
    "saved in this file when it was last updated, and may be out of date. For current "
    "values, open the file in Excel, update the links (Data > Edit Links > Update Values) "
    "and save it before importing it."
)


@pytest.mark.parametrize("stream_above", [0, 1 << 62], ids=["streamed", "calamine"])
def test_values_linked_from_another_workbook_are_noted(
    tmp_path: Path, stream_above: int
) -> None:
    """Excel saves a linked cell's last value: it is read, and the run says it may be stale."""
    from tests.workbooks import write_linked_workbook

    path = write_linked_workbook(tmp_path / "linked.xlsx", LINKED_ROWS, LINKS)
    with open_source(path, SourceOptions(stream_above_bytes=stream_above)) as src:
        assert LINK_NOTE in src.info.warnings
        assert cells(list(src.rows()))[0] == ("Dan", "0521234567", "Tel Aviv")


def test_linked_cell_count_and_first_cells(tmp_path: Path) -> None:
    from tests.workbooks import write_linked_workbook

    rows: list[list[object]] = [["name", "phone"]] + [
        [f"Lead {i}", f"05212345{i:02d}"] for i in range(8)
    ]
    many = write_linked_workbook(
        tmp_path / "many.xlsx", rows, {f"B{r}": f"<f>[1]Sheet1!B{r}</f>" for r in range(2, 10)}
    )
    (note,) = read_all(many)[2].warnings  # type: ignore[attr-defined]
    assert note.startswith("8 cells (B2, B3, B4, B5, B6, ...) show values linked from another")
    one = write_linked_workbook(tmp_path / "one.xlsx", rows, {"B9": "<f>[1]Sheet1!B9</f>"})
    (note,) = read_all(one)[2].warnings  # type: ignore[attr-defined]
    assert note.startswith("1 cell (B9) shows a value linked from another workbook: it is a copy")


def test_cells_that_read_this_workbook_only_are_not_noted(tmp_path: Path) -> None:
    """Formulas on this workbook's sheets and tables, links with no saved value or an
    error, and [1] references in a workbook without links are left alone."""
    from tests.workbooks import write_linked_workbook

    rows: list[list[object]] = [
        ["name", "phone", "city", "total"],
        ["Dan", "0521234567", "Tel Aviv", 3],
        ["Ruth", "0541234567", None, "#REF!"],
    ]
    local = {
        "A2": "<f>Sheet2!A1</f>",
        "B2": '<f>IF([@Price]&gt;0,Sheet2!B1,"[1]x!")</f>',
        "D2": "<f>SUM(Table1[Price])</f>",
        "A3": "<f>'Other sheet'!A3</f>",
        "C3": "<f>[1]Sheet1!C3</f>",  # no saved value
    }
    path = write_linked_workbook(tmp_path / "local.xlsx", rows, local)
    with zipfile.ZipFile(path) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    error = sheet.replace('<c r="D3" t="inlineStr"><is><t>#REF!</t></is></c>',
                          '<c r="D3" t="e"><f>[1]Sheet1!D3</f><v>#REF!</v></c>')
    assert error != sheet
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp_path / "e.xlsx", "w") as zout:
        for info in zin.infolist():
            body = error.encode() if info.filename == "xl/worksheets/sheet1.xml" else zin.read(info)
            zout.writestr(info, body)
    for stream_above in (0, 1 << 62):
        with open_source(tmp_path / "e.xlsx", SourceOptions(stream_above_bytes=stream_above)) as s:
            assert not any("another workbook" in w for w in s.info.warnings), s.info.warnings
    unlinked = write_linked_workbook(tmp_path / "u.xlsx", LINKED_ROWS, LINKS, linked_book=None)
    assert read_all(unlinked)[2].warnings == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("formula", "external"),
    [
        ("[1]Sheet1!A1", True),
        ("'[1]My sheet'!A1", True),
        ("[1]!Prices", True),
        ("SUM(A1,[2]Data!B2:B9)", True),
        ("'[prices.xlsx]Sheet1'!A1", True),
        ("'C:\\Users\\dana\\[prices.xlsx]Sheet1'!A1", True),
        ("'גיליון [1]'!A1", True),
        ("Sheet2!A1", False),
        ("'It''s mine'!A1", False),
        ("Table1[Price]", False),
        ("Table1[[#This Row],[Price]]", False),
        ("IF([@Price]>0,Sheet2!A1)", False),
        ('A1&"[1]Sheet1!A1"', False),
    ],
)
def test_external_reference_formulas(formula: str, external: bool) -> None:
    from importer.sources.xlsx_stream_reader import is_external_formula

    assert is_external_formula(formula) is external
