"""A corpus of lead files that exercise the tricky parts of reading and mapping.

``build_corpus(folder)`` writes every file into ``folder`` and returns their paths by name.
The bytes are the same on every call (no randomness, no clock), so a difference between
the engines always reproduces. The files are small (< 3,000 rows) except ``big.csv``:
~20k rows and ~6 MB, so a reader that works in pieces of a few MB really splits it, with
the hostile kinds of line (blank, ragged, quoted line breaks, odd quotes) scattered
through it so some pieces need the careful reader and most do not.

Well-formed lines are written with the csv module. Malformed lines (a quote inside an
unquoted cell, an unterminated quote, blank and whitespace-only lines, ragged rows) are
the point of some files: those few are spliced in as raw text on purpose.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from tests.phone_samples import valid_mobiles
from tests.workbooks import write_sheets

__all__ = [
    "BIG_FILE", "EN_HEADER", "HE_HEADER", "SAMPLE_MAPPINGS", "build_corpus", "corpus_names",
    "mobiles",
]

T = TypeVar("T")
BIG_FILE = "big.csv"
#: Each file of sample_data/ and its mapping in mappings/.
SAMPLE_MAPPINGS = {
    "crm_export_he.csv": "hebrew-crm.yaml",
    "facebook_leads.csv": "facebook-lead-ads.yaml",
    "generic_leads_en.csv": "generic-english.yaml",
    "google_ads_leads.csv": "google-ads-lead-form.yaml",
    "handmade_leads.xlsx": "handmade-excel.yaml",
    "voicenter_pending_export.csv": "voicenter-pending.yaml",
}

EN_HEADER = [
    "ID", "First Name", "Last Name", "Full Name", "Mobile", "Phone", "Phone 2", "Status",
    "Callback Date", "Call Date", "Call Time", "Caller", "City", "Source", "Notes",
    "var_Branch", "Extra Note",
]
HE_HEADER = [
    "מזהה", "שם פרטי", "שם משפחה", "טלפון נייד", "טלפון", "עיר", "מקור", "הערות",
    "תאריך יצירה", "דירוג", "אימייל", "מועד חיוג",
]
FB_HEADER = [
    "id", "created_time", "ad_name", "campaign_name", "form_name", "platform", "full_name",
    "phone_number", "email", "מתי_נוח_לך_שנחזור_אליך?",
]
GOOGLE_HEADER = [
    "Lead ID", "Lead submit time", "Campaign name", "Form name", "Full Name", "User Phone",
    "User Email", "City", "Postal Code",
]
PENDING_HEADER = [
    "Phone", "CustomerName", "Priority", "CallerID", "CallInserted", "OriginateTime",
    "var_LeadID", "var_Source", "var_Notes",
]

_POOL = 4000


def mobiles() -> list[str]:
    """The valid Israeli mobiles the corpus uses (local form), the same on every call."""
    return _MOBILES


_MOBILES = valid_mobiles(_POOL, start=2_100_000, prefix="054")

# Each kind of value cycles with its own period, so rows mix them in many combinations.
_FIRST = ["Noa", "דנה", "Yossi", "", "אבי", "O'Brien", "  Ron  ", "מיכל\u200f", "=cmd", "Li"]
_LAST = ["Levi", "כהן", "", "Mizrahi", "בן-דוד", "Smith, Jr.", "\u202bפרץ\u202c", "-", "Dahan"]
_FULL = ["Noa Levi", "", "דנה כהן", "Yossi Mizrahi", '="Dana ""D"" Levi"', "שִׁירָה", "+Ron"]
_STATUS = [
    "hot", "Warm", "COLD", "חם", "lukewarm", "", "7", "7.0", " hot ", "פושר", "קר", "12.5",
    "-3",
]
_CALLBACK = [
    "2026-07-01 09:00", "01/07/2026 09:00", "1.7.26 9:00", "01-07-2026",
    "2026-07-01T09:00:00+03:00", "07/01/2026 9:00 PM", "1782900000", "tomorrow", "",
    "2027-01-15", "20270115 1030", "15/01/2027 10:30:15", "'01/07/2026 09:00",
    "2027-01-15T08:00:00Z", "31/12/2026", "2026-13-40 10:00",
]
_CALL_DATE = ["2027-01-15", "15/01/2027", "01/15/2027", "", "2027-02-30", "3.2.27", "20270203"]
_CALL_TIME = ["10:30", "9:00 PM", "", "25:00", "14:00:00", "0930", "8:15"]
_CALLER = ["072-2776772", "", "03-6123456", "not a number", "'0722776772", "+972722776772"]
_CITY = ["תל אביב", "\u200fירושלים", "Haifa", "", "באר\u00a0שבע", "\u202bחולון\u202c", "Eilat "]
_SOURCE = ["fb", "גוגל", "Website", "", "FB ", "Referral", "@ads"]
_NOTES = [
    "", "call 054-2866162 after 18:00", 'asked "price", twice', "=1+2", "+972 note",
    "-minus first", "@mention", "\tTab led", "חם", "multi\nline note", "=HYPERLINK(\"x\")",
    "'=not a formula", "''=escaped twice", "note, with comma", "טלפון נוסף 052-4567890",
    "  padded  ", "\u200fהערה עם סימן כיוון",
]
_BRANCH = ["North", "", "דרום", "=SUM(A1)", "Center"]
_EXTRA = ["", "x", "'0501234567", '="Dana ""D"" Levi"', "-5", "it's"]
_BAD_PHONES = [
    "12345", "054210000199", "050-1234567", "1-800-800-800", "abc", "", " ",
    "9.72501E+11", "03-6123456", "+44 20 7946 0958", "00972542100001", "+1 212 555 0123",
    "1700-700-700", "*6565",
]


def _phone_form(number: str, i: int) -> str:
    """The same valid local number written one of many ways people (and Excel) write it."""
    forms: list[Callable[[str], str]] = [
        lambda n: n,
        lambda n: f"{n[:3]}-{n[3:6]}-{n[6:]}",
        lambda n: f"+972 {n[1:3]}-{n[3:6]}-{n[6:]}",
        lambda n: "972" + n[1:],
        lambda n: f"({n[:3]}) {n[3:]}",
        lambda n: n[1:],
        lambda n: "'" + n,
        lambda n: '="' + n + '"',
        lambda n: n + " after 18:00",
        lambda n: "p:+972" + n[1:],
        lambda n: "  " + n + "  ",
        lambda n: "\u200f" + n,
        lambda n: f"{n[:3]}.{n[3:]}",
        lambda n: "+972-" + n[1:],
    ]
    return forms[i % len(forms)](number)


def _pick(values: Sequence[T], i: int) -> T:
    return values[i % len(values)]


def _phones(i: int) -> tuple[str, str, str]:
    """(Mobile, Phone, Phone 2) of row ``i``: usually the mobile; sometimes only a later
    column; sometimes a bad number first; duplicates of earlier rows typed differently."""
    n = i
    if i % 9 == 8:
        n = i - 5  # the number of an earlier row, in another form
    if i % 29 == 28:
        n = i - 27
    number = _MOBILES[n % _POOL]
    form = _phone_form(number, i + (3 if n != i else 0))
    bad = _pick(_BAD_PHONES, i // 3)
    kind = i % 23
    if kind in (3, 10):
        return "", form, ""
    if kind == 5:
        return "", "", form
    if kind in (7, 15):
        return bad, form, ""
    if kind in (12, 19):
        return bad, "", ""
    if kind == 21:
        return "", "", ""
    return form, _pick(["", "03-6123456", "", bad], i), ""


def en_row(i: int) -> list[str]:
    """Row ``i`` under EN_HEADER."""
    mobile, phone, phone2 = _phones(i)
    return [
        str(10_000 + i), _pick(_FIRST, i), _pick(_LAST, i), _pick(_FULL, i), mobile, phone,
        phone2, _pick(_STATUS, i), _pick(_CALLBACK, i), _pick(_CALL_DATE, i),
        _pick(_CALL_TIME, i), _pick(_CALLER, i), _pick(_CITY, i), _pick(_SOURCE, i),
        _pick(_NOTES, i), _pick(_BRANCH, i), _pick(_EXTRA, i),
    ]


def he_row(i: int) -> list[str]:
    """Row ``i`` under HE_HEADER."""
    mobile, phone, _ = _phones(i)
    return [
        str(20_000 + i), _pick(_FIRST, i + 1), _pick(_LAST, i + 2), mobile, phone,
        _pick(_CITY, i), _pick(_SOURCE, i), _pick(_NOTES, i),
        _pick(_CALL_DATE, i), _pick(_STATUS, i), f"lead{i}@example.co.il" if i % 4 else "",
        _pick(_CALLBACK, i + 3),
    ]


def _fb_row(i: int) -> list[str]:
    mobile, phone, _ = _phones(i)
    return [
        f"l:{1200000000000000 + i}", f"2026-11-20T{i % 24:02d}:15:00+02:00", "Winter promo",
        "Winter 2026", "Callback form", _pick(["fb", "ig"], i), _pick(_FULL, i),
        mobile or phone, f"x{i}@example.com", _pick(["morning", "ערב", ""], i),
    ]


def _google_row(i: int) -> list[str]:
    mobile, phone, _ = _phones(i)
    return [
        f"lead-{i:05d}", f"2026-11-{1 + i % 28:02d}T08:00:00Z", "Search - TLV", "Mortgage",
        _pick(_FULL, i + 1), mobile or phone, f"u{i}@example.com", _pick(_CITY, i),
        str(2_187_699 + i) if i % 3 else "",
    ]


def _pending_row(i: int) -> list[str]:
    number = _MOBILES[(i * 7) % _POOL]
    phone = _pick(
        ["'+972" + number[1:], "972" + number[1:], "'+4930901820", "4930901820",
         "'+49523746", number, "'+12125550123"], i)
    return [
        phone, _pick(["נועה לוי", "'+ליד", "''=x", "'=SUM(1)", "Dana", ""], i),
        _pick(["10", "5", "", "1", "x"], i), _pick(["972722776772", "", "'+972722776772"], i),
        f"2026-11-2{i % 10}T00:10:00.000Z", _pick(["1799305200", "", "1782900000", "bad"], i),
        str(880_100 + i), _pick(["facebook", "google-ads", "'-crm", ""], i),
        _pick(_NOTES, i),
    ]


# --- writing ------------------------------------------------------------------------------


def _csv_text(
    rows: Iterable[Sequence[str]], delimiter: str = ",", lineterminator: str = "\r\n"
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator)
    writer.writerows(rows)
    return buffer.getvalue()


def _encodable(text: str, encoding: str) -> str:
    """``text`` with what ``encoding`` cannot hold replaced (cp1255 has no U+202B, say)."""
    return text.encode(encoding, errors="replace").decode(encoding)


def _write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(_encodable(text, encoding).encode(encoding))
    return path


def _table(header: Sequence[str], row: Callable[[int], list[str]], count: int,
           start: int = 0) -> list[list[str]]:
    return [list(header), *(row(i) for i in range(start, start + count))]


def _en_utf8(folder: Path) -> Path:
    return _write(folder / "en_utf8.csv", _csv_text(_table(EN_HEADER, en_row, 120)), "utf-8")


def _en_bom_blank_lines(folder: Path) -> Path:
    """UTF-8 with a BOM, LF line ends, blank and whitespace-only lines inside and at the end."""
    table = _table(EN_HEADER, en_row, 60, start=200)
    text = _csv_text(table[:20], lineterminator="\n")
    text += "\n" + "   \n" + "\t\n" + _csv_text(table[20:40], lineterminator="\n")
    text += ",,,,,,\n" + " , , \n" + _csv_text(table[40:], lineterminator="\n")
    text += "\n\n  \n\n"
    return _write(folder / "en_utf8_bom_blank_lines.csv", text, "utf-8-sig")


def _he_cp1255(folder: Path) -> Path:
    return _write(folder / "he_cp1255.csv", _csv_text(_table(HE_HEADER, he_row, 90)), "cp1255")


def _he_utf16(folder: Path) -> Path:
    """What Excel's "Unicode text" gives: UTF-16 LE with a BOM, tab-separated."""
    text = _csv_text(_table(HE_HEADER, he_row, 70, start=300), delimiter="\t")
    return _write(folder / "he_utf16.csv", text, "utf-16")


