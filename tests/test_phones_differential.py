"""Differential test: PhoneNormalizer (fast path + cleaning) against plain phonenumbers.

Numbers are generated from every type in the region's metadata (valid and
invalid ones, the right and the wrong lengths, mutated by a digit), written in
the formats people type, and the normaliser's E.164, type and validity are
compared with what ``phonenumbers.parse`` / ``is_valid_number`` /
``number_type`` / ``format_number`` say about the same text.

Every cell is also run through the full pipeline alone
(``PhoneNormalizer._normalize_full``, i.e. without the hot path in front of it)
and the two whole results must be equal, reasons and notes included.

The suite runs 100,000 numbers with a fixed seed; set
``PHONES_DIFFERENTIAL_N=1000000`` to run a million.
"""

from __future__ import annotations

import functools
import os
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator

import phonenumbers
import pytest
from phonenumbers import NumberParseException, PhoneNumberFormat

from importer.phones import PhoneNormalizer, PhonePolicy
from importer.phones.fastpath import FastPath, type_name

ALL_TYPES = frozenset(
    type_name(getattr(phonenumbers.PhoneNumberType, n))
    for n in dir(phonenumbers.PhoneNumberType)
    if n.isupper()
)
_TYPE_ATTRS = (
    "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip",
    "personal_number", "pager", "uan", "voicemail",
)
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_EXTENDED_ARABIC = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def reference(raw: str, region: str) -> tuple[str, str] | None:
    """(e164, type) of a valid number according to plain phonenumbers, else None.

    Plus the one documented departure: 11+ plain digits without "+"/"00" that
    are not valid for the region but valid as "+digits" are read as
    international, when they are one block or their first group is the
    country code followed by the national number without a trunk 0
    ("1 212 555 0123", not "13 058761393" or "20 0884306374").
    """
    cc = str(phonenumbers.country_code_for_region(region))
    try:
        num = phonenumbers.parse(raw, region)
        if phonenumbers.is_valid_number(num):
            return (
                phonenumbers.format_number(num, PhoneNumberFormat.E164),
                type_name(phonenumbers.number_type(num)),
            )
    except NumberParseException:
        pass
    # Separators: white space, dashes, dots, brackets and invisible marks.
    kept = [
        ch for ch in raw
        if not (ch.isspace() or ch in ".()\u2212" or unicodedata.category(ch) in ("Pd", "Cf", "Zs"))
    ]
    digits = "".join(str(unicodedata.decimal(ch)) for ch in kept if ch.isdecimal())
    if (
        len(digits) == len(kept)
        and len(digits) >= 11
        and digits[0] != "0"
        and not digits.startswith(cc)
    ):
        try:
            num = phonenumbers.parse("+" + digits, None)
        except NumberParseException:
            return None
        visible = "".join(ch for ch in raw if unicodedata.category(ch) != "Cf")
        groups = re.findall(r"\d+", visible)
        first = "".join(str(unicodedata.decimal(ch)) for ch in groups[0])
        code_alone = first == str(num.country_code) and not (
            groups[1].startswith("0") and not num.italian_leading_zero
        )
        if phonenumbers.is_valid_number(num) and (len(groups) == 1 or code_alone):
            return (
                phonenumbers.format_number(num, PhoneNumberFormat.E164),
                type_name(phonenumbers.number_type(num)),
            )
    return None


@functools.cache
def _starts(region: str) -> list[tuple[int, list[str]]]:
    """For every type and possible length, the 3-digit starts its pattern accepts."""
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert md is not None
    rng = random.Random(region)
    starts: list[tuple[int, list[str]]] = []
    for attr in _TYPE_ATTRS:
        desc = getattr(md, attr)
        if desc is None or not desc.national_number_pattern:
            continue
        pattern = re.compile(desc.national_number_pattern)
        for length in desc.possible_length:
            if length < 4:
                continue
            found = [
                f"{p:03d}"
                for p in range(1000)
                if any(
                    pattern.fullmatch(
                        f"{p:03d}" + "".join(rng.choice("0123456789") for _ in range(length - 3))
                    )
                    for _ in range(8)
                )
            ]
            if found:
                starts.append((length, found))
    return starts


