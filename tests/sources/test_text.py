"""CSV / TSV / .txt: encodings, delimiters, quoting, ragged rows and bad text files."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from importer.errors import (
    EmptySourceError,
    EncodingDetectionError,
    SourceError,
    UnsupportedFormatError,
)
from importer.sources import SourceOptions, open_source
from tests.sources.conftest import cells, read_all

HEBREW = "שם,טלפון,עיר\r\nדני כהן,052-1234567,תל אביב\r\nרות לוי,0541234567,חיפה\r\n"
EXPECTED = [("דני כהן", "052-1234567", "תל אביב"), ("רות לוי", "0541234567", "חיפה")]


@pytest.mark.parametrize(
    ("data", "encoding", "reason"),
    [
        (HEBREW.encode("utf-8"), "utf-8", "valid UTF-8"),
        (codecs.BOM_UTF8 + HEBREW.encode("utf-8"), "utf-8-sig", "UTF-8 byte-order mark"),
        (codecs.BOM_UTF16_LE + HEBREW.encode("utf-16-le"), "utf-16-le", "UTF-16 LE byte-order"),
        (codecs.BOM_UTF16_BE + HEBREW.encode("utf-16-be"), "utf-16-be", "UTF-16 BE byte-order"),
        (HEBREW.encode("utf-16-le"), "utf-16-le", "without byte-order mark"),
        (HEBREW.encode("cp1255"), "windows-1255", "Windows-1255"),
        (HEBREW.encode("iso-8859-8"), "windows-1255", "ISO-8859-8"),
    ],
)
def test_each_encoding_is_detected_with_a_reason(
    tmp_path: Path, data: bytes, encoding: str, reason: str
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(data)
    columns, rows, info = read_all(path)
    assert columns == ["שם", "טלפון", "עיר"]
    assert cells(rows) == EXPECTED
    assert info.encoding == encoding  # type: ignore[attr-defined]
    assert reason in info.encoding_reason  # type: ignore[attr-defined]
    assert [r.row for r in rows] == [2, 3]


def test_plain_ascii_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("name,phone\nDan,0521234567\n")
    _, rows, info = read_all(path)
    assert info.encoding == "utf-8"  # type: ignore[attr-defined]
    assert "ASCII" in info.encoding_reason  # type: ignore[attr-defined]
    assert cells(rows) == [("Dan", "0521234567")]


def test_encoding_option_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city\nJosé,Zürich\n".encode("latin-1"))
    _, rows, info = read_all(path, encoding="latin-1")
    assert cells(rows) == [("José", "Zürich")]
    assert info.encoding_reason == "chosen with the encoding option"  # type: ignore[attr-defined]


def test_latin1_file_is_refused_not_garbled(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city\nRené Café,Paris\nAndré,Nîmes\n".encode("latin-1"))
    with pytest.raises(EncodingDetectionError) as err:
        open_source(path)
    message = str(err.value)
    assert message.startswith("latin.csv: ")
    assert "UTF-8" in message and "Windows-1255" in message and "--encoding" in message


def test_wrong_forced_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "he.csv"
    path.write_bytes(HEBREW.encode("cp1255"))
    with pytest.raises(EncodingDetectionError, match=r"is not valid utf-8: line 1"):
        open_source(path, SourceOptions(encoding="utf-8"))
    with pytest.raises(EncodingDetectionError, match=r"unknown encoding"):
        open_source(path, SourceOptions(encoding="klingon"))


def test_mixed_utf8_and_cp1255_lines_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        "שם,טלפון\nדני,0521234567\n".encode() + "רות,0541234567\n".encode("cp1255")
    )
    with pytest.raises(EncodingDetectionError, match=r"mixes encodings: line 1 is UTF-8 but line 3"
                       ):
        open_source(path)


def test_utf8_bom_file_with_cp1255_tail_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"a,b\n1,2\n" + "רות,3\n".encode("cp1255"))
    with pytest.raises(EncodingDetectionError, match=r"line 3 is not UTF-8"):
        open_source(path)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_each_delimiter_and_line_ending(tmp_path: Path, delimiter: str, newline: str) -> None:
    rows = [
        ["name", "phone", "notes"],
        ["Dan", "0521234567", f'said "call me{delimiter} later"'],
        ["Ruth", "0541234567", f"two{newline}lines"],
        ["Avi", "0501234567", ""],
    ]

    def quote(value: str) -> str:
        if any(ch in value for ch in (delimiter, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    text = newline.join(delimiter.join(quote(v) for v in row) for row in rows) + newline
    path = tmp_path / "leads.txt"
    path.write_bytes(text.encode())
    columns, got, info = read_all(path)
    assert info.delimiter == delimiter  # type: ignore[attr-defined]
    assert info.format == ("tsv" if delimiter == "\t" else "csv")  # type: ignore[attr-defined]
    assert columns == rows[0]
    assert [list(r.cells) for r in got] == rows[1:]
    # Excel rows: one per record; the text editor's line runs ahead after the 2-line cell.
    assert [r.row for r in got] == [2, 3, 4]
    assert [r.line for r in got] == [2, 3, 5]


def test_delimiter_inside_quotes_does_not_fool_the_sniffer(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text(
        'name;city;note\n"Cohen, Dan";"Tel Aviv, Yafo";"a, b, c"\nLevi;Haifa;"x, y"\n'
    )
    _columns, rows, info = read_all(path)
    assert info.delimiter == ";"  # type: ignore[attr-defined]
    assert cells(rows) == [("Cohen, Dan", "Tel Aviv, Yafo", "a, b, c"), ("Levi", "Haifa", "x, y")]


def test_delimiter_option_overrides_sniffing(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a;b,c\n1;2,3\n")
    assert read_all(path, delimiter=",")[0] == ["a;b", "c"]
    assert read_all(path, delimiter="semicolon")[0] == ["a", "b,c"]


def test_single_column_file(tmp_path: Path) -> None:
    path = tmp_path / "phones.csv"
    path.write_text("phone\n0521234567\n0541234567\n")
    columns, rows, _ = read_all(path)
    assert columns == ["phone"]
    assert cells(rows) == [("0521234567",), ("0541234567",)]


def test_ragged_rows_are_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,extra,more\n9,10,11,,\n")
    _, rows, _ = read_all(path)
    assert cells(rows) == [("1", "2", "3"), ("4", "5", ""), ("6", "7", "8"), ("9", "10", "11")]
    assert rows[0].problems == ()
    assert rows[1].problems == ("row has 2 cells, the header has 3",)
    assert rows[2].problems == (
        "row has 5 cells, the header has 3; extra cells: D='extra', E='more'",
    )
    assert rows[3].problems == ()  # trailing empty cells hold nothing


def test_title_and_blank_rows_above_the_header(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text(
        "Leads report November 2026,,,\n,,,\nExported by CRM,,,\n\n"
        "First name,Last name,Phone,City\nDan,Cohen,0521234567,Haifa\n\n"
        "Ruth,Levi,0541234567,Eilat\n"
    )
    columns, rows, info = read_all(path)
    assert info.header_row == 5  # type: ignore[attr-defined]
    assert columns == ["First name", "Last name", "Phone", "City"]
    assert [r.row for r in rows] == [6, 8]  # the blank row 7 is skipped, numbering stays true
    assert any("skipped 2 row(s)" in w for w in info.warnings)  # type: ignore[attr-defined]


def test_header_row_option(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\nc,d\n3,4\n")
    columns, rows, _info = read_all(path, header_row=3)
    assert columns == ["c", "d"] and cells(rows) == [("3", "4")]
    with pytest.raises(EmptySourceError, match=r"has no row 9"):
        open_source(path, SourceOptions(header_row=9))


def test_duplicate_and_empty_header_names_become_unique(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(" טלפון ,,טלפון,\ufeffname,Name\n1,2,3,4,5\n", encoding="utf-8")
    columns, _, _ = read_all(path)
    assert columns == ["טלפון", "Column B", "טלפון (2)", "name", "Name (2)"]


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(EmptySourceError, match=r"^empty.csv: is empty \(0 bytes\)"):
        open_source(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n,,\n")
    with pytest.raises(EmptySourceError, match=r"no header row and no data"):
        open_source(blank)
    header = tmp_path / "header.csv"
    header.write_text("name,phone\n\n")
    with pytest.raises(EmptySourceError, match=r"has a header row \(row 1\) but no data rows"):
        open_source(header)


def test_random_bytes_named_csv_are_refused(tmp_path: Path) -> None:
    import random

    path = tmp_path / "leads.csv"
    path.write_bytes(random.Random(1).randbytes(5000))
    with pytest.raises(UnsupportedFormatError, match=r"looks like a binary file"):
        open_source(path)


def test_nul_bytes_in_text_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"name,phone\n" + b"Dan,0521234567\n" * 200 + b"Ruth,05\x0041234567\n")
    with pytest.raises(UnsupportedFormatError, match=r"contains NUL bytes .first on line 202"):
        open_source(path)


def test_ten_mb_cell_reads(tmp_path: Path) -> None:
    big = "x" * (10 * 1024 * 1024)
    path = tmp_path / "big.csv"
    path.write_text(f'name,notes\nDan,"{big}"\nRuth,short\n')
    _, rows, _ = read_all(path)
    assert len(rows[0].cells[1]) == len(big) and rows[1].cells == ("Ruth", "short")


def test_ten_thousand_columns(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(
        ",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join(str(i) for i in range(10_000))
        + "\n"
    )
    columns, rows, _ = read_all(path)
    assert len(columns) == 10_000 and rows[0].cells[9_999] == "9999"


def test_quote_never_closed_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('name,notes\nDan,"oops\nRuth,fine\nAvi,fine\n')
    # The stray quote swallows the whole file, so it is found while detecting the header.
    with pytest.raises(SourceError, match=r"starts on line 2 is never closed"):
        read_all(path)
    path.write_text("name,notes\n" + "Dan,fine\n" * 100 + 'Ruth,"oops\nAvi,x\n')
    # Found when the file is opened, not half-way through an import that already sent rows.
    with pytest.raises(SourceError, match=r"line 102 is never closed"):
        open_source(path)


@pytest.fixture
def small_field_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A 40-character field limit, and re-reading in 3-character pieces, so that small
    files reach every branch of the over-long cell diagnosis (pieces cut "\r\n" too)."""
    from importer.sources import text_reader

    monkeypatch.setattr(text_reader, "_PIECE", 3)
    previous = csv.field_size_limit(40)
    yield
    csv.field_size_limit(previous)


