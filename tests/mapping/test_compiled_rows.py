"""map_row's per-file compiled fields: cached values still give every row its own notes."""

from __future__ import annotations

from dataclasses import replace

from importer.dialer.models import CallTarget
from importer.mapping import with_custom_data
from tests.mapping._helpers import MOBILE, MOBILE_2, bind, row

MAPPING = """
phone: [mobile]
fields:
  CustomerName: {template: "{first} {last}", columns_fallback: [full]}
  Priority: {column: score, map: {hot: 10}, default: 1}
custom_data:
  var_Source: {column: source, map: {fb: facebook}, default: other}
"""
COLUMNS = ("first", "last", "full", "mobile", "score", "source")


def test_a_repeated_unmapped_value_is_noted_on_every_row() -> None:
    bound = bind(MAPPING, *COLUMNS)
    first = bound.map_row(row("Dana", "Levi", "", MOBILE, "HOT!", "tiktok"))
    again = bound.map_row(row("Dana", "Levi", "", MOBILE_2, "HOT!", "tiktok", n=3))
    for mapped in (first, again):
        assert mapped.reason == (
            "Priority: 'HOT!' is not in the map; used the default 1; "
            "var_Source: 'tiktok' is not in the map; used the default 'other'"
        )
        assert mapped.fields["Priority"] == "1"
        assert mapped.target is not None and mapped.target.custom_data == {"var_Source": "other"}
    # Each row gets its own dicts: changing one row's result leaves the next alone.
    first.fields["CustomerName"] = "changed"
    assert again.fields["CustomerName"] == "Dana Levi"
    assert first.target is not None and again.target is not None
    assert first.target.custom_data is not again.target.custom_data


def test_an_empty_template_falls_back_even_after_the_same_values_were_seen() -> None:
    bound = bind(MAPPING, *COLUMNS)
    assert bound.map_row(row(" ", "", "Full Name", MOBILE, "hot", "fb")).fields == {
        "CustomerName": "Full Name",
        "Priority": "10",
        "var_Source": "facebook",
    }
    other = bound.map_row(row(" ", "", "Someone Else", MOBILE, "hot", "fb", n=3))
    assert other.fields["CustomerName"] == "Someone Else"


def test_short_rows_read_as_empty_cells() -> None:
    mapped = bind(MAPPING, *COLUMNS).map_row(row("Dana", "Levi", "", MOBILE))
    assert mapped.fields == {"CustomerName": "Dana Levi", "Priority": "1", "var_Source": "other"}
    assert mapped.reason == ""


def test_with_custom_data_is_replace_with_one_more_key() -> None:
    target = CallTarget("972523456789", "Dana", None, 5, {"var_A": "1"}, None, None, True)
    added = with_custom_data(target, "var_Ref", "run-7")
    assert added == replace(target, custom_data={"var_A": "1", "var_Ref": "run-7"})
    assert target.custom_data == {"var_A": "1"}
    assert with_custom_data(replace(target, custom_data=None), "k", "v").custom_data == {"k": "v"}
