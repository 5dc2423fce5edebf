"""A fast, exact shortcut through phonenumbers for plain digit strings of one region.

Everything here is derived at start-up from phonenumbers' own metadata for the
region (international prefix, national prefix, country code, the general and
per-type number patterns with their possible lengths); nothing is a
hand-written prefix table. The functions mirror, step by step, what
``phonenumbers.parse`` + ``is_valid_number`` + ``number_type`` do for an input
made only of digits, separators and an optional leading ``+``. The fast path
only ever answers "valid, this E.164, this type"; for anything else it answers
``None`` and the caller falls back to the full library, so a gap in the mirror
can cost speed but never change a verdict of "invalid" into "valid" unnoticed
(tests/test_phones_differential.py compares both on a million numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

__all__ = ["FastPath", "fast_digits", "type_name"]

# phonenumbers' own limits (phonenumberutil._MIN_LENGTH_FOR_NSN etc.).
_MIN_LENGTH_FOR_NSN = 2
_MAX_LENGTH_FOR_NSN = 17
_MAX_INPUT_STRING_LENGTH = 250
_MAX_LENGTH_COUNTRY_CODE = 3

# Separators that phonenumbers treats as punctuation and that can never start
# an extension or a second number: a string made only of these, ASCII digits
# and one "+" before the first digit parses exactly like its bare digits.

_TYPE_NAMES: dict[int, str] = {
    getattr(PhoneNumberType, name): name.lower() for name in dir(PhoneNumberType) if name.isupper()
}

# The order in which phonenumbers' _number_type_helper tries the special types.
_SPECIAL_TYPES: tuple[tuple[str, int], ...] = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)

# Outcomes of phonenumbers' _test_number_length.
_IS_POSSIBLE, _LOCAL_ONLY, _TOO_SHORT, _TOO_LONG, _INVALID_LENGTH = range(5)


def type_name(number_type: int) -> str:
    """The lower-case name of a phonenumbers.PhoneNumberType value ("mobile", ...)."""
    return _TYPE_NAMES.get(number_type, "unknown")


def fast_digits(text: str) -> tuple[bool, str] | None:
    """(has_plus, digits) when ``text`` is only ASCII digits and plain separators, else None."""
    if len(text) > _MAX_INPUT_STRING_LENGTH or not text.isascii():
        return None
    if text.isdigit():
        return False, text
    # str.replace is several times faster than str.translate for this.
    bare = text.replace("-", "").replace(" ", "").replace(".", "").replace("(", "").replace(")", "")
    if bare.isdigit() or not bare:
        return False, bare
    if bare[0] == "+" and bare[1:].isdigit():
        return True, bare[1:]
    return None


@dataclass(frozen=True, slots=True)
class _Desc:
    """One PhoneNumberDesc, compiled."""

    pattern: re.Pattern[str]
    lengths: frozenset[int]

    def matches(self, nsn: str) -> bool:
        """phonenumbers' _is_number_matching_desc: possible length first, then the pattern."""
        if self.lengths and len(nsn) not in self.lengths:
            return False
        return self.pattern.fullmatch(nsn) is not None


_MAX_TABLE = _MAX_INPUT_STRING_LENGTH + 1


def _with_lengths(desc: Any, length: int | None) -> str:
    """A desc's pattern, preceded by a look-ahead for its possible lengths.

    With ``length`` (the caller only matches strings of that length) the
    look-ahead is decided now: the pattern as is, or one that never matches.
    """
    if length is not None:
        if desc.possible_length and length not in desc.possible_length:
            return "(?!)"
        return f"(?:{desc.national_number_pattern})"
    lengths = "|".join(rf"\d{{{n}}}" for n in sorted(desc.possible_length))
    guard = rf"(?=(?:{lengths})\Z)" if lengths else ""
    return f"{guard}(?:{desc.national_number_pattern})"