def _he_utf8_titles(folder: Path) -> Path:
    """Hebrew headers with niqqud and direction marks, two title lines above them."""
    header = ["\u200fמזהה", "שֵׁם פְּרָטִי", "שם משפחה", "טלפון נייד", "טלפון", "עיר", "מקור",
              "הערות", "תאריך יצירה", "דירוג", "אימייל", "מועד חיוג"]
    rows = [["דוח לידים - נובמבר", *[""] * 11], [""] * 12, *_table(header, he_row, 50, 400)]
    return _write(folder / "he_utf8_titles.csv", _csv_text(rows), "utf-8")


def _fb_utf16(folder: Path) -> Path:
    text = _csv_text(_table(FB_HEADER, _fb_row, 60), delimiter="\t", lineterminator="\n")
    return _write(folder / "facebook_utf16.csv", text, "utf-16-le")


def _google_tsv(folder: Path) -> Path:
    text = _csv_text(_table(GOOGLE_HEADER, _google_row, 60), delimiter="\t")
    return _write(folder / "google_tabs.tsv", text, "utf-8")


def _sep_semicolon(folder: Path) -> Path:
    """Excel's ``sep=;`` line before a semicolon-separated table."""
    text = "sep=;\r\n" + _csv_text(_table(EN_HEADER, en_row, 50, 500), delimiter=";")
    return _write(folder / "sep_semicolon.csv", text, "utf-8")