class Generator:
    """Random national numbers of one region, in the formats people type."""

    def __init__(self, region: str, seed: int) -> None:
        self.rng = random.Random(seed)
        md = phonenumbers.PhoneMetadata.metadata_for_region(region)
        assert md is not None
        self.region = region
        self.cc = str(md.country_code)
        self.prefix = md.national_prefix or ""
        self.starts = _starts(region)

    def _fill(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def nsn(self) -> str:
        """A national significant number: mostly plausible, some wrong on purpose."""
        r = self.rng.random()
        length, starts = self.rng.choice(self.starts)
        number = self.rng.choice(starts) + self._fill(length - 3)
        if r < 0.70:
            return number
        if r < 0.80:  # one digit too many or too few
            i = self.rng.randrange(len(number))
            if self.rng.random() < 0.5:
                return number[:i] + number[i + 1 :]
            return number[:i] + self.rng.choice("0123456789") + number[i:]
        if r < 0.88:  # one digit changed
            i = self.rng.randrange(len(number))
            return number[:i] + self.rng.choice("0123456789") + number[i + 1 :]
        return self._fill(self.rng.randint(1, 15))

    def _group(self, digits: str, sep: str) -> str:
        out, i = [], 0
        while i < len(digits):
            step = self.rng.choice((2, 3, 3, 4))
            out.append(digits[i : i + step])
            i += step
        return sep.join(out)

    def text(self) -> str:
        """One cell as a person (or a tool) would have typed it."""
        rng = self.rng
        nsn = self.nsn()
        national = self.prefix + nsn
        sep = rng.choice(("", "-", " ", ".", "-", "\u00a0", "\u2011", "\u2013"))
        form = rng.randrange(14)
        if form == 0:
            text = national
        elif form == 1:
            text = self._group(national, sep)
        elif form == 2:
            text = f"({national[:3]}) {self._group(national[3:], sep)}"
        elif form == 3:
            text = f"+{self.cc}{nsn}"
        elif form == 4:
            text = f"+{self.cc}{sep}{self._group(nsn, sep)}"
        elif form == 5:
            text = f"+{self.cc} ({self.prefix}){self._group(nsn, sep)}"
        elif form == 6:
            text = f"{self.cc}{nsn}"
        elif form == 7:
            text = f"00{self.cc}{sep}{self._group(nsn, sep)}"
        elif form == 8:
            text = nsn  # lost leading zero
        elif form == 9:
            text = rng.choice(("tel:", "p:", "Tel: ", "טל: ", "נייד: ", "טלפון ")) + national
        elif form == 10:
            table = rng.choice((_ARABIC_INDIC, _EXTENDED_ARABIC, _FULLWIDTH))
            text = self._group(national, sep).translate(table)
        elif form == 11:
            mark = rng.choice(("\u200e", "\u200f", "\u202a", "\u2066"))
            text = mark + self._group(national, sep) + rng.choice(("\u200e", "\u202c", ""))
        elif form == 12:
            text = f"{self.cc}{self.prefix}{nsn}" if rng.random() < 0.5 else f"+{self.cc}{national}"
        else:
            other = rng.choice(("1", "44", "33", "49", "7", "90"))
            text = f"+{other} {self._fill(rng.randint(6, 11))}"
        if rng.random() < 0.05:
            text = f"  {text} "
        return text


def _run(region: str, n: int, seed: int) -> Counter[str]:
    """Compare n generated cells with plain phonenumbers, and the hot path with the full one.

    The second comparison is on whole results (reason, notes, extension), for
    text and number cells, under the default policy and one allowing every
    type: the hot path in front of the full pipeline must never change one.
    """
    gen = Generator(region, seed)
    numeric_rng = random.Random(seed + 1)  # separate, so the generated cells stay the same
    everything = PhonePolicy(default_region=region, allow_types=ALL_TYPES)
    usual = PhonePolicy(default_region=region)
    normalizer = PhoneNormalizer(everything)
    hot = {False: PhoneNormalizer(everything), True: PhoneNormalizer(usual)}
    full = {False: PhoneNormalizer(everything), True: PhoneNormalizer(usual)}
    stats: Counter[str] = Counter()
    mismatches: list[str] = []
    for _ in range(n):
        raw = gen.text()
        expected = reference(raw, region)
        got = normalizer.normalize_uncached(raw)
        mine = (got.e164, got.number_type) if got.ok else None
        stats["valid" if expected else "invalid"] += 1
        if mine != expected:
            mismatches.append(f"{raw!r}: phonenumbers {expected}, ours {mine} ({got.reason})")
        numeric = raw.isdigit() and numeric_rng.random() < 0.5
        usual_policy = numeric_rng.random() < 0.5
        if numeric or usual_policy:
            got = hot[usual_policy].normalize_uncached(raw, numeric=numeric)
        whole = full[usual_policy]._normalize_full(raw, numeric)
        if got != whole:
            mismatches.append(f"{raw!r} (numeric={numeric}): hot path {got}, full {whole}")
    stats["fast_path"] = normalizer.fast_hits
    assert not mismatches, f"{len(mismatches)} mismatches, e.g.\n" + "\n".join(mismatches[:20])
    return stats


# 50,000 in the suite (~10 s); PHONES_DIFFERENTIAL_N=1000000 for a long run before a release.
_N = int(os.environ.get("PHONES_DIFFERENTIAL_N", "50000"))


# About 0.2 ms a cell (three pipelines and phonenumbers): a million needs more than
# the suite's 120 s; the limit leaves room for a busy machine.
@pytest.mark.timeout(max(120, _N // 400))
def test_differential_il() -> None:
    n = _N
    stats = _run("IL", n, seed=20261101)
    # The generator must exercise both verdicts and the fast path heavily.
    assert stats["valid"] > n * 0.3
    assert stats["invalid"] > n * 0.2
    assert stats["fast_path"] > n * 0.25
    print(f"\nIL differential: {n} numbers, {dict(stats)}")


@pytest.mark.parametrize("region", ["FR", "DE", "IN", "GB", "US"])
def test_differential_other_regions(region: str) -> None:
    _run(region, 5000, seed=7)


def test_fastpath_digit_strings_exhaustive_shapes() -> None:
    """Every prefix shape the fast path mirrors, on bare digit strings of all lengths."""
    fast = FastPath("IL")
    rng = random.Random(3)
    heads = ["", "0", "00", "000", "972", "9720", "00972", "009720", "0972", "1", "01", "012"]
    checked = 0
    for head in heads:
        for length in range(0, 15):
            for _ in range(60):
                digits = head + "".join(rng.choice("0123456789") for _ in range(length))
                for plus in (False, True):
                    text = ("+" if plus else "") + digits
                    got = fast.classify(plus, digits) if digits else None
                    want: tuple[str, str] | None = None
                    try:
                        num = phonenumbers.parse(text, "IL")
                        if phonenumbers.is_valid_number(num):
                            want = (
                                phonenumbers.format_number(num, PhoneNumberFormat.E164),
                                type_name(phonenumbers.number_type(num)),
                            )
                    except NumberParseException:
                        pass
                    if got is not None:
                        assert want == got[:2], text
                    checked += 1
    assert checked > 10000


def iter_generated(region: str, n: int, seed: int) -> Iterator[str]:
    """Generated cells, for benchmarks."""
    gen = Generator(region, seed)
    for _ in range(n):
        yield gen.text()


@pytest.mark.parametrize("region", ["IL", "FR", "DE", "IN"])
def test_combined_type_regexes_follow_the_if_chain(region: str) -> None:
    """The one-regex type checks agree with the step-by-step mirror of _number_type_helper."""
    fast = FastPath(region)
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert md is not None
    gen = Generator(region, seed=11)
    rng = random.Random(11)
    for _ in range(5000):
        nsn = gen.nsn() if rng.random() < 0.8 else gen._fill(rng.randint(1, 17))
        step_by_step = fast.number_type(nsn)
        assert fast.number_type_fast(nsn) == step_by_step, nsn
        num = phonenumbers.PhoneNumber(country_code=md.country_code, national_number=int(nsn))
        if not nsn.startswith("0"):
            assert step_by_step == type_name(phonenumbers.number_type(num)), nsn
        got = fast.classify(True, f"{md.country_code}{nsn}")
        if got is not None:
            assert got[1] == fast.number_type(got[2]) != "unknown", nsn


@pytest.mark.parametrize("region", ["IL", "FR", "DE", "IN", "GB", "US"])
def test_shape_regexes_agree_with_the_step_by_step_mirror(region: str) -> None:
    """FastPath.quick (one regex per written form) gives classify's answer, always.

    Inputs are the region's own numbers (valid and not) behind every prefix
    shape: national prefix, none, country code with and without "+", IDD
    prefixes (with their look-alikes) and a national prefix after the code.
    """
    fast = FastPath(region)
    gen = Generator(region, seed=5)
    rng = random.Random(5)
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert md is not None
    cc, np_ = str(md.country_code), md.national_prefix or ""
    heads = ["", np_, cc, cc + np_, "00" + cc, "000" + cc, "011" + cc, "0105" + cc, "012" + cc]
    heads += ["013" + cc, "01" + cc, "0" + cc, "00" + cc + np_, "1", "01", "00", "9"]
    answered = 0
    for _ in range(20_000):
        nsn = gen.nsn() if rng.random() < 0.9 else gen._fill(rng.randint(1, 18))
        digits = rng.choice(heads) + nsn
        for plus in (False, True):
            want = fast.classify(plus, digits)
            assert fast.quick(plus, digits) == want, (plus, digits)
            answered += want is not None
    if fast.enabled and md.national_prefix_for_parsing in (None, "0"):
        assert fast.shapes_bare and fast.shapes_plus
    assert answered > 1000 or not fast.enabled


@pytest.mark.parametrize("region", ["IL", "FR", "DE", "IN", "GB", "US"])
def test_national_format_regex_agrees_with_the_loop(region: str) -> None:
    """The one-regex national_prefix_in_format gives the format loop's answer."""
    fast = FastPath(region)
    gen = Generator(region, seed=9)
    for _ in range(20_000):
        nsn = gen.nsn()
        assert fast.national_prefix_in_format(nsn) == fast.national_prefix_in_format_loop(nsn), nsn
