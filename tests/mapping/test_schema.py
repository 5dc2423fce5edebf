"""Mapping files are validated before anything is read, with every problem listed at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from importer.errors import MappingError
from importer.mapping import load_mapping, parse_mapping

MINIMAL = "phone: [phone]\n"


def problems(text: str) -> list[str]:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, "bad.yaml")
    assert caught.value.source == "bad.yaml"
    return caught.value.problems


def test_minimal_mapping_has_documented_defaults() -> None:
    m = parse_mapping(MINIMAL)
    assert m.phone.columns == ["phone"]
    assert m.phone.default_region == "IL"
    assert m.phone.allow_types == ["mobile", "fixed_line", "fixed_line_or_mobile", "voip"]
    assert m.phone.strictness == "valid"
    assert m.phone.send_as == "digits"
    assert m.options.is_date_local is False
    assert m.options.ignore_dnc is False
    assert (m.dedupe.batch, m.dedupe.pending, m.dedupe.pending_scope) == (True, True, "campaign")
    assert m.dedupe.history_days == 30
    assert m.dedupe.import_ref == "var_ImportRef"
    assert m.dedupe.suppression == []
    assert m.mode is None
    assert m.sync_confirm is False
    assert m.sync_max_remove_share == 0.2
    opts = m.source_options()
    assert (opts.sheet, opts.header_row, opts.encoding, opts.delimiter) == (None, None, None, None)


def test_unknown_keys_get_did_you_mean_at_every_level() -> None:
    found = problems(
        """
naem: x
phone: {colums: [phone]}
fields:
  CustmerName: full_name
  Priority: {column: score, defualt: 1}
custom_data:
  var_City: {colum: city}
optoins: {}
"""
    )
    assert "top level: unknown key 'naem' — did you mean 'name'?" in found
    assert "top level: unknown key 'optoins' — did you mean 'options'?" in found
    assert "phone: unknown key 'colums' — did you mean 'columns'?" in found
    assert "fields: unknown key 'CustmerName' — did you mean 'CustomerName'?" in found
    assert "fields.Priority: unknown key 'defualt' — did you mean 'default'?" in found
    assert "custom_data.var_City: unknown key 'colum' — did you mean 'column'?" in found


def test_keys_in_the_wrong_place_say_where_they_belong() -> None:
    found = problems(
        "phone: [p]\nfields:\n  Target: p\n  IsDateLocal: {value: 'true'}\n"
        "  CustomData: {value: x}\n"
    )
    assert (
        "fields: unknown key 'Target' — the number to dial is chosen under 'phone: columns'"
        in found
    )
    assert "fields: unknown key 'IsDateLocal' — set it with 'options: is_date_local'" in found
    assert (
        "fields: unknown key 'CustomData' — custom data goes under 'custom_data:' at the top level"
        in found
    )


def test_wrong_types_are_named_with_the_value_given() -> None:
    found = problems(
        """
phone: {columns: [p], default_region: ZZ, allow_types: [mobile, satellite], send_as: plus}
fields:
  Priority: {column: score, map: {hot: high}}
  OriginateTime: {column: at, timezone: Asia/Jerusalm}
options: {is_date_local: maybe}
dedupe: {history_days: -3, pending_scope: everywhere}
mode: sink
"""
    )
    text = "\n".join(found)
    assert "phone.default_region: 'ZZ' is not a two-letter country code" in text
    assert "phone.allow_types.1: Input should be 'mobile'" in text and "(got 'satellite')" in text
    assert "phone.send_as: Input should be 'digits', 'e164' or 'local' (got 'plus')" in text
    assert "fields.Priority.map.hot: Input should be a valid integer" in text
    assert "(got 'high')" in text
    assert "unknown time zone 'Asia/Jerusalm' — did you mean 'Asia/Jerusalem'?" in text
    assert "options.is_date_local: Input should be a valid boolean" in text
    assert "dedupe.history_days: Input should be greater than or equal to 0 (got -3)" in text
    assert (
        "dedupe.pending_scope: Input should be 'campaign' or 'account' (got 'everywhere')" in text
    )
    assert "mode: Input should be 'append', 'upsert' or 'sync' (got 'sink')" in text
    assert len(found) == 9


def test_phone_is_required_with_an_example() -> None:
    assert problems("name: x\n") == [
        "phone: is required (which column(s) hold the number to dial, "
        "e.g. 'phone: [טלפון נייד, phone]')"
    ]


def test_custom_data_keys_must_start_with_var() -> None:
    found = problems("phone: [p]\ncustom_data:\n  LeadID: id\n  var_x: a\n  VAR_X: b\n")
    assert len(found) == 1
    assert "custom_data: custom data keys must start with 'var_'" in found[0]
    assert "'LeadID' (did you mean 'var_LeadID'?)" in found[0]
    assert "'VAR_X' repeats 'var_x'" in found[0]


def test_import_ref_may_not_be_a_mapped_key() -> None:
    found = problems("phone: [p]\ncustom_data: {var_ImportRef: x}\n")
    assert "custom_data.var_ImportRef is also dedupe.import_ref" in found[0]
    m = parse_mapping("phone: [p]\ncustom_data: {var_ImportRef: x}\ndedupe: {import_ref: null}\n")
    assert m.dedupe.import_ref is None


def test_field_sources_must_be_exactly_one() -> None:
    found = problems(
        """
phone: [p]
fields:
  CustomerName: {column: a, value: b}
  Priority: {map: {hot: 10}}
  OriginateTime: {column: a, time_column: b}
custom_data:
  var_a: {template: "no braces"}
  var_b: {value: x, map: {a: b}}