def _ragged(folder: Path) -> Path:
    """Rows shorter and longer than the header."""
    rows: list[list[str]] = [list(EN_HEADER)]
    for i in range(600, 660):
        row = en_row(i)
        if i % 4 == 1:
            row = row[: 5 + i % 7]
        elif i % 4 == 2:
            row = [*row, "extra", "", f"more {i}"]
        elif i % 4 == 3:
            row = row[:5]
        rows.append(row)
    return _write(folder / "ragged.csv", _csv_text(rows), "utf-8")


def _quotes(folder: Path) -> Path:
    """Quoted commas, doubled quotes, line breaks in quotes, quotes inside unquoted cells,
    text after a closing quote, and a quote never closed on the last line."""
    table = _table(EN_HEADER, en_row, 40, 700)
    for row in table[1:]:
        row[14] = row[14] + ', "quoted", and\nsecond line'
    text = _csv_text(table[:20])
    # raw on purpose: csv.writer would quote these cells
    n = _MOBILES[3000]
    text += f'10900,Dana "D",Levi,,{n},,,hot,,,,,Haifa,fb,she said "hi",North,\r\n'
    text += f'10901,Ron,5" screen,,{_MOBILES[3001]},,,warm,,,,,,,a"b"c,,\r\n'
    text += _csv_text(table[20:])
    text += f'10902,"Unclosed,Levi,,{_MOBILES[3002]},,,cold,,,,,,,"open quote\r\n'
    text += f"10903,After,Open,,{_MOBILES[3003]},,,hot,,,,,,,,,\r\n"
    text += f'10904,Never,"closed,,{_MOBILES[3004]},,,hot,,,,,,,,,\r\n'  # odd quote count
    return _write(folder / "quotes.csv", text, "utf-8")


