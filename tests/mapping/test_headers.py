"""Columns are matched by header text, ignoring case, spaces, punctuation, niqqud and bidi marks."""

from __future__ import annotations

import pytest

from importer.errors import MappingError
from importer.headers import closest_headers, custom_data_key, find_columns, normalize_header
from tests.mapping._helpers import MOBILE, MOBILE_E164, bind, row


@pytest.mark.parametrize(
    ("header", "alias"),
    [
        ("Phone Number", "phone_number"),
        (" PHONE-NUMBER ", "phone number"),
        ("phone.number:", "PhoneNumber"),
        ("שֵׁם פְּרָטִי", "שם פרטי"),  # niqqud
        ("\u200fטלפון\u200e נייד", "טלפון_נייד"),  # RLM/LRM marks around the text
        ('ת"ז', "ת.ז"),  # gershayim vs dots
        ("ｐｈｏｎｅ", "phone"),  # full-width letters (NFKC)
    ],
)
def test_headers_match_regardless_of_typing(header: str, alias: str) -> None:
    assert normalize_header(header) == normalize_header(alias)
    assert find_columns([alias], ["other", header]) == [1]


def test_find_columns_keeps_alias_order_and_skips_repeats() -> None:
    headers = ["Phone", "Mobile", "mobile ", "Fax"]
    assert find_columns(["mobile", "phone", "Mobile"], headers) == [1, 2, 0]
    assert find_columns(["", "  "], headers) == []


def test_closest_headers_suggests_likely_columns() -> None:
    headers = ["Full Name", "Phone Number", "טלפון נייד", "City"]
    assert closest_headers("full_nam", headers) == ["Full Name"]
    assert "טלפון נייד" in closest_headers("טלפון", headers)
    assert closest_headers("zzz", headers) == []


def test_custom_data_keys_are_ascii() -> None:
    assert custom_data_key("Lead Source", 0) == "var_LeadSource"
    assert custom_data_key("campaign_name", 3) == "var_CampaignName"
    assert custom_data_key("var_LeadID", 2) == "var_LeadID"
    assert custom_data_key("Имя", 6) == "var_Col7"       # nothing Latin or Hebrew left
    assert custom_data_key("#", 0) == "var_Col1"


def test_hebrew_headers_are_transliterated_into_readable_keys() -> None:
    """Consonants as read, ו and י as the vowels they usually stand for, geresh kept."""
    assert custom_data_key("תחום עיסוק", 0) == "var_TchumIsuk"
    assert custom_data_key("מתי נוח לך שנחזור?", 6) == "var_MtiNuchLchShnchzur"
    assert custom_data_key("מועד חיוג", 0) == "var_MuadChiug"
    assert custom_data_key("ערוץ", 0) == "var_Arutz"
    assert custom_data_key("מחלקה 2", 0) == "var_Mchlka2"
    assert custom_data_key("צ'ק ג'וב", 0) == "var_ChkJuv"
    assert custom_data_key('דוא"ל', 0) == "var_Dual"
    assert custom_data_key("שֵׁם פְּרָטִי", 0) == custom_data_key("שם פרטי", 0) == "var_ShmPrti"
    assert custom_data_key("var_מקור", 0) == "var_Mkur"
    assert custom_data_key("Téléphone fixe", 0) == "var_TelephoneFixe"
    # A long question keeps its first words, whole, within 40 letters.
    key = custom_data_key("מה התקציב שלך לרכישת דירה בשנה הקרובה, ומתי תרצה לעבור?", 0)
    assert key == "var_MaHtktzivShlchLrchishtDiraBshnaHkruva"
    for header in ("תחום עיסוק", "מס' לקוח", "Téléphone", "שם 2"):
        key = custom_data_key(header, 0)
        assert key.isascii() and key[4:].isalnum(), key


def test_mapping_binds_through_header_variants() -> None:
    bound = bind(
        "phone: [טלפון]\nfields:\n  CustomerName: [full name]\n",
        "FULL_NAME",
        "טֶלֶפוֹן:",
    )
    mapped = bound.map_row(row("Dana Levi", MOBILE))
    assert mapped.phone.e164 == MOBILE_E164
    assert mapped.target is not None and mapped.target.customer_name == "Dana Levi"


def test_missing_columns_are_all_listed_with_closest_headers() -> None:
    with pytest.raises(MappingError) as caught:
        bind(
            """
phone: [mobile_phone]
fields:
  CustomerName: {template: "{first} {last_nme}"}
  Priority: scor
custom_data:
  var_City: citty
""",
            "Mobile Phone 2",
            "First",
            "Last Name",
            "Score",
            "City",
        )
    found = caught.value.problems
    assert caught.value.source == "Unnamed mapping (with leads.csv)"
    assert found == [
        "phone.columns: no column 'mobile_phone' in leads.csv — did you mean 'Mobile Phone 2'?",
        "fields.CustomerName.template: no column 'last_nme' in leads.csv "
        "— did you mean 'Last Name'?",
        "fields.Priority: no column 'scor' in leads.csv — did you mean 'Score'?",
        "custom_data.var_City: no column 'citty' in leads.csv — did you mean 'City'?",
    ]


def test_missing_column_without_a_close_header_lists_the_columns() -> None:
    with pytest.raises(MappingError) as caught:
        bind("phone: [zzz]\n", "a", "b")
    assert caught.value.problems == [
        "phone.columns: no column 'zzz' in leads.csv (its columns are: 'a', 'b')"
    ]


def test_optional_columns_become_notes() -> None:
    bound = bind("phone: [p]\ncustom_data:\n  var_City: {column: city, optional: true}\n", "p")
    assert bound.notes == ["custom_data.var_City: no column 'city' in leads.csv; left empty"]
    mapped = bound.map_row(row(MOBILE))
    assert mapped.fields == {"var_City": ""}
    assert mapped.target is not None and mapped.target.custom_data is None


def test_an_absent_optional_column_leaves_the_field_out_default_and_all() -> None:
    bound = bind(
        "phone: [p]\nfields:\n  Priority: {column: score, map: {hot: 10}, default: 1, "
        "optional: true}\n",
        "p",
    )
    mapped = bound.map_row(row(MOBILE))
    assert mapped.target is not None and mapped.target.priority is None
    assert mapped.fields == {"Priority": ""}
    assert bound.notes == ["fields.Priority: no column 'score' in leads.csv; left empty"]


def test_a_repeated_header_matches_every_copy_in_file_order() -> None:
    from importer.headers import find_columns, repeated_name

    headers = ["שם", "טלפון", "עיר", "טלפון (2)", "נייד", "טלפון (3)"]
    assert find_columns(["נייד", "טלפון"], headers) == [4, 1, 3, 5]
    assert find_columns(["טלפון 2"], headers) == [3]
    assert repeated_name("טלפון (2)") == "טלפון"
    assert repeated_name("טלפון") is None
