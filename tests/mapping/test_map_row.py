"""Every kind of field source, phones in several columns, CallerID and custom data."""

from __future__ import annotations

import pytest

from importer.dialer.models import CallTarget
from importer.errors import MappingError
from importer.outcomes import Status
from tests.mapping._helpers import (
    LANDLINE,
    LANDLINE_E164,
    MOBILE,
    MOBILE_2,
    MOBILE_2_E164,
    MOBILE_E164,
    TOLL_FREE,
    VOIP,
    VOIP_DIGITS,
    bind,
    map_one,
    row,
)


def test_a_complete_row_becomes_a_call_target() -> None:
    mapped = map_one(
        """
phone: [mobile]
fields:
  CustomerName: {template: "{first_name} {last_name}"}
  Priority: {column: score, map: {hot: 10, חם: 10, warm: 5, cold: 1}, default: 1}
  CallerID: {value: "072-2776772"}
custom_data:
  var_LeadID: id
  var_Source: {value: facebook}
""",
        ("first_name", "last_name", "mobile", "score", "id"),
        ("Dana", "Levi", MOBILE, "חם", "L-17"),
    )
    assert mapped.problem is None
    assert mapped.reason == ""
    assert mapped.phone_raw == MOBILE
    assert mapped.phone.e164 == MOBILE_E164
    assert mapped.target == CallTarget(
        target=MOBILE_E164.removeprefix("+"),
        customer_name="Dana Levi",
        caller_id=VOIP_DIGITS,
        priority=10,
        custom_data={"var_LeadID": "L-17", "var_Source": "facebook"},
    )
    assert mapped.fields == {
        "CustomerName": "Dana Levi",
        "Priority": "10",
        "CallerID": VOIP_DIGITS,
        "var_LeadID": "L-17",
        "var_Source": "facebook",
    }


def test_field_names_are_in_a_stable_order() -> None:
    bound = bind(
        """
phone: [p]
custom_data: {var_B: b, var_A: a}
fields:
  OriginateTime: when
  CallerID: {value: "072-2776772"}
  Priority: {value: 3}
  CustomerName: name
copy_columns: ["var_*"]
""",
        "p",
        "a",
        "b",
        "when",
        "name",
        "var_Extra",
    )
    assert bound.field_names == [
        "CustomerName",
        "Priority",
        "CallerID",
        "OriginateTime",
        "var_B",
        "var_A",
        "var_Extra",
    ]


def test_first_usable_phone_wins_mobile_then_landline() -> None:
    bound = bind("phone: [mobile, phone]\n", "mobile", "phone")
    both = bound.map_row(row(MOBILE, LANDLINE))
    assert both.phone.e164 == MOBILE_E164 and both.reason == ""
    landline_only = bound.map_row(row("", LANDLINE))
    assert landline_only.phone.e164 == LANDLINE_E164
    assert landline_only.target is not None
    bad_mobile = bound.map_row(row("12345", LANDLINE))
    assert bad_mobile.phone.e164 == LANDLINE_E164
    assert "12345" in bad_mobile.reason and "used 'phone'" in bad_mobile.reason


def test_row_problems_are_data_with_reasons() -> None:
    bound = bind(
        "phone: [mobile, phone]\nfields:\n  CustomerName: name\n", "name", "mobile", "phone"
    )
    missing = bound.map_row(row("Dana", "", " "))
    assert missing.problem is Status.MISSING_PHONE
    assert missing.target is None
    assert missing.reason == "no phone number in 'mobile', 'phone'"
    assert missing.fields == {"CustomerName": "Dana"}  # report fields even for problems

    invalid = bound.map_row(row("Avi", "12345", ""))
    assert invalid.problem is Status.INVALID_PHONE
    assert invalid.phone_raw == "12345"
    assert invalid.reason and invalid.target is None

    rejected = bound.map_row(row("Noa", TOLL_FREE, ""))
    assert rejected.problem is Status.TYPE_REJECTED
    assert "toll-free" in rejected.reason


