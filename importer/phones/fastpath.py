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

``FastPath.quick`` answers the usual written forms (``05X...``, ``5X...``,
``+972...``, ``972...``, ``+972 (0)...``, ``00972...``) with a single regex per
input length, built at start-up from the same metadata: each written form is
one alternative whose look-aheads are the mirror's branch conditions, followed
by the length-specialised type alternatives. Where it does not match it asks
``classify``, so it can only be faster, never different (tested against
``classify`` for several regions).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

__all__ = ["FastPath", "fast_digits", "fast_path_for", "type_name"]

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
_Match = Callable[[str], "re.Match[str] | None"]


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


def _type_pattern(md: Any, length: int | None = None, suffix: str = "") -> str | None:
    """The source of ``_type_regex``; group names get ``suffix``; None when it never matches."""
    never = "(?!)"

    def part(desc: Any) -> str:
        if desc is None or not desc.national_number_pattern:
            return never
        return _with_lengths(desc, length)

    def group(name: str, body: str) -> str:
        return f"(?P<{name}{suffix}>{body})\\Z"

    alternatives = [
        group(type_name(code), p)
        for attr, code in _SPECIAL_TYPES
        if (p := part(getattr(md, attr))) != never
    ]
    fixed, mobile = part(md.fixed_line), part(md.mobile)
    if fixed != never:
        if md.same_mobile_and_fixed_line_pattern:
            alternatives.append(group("fixed_line_or_mobile", fixed))
        else:
            if mobile != never:
                alternatives.append(group("fixed_line_or_mobile", f"(?=(?:{mobile})\\Z){fixed}"))
            alternatives.append(group("fixed_line", fixed))
    if mobile != never and not md.same_mobile_and_fixed_line_pattern:
        alternatives.append(group("mobile", mobile))
    general = part(md.general_desc)
    if not alternatives or general == never:
        return None
    return f"(?=(?:{general})\\Z)(?:{'|'.join(alternatives)})"