def _type_regex(md: Any, length: int | None = None) -> re.Pattern[str]:
    """One regex doing _number_type_helper's checks in its order; lastgroup names the type.

    Alternatives are tried left to right and the first one that matches the
    whole string wins, which is the order of the if-chain in phonenumbers.
    """
    never = "(?!)"

    def part(desc: Any) -> str:
        if desc is None or not desc.national_number_pattern:
            return never
        return _with_lengths(desc, length)

    alternatives = [
        f"(?P<{type_name(code)}>{p})\\Z"
        for attr, code in _SPECIAL_TYPES
        if (p := part(getattr(md, attr))) != never
    ]
    fixed, mobile = part(md.fixed_line), part(md.mobile)
    if fixed != never:
        if md.same_mobile_and_fixed_line_pattern:
            alternatives.append(f"(?P<fixed_line_or_mobile>{fixed})\\Z")
        else:
            if mobile != never:
                alternatives.append(f"(?P<fixed_line_or_mobile>(?=(?:{mobile})\\Z){fixed})\\Z")
            alternatives.append(f"(?P<fixed_line>{fixed})\\Z")
    if mobile != never and not md.same_mobile_and_fixed_line_pattern:
        alternatives.append(f"(?P<mobile>{mobile})\\Z")
    general = part(md.general_desc)
    if not alternatives or general == never:
        return re.compile(never)
    return re.compile(f"(?=(?:{general})\\Z)(?:{'|'.join(alternatives)})")


def _rule_prefix(rule: str | None) -> str:
    """The digits a national-prefix formatting rule puts before the number ("0\\1" -> "0")."""
    if not rule:
        return ""
    return re.sub(r"\D", "", rule.split("\\1", 1)[0])


def _compile_desc(desc: Any) -> _Desc | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return _Desc(re.compile(desc.national_number_pattern), frozenset(desc.possible_length))