def test_allow_types_and_send_as_are_honoured() -> None:
    text = "phone: {columns: [p], allow_types: [mobile, toll_free], send_as: %s}\n"
    assert map_one(text % "e164", ("p",), (TOLL_FREE,)).problem is None
    assert map_one(text % "e164", ("p",), (LANDLINE,)).problem is Status.TYPE_REJECTED
    target = map_one(text % "local", ("p",), (MOBILE,)).target
    assert target is not None and target.target == "0" + MOBILE_E164[4:]
    target = map_one(text % "e164", ("p",), (MOBILE,)).target
    assert target is not None and target.target == MOBILE_E164


def test_numeric_excel_cells_are_repaired_with_a_note() -> None:
    bound = bind("phone: [p]\n", "p")
    mapped = bound.map_row(row(MOBILE.replace("-", "")[1:], numeric=[0]))
    assert mapped.phone.e164 == MOBILE_E164
    assert mapped.reason  # the repair is explained in the report


def test_constant_and_column_values_and_templates() -> None:
    text = """
phone: [p]
fields:
  CustomerName: {template: "{first} {last} ({city})", columns_fallback: [full]}
custom_data:
  var_Const: {value: 42}
  var_Two: [alias_missing, second]
"""
    cols = ("p", "first", "last", "city", "full", "second")
    full = map_one(text, cols, (MOBILE, " Dana ", "Levi", "Haifa", "x", "2"))
    assert full.fields["CustomerName"] == "Dana Levi (Haifa)"
    assert full.fields["var_Const"] == "42" and full.fields["var_Two"] == "2"
    partial = map_one(text, cols, (MOBILE, "Dana", "", "", "", ""))
    assert partial.fields["CustomerName"] == "Dana ()"
    fallback = map_one(text, cols, (MOBILE, "", "", "", "Avi Cohen", ""))
    assert fallback.fields["CustomerName"] == "Avi Cohen"
    empty = map_one(
        "phone: [p]\nfields:\n  CustomerName: {template: '{a} - {b}', columns_fallback: [c]}\n",
        ("p", "a", "b", "c"),
        (MOBILE, "", "", "Full Name"),
    )
    assert empty.fields["CustomerName"] == "Full Name"
    dangling = map_one(
        "phone: [p]\nfields:\n  CustomerName: {template: '{a} - {b}'}\n",
        ("p", "a", "b"),
        (MOBILE, "Dana", ""),
    )
    assert dangling.fields["CustomerName"] == "Dana"


def test_template_falls_back_to_full_name_column_when_parts_are_absent() -> None:
    text = (
        "phone: [p]\nfields:\n"
        "  CustomerName: {template: '{first_name} {last_name}', columns_fallback: [full_name]}\n"
    )
    mapped = map_one(text, ("p", "Full Name"), (MOBILE, "Noa Peretz"))
    assert mapped.fields["CustomerName"] == "Noa Peretz"
    with pytest.raises(MappingError) as caught:
        bind(text, "p", "name")
    assert (
        "fields.CustomerName: no column 'first_name' or 'last_name' or 'full_name'"
        in (caught.value.problems[0])
    )


def test_value_maps_with_default_and_notes() -> None:
    bound = bind(
        """
phone: [p]
fields:
  Priority: {column: score, map: {hot: 10, "חם": 10, warm: 5}, default: 1}
custom_data:
  var_Kind: {column: kind, map: {fb: Facebook, gg: Google}}
  var_Seg: {column: seg, map: {a: Gold}, default: Other}
""",
        "p",
        "score",
        "kind",
        "seg",
    )
    hot = bound.map_row(row(MOBILE, " HOT ", "FB", "A"))
    assert hot.target is not None and hot.target.priority == 10
    assert hot.fields["var_Kind"] == "Facebook" and hot.fields["var_Seg"] == "Gold"
    hebrew = bound.map_row(row(MOBILE, "חַם", "other", "b"))
    assert hebrew.fields["Priority"] == "10"
    assert hebrew.fields["var_Kind"] == "other"  # no default: the value is kept
    assert hebrew.fields["var_Seg"] == "Other"
    assert hebrew.reason == "var_Seg: 'b' is not in the map; used the default 'Other'"
    lukewarm = bound.map_row(row(MOBILE, "lukewarm", "", ""))
    assert lukewarm.fields["Priority"] == "1"
    assert lukewarm.reason == "Priority: 'lukewarm' is not in the map; used the default 1"
    empty = bound.map_row(row(MOBILE, "", "", ""))
    assert empty.fields["Priority"] == "1" and empty.reason == ""


