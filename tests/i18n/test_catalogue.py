"""The catalogue: complete, in step with the code, same placeholders in every language."""

from __future__ import annotations

import pytest

from importer.i18n import (
    FSI,
    PDI,
    UnknownLanguageError,
    _,
    current_language,
    isolate,
    language_from_environment,
    placeholders,
    resolve_language,
    translate,
    use_language,
)
from importer.i18n.reasons import KINDS, TEXT, Reason, ReasonKind, join_reasons, reason_code
from importer.i18n.tooling import check


def test_catalogues_are_complete_and_in_step_with_the_code() -> None:
    problems = check()
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "he_IL.UTF-8"}, "he"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "he_IL.UTF-8"}, "he"),
        ({"LANG": "he_IL.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "C", "LANGUAGE": "he"}, "en"),          # GNU: LANGUAGE is ignored for C
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "he:en"}, "he"),
        ({"LANG": "iw_IL"}, "he"),                          # the old code of Hebrew
        ({"LANG": "fr_FR.UTF-8"}, "en"),                    # no French: English
    ],
)
def test_language_from_environment(environ: dict[str, str], expected: str) -> None:
    assert language_from_environment(environ) == expected


def test_explicit_choices_win_in_order() -> None:
    assert resolve_language(None, "he", "en", environ={}) == "he"
    assert resolve_language(None, None, environ={"LANG": "he_IL.UTF-8"}) == "he"
    assert resolve_language("EN", environ={"LANG": "he_IL.UTF-8"}) == "en"
    with pytest.raises(UnknownLanguageError, match="choose one of: en, he"):
        resolve_language("klingon")


def test_current_language_is_per_context() -> None:
    assert current_language() == "en"
    with use_language("he"):
        assert current_language() == "he"
        assert _("{text}") == "{text}"
    assert current_language() == "en"


def test_values_are_isolated_in_right_to_left_text_only() -> None:
    assert translate("en", "call {phone}", None, phone="+972 52-123-4567") == (
        "call +972 52-123-4567"
    )
    he = translate("he", "call {phone}", None, phone="+972 52-123-4567")
    assert f"{FSI}+972 52-123-4567{PDI}" in he
    assert isolate("") == ""


def test_placeholders() -> None:
    assert placeholders("{a} and {b.c} and {{literal}}") == {"a", "b"}


def test_reason_is_its_english_text_and_keeps_its_notes() -> None:
    kind = ReasonKind("test_kind_for_tests", 'odd cell ("{raw}") in row {row}')
    try:
        reason = kind(raw="x;y", row=12)
        assert reason == 'odd cell ("x;y") in row 12'
        assert reason.code == "test_kind_for_tests"
        joined = join_reasons(reason, "", "the API said no")
        assert joined == 'odd cell ("x;y") in row 12; the API said no'
        assert reason_code(joined) == "test_kind_for_tests"
        assert reason_code("plain words") == "text"
        assert reason_code("") == ""
        back = Reason.from_json(joined.to_json(), str(joined))  # type: ignore[attr-defined]
        assert isinstance(back, Reason)
        assert back == joined
        assert [n[0] for n in back.notes] == [kind, TEXT]
        # A code nobody declares any more: the stored English is shown.
        assert Reason.from_json('[["gone",{}]]', "old words") == "old words"
        nested = kind(raw=reason, row=1)
        assert nested.to_json() == (
            '[["test_kind_for_tests",{"raw":{"reason":[["test_kind_for_tests",'
            '{"raw":"x;y","row":12}]]},"row":1}]]'
        )
        assert Reason.from_json(nested.to_json(), "") == nested
    finally:
        del KINDS["test_kind_for_tests"]


def test_a_code_cannot_change_its_words() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        ReasonKind("text", "other words")