class FastPath:
    """parse + is_valid_number + number_type for one region's plain digit strings."""

    def __init__(self, region: str) -> None:
        md = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
        if md is None or md.country_code is None or md.general_desc is None:
            raise ValueError(f"unknown region {region!r}")
        self.region = region.upper()
        self.country_code: int = md.country_code
        self._cc_str = str(md.country_code)
        general = md.general_desc
        # The mirror below covers regions whose calling code is theirs alone (so
        # region_code_for_number is trivially this region) and whose national
        # prefix is simply dropped (no transform rule). Others use the library.
        self.enabled = (
            phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(md.country_code) == (self.region,)
            and not md.national_prefix_transform_rule
            and bool(general.possible_length)
        )
        self._idd = re.compile(md.international_prefix) if md.international_prefix else None
        self._national_prefix = (
            re.compile(md.national_prefix_for_parsing) if md.national_prefix_for_parsing else None
        )
        self._general = re.compile(general.national_number_pattern or "(?!)")
        self._general_desc = _compile_desc(general)
        self._general_lengths: tuple[int, ...] = tuple(general.possible_length)
        self._general_local: frozenset[int] = frozenset(general.possible_length_local_only)
        self._special: tuple[tuple[_Desc, str], ...] = tuple(
            (d, name)
            for attr, code in _SPECIAL_TYPES
            if (d := _compile_desc(getattr(md, attr))) is not None
            for name in (type_name(code),)
        )
        self._fixed = _compile_desc(md.fixed_line)
        self._mobile = _compile_desc(md.mobile)
        self._same_mobile_fixed = bool(md.same_mobile_and_fixed_line_pattern)
        self._md = md
        self._type_re = _type_regex(md)
        # The same regex specialised to one length (no length look-aheads, and
        # only the types that have numbers of that length): much faster.
        self._type_by_length: dict[int, re.Pattern[str]] = {}
        self._national_prefix_digits = md.national_prefix or ""
        # _test_length answers by length only: a table makes it one lookup.
        self._length_class = tuple(self._test_length("0" * n) for n in range(_MAX_TABLE))
        self._national_formats = tuple(
            (
                re.compile(f.leading_digits_pattern[-1]) if f.leading_digits_pattern else None,
                re.compile(f.pattern or "(?!)"),
                _rule_prefix(f.national_prefix_formatting_rule),
            )
            for f in md.number_format
        )

    # --- mirrors of phonenumberutil helpers, for ASCII digit strings -----------

    def _test_length(self, number: str) -> int:
        """_test_number_length(number, metadata) for the UNKNOWN type (general desc)."""
        n = len(number)
        lengths = self._general_lengths
        if n in self._general_local:
            return _LOCAL_ONLY
        if lengths[0] == n:
            return _IS_POSSIBLE
        if lengths[0] > n:
            return _TOO_SHORT
        if lengths[-1] < n:
            return _TOO_LONG
        return _IS_POSSIBLE if n in lengths[1:] else _INVALID_LENGTH

    def _strip_national_prefix(self, number: str) -> str:
        """_maybe_strip_national_prefix_carrier_code without a transform rule."""
        if not number or self._national_prefix is None:
            return number
        m = self._national_prefix.match(number)
        if m is None:
            return number
        rest = number[m.end() :]
        if self._general.fullmatch(number) and not self._general.fullmatch(rest):
            return number
        return rest

    def _extract_country_code(self, number: str) -> tuple[int, str]:
        if not number or number[0] == "0":
            return 0, number
        for i in range(1, min(len(number), _MAX_LENGTH_COUNTRY_CODE) + 1):
            cc = int(number[:i])
            if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                return cc, number[i:]
        return 0, number

    def national_number(self, plus: bool, digits: str) -> str | None:
        """The national significant number phonenumbers.parse would produce, or None.

        None means "not this region, or parse would raise": the caller must ask
        the library.
        """
        if not self.enabled or len(digits) < _MIN_LENGTH_FOR_NSN:
            return None
        # _maybe_strip_i18n_prefix_and_normalize
        from_default = False
        if plus:
            full = digits
        else:
            m = self._idd.match(digits) if self._idd is not None else None
            # An IDD is only stripped when the next digit is not 0.
            if m is not None and digits[m.end() : m.end() + 1] != "0":
                full = digits[m.end() :]
            else:
                full, from_default = digits, True
        # _maybe_extract_country_code
        if not from_default:
            if len(full) <= _MIN_LENGTH_FOR_NSN:
                return None
            cc, national = self._extract_country_code(full)
            if cc != self.country_code:
                return None
        elif full.startswith(self._cc_str):
            potential = self._strip_national_prefix(full[len(self._cc_str) :])
            if (
                not self._general.fullmatch(full) and self._general.fullmatch(potential)
            ) or self._length_class[len(full)] == _TOO_LONG:
                national = potential
            else:
                national = full
        else:
            national = full
        # parse(): national prefix, then the length checks.
        if len(national) < _MIN_LENGTH_FOR_NSN:
            return None
        potential = self._strip_national_prefix(national)
        if self._length_class[len(potential)] not in (_TOO_SHORT, _LOCAL_ONLY, _INVALID_LENGTH):
            national = potential
        if len(national) > _MAX_LENGTH_FOR_NSN or len(national) < _MIN_LENGTH_FOR_NSN:
            return None
        # national_significant_number() keeps Italian leading zeros, so the
        # string is the NSN as is.
        return national

    def number_type(self, nsn: str) -> str:
        """_number_type_helper(nsn, metadata), as a lower-case type name."""
        if self._general_desc is None or not self._general_desc.matches(nsn):
            return "unknown"
        for desc, name in self._special:
            if desc.matches(nsn):
                return name
        if self._fixed is not None and self._fixed.matches(nsn):
            if self._same_mobile_fixed or (self._mobile is not None and self._mobile.matches(nsn)):
                return "fixed_line_or_mobile"
            return "fixed_line"
        if not self._same_mobile_fixed and self._mobile is not None and self._mobile.matches(nsn):
            return "mobile"
        return "unknown"

    def number_type_fast(self, nsn: str) -> str:
        """``number_type`` in one regex call (checked against it by the tests)."""
        m = self._type_re.fullmatch(nsn)
        return m.lastgroup if m is not None and m.lastgroup else "unknown"

    def classify(self, plus: bool, digits: str) -> tuple[str, str, str] | None:
        """(e164, type, nsn) when the digits form a valid number of this region, else None."""
        nsn = self.national_number(plus, digits)
        if nsn is None:
            return None
        by_length = self._type_by_length.get(len(nsn))
        if by_length is None:
            by_length = self._type_by_length[len(nsn)] = _type_regex(self._md, len(nsn))
        m = by_length.fullmatch(nsn)
        if m is None or not m.lastgroup:
            return None
        return f"+{self._cc_str}{nsn}", m.lastgroup, nsn

    def national_prefix_in_format(self, nsn: str) -> bool:
        """Whether the national format of a valid number starts with the national prefix.

        Mirrors format_number(NATIONAL)'s choice of number format: the first one
        whose last leading-digits pattern matches the start and whose pattern
        matches the whole number.
        """
        for leading, pattern, prefix in self._national_formats:
            if (leading is None or leading.match(nsn)) and pattern.fullmatch(nsn):
                return bool(prefix) and prefix == self._national_prefix_digits
        return False