def _cr_only(folder: Path) -> Path:
    """Old Mac line ends (CR only), with line breaks inside quoted cells; and a bare LF
    inside a cell, which the csv module leaves unquoted when lines end with CR alone."""
    table = _table(EN_HEADER, en_row, 45, 800)
    for row in table[1::2]:
        row[14] = row[14].replace("\n", "\r\n") + "\rlast line"
    text = _csv_text(table, lineterminator="\r")
    return _write(folder / "cr_only.csv", text, "utf-8")


def _formulas(folder: Path) -> Path:
    """Formula-like cells and Excel's text marks in every column, the phone columns too."""
    rows: list[list[str]] = [list(EN_HEADER)]
    marks = ["=", "+", "-", "@", "\t", "'", "\r"]
    for i in range(900, 960):
        row = en_row(i)
        mark = _pick(marks, i)
        for c in (1, 2, 3, 12, 13, 15, 16):
            row[c] = mark + row[c] if row[c] else mark
        if i % 5 == 0:
            row[4] = '="' + _MOBILES[i] + '"'
        elif i % 5 == 1:
            row[4] = "'" + _MOBILES[i]
        elif i % 5 == 2:
            row[4] = "+972" + _MOBILES[i][1:]
        elif i % 5 == 3:
            row[4] = "=" + _MOBILES[i]
        rows.append(row)
    return _write(folder / "formulas.csv", _csv_text(rows), "utf-8")


