"""Bad input, end to end: the real CLI in a child process, against the emulator.

Each bad file must end with exit code 2, one paragraph on stderr that starts
with ``Error:`` and names the file (and the row where it matters), no
traceback, nothing sent to the campaign, and the child must stay within a
memory cap and a timeout (see ``_run``).  How each reader refuses each file is
tested at the unit level in ``tests/sources/`` (open_source) and
``tests/mapping/`` (binding); here the point is that the whole program turns
those refusals into a clean exit before anything is pushed.
"""

from __future__ import annotations

import codecs
import csv
import io
import random
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from importer.emulator.server import EmulatorServer
from tests.hardening._run import MEMORY_CAP, Completed, is_write, run_importer, valid_mobiles
from tests.sources.conftest import write_xlsx

# Resident memory well below the cap: a refusal must not first load the file.
RSS_BOUND_MB = 400
# Longest acceptable error paragraph: readable in a terminal or a cron mail.
MESSAGE_BOUND = 4000


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _leads(count: int) -> list[list[str]]:
    return [[f"Lead {i}", phone, "x"] for i, phone in enumerate(valid_mobiles(count))]


HEADER = ["name", "phone", "notes"]


# ------------------------------------------------------------------ bad file builders


def empty(d: Path) -> Path:
    path = d / "empty.csv"
    path.write_bytes(b"")
    return path


def header_only(d: Path) -> Path:
    path = d / "header_only.csv"
    path.write_text("name,phone,notes\n\n", encoding="utf-8")
    return path


def noise_csv(d: Path) -> Path:
    path = d / "noise.csv"
    path.write_bytes(random.Random(1).randbytes(50_000))
    return path


def noise_xlsx(d: Path) -> Path:
    path = d / "noise.xlsx"
    path.write_bytes(random.Random(2).randbytes(50_000))
    return path


def _workbook(d: Path, rows: int = 20) -> Path:
    table: list[list[object]] = [[*HEADER]]
    table += [[*row] for row in _leads(rows)]
    return write_xlsx(d / "source.xlsx", table)


def truncated_xlsx(d: Path) -> Path:
    data = _workbook(d).read_bytes()
    path = d / "truncated.xlsx"
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _replace_member(src: Path, dst: Path, member: str, body: bytes) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, body if info.filename == member else zin.read(info))
    return dst