def _type_regex(md: Any, length: int | None = None) -> re.Pattern[str]:
    """One regex doing _number_type_helper's checks in its order; lastgroup names the type.

    Alternatives are tried left to right and the first one that matches the
    whole string wins, which is the order of the if-chain in phonenumbers.
    """
    return re.compile(_type_pattern(md, length) or "(?!)")


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
        # format_number(NATIONAL)'s choice of format, as one regex: the first
        # alternative that matches is the first format whose leading digits
        # and pattern fit; its group name says whether it writes the prefix.
        self._format_re = re.compile(
            "|".join(
                f"(?P<f{i}>{'' if leading is None else f'(?=(?:{leading.pattern}))'}"
                f"(?:{pattern.pattern})\\Z)"
                for i, (leading, pattern, _prefix) in enumerate(self._national_formats)
            )
            or "(?!)"
        )
        self._format_has_prefix = {
            f"f{i}": bool(prefix) and prefix == self._national_prefix_digits
            for i, (_leading, _pattern, prefix) in enumerate(self._national_formats)
        }
        self.e164_prefix = f"+{self._cc_str}"
        # Whole-input shortcuts: one regex per input length (and "+" or not).
        # Values are the compiled regexes' bound ``match`` methods.
        self.shapes_plus: dict[int, _Match] = {}
        self.shapes_bare: dict[int, _Match] = {}
        # Group name in a shape regex -> (type name, where the NSN starts).
        self.shape_groups: dict[str, tuple[str, int]] = {}
        self._shape_sources_plus: dict[int, str] = {}
        self._shape_sources_bare: dict[int, str] = {}
        self._build_shapes(md)

    # --- whole-input shortcuts ------------------------------------------------

    def _build_shapes(self, md: Any) -> None:
        """Compile, per input length, one regex that runs national_number + the type check.

        Each branch below is ``national_number`` with its branches decided for
        one written form, as look-aheads on the digits, followed by the
        length-specialised type regex of ``classify`` on the part that becomes
        the NSN. Branches exclude one another (their conditions are the
        mirror's if/else), so the first one that matches is the only one.
        A match gives exactly ``classify``'s answer; no match means "ask
        ``classify``", never "invalid".
        """
        npp = md.national_prefix_for_parsing
        cc = self._cc_str
        if (
            not self.enabled
            # Only a prefix of plain digits is matched the same way inside a bigger regex.
            or (npp is not None and not (npp.isascii() and npp.isdigit()))
            # _extract_country_code must stop at the full code, not at a shorter one.
            or any(
                int(cc[:i]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE for i in range(1, len(cc))
            )
        ):
            return
        np_ = npp or ""
        not_np = f"(?!{np_})" if np_ else ""
        idd = md.international_prefix
        # _maybe_strip_i18n_prefix_and_normalize: the IDD is taken (re.match's
        # first match, which the atomic group reproduces) unless a 0 follows.
        not_idd = f"(?!(?>{idd})(?!0))" if idd else ""
        general = md.general_desc.national_number_pattern
        ok = {
            n
            for n in range(_MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN + 1)
            if self._length_class[n] not in (_TOO_SHORT, _LOCAL_ONLY, _INVALID_LENGTH)
        }
        branches_plus: dict[int, list[str]] = {}
        branches_bare: dict[int, list[str]] = {}
        count = 0

        def add(table: dict[int, list[str]], total: int, head: str, offset: int) -> None:
            nonlocal count
            n = total - offset
            if n not in ok or total >= _MAX_TABLE:
                return
            suffix = f"__{count}"
            body = _type_pattern(md, n, suffix)
            if body is None:
                return
            count += 1
            for name in re.findall(rf"\(\?P<(\w+){suffix}>", body):
                self.shape_groups[name + suffix] = (name, offset)
            table.setdefault(total, []).append(f"(?:{head}{body})")

        lengths = sorted(ok)
        for n in lengths:
            # "+972 50...": the code, then the NSN.
            add(branches_plus, len(cc) + n, f"{cc}{not_np}", len(cc))
            if np_:
                # "+972 (0)50...": the national prefix after the code is dropped.
                add(branches_plus, len(cc) + len(np_) + n, f"{cc}{np_}", len(cc) + len(np_))
        for n in lengths:
            # "050...": national prefix, then the NSN (the common form first).
            if np_:
                add(branches_bare, len(np_) + n, f"{not_idd}(?!{cc}){np_}", len(np_))
            # "50...": the NSN alone (a lost leading zero).
            add(branches_bare, n, f"{not_idd}(?!{cc}){not_np}", 0)
            # "97250...": the code without "+"; taken off when the whole is not
            # a national number by pattern or is too long for one.
            total = len(cc) + n
            whole = "" if self._length_class[total] == _TOO_LONG else f"(?!(?:{general})\\Z)"
            add(branches_bare, total, f"{not_idd}{whole}{cc}{not_np}", len(cc))
        if idd:
            # "00972 50...": IDD, code, NSN; one branch per IDD length k up to
            # 7 (the look-ahead pins where the IDD's first match ends; longer
            # IDDs are left to classify).
            for n in lengths:
                for k in range(1, 8):
                    total = k + len(cc) + n
                    rest = total - k
                    head = f"(?=(?>{idd})(?!0)\\d{{{rest}}}\\Z)\\d{{{k}}}{cc}{not_np}"
                    add(branches_bare, total, head, k + len(cc))
        # Compiled on first use: some regions' patterns take a while to compile.
        for table, sources in (
            (branches_plus, self._shape_sources_plus),
            (branches_bare, self._shape_sources_bare),
        ):
            for total, branches in table.items():
                sources[total] = "|".join(branches)

    def _compile_shape(self, plus: bool, length: int) -> _Match | None:
        source = (self._shape_sources_plus if plus else self._shape_sources_bare).get(length)
        if source is None:
            return None
        match = re.compile(source).match
        (self.shapes_plus if plus else self.shapes_bare)[length] = match
        return match

    def quick(self, plus: bool, digits: str) -> tuple[str, str, str] | None:
        """``classify``, answered by one regex for the usual written forms."""
        match = (self.shapes_plus if plus else self.shapes_bare).get(len(digits))
        if match is None:
            match = self._compile_shape(plus, len(digits))
        if match is not None:
            m = match(digits)
            if m is not None and m.lastgroup:
                kind, offset = self.shape_groups[m.lastgroup]
                nsn = digits[offset:]
                return self.e164_prefix + nsn, kind, nsn
        return self.classify(plus, digits)

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
        m = self._format_re.match(nsn)
        return m is not None and self._format_has_prefix.get(m.lastgroup or "", False)

    def national_prefix_in_format_loop(self, nsn: str) -> bool:
        """``national_prefix_in_format`` step by step (the tests check one against the other)."""
        for leading, pattern, prefix in self._national_formats:
            if (leading is None or leading.match(nsn)) and pattern.fullmatch(nsn):
                return bool(prefix) and prefix == self._national_prefix_digits
        return False


@functools.cache
def fast_path_for(region: str) -> FastPath:
    """The FastPath of a region, shared in the process (its regexes are compiled once)."""
    return FastPath(region)