LONG = "x" * 50


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        (  # unquoted, after a quoted cell holding the delimiter and doubled quotes
            f'name,phone,notes\nDan,"a,""b""",{LONG}\n',
            "row 2, column 'C'",
            "the cell that starts on line 2 is longer than 40 characters",
        ),
        (  # text after a closing quote stays in the cell, as in the csv module
            f'a,b\n"x"{LONG},z\n',
            "row 2, column 'A'",
            "starts on line 2 is longer than 40 characters, the most one cell may hold",
        ),
        (  # rows above span lines; a "\r\n" inside column B is cut by the 3-character pieces
            f'name,x,y\r\n"a\r\nb",1,2\r\nDan,"p,q\r\nr",{LONG}\r\n',
            "row 3, column 'C'",
            "the cell that starts on line 5 is longer",
        ),
        (  # Excel's sep= line is hidden from the row numbers, not from the line numbers
            f"sep=;\na;b\n1;{LONG}\n",
            "row 2, column 'B'",
            "the cell that starts on line 3 is longer",
        ),
        (  # a quoted cell over many lines: maybe a stray quote closed far below
            'name,notes\r\nDan,"' + "ab\r\n" * 20 + '"\r\nRuth,x\r\n',
            "row 2, column 'B'",
            "in double quotes and runs from line 2 to line 22: unless it is meant to",
        ),
        (  # a quote never closed that swallows more than the limit
            "a,b\nDan,\"oops\n" + "Ruth,x\n" * 20,
            "row 2, column 'B'",
            "the quoted cell that starts on line 2 is never closed (the file has an odd",
        ),
    ],
)
@pytest.mark.usefixtures("small_field_limit")
def test_cell_over_the_field_limit_is_named(
    tmp_path: Path, text: str, where: str, says: str
) -> None:
    """The cell the csv module gave up on is named, and called too long unless it is."""
    path = tmp_path / "long.csv"
    path.write_bytes(text.encode())
    with pytest.raises(SourceError) as caught:
        read_all(path)
    message = str(caught.value)
    assert message.startswith(f"long.csv, {where}: "), message
    assert says in message, message
    if "longer" in says and "quote" not in says:
        assert "quote" not in message, message