def test_priority_from_numbers() -> None:
    bound = bind("phone: [p]\nfields:\n  Priority: prio\n", "p", "prio")
    assert bound.map_row(row(MOBILE, "7")).fields["Priority"] == "7"
    assert bound.map_row(row(MOBILE, "7.0", numeric=[1])).fields["Priority"] == "7"
    bad = bound.map_row(row(MOBILE, "high"))
    assert bad.fields["Priority"] == "" and bad.target is not None
    assert bad.target.priority is None
    assert bad.reason == "Priority: 'high' is not a whole number; left out"
    assert bound.map_row(row(MOBILE, "")).target.priority is None  # type: ignore[union-attr]


def test_caller_id_is_normalised_like_a_phone() -> None:
    bound = bind("phone: [p]\nfields:\n  CallerID: cid\n", "p", "cid")
    assert bound.map_row(row(MOBILE, VOIP)).fields["CallerID"] == VOIP_DIGITS
    assert bound.map_row(row(MOBILE, "+972 72-277-6772")).fields["CallerID"] == VOIP_DIGITS
    bad = bound.map_row(row(MOBILE, "123"))
    assert bad.target is not None and bad.target.caller_id is None
    assert bad.reason.startswith("CallerID '123' is not a valid phone number")
    e164 = bind("phone: {columns: [p], send_as: e164}\nfields:\n  CallerID: cid\n", "p", "cid")
    assert e164.map_row(row(MOBILE, VOIP)).fields["CallerID"] == "+" + VOIP_DIGITS


def test_a_bad_constant_caller_id_stops_before_any_row() -> None:
    with pytest.raises(MappingError) as caught:
        bind("phone: [p]\nfields:\n  CallerID: {value: '12'}\n", "p")
    assert caught.value.problems[0].startswith("fields.CallerID.value: '12' is not a valid phone")


def test_custom_data_values_are_strings_and_empty_ones_are_left_out() -> None:
    bound = bind(
        "phone: [p]\ncustom_data:\n  var_A: a\n  var_B: b\ncopy_columns: ['var_*', 'Extra*']\n",
        "p",
        "a",
        "b",
        "var_LeadID",
        "Extra Info",
    )
    mapped = bound.map_row(row(MOBILE, "1", "", "77", "vip", numeric=[1]))
    assert mapped.target is not None
    assert mapped.target.custom_data == {"var_A": "1", "var_LeadID": "77", "var_ExtraInfo": "vip"}
    assert mapped.fields == {"var_A": "1", "var_B": "", "var_LeadID": "77", "var_ExtraInfo": "vip"}
    assert bound.map_row(row(MOBILE, "", "", "", "")).target.custom_data is None  # type: ignore[union-attr]


def test_options_set_ignore_dnc() -> None:
    target = map_one("phone: [p]\noptions: {ignore_dnc: true}\n", ("p",), (MOBILE,)).target
    assert target is not None and target.ignore_dnc_status is True
    assert target.to_json("c")["IgnoreDncStatus"] is True
    target = map_one("phone: [p]\n", ("p",), (MOBILE_2,)).target
    assert target is not None and target.ignore_dnc_status is None
    assert target.target == MOBILE_2_E164[1:]


def test_short_rows_do_not_break_mapping() -> None:
    bound = bind("phone: [p]\ncustom_data:\n  var_Z: z\n", "p", "z")
    mapped = bound.map_row(row(MOBILE))
    assert mapped.problem is None and mapped.fields == {"var_Z": ""}


def test_an_extension_reaches_the_agent_as_custom_data() -> None:
    """The dialer rings the main number; the agent sees the extension in the screen pop."""
    mapped = map_one("phone: [phone]\n", ("phone",), (f"{LANDLINE} שלוחה 12",))
    assert mapped.target is not None
    assert mapped.target.target == LANDLINE_E164[1:]
    assert mapped.target.custom_data == {"var_Extension": "12"}
    assert "extension 12" in mapped.reason
    # A mapping that maps var_Extension itself keeps its own value.
    own = map_one(
        "phone: [phone]\ncustom_data:\n  var_Extension: ext\n",
        ("phone", "ext"),
        (f"{LANDLINE} ext. 5", "7"),
    )
    assert own.target is not None and own.target.custom_data == {"var_Extension": "7"}
    plain = map_one("phone: [phone]\n", ("phone",), (MOBILE,))
    assert plain.target is not None and plain.target.custom_data is None