"""
    )
    text = "\n".join(found)
    assert (
        "fields.CustomerName: give exactly one of 'column', 'value' or 'template' "
        "(found column, value)" in text
    )
    assert "fields.Priority: give exactly one of 'column' or 'value'" in text
    assert "fields.OriginateTime: 'time_column' goes with 'date_column'" in text
    assert "custom_data.var_a: the template names no column" in text
    assert (
        "custom_data.var_b: 'map' and 'default' go with 'column' or 'template', not 'value'" in text
    )


def test_yaml_surprises_are_avoided() -> None:
    m = parse_mapping(
        """
phone: [p]
fields:
  CallerID: {value: 0722776772}
  Priority: {column: answer, map: {yes: 10, no: 1, on: 3}}
custom_data:
  var_When: {value: 2026-07-01}
  var_Count: {value: 12}
"""
    )
    assert m.fields.CallerID is not None and m.fields.CallerID.value == "0722776772"
    assert m.fields.Priority is not None and m.fields.Priority.map == {"yes": 10, "no": 1, "on": 3}
    assert m.custom_data["var_When"].value == "2026-07-01"
    assert m.custom_data["var_Count"].value == "12"


def test_repeated_keys_are_reported_with_line_numbers() -> None:
    found = problems("phone: [a]\nname: x\nphone: [b]\n")
    assert found == ["line 3: key 'phone' appears twice (the second one would silently win)"]


def test_yaml_syntax_errors_name_the_line() -> None:
    found = problems("phone: [a\nname: x\n")
    assert len(found) == 1 and found[0].startswith("line ") and "not valid YAML" in found[0]


def test_not_a_mapping_at_all() -> None:
    assert problems("") == ["the mapping is empty; it needs at least 'phone:'"]
    assert "must be a set of 'key: value' lines" in problems("- a\n- b\n")[0]


def test_shorthands_and_source_options() -> None:
    m = parse_mapping(
        """
phone: mobile
fields:
  CustomerName: [full_name, שם מלא]
source: {sheet: 2, header_row: 3, encoding: cp1255, delimiter: tab}
"""
    )
    assert m.phone.columns == ["mobile"]
    assert m.fields.CustomerName is not None
    assert m.fields.CustomerName.column == ["full_name", "שם מלא"]
    opts = m.source_options()
    assert (opts.sheet, opts.header_row, opts.encoding, opts.delimiter) == (1, 3, "cp1255", "\t")
    assert parse_mapping("phone: [p]\nsource: {sheet: Leads}\n").source_options().sheet == "Leads"


def test_bad_source_options() -> None:
    found = problems(
        "phone: [p]\nsource: {sheet: 0, header_row: 0, encoding: klingon, delimiter: ';;'}\n"
    )
    text = "\n".join(found)
    assert "source.sheet: sheet numbers count from 1" in text
    assert "source.header_row: header_row counts from 1" in text
    assert "source.encoding: unknown encoding 'klingon'" in text
    assert "source.delimiter: a delimiter is one character" in text


def test_load_mapping_resolves_suppression_lists_next_to_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "maps"
    folder.mkdir()
    path = folder / "m.yaml"
    path.write_text(
        "phone: [p]\ndedupe: {suppression: [dnc.csv, /abs/list.csv]}\n", encoding="utf-8"
    )
    m = load_mapping(path)
    assert m.origin == path.resolve()
    assert m.suppression_paths() == [folder.resolve() / "dnc.csv", Path("/abs/list.csv")]
    assert parse_mapping("phone: [p]\ndedupe: {suppression: x.csv}\n").suppression_paths(
        tmp_path
    ) == [tmp_path / "x.csv"]


def test_load_mapping_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(tmp_path / "missing.yaml")
    assert caught.value.source.endswith("missing.yaml")
    assert "cannot read the file" in caught.value.problems[0]
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("phone: [t\xe9l]\n".encode("latin-1"))
    with pytest.raises(MappingError, match="not UTF-8"):
        load_mapping(bad)


def test_error_message_lists_every_problem() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping("naem: x\nphone: {colums: [p]}\n", "m.yaml")
    message = str(caught.value)
    assert message.startswith("m.yaml: the mapping has 3 problem(s):")
    assert message.count("\n  - ") == 3


def test_countries_and_type_words_in_a_mapping() -> None:
    from importer.errors import MappingError
    from importer.mapping import parse_mapping

    mapping = parse_mapping(
        "name: x\nphone:\n  columns: [p]\n  countries: [il, us]\n  allow_types: [landline, cell]\n"
    )
    policy = mapping.phone_policy()
    assert policy.countries == frozenset({"IL", "US"})
    assert policy.allow_types == frozenset({"fixed_line", "mobile"})
    with pytest.raises(MappingError, match="countries must include default_region 'IL'"):
        parse_mapping("name: x\nphone:\n  columns: [p]\n  countries: [US]\n")
    with pytest.raises(MappingError, match="not a two-letter country code"):
        parse_mapping("name: x\nphone:\n  columns: [p]\n  countries: [Israel]\n")


def test_upsert_section_is_strict_and_clear_empty_is_off_by_default() -> None:
    assert parse_mapping(MINIMAL).upsert.clear_empty is False
    assert parse_mapping(MINIMAL + "upsert: {clear_empty: true}\n").upsert.clear_empty is True
    found = problems(MINIMAL + "upsert: {clear_emtpy: true}\n")
    assert found == ["upsert: unknown key 'clear_emtpy' — did you mean 'clear_empty'?"]
    found = problems(MINIMAL + "clear_empty: true\n")
    assert found == [
        "top level: unknown key 'clear_empty' — it goes in the 'upsert:' section, "
        "e.g. 'upsert: {clear_empty: true}'"
    ]
    found = problems(MINIMAL + "upsert: {clear_empty: sometimes}\n")
    assert len(found) == 1 and found[0].startswith("upsert.clear_empty: ")