def _layout(folder: Path) -> Path:
    """Report-like layout: titles above the header, repeated headers, group titles, footers."""
    width = len(EN_HEADER)

    def line(*cells: str) -> list[str]:
        return [*cells, *[""] * (width - len(cells))]

    rows: list[list[str]] = [line("Leads report"), line("Generated 2026-11-30"), line()]
    rows.append(list(EN_HEADER))
    for group, start in (("North", 1000), ("South", 1030), ("קבוצה: מרכז", 1060)):
        rows.append(line(group))
        rows.extend(en_row(i) for i in range(start, start + 25))
        rows.append(list(EN_HEADER))
    rows += [line("Total", "", "", "", "75"), line("Generated By Salesforce.com"),
             line("Confidential Information - Do Not Distribute"), line("Copyright (c) 2026")]
    return _write(folder / "layout.csv", _csv_text(rows), "utf-8")


def _numbers(folder: Path) -> Path:
    """Duplicates typed differently, bad numbers, numbers in notes, first phone column empty."""
    rows: list[list[str]] = [list(EN_HEADER)]
    for i in range(150):
        row = en_row(1100 + i)
        base = _MOBILES[1100 + i % 30]
        row[4] = "" if i % 3 == 0 else _phone_form(base, i)
        row[5] = _pick(_BAD_PHONES, i) if i % 2 else _phone_form(base, i + 1)
        row[6] = _phone_form(_MOBILES[1200 + i % 7], i + 2)
        row[14] = f"also {_phone_form(_MOBILES[1300 + i], i)}; {_pick(_NOTES, i)}"
        rows.append(row)
    return _write(folder / "numbers.csv", _csv_text(rows), "utf-8")


def _pending_export(folder: Path) -> Path:
    text = _csv_text(_table(PENDING_HEADER, _pending_row, 40))
    return _write(folder / "pending_export.csv", text, "utf-8-sig")


