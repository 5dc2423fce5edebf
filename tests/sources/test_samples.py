"""The sample files the README uses read as documented."""

from __future__ import annotations

from pathlib import Path

import phonenumbers

from tests.sources.conftest import read_all

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def _valid(raw: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(raw.removeprefix("p:"), "IL"))
    except phonenumbers.NumberParseException:
        return False


def test_hebrew_crm_export() -> None:
    columns, rows, info = read_all(SAMPLES / "crm_export_he.csv")
    assert (info.format, info.encoding, info.delimiter) == ("csv", "windows-1255", ",")  # type: ignore[attr-defined]
    assert columns == [
        "מזהה", "שם פרטי", "שם משפחה", "טלפון נייד", "טלפון", "עיר", "מקור", "הערות",
        "תאריך יצירה", "דירוג", "אימייל",
    ]
    assert len(rows) == 24 and rows[0].row == 2
    mobiles = [r.cells[3] for r in rows]
    assert sum(_valid(m) for m in mobiles) == 21  # 2 missing, 1 unallocated (050-1234567)
    assert len(set(mobiles)) < len(mobiles)     # one lead entered twice


def test_facebook_lead_ads_export() -> None:
    columns, rows, info = read_all(SAMPLES / "facebook_leads.csv")
    assert (info.format, info.encoding, info.delimiter) == ("tsv", "utf-16-le", "\t")  # type: ignore[attr-defined]
    assert columns[:2] == ["id", "created_time"] and "phone_number" in columns
    assert len(columns) == 16 and len(rows) == 20
    phones = [r.cells[columns.index("phone_number")] for r in rows]
    assert all(p.startswith("p:+972") for p in phones)
    assert sum(_valid(p) for p in phones) == 19


def test_handmade_workbook_with_title_rows() -> None:
    columns, rows, info = read_all(SAMPLES / "handmade_leads.xlsx")
    assert info.format == "xlsx" and info.header_row == 4  # type: ignore[attr-defined]
    assert [(s.name, s.hidden) for s in info.sheets] == [  # type: ignore[attr-defined]
        ("לידים נובמבר", False), ("הגדרות", True)
    ]
    assert columns == ["שם מלא", "Phone", "טלפון נוסף", "Email", "תאריך פנייה", "Notes"]
    assert len(rows) == 17 and rows[0].row == 5
    first = rows[0]
    assert first.numeric == frozenset({1}) and first.cells[1].isdigit()
    assert _valid("0" + first.cells[1])          # the lost leading zero, repaired
    assert first.cells[4] == "2026-11-01"
    assert rows[-1].cells[1] == "9.72501E+11" and 1 not in rows[-1].numeric