def test_fifty_mb_unquoted_cell_is_too_long_not_an_unclosed_quote(tmp_path: Path) -> None:
    """The csv module's limit (16 Mi characters) at its real size, checked at open."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("name,phone,notes\n" + "Dan,0521234567,x\n" * 100)
        fh.write(f"Ruth,0521234568,{'x' * (50 * 1024 * 1024)}\nAvi,0521234569,x\n")
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert str(caught.value) == (
        "big.csv, row 102, column 'C': the cell that starts on line 102 is longer than "
        "16,777,216 characters, the most one cell may hold (Excel itself keeps at most "
        "32,767), so the file cannot be read past it. Shorten or empty that cell (it may be "
        "a paste gone wrong, or the file may be damaged), or delete the row, and try again."
    )


def test_rows_can_be_read_twice(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    with open_source(path) as src:
        assert list(src.rows()) == list(src.rows())


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope.csv: no such file"):
        open_source(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match=r"is a folder"):
        open_source(tmp_path)


def test_max_file_bytes(tmp_path: Path) -> None:
    from importer.errors import UnsafeFileError

    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n" * 1000)
    with pytest.raises(UnsafeFileError, match=r"more than the limit"):
        open_source(path, SourceOptions(max_file_bytes=1000))


def test_mixed_script_message_quotes_a_word_of_the_file(tmp_path: Path) -> None:
    """The example word in the mojibake message comes from the file, not from a template."""
    from importer.errors import EncodingDetectionError
    from importer.sources import open_source

    path = tmp_path / "latin1.csv"
    rows = "".join(f"José{i},François{i},Zoë{i}\n" for i in range(40))
    path.write_bytes(("name,city,x\n" + rows).encode("latin-1"))
    with (
        pytest.raises(EncodingDetectionError, match=r"mix Hebrew and Latin letters \(like 'Jos"),
        open_source(path) as source,
    ):
        list(source.rows())


def test_excel_sep_hint_line_is_obeyed_and_hidden_like_excel(tmp_path: Path) -> None:
    """Excel hides a first line "sep=;": the header is row 1 and rows are numbered after it."""
    from importer.sources import open_source

    path = tmp_path / "hint.csv"
    path.write_bytes("\ufeffsep=;\r\nname;phone\r\nA;0531000001\r\nB,C;0531000002\r\n".encode())
    with open_source(path) as source:
        assert source.info.delimiter == ";"
        assert "sep=;" in (source.info.delimiter_reason or "")
        assert source.info.header_row == 1
        rows = list(source.rows())
    assert [(r.row, r.line, r.cells) for r in rows] == [
        (2, 3, ("A", "0531000001")),
        (3, 4, ("B,C", "0531000002")),
    ]