def _big(folder: Path) -> Path:
    """~20k rows, ~6 MB: mostly clean lines, with every hostile kind of line here and there."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EN_HEADER)
    padding = "פרטים נוספים על הליד " * 4
    for i in range(20_000):
        row = en_row(i)
        row[16] = f"{row[16]} {padding}{i}"
        if i % 1499 == 7:
            buffer.write("\r\n   \r\n")  # blank and whitespace-only lines
        if i % 2203 == 11:
            row = row[:6]  # ragged: short
        if i % 2711 == 13:
            row = [*row, "extra cell"]  # ragged: long
        if i % 3001 == 17:
            buffer.write(f'{i},Dana "D",x,,{_MOBILES[i % _POOL]},,,,,,,,,,a"b,,\r\n')
        writer.writerow(row)
    return _write(folder / BIG_FILE, buffer.getvalue(), "utf-8")


def _workbook_rows(start: int, count: int) -> list[list[object]]:
    """EN rows as a spreadsheet holds them: phones as numbers without their 0, dates as dates."""
    rows: list[list[object]] = [list(EN_HEADER)]
    for i in range(start, start + count):
        row: list[object] = list(en_row(i))
        number = _MOBILES[i % _POOL]
        kind = i % 6
        if kind == 0:
            row[4] = int(number)  # Excel dropped the leading zero
        elif kind == 1:
            row[4] = float(number)
        elif kind == 2:
            row[4], row[5] = None, int(number)
        row[7] = _pick([10, 5.0, "hot", None, "חם", 3], i)
        row[8] = _pick([dt.datetime(2027, 1, 15, 10, 30), dt.date(2027, 1, 16), 46402.5,
                        "15/01/2027 10:30", None], i)
        row[9] = _pick([dt.date(2027, 2, 1), 46419, "01/02/2027", None], i)
        row[10] = _pick([dt.time(9, 30), 0.75, "14:00", None], i)
        row[0] = 10_000 + i
        rows.append(row)
    return rows


def _xlsx(folder: Path) -> Path:
    summary: list[list[object]] = [["Row Labels", "Count of phone"], ["Tel Aviv", 12],
                                   ["Haifa", 7], ["Grand Total", 19]]
    title: list[list[object]] = [["Leads - November"], []]
    return write_sheets(folder / "numeric.xlsx", {
        "Summary": summary,
        "Leads": title + _workbook_rows(1400, 80),
        "More leads": _workbook_rows(1500, 30),
    })


def _xls(folder: Path) -> Path:
    import xlwt  # test-only dependency: the one maintained writer of BIFF8 .xls

    book = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY HH:MM")
    for name, start in (("לידים", 1600), ("עוד", 1700)):
        sheet = book.add_sheet(name)
        sheet.write(0, 0, "דוח לידים")
        for r, row in enumerate(_workbook_rows(start, 40), start=2):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, dt.date | dt.time):
                    sheet.write(r, c, value, date_style)
                else:
                    sheet.write(r, c, value)
    path = folder / "legacy.xls"
    book.save(str(path))
    return path


def _ods(folder: Path) -> Path:
    from tests.sources.conftest import write_ods

    def plain(rows: list[list[object]]) -> list[list[object]]:
        # The hand-made ODS writer takes text and numbers; dates go as Excel serials.
        return [[v.isoformat() if isinstance(v, dt.date | dt.time) else v for v in row]
                for row in rows]

    return write_ods(folder / "sheets.ods", {
        "Hidden": [["x", "y"], ["1", "2"]],
        "לידים": [[], *plain(_workbook_rows(1800, 50))],
        "Second": plain(_workbook_rows(1900, 20)),
    }, hidden=["Hidden"])


_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "en_utf8.csv": _en_utf8,
    "en_utf8_bom_blank_lines.csv": _en_bom_blank_lines,
    "he_cp1255.csv": _he_cp1255,
    "he_utf16.csv": _he_utf16,
    "he_utf8_titles.csv": _he_utf8_titles,
    "facebook_utf16.csv": _fb_utf16,
    "google_tabs.tsv": _google_tsv,
    "sep_semicolon.csv": _sep_semicolon,
    "ragged.csv": _ragged,
    "quotes.csv": _quotes,
    "cr_only.csv": _cr_only,
    "formulas.csv": _formulas,
    "layout.csv": _layout,
    "numbers.csv": _numbers,
    "pending_export.csv": _pending_export,
    BIG_FILE: _big,
    "numeric.xlsx": _xlsx,
    "legacy.xls": _xls,
    "sheets.ods": _ods,
}


def corpus_names() -> list[str]:
    """The file names ``build_corpus`` writes, in a stable order."""
    return list(_BUILDERS)


def build_corpus(folder: Path, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Write the corpus (or the named files of it) into ``folder``; their paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: _BUILDERS[name](folder) for name in (names or _BUILDERS)}
