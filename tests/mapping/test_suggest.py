"""``suggest_mapping`` reads headers AND contents, and always writes a loadable mapping."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from importer.errors import MappingError
from importer.mapping import Mapping, parse_mapping, suggest_mapping
from importer.mapping.binder import bind
from importer.mapping.schema import TextSpec
from importer.sources import open_source
from tests.mapping._helpers import LANDLINE, LANDLINE_E164, MOBILE, MOBILE_2, MOBILE_E164, NOW


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def suggest_and_map(path: Path) -> tuple[str, list[str | None]]:
    text = suggest_mapping(path)
    mapping = parse_mapping(text, "suggested.yaml")
    with open_source(path, mapping.source_options()) as source:
        bound = bind(mapping, source.info, clock=lambda: NOW)
        phones = [bound.map_row(r).phone.e164 for r in source.rows()]
    return text, phones


def test_phone_column_found_by_contents_whatever_its_header(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "odd.csv",
        [
            ["name", "Unnamed: 3", "notes"],
            ["Dana", MOBILE, "x"],
            ["Avi", MOBILE_2, "y"],
            ["Noa", "", "z"],
        ],
    )
    text, phones = suggest_and_map(path)
    assert parse_mapping(text).phone.columns == ["Unnamed: 3"]
    assert phones[0] == MOBILE_E164 and phones[2] is None


def test_mobile_columns_come_before_landlines(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "two.csv",
        [["שם", "טלפון", "נייד 2"], ["דנה", LANDLINE, MOBILE], ["אבי", LANDLINE, ""]],
    )
    text, phones = suggest_and_map(path)
    assert "columns: [נייד 2, טלפון]" in text
    assert phones == [MOBILE_E164, LANDLINE_E164]
    assert "CustomerName: שם" in text
    assert "name: Hebrew CRM export" in text


def test_national_id_numbers_are_neither_phones_nor_screen_pop_data(tmp_path: Path) -> None:
    # A 9-digit ID can look like a mobile number without its leading zero.
    path = write_csv(
        tmp_path / "ids.csv",
        [['ת"ז', "שם מלא", "טלפון"], [MOBILE.replace("-", "")[1:], "דנה לוי", LANDLINE]],
    )
    text, phones = suggest_and_map(path)
    assert "columns: [טלפון]" in text
    assert 'ת\\"ז' not in text and 'ת"ז' not in text
    assert phones == [LANDLINE_E164]


def test_no_phone_column_is_a_clear_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "none.csv", [["name", "city"], ["Dana", "Haifa"]])
    with pytest.raises(MappingError) as caught:
        suggest_mapping(path)
    assert caught.value.problems == [
        "no column of none.csv holds phone numbers (its columns: 'name', 'city'); "
        "write the mapping by hand (see docs/mapping.md)"
    ]


def test_lead_temperature_becomes_priority_and_callback_becomes_originate_time(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["שם פרטי", "שם משפחה", "טלפון נייד", "סטטוס", "מועד חזרה", "תאריך יצירה"],
            ["דנה", "לוי", MOBILE, "חם", "01/07/2026 09:00", "01/11/2025 10:00"],
            ["אבי", "כהן", MOBILE_2, "קר", "", "02/11/2025 10:00"],
        ],
    )
    text = suggest_mapping(path)
    mapping = parse_mapping(text)
    assert mapping.fields.CustomerName is not None
    assert mapping.fields.CustomerName.template == "{שם פרטי} {שם משפחה}"
    assert mapping.fields.Priority is not None and mapping.fields.Priority.map is not None
    assert mapping.fields.Priority.map["חם"] == 10 and mapping.fields.Priority.map["קר"] == 1
    assert mapping.fields.OriginateTime is not None
    assert mapping.fields.OriginateTime.column == ["מועד חזרה"]  # not the creation date
    assert mapping.custom_data["var_LeadTime"].column == ["תאריך יצירה"]
    assert mapping.custom_data["var_Status"].column == ["סטטוס"]


def test_known_exports_are_recognised_by_their_headers(tmp_path: Path) -> None:
    facebook = write_csv(
        tmp_path / "fb.csv",
        [
            [
                "id",
                "created_time",
                "ad_id",
                "adset_id",
                "form_id",
                "is_organic",
                "full_name",
                "phone_number",
            ],
            [
                "l:1",
                "2026-11-20T08:15:00+02:00",
                "ag:1",
                "as:1",
                "f:1",
                "false",
                "Dana Levi",
                "p:+972" + MOBILE.replace("-", "")[1:],
            ],
        ],
    )
    text, phones = suggest_and_map(facebook)
    assert "name: Facebook Lead Ads" in text and "var_Source: {value: facebook}" in text
    assert "var_LeadID: id" in text and "ad_id" not in text.split("custom_data:")[1]
    assert phones == [MOBILE_E164]
    google = write_csv(
        tmp_path / "g.csv",
        [
            ["lead_id", "user_phone", "full_name", "campaign_id", "gcl_id"],
            ["abc", "+972" + MOBILE.replace("-", "")[1:], "Dana", "123", "x"],
        ],
    )
    text, phones = suggest_and_map(google)
    assert "name: Google Ads lead form" in text and "var_Source: {value: google-ads}" in text


def test_awkward_headers_are_quoted_so_the_yaml_loads(tmp_path: Path) -> None:
    headers = ["Phone: mobile", "#", "yes", 'שם "מלא"', "City, Region", " - dash", "123"]
    path = write_csv(
        tmp_path / "awkward.csv",
        [headers, [MOBILE, "a", "b", "דנה", "Haifa", "c", "d"]],
    )
    text, phones = suggest_and_map(path)
    assert phones == [MOBILE_E164]
    mapping = parse_mapping(text)
    assert mapping.phone.columns == ["Phone: mobile"]
    assert mapping.fields.CustomerName is not None
    assert mapping.fields.CustomerName.column == ['שם "מלא"']


def test_sheet_option_is_kept_in_the_suggestion(tmp_path: Path) -> None:
    from importer.sources import SourceOptions

    path = write_csv(tmp_path / "t.csv", [["title"], ["phone"], [MOBILE]])
    text = suggest_mapping(path, SourceOptions(header_row=2))
    assert "header_row: 2" in text
    assert parse_mapping(text).source_options().header_row == 2


def test_hebrew_headers_get_readable_custom_data_names(tmp_path: Path) -> None:
    """"כתובת אימייל" is an e-mail column even with a word before it; a Facebook question about
    interest is var_Interest, not var_Col5."""
    from importer.mapping import suggest_mapping

    path = tmp_path / "leads.csv"
    path.write_text(
        "שם מלא,טלפון נייד,כתובת אימייל,עיר מגורים,מה תחום העניין שלך?,הערות נציג\n"
        "דנה,053-1000001,a@b.co.il,חיפה,דירות,לחזור\n",
        encoding="utf-8",
    )
    text = suggest_mapping(path)
    for line in ("var_Email: כתובת אימייל", "var_City: עיר מגורים",
                 "var_Interest: מה תחום העניין שלך?", "var_Notes: הערות נציג"):
        assert line in text


def test_all_sheets_suggestion_includes_phone_columns_of_later_sheets(tmp_path: Path) -> None:
    """Sheet 2 keeps its mobiles under "נייד": with --all-sheets they must not be lost."""
    from importer.mapping import parse_mapping, suggest_mapping
    from importer.sources import open_sources
    from importer.sources.model import SourceOptions
    from tests.workbooks import write_sheets

    path = write_sheets(tmp_path / "two.xlsx", {
        "ינואר": [["שם", "טלפון"], ["דנה", "053-1000001"]],
        "פברואר": [["שם", "נייד", "טלפון"], ["משה", "053-1000002", ""]],
    })
    options = SourceOptions(all_sheets=True)
    text = suggest_mapping(path, options)
    assert "columns: [טלפון, נייד]" in text
    mapping = parse_mapping(text, "suggested")
    for source in open_sources(path, options):
        with source:
            bound = bind(mapping, source.info)
            for row in source.rows():
                assert bound.map_row(row).problem is None


def test_a_birth_date_is_not_taken_for_the_lead_date(tmp_path: Path) -> None:
    from importer.mapping import suggest_mapping

    path = tmp_path / "leads.csv"
    path.write_text("שם,טלפון,תאריך לידה\nדנה,053-1000001,1990-01-01\n", encoding="utf-8")
    assert "var_LeadDate" not in suggest_mapping(path)


def test_a_phone_column_of_damaged_numbers_is_still_the_phone_column(tmp_path: Path) -> None:
    """Rows are then reported invalid_phone with the Excel fix, not 'no phone column'."""
    from importer.mapping import suggest_mapping

    path = tmp_path / "sci.csv"
    path.write_text("Name,Phone\nA,9.72501E+11\nB,9.72502E+11\n", encoding="utf-8")
    assert "columns: [Phone]" in suggest_mapping(path)


def test_a_pending_export_suggestion_reads_numbers_abroad_back(tmp_path: Path) -> None:
    """Voicenter's pending list: '+E.164 (this tool's export) or the API's bare digits."""
    header = ["Phone", "CustomerName", "Priority", "CallerID", "CallInserted", "OriginateTime"]
    mobile = MOBILE_E164[1:]
    export = write_csv(
        tmp_path / "pending.csv",
        [header, ["'+4930901820", "'=x", "1", "", "2026-11-20T00:10:00.000Z", ""],
         [mobile, "Dana", "1", "", "2026-11-20T00:10:00.000Z", ""],
         ["4930901821", "Old", "1", "", "2026-11-20T00:10:00.000Z", ""]],
    )
    text, phones = suggest_and_map(export)
    assert "name: Voicenter pending calls export" in text
    assert "digits_are_international: true" in text and "unescape_formulas: true" in text
    assert phones == ["+4930901820", MOBILE_E164, "+4930901821"]


# --- the fields agents see: names, call-back times, CustomData keys (issue #12.8) -----------

def suggested(tmp_path: Path, header: list[str], *rows: list[str]) -> Mapping:
    """The suggestion for a CSV of these rows, parsed and bound to the file."""
    path = write_csv(tmp_path / "leads.csv", [header, *rows])
    mapping = parse_mapping(suggest_mapping(path), "suggested.yaml")
    with open_source(path, mapping.source_options()) as source:
        bind(mapping, source.info)
    return mapping


def name_spec(mapping: Mapping) -> TextSpec:
    assert mapping.fields.CustomerName is not None
    return mapping.fields.CustomerName


@pytest.mark.parametrize("header", ["your-name", "full name", "Full Name", "שם מלא", "שם"])
def test_a_full_name_column_is_the_customer_name(tmp_path: Path, header: str) -> None:
    mapping = suggested(tmp_path, [header, "phone", "your-email"], ["דנה לוי", MOBILE, "a@b.co"])
    assert name_spec(mapping).column == [header]
    assert mapping.custom_data["var_Email"].column == ["your-email"]
    assert header not in [s.column[0] for s in mapping.custom_data.values() if s.column]


@pytest.mark.parametrize(("first", "last"), [("שם", "שם משפחה"), ("Name", "Last Name"),
                                             ("שם פרטי", "משפחה"), ("First Name", "Surname")])
def test_a_split_name_is_joined_by_a_template(tmp_path: Path, first: str, last: str) -> None:
    mapping = suggested(tmp_path, [first, last, "טלפון"], ["דנה", "לוי", MOBILE])
    spec = name_spec(mapping)
    assert spec.template == "{" + first + "} {" + last + "}"
    assert spec.columns_fallback is None
    assert mapping.custom_data == {}            # neither half is shown twice


def test_a_real_full_name_beside_a_split_name_is_the_fallback(tmp_path: Path) -> None:
    mapping = suggested(
        tmp_path, ["שם", "שם משפחה", "שם מלא", "טלפון"], ["דנה", "לוי", "דנה לוי", MOBILE]
    )
    spec = name_spec(mapping)
    assert spec.template == "{שם} {שם משפחה}"
    assert spec.columns_fallback == ["שם מלא"]
    mapping = suggested(
        tmp_path, ["שם פרטי", "שם משפחה", "שם", "טלפון"], ["דנה", "לוי", "דנה לוי", MOBILE]
    )
    assert name_spec(mapping).template == "{שם פרטי} {שם משפחה}"
    assert name_spec(mapping).columns_fallback == ["שם"]


def test_a_name_header_with_braces_is_not_put_in_a_template(tmp_path: Path) -> None:
    """A template cannot name a header with braces: the name column alone is used."""
    mapping = suggested(tmp_path, ["{שם}", "שם משפחה", "טלפון"], ["דנה", "לוי", MOBILE])
    assert name_spec(mapping).template is None
    assert name_spec(mapping).column == ["{שם}"]


CALL_AT = "01/07/2026 09:00"


@pytest.mark.parametrize(
    "header",
    ["מועד חיוג", "call time", "callback", "Call Back", "callback date", "זמן חיוג", "לחזור ב",
     "מועד חזרה", "Next call", "תאריך חיוג מבוקש"],
)
def test_a_call_back_column_is_the_originate_time(tmp_path: Path, header: str) -> None:
    mapping = suggested(tmp_path, ["שם", "טלפון", header], ["דנה", MOBILE, CALL_AT])
    spec = mapping.fields.OriginateTime
    assert spec is not None and spec.column == [header]
    assert spec.timezone == "Asia/Jerusalem"


@pytest.mark.parametrize(
    ("day", "clock"),
    [("תאריך חיוג", "שעת חיוג"), ("callback date", "call time"), ("תאריך", "שעת חיוג"),
     ("Date", "Callback time"), ("מועד חזרה", "שעה")],
)
def test_a_call_back_day_and_time_of_day_are_combined(
    tmp_path: Path, day: str, clock: str
) -> None:
    mapping = suggested(
        tmp_path, ["שם", "טלפון", day, clock], ["דנה", MOBILE, "01/07/2026", "09:30"]
    )
    spec = mapping.fields.OriginateTime
    assert spec is not None
    assert (spec.date_column, spec.time_column) == ([day], [clock])


@pytest.mark.parametrize(
    ("header", "value"),
    [("מועד חיוג", "בבוקר"), ("callback", "yes"), ("תאריך חיוג אחרון", CALL_AT),
     ("Last call time", CALL_AT), ("תאריך", CALL_AT), ("שעת חיוג", "09:30")],
)
def test_no_originate_time_without_call_back_dates(tmp_path: Path, header: str, value: str) -> None:
    """The cells must be dates, and of a call to make: not words, nor a call already made."""
    mapping = suggested(tmp_path, ["שם", "טלפון", header], ["דנה", MOBILE, value])
    assert mapping.fields.OriginateTime is None


@pytest.mark.parametrize(
    ("headers", "keys"),
    [
        (["מס' לקוח", "מזהה ליד", "סניף", "תפקיד", "מחלקה", "שם חברה", "איש קשר", "מין", "שפה",
          "ערוץ", "תקציב", "סכום", "מספר חדרים"],
         ["var_CustomerId", "var_LeadID", "var_Branch", "var_JobTitle", "var_Department",
          "var_Company", "var_ContactName", "var_Gender", "var_Language", "var_Channel",
          "var_Budget", "var_Amount", "var_Rooms"]),
        (["רחוב", "אזור", "מדינה", "אתר", "פקס", "נציג", "סוכן", "תאריך עדכון", "תחום עיסוק",
          "ענף", "בעלים"],
         ["var_Street", "var_Region", "var_Country", "var_Website", "var_Fax", "var_Agent",
          "var_Agent2", "var_UpdatedAt", "var_TchumIsuk", "var_Industry", "var_Owner"]),
        (["Lead Owner", "Industry", "Title", "Job Title", "Country/Region", "State/Province",
          "Street Address", "Website URL", "Budget", "Customer ID", "Lead ID", "Fax"],
         ["var_Owner", "var_Industry", "var_JobTitle", "var_JobTitle2", "var_Country",
          "var_State", "var_Street", "var_Website", "var_Budget", "var_CustomerId",
          "var_LeadID", "var_Fax"]),
    ],
)
def test_crm_headers_get_readable_custom_data_keys(
    tmp_path: Path, headers: list[str], keys: list[str]
) -> None:
    # A customer number Excel kept as text (also a valid +1 809 number) and a fax number:
    # neither is taken for the phone column.
    special = {"var_CustomerId": "'18094000049", "var_Fax": LANDLINE}
    values = [special.get(key, f"v{i}") for i, key in enumerate(keys)]
    mapping = suggested(tmp_path, ["שם", "טלפון", *headers], ["דנה", MOBILE, *values])
    assert mapping.phone.columns == ["טלפון"]       # not the customer number, not the fax
    by_column = {spec.column[0]: key for key, spec in mapping.custom_data.items() if spec.column}
    assert [by_column[h] for h in headers] == keys
    for key in mapping.custom_data:
        assert key.startswith("var_") and key[4:].isascii() and key[4:].isalnum()
    folded = [k.casefold() for k in mapping.custom_data]
    assert len(folded) == len(set(folded))


def test_two_columns_with_one_name_both_reach_the_agent(tmp_path: Path) -> None:
    mapping = suggested(
        tmp_path, ["שם", "טלפון", "Email", "אימייל"], ["דנה", MOBILE, "a@b", "c@d"]
    )
    assert {k: s.column for k, s in mapping.custom_data.items()} == {
        "var_Email": ["Email"], "var_Email2": ["אימייל"]
    }
    # A var_email column is copied under its own name: the suggested key must differ from it,
    # or the binder would leave the copied column out.
    path = write_csv(
        tmp_path / "var.csv", [["שם", "טלפון", "Email", "var_email"], ["דנה", MOBILE, "a", "b"]]
    )
    mapping = parse_mapping(suggest_mapping(path), "suggested.yaml")
    assert {k: s.column for k, s in mapping.custom_data.items()} == {"var_Email2": ["Email"]}
    with open_source(path, mapping.source_options()) as source:
        bound = bind(mapping, source.info)
        (row,) = source.rows()
        target = bound.map_row(row).target
    assert target is not None
    assert target.custom_data == {"var_Email2": "a", "var_email": "b"}