def test_copy_columns_leave_the_import_reference_to_the_run() -> None:
    """A pending export carries the old run's var_ImportRef; the new run writes its own."""
    bound = bind('phone: [Phone]\ncopy_columns: ["var_*"]\n', "Phone", "var_ImportRef", "var_City")
    assert bound.field_names == ["var_City"]
    mapped = bound.map_row(row(MOBILE, "20261101-old-7", "חיפה"))
    assert mapped.target is not None and mapped.target.custom_data == {"var_City": "חיפה"}


ARTEFACTS = """
phone: [p]
fields:
  CustomerName: name
  Priority: {column: score}
  CallerID: cid
  OriginateTime: {column: at}
custom_data:
  var_Customer: customer
  var_Label: {template: "{customer}/{branch}"}
  var_Status: {column: status, map: {"1": open}}
copy_columns: ["*note*"]
"""
ARTEFACT_COLUMNS = ("p", "name", "score", "cid", "at", "customer", "branch", "status", "note")


def test_excel_text_marks_are_removed_from_every_value_sent() -> None:
    """'0501 and ="0501" are Excel keeping a number as text: never part of the value."""
    mapped = map_one(
        ARTEFACTS,
        ARTEFACT_COLUMNS,
        (f"'{MOBILE}", '="0523456789"', "'7", f'="{VOIP}"', "'01/07/2026 09:00",
         "'18094000049", ' ="12" ', '="1"', " '03-6123456 "),
    )
    assert mapped.problem is None and mapped.target is not None
    target = mapped.target
    assert (target.target, target.customer_name, target.priority, target.caller_id) == (
        MOBILE_E164[1:], "0523456789", 7, VOIP_DIGITS
    )
    assert target.originate_time is not None
    assert target.custom_data == {
        "var_Customer": "18094000049",
        "var_Label": "18094000049/12",
        "var_Status": "open",
        "var_Note": "03-6123456",
    }
    assert mapped.fields["OriginateTime"].startswith("2026-07-01T09:00")


@pytest.mark.parametrize(
    "text",
    ["'s", "it's", "'Dana'", "'90s", "'12'", "'+972523456789", "'=x", "''0523456789",
     '="a" & "b"', '=A1', "'"],
)
def test_an_apostrophe_or_equals_sign_that_is_no_excel_mark_is_kept(text: str) -> None:
    """Only the exact forms are Excel's; "'+972…" and "'=x" are unescape_formulas' business."""
    mapped = map_one(ARTEFACTS, ARTEFACT_COLUMNS, (MOBILE, text, "", "", "", text, "", "", text))
    assert mapped.target is not None
    assert mapped.target.customer_name == text
    assert mapped.target.custom_data is not None
    assert mapped.target.custom_data["var_Customer"] == text
    assert mapped.target.custom_data["var_Note"] == text


def test_a_quote_inside_an_excel_text_formula_is_kept_once() -> None:
    mapped = map_one(ARTEFACTS, ARTEFACT_COLUMNS, (MOBILE, '="Dana ""D"" Levi"', *[""] * 7))
    assert mapped.target is not None and mapped.target.customer_name == 'Dana "D" Levi'


def test_unescape_formulas_then_excel_marks() -> None:
    """This tool's export writes '="0523456789" for a value ="0523456789": both marks go."""
    text = ARTEFACTS.replace("phone: [p]", "source: {unescape_formulas: true}\nphone: [p]")
    mapped = map_one(text, ARTEFACT_COLUMNS, (MOBILE, "'=\"0523456789\"", *[""] * 3, "'+1", "",
                                              "", "'0523"))
    assert mapped.target is not None and mapped.target.customer_name == "0523456789"
    assert mapped.target.custom_data == {"var_Customer": "+1", "var_Label": "+1",
                                         "var_Note": "0523"}
