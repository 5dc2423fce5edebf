"""The sample numbers the mapping tests rely on really are what the tests say they are."""

from __future__ import annotations

import phonenumbers

from tests.mapping import _helpers as h


def _parse(text: str) -> phonenumbers.PhoneNumber:
    return phonenumbers.parse(text, "IL")


def test_sample_numbers_are_valid_and_typed() -> None:
    kinds = {
        h.MOBILE: phonenumbers.PhoneNumberType.MOBILE,
        h.MOBILE_2: phonenumbers.PhoneNumberType.MOBILE,
        h.LANDLINE: phonenumbers.PhoneNumberType.FIXED_LINE,
        h.VOIP: phonenumbers.PhoneNumberType.VOIP,
        h.TOLL_FREE: phonenumbers.PhoneNumberType.TOLL_FREE,
    }
    for text, kind in kinds.items():
        number = _parse(text)
        assert phonenumbers.is_valid_number(number), text
        assert phonenumbers.number_type(number) == kind, text
    assert phonenumbers.format_number(_parse(h.MOBILE), 0) == h.MOBILE_E164
    assert phonenumbers.format_number(_parse(h.MOBILE_2), 0) == h.MOBILE_2_E164
    assert phonenumbers.format_number(_parse(h.LANDLINE), 0) == h.LANDLINE_E164