def damaged_sheet_xlsx(d: Path) -> Path:
    src = _workbook(d, 2000)
    with zipfile.ZipFile(src) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    return _replace_member(
        src, d / "damaged_sheet.xlsx", "xl/worksheets/sheet1.xml", sheet[: len(sheet) * 3 // 4]
    )


def locked_xlsx(d: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile  # type: ignore[import-untyped]  # test dep

    out = io.BytesIO()
    with _workbook(d).open("rb") as fh:
        OOXMLFile(fh).encrypt("Pa55word", out)
    path = d / "locked.xlsx"
    path.write_bytes(out.getvalue())
    return path


def zip_bomb_xlsx(d: Path) -> Path:
    """A real workbook whose sheet is 160 MiB of rows stored in a few hundred KiB."""
    src = _workbook(d)
    path = d / "bomb.xlsx"
    row = b'<row><c t="inlineStr"><is><t>Lead</t></is></c><c><v>531000000</v></c></row>'
    block = row * ((1 << 20) // len(row))
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                zout.writestr(info, zin.read(info))
                continue
            with zout.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
                member.write(
                    b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                    b'spreadsheetml/2006/main"><sheetData>'
                )
                for _ in range(160):
                    member.write(block)
                member.write(b"</sheetData></worksheet>")
    return path


_LAUGHS_DTD = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


def laughs_xlsx(d: Path) -> Path:
    body = (
        '<?xml version="1.0"?>' + _LAUGHS_DTD
        + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    return _replace_member(
        _workbook(d), d / "laughs.xlsx", "xl/worksheets/sheet1.xml", body.encode()
    )


def laughs_spreadsheetml(d: Path) -> Path:
    path = d / "laughs.xls"
    path.write_text(
        '<?xml version="1.0"?>' + _LAUGHS_DTD.replace("lolz", "Workbook")
        + '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="A">'
        '<Table><Row><Cell><Data ss:Type="String">&lol9;</Data></Cell></Row></Table>'
        "</Worksheet></Workbook>",
        encoding="utf-8",
    )
    return path


def truncated_spreadsheetml(d: Path) -> Path:
    """An Excel 2003 XML file cut off far below its header (found while streaming)."""
    rows = "".join(
        f'<Row><Cell><Data ss:Type="String">{name}</Data></Cell>'
        f'<Cell><Data ss:Type="String">{phone}</Data></Cell></Row>'
        for name, phone, _ in _leads(300)
    )
    text = (
        '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="Leads">'
        '<Table><Row><Cell><Data ss:Type="String">name</Data></Cell>'
        '<Cell><Data ss:Type="String">phone</Data></Cell></Row>' + rows
        + "</Table></Worksheet></Workbook>"
    )
    path = d / "cut2003.xls"
    path.write_text(text[: len(text) - len(text) // 10], encoding="utf-8")
    return path


def nul_bytes(d: Path) -> Path:
    path = d / "nul.csv"
    text = _csv_text([HEADER, *_leads(200)])
    path.write_bytes(text.encode() + b"Ruth,05\x0031000000,x\n")
    return path


def mixed_encodings(d: Path) -> Path:
    path = d / "mixed.csv"
    phones = valid_mobiles(300)
    head = "שם,טלפון\n" + "".join(f"דני {i},{p}\n" for i, p in enumerate(phones[:299]))
    path.write_bytes(head.encode("utf-8") + f"רות,{phones[299]}\n".encode("cp1255"))
    return path


def mixed_bom_tail(d: Path) -> Path:
    path = d / "bom_mixed.csv"
    path.write_bytes(
        codecs.BOM_UTF8 + _csv_text([HEADER, *_leads(50)]).encode() + "רות,1,x\n".encode("cp1255")
    )
    return path


def wide_without_phone(d: Path) -> Path:
    """10,000 columns, none of them the mapped phone column."""
    path = d / "wide.csv"
    header = ["name", "tel", *(f"c{i}" for i in range(10_000))]
    rows = [[n, p, *("v" for _ in range(10_000))] for n, p, _ in _leads(5)]
    path.write_text(_csv_text([header, *rows]), encoding="utf-8")
    return path


def huge_header_cell(d: Path) -> Path:
    """A 10 MB header cell (a paste gone wrong); the mapped phone column is absent."""
    path = d / "huge_header.csv"
    rows = [[n, p, "x"] for n, p, _ in _leads(5)]
    path.write_text(_csv_text([["name", "tel", "h" * (10 * 1024 * 1024)], *rows]), "utf-8")
    return path


def oversized_cell_late(d: Path) -> Path:
    """A 20 MB cell (over the 16 MB field limit) far below the header."""
    path = d / "oversized.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(_csv_text([HEADER, *_leads(300)]))
        fh.write(f'Dan,0531000000,"{"x" * (20 * 1024 * 1024)}"\n')
    return path


def unclosed_quote_late(d: Path) -> Path:
    path = d / "quote.csv"
    text = _csv_text([HEADER, *_leads(300)]) + 'Dan,0531000000,"oops\nRuth,0531000001,x\n'
    path.write_text(text, encoding="utf-8")
    return path


def unquoted_50mb_cell_late(d: Path) -> Path:
    """A 50 MB cell with no quotes around it (no quote anywhere in the file) at row 302."""
    path = d / "unquoted.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(_csv_text([HEADER, *_leads(300)]))
        fh.write(f"Dan,0531000000,{'x' * (50 * 1024 * 1024)}\nRuth,0531000001,x\n")
    return path


def unclosed_quote_in_big_file(d: Path) -> Path:
    """A stray quote at row 302 that swallows more than the field limit (17 MB) of rows."""
    path = d / "big_quote.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(_csv_text([HEADER, *_leads(300)]))
        fh.write('Dan,0531000000,"oops\n' + "Ruth,0531000001,x\n" * (1024 * 1024))
    return path


_TOO_LONG = (
    r"column 'C': the cell that starts on line 302 is longer than 16,777,216 characters, "
    r"the most one cell may hold(?!.*quote)"
)

# name -> (builder, what the message must say, row it must name or None)
BAD_FILES: dict[str, tuple[Callable[[Path], Path], str, int | None]] = {
    "empty": (empty, r"is empty \(0 bytes\)", None),
    "header only": (header_only, r"has a header row \(row 1\) but no data rows", None),
    "random bytes .csv": (noise_csv, r"looks like a binary file", None),
    "random bytes .xlsx": (noise_xlsx, r"looks like a binary file", None),
    "truncated xlsx": (truncated_xlsx, r"damaged or incomplete", None),
    "damaged sheet in xlsx": (damaged_sheet_xlsx, r"damaged or incomplete", None),
    "password-protected xlsx": (locked_xlsx, r"password-protected", None),
    "zip bomb": (zip_bomb_xlsx, r"decompression bomb", None),
    "entity expansion in xlsx": (laughs_xlsx, r"entities", None),
    "entity expansion in Excel 2003 XML": (laughs_spreadsheetml, r"DTD or entities", None),
    "truncated Excel 2003 XML": (truncated_spreadsheetml, r"damaged", None),
    "NUL bytes": (nul_bytes, r"contains NUL bytes \(first on line 202\)", None),
    "mixed encodings": (mixed_encodings, r"mixes encodings: line 1 is UTF-8 but line 301", None),
    "UTF-8 BOM with a cp1255 tail": (mixed_bom_tail, r"line 52 is not UTF-8", None),
    "10,000 columns, no phone": (wide_without_phone, r"no column 'phone'", None),
    "10 MB header cell": (huge_header_cell, r"no column 'phone'", None),
    "20 MB cell at row 302": (oversized_cell_late, _TOO_LONG, 302),
    "50 MB unquoted cell at row 302": (unquoted_50mb_cell_late, _TOO_LONG, 302),
    "unclosed quote at row 302": (unclosed_quote_late, r"never closed", 302),
    "unclosed quote at row 302 swallowing 17 MB": (
        unclosed_quote_in_big_file,
        r"column 'C': the quoted cell that starts on line 302 is never closed",
        302,
    ),
}


# ------------------------------------------------------------------ assertions


def import_args(workdir: Path, *paths: Path, campaign: str = "Hot leads") -> list[str]:
    """``import PATHS --mapping … --campaign … --report-dir … --state-dir …``."""
    return [
        "import",
        *(str(p) for p in paths),
        "--mapping",
        str(workdir / "mapping.yaml"),
        "--campaign",
        campaign,
        "--report-dir",
        str(workdir / "reports"),
        "--state-dir",
        str(workdir / "state"),
        "--chunk-size",
        "50",
        "--no-progress",
    ]


def assert_refused(result: Completed, *, names: str, says: str) -> str:
    """Exit 2, one clean paragraph naming ``names`` and saying ``says``; returns it."""
    assert not result.timed_out, f"killed after {result.seconds:.0f} s"
    err = result.stderr.strip()
    assert result.returncode == 2, (result.returncode, err[:2000])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert err.startswith("Error: "), err[:2000]
    assert "\n\n" not in err, "more than one paragraph"
    assert len(err) < MESSAGE_BOUND, f"a {len(err):,}-character message: {err[:300]}…"
    assert names in err, err
    assert re.search(says, err), err
    assert result.max_rss_mb < RSS_BOUND_MB < MEMORY_CAP / 2**20, result.max_rss_mb
    return err


def assert_nothing_pushed(emulator: EmulatorServer) -> None:
    """No write reached the API and the campaigns hold no calls."""
    writes = [e.method for e in emulator.request_log if is_write(e.method)]
    assert writes == []
    assert emulator.demo is not None
    for code in emulator.demo.campaigns.values():
        assert emulator.pending_phones(code) == []


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_exits_2_cleanly_with_nothing_pushed(
    case: str, emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    build, says, row = BAD_FILES[case]
    path = build(workdir)
    result = run_importer(import_args(workdir, path), env)
    err = assert_refused(result, names=path.name, says=says)
    if row is not None:
        assert f"row {row}" in err
    assert_nothing_pushed(emulator)


def test_good_and_bad_file_in_one_command_push_nothing(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    good = workdir / "good.csv"
    good.write_text(_csv_text([HEADER, *_leads(120)]), encoding="utf-8")
    for bad in (header_only(workdir), unclosed_quote_late(workdir), locked_xlsx(workdir)):
        # The bad file second: the good one must not have been sent while the bad was read.
        result = run_importer(import_args(workdir, good, bad), env)
        assert_refused(result, names=bad.name, says=".")
        assert_nothing_pushed(emulator)
    assert not list((workdir / "reports").glob("good.*")), "a report for a file never run"


def test_the_same_good_file_then_imports(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    """The cap and the arguments above do not themselves break a normal import."""
    good = workdir / "good.csv"
    rows = _leads(120)
    good.write_text(_csv_text([HEADER, *rows]), encoding="utf-8")
    result = run_importer(import_args(workdir, good), env)
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr
    assert emulator.demo is not None
    pending = emulator.pending_phones(emulator.demo.campaigns["Hot leads"])
    # Chunks go out concurrently, so arrival order is not file order: each number once.
    assert sorted(pending) == sorted("972" + phone[1:] for _, phone, _ in rows)


def test_ten_thousand_columns_and_a_ten_mb_cell_are_read_not_refused(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    """Wide and huge are not wrong: both import, within the same memory and time bounds."""
    phones = valid_mobiles(4)
    wide = workdir / "wide_ok.csv"
    header = ["name", "phone", *(f"c{i}" for i in range(10_000))]
    wide.write_text(
        _csv_text([header, *[[f"W{i}", p, *("v" * 10_000)] for i, p in enumerate(phones[:2])]]),
        encoding="utf-8",
    )
    big = workdir / "big_ok.csv"
    big.write_text(
        _csv_text([HEADER, ["Dan", phones[2], "n" * (10 * 1024 * 1024)], ["Ruth", phones[3], ""]]),
        encoding="utf-8",
    )
    result = run_importer([*import_args(workdir, wide, big), "--dry-run"], env)
    assert result.returncode == 0, result.stderr[:2000]
    assert not result.timed_out and result.max_rss_mb < RSS_BOUND_MB
    assert "wide_ok.csv: 2 row(s): 2 would_add" in result.stdout
    assert "big_ok.csv: 2 row(s): 2 would_add" in result.stdout
    assert_nothing_pushed(emulator)


# ------------------------------------------------------------------ bad commands


def test_mapping_column_missing_names_the_closest_headers(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    path = workdir / "leads.csv"
    path.write_text(
        _csv_text([["full name", "phone_number", "notes"], *_leads(3)]), encoding="utf-8"
    )
    (workdir / "mapping.yaml").write_text(
        "name: near misses\nphone:\n  columns: [phone_numbr]\n"
        "fields:\n  CustomerName: {column: ful_nme}\n",
        encoding="utf-8",
    )
    err = assert_refused(
        run_importer(import_args(workdir, path), env), names="leads.csv", says="mapping"
    )
    assert "mapping.yaml" in err
    assert "no column 'phone_numbr' in leads.csv — did you mean 'phone_number'?" in err
    assert "did you mean 'full name'?" in err
    assert_nothing_pushed(emulator)
    assert emulator.request_log == [], "a bad mapping is found before the API is called"


def test_mapping_with_several_problems_lists_them_all(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    path = workdir / "leads.csv"
    path.write_text(_csv_text([HEADER, *_leads(3)]), encoding="utf-8")
    (workdir / "mapping.yaml").write_text(
        "name: broken\n"
        "phone:\n  columns: [phone]\n  allow_types: [mobile, pager_phones]\n"
        "fields:\n  CustomerName: {column: name}\n  Priority: {value: very high}\n"
        "  Colour: {value: red}\n"
        "dedupe:\n  history_days: -3\n",
        encoding="utf-8",
    )
    err = assert_refused(
        run_importer(import_args(workdir, path), env), names="mapping.yaml", says="problem"
    )
    listed = [line for line in err.splitlines() if line.lstrip().startswith("- ")]
    assert len(listed) >= 4, err
    for clue in ("pager_phones", "Priority", "Colour", "history_days"):
        assert clue in err, (clue, err)
    assert emulator.request_log == []


def test_mapping_that_is_not_yaml(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    path = workdir / "leads.csv"
    path.write_text(_csv_text([HEADER, *_leads(3)]), encoding="utf-8")
    (workdir / "mapping.yaml").write_bytes(random.Random(3).randbytes(2000))
    assert_refused(run_importer(import_args(workdir, path), env), names="mapping.yaml", says=".")
    assert emulator.request_log == []


def test_unknown_campaign(emulator: EmulatorServer, env: dict[str, str], workdir: Path) -> None:
    path = workdir / "leads.csv"
    path.write_text(_csv_text([HEADER, *_leads(3)]), encoding="utf-8")
    result = run_importer(import_args(workdir, path, campaign="Hot leds"), env)
    err = assert_refused(result, names="Hot leds", says="campaign")
    assert "Hot leads" in err, "the message should offer the closest campaign name"
    assert_nothing_pushed(emulator)


def test_missing_file_and_folder(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    good = workdir / "good.csv"
    good.write_text(_csv_text([HEADER, *_leads(3)]), encoding="utf-8")
    missing = workdir / "nope.csv"
    assert_refused(
        run_importer(import_args(workdir, good, missing), env), names="nope.csv", says="not found"
    )
    folder = workdir / "a folder"
    folder.mkdir()
    assert_refused(
        run_importer(import_args(workdir, good, folder), env), names="a folder", says="folder"
    )
    assert_nothing_pushed(emulator)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--encoding", "utf-16"], r"is not utf-16 with a byte-order mark"),
        (["--header-row", "999"], r"has no row 999"),
    ],
)
def test_reading_options_that_cannot_apply(
    flags: list[str], says: str, emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    path = workdir / "leads.csv"
    path.write_text(_csv_text([HEADER, *_leads(3)]), encoding="utf-8")
    result = run_importer([*import_args(workdir, path), *flags], env)
    assert_refused(result, names="leads.csv", says=says)
    assert_nothing_pushed(emulator)
