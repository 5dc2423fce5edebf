"""Phone normalisation: messy input, Excel damage, policy, API forms (table-driven)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from importer.phones import (
    DEFAULT_ALLOWED_TYPES,
    PhoneNormalizer,
    PhonePolicy,
    PhoneResult,
    api_form,
    canonical_from_api,
)
from tests.test_phones_differential import ALL_TYPES, reference


def _example(kind: int) -> phonenumbers.PhoneNumber:
    num = phonenumbers.example_number_for_type("IL", kind)
    assert num is not None and phonenumbers.is_valid_number(num)
    return num


def _e164(num: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(num, PhoneNumberFormat.E164)


MOBILE = _example(PhoneNumberType.MOBILE)            # 050-234-5678
MOBILE_E164 = _e164(MOBILE)                          # +972502345678
NSN = phonenumbers.national_significant_number(MOBILE)
LOCAL = "0" + NSN                                    # 0502345678
LANDLINE_E164 = "+97236234567"                       # 03-623-4567, checked below
INVALID_05X = "050-1234567"                          # not allocated in phonenumbers

# Both are compared with phonenumbers so the table below stands on checked data.
assert phonenumbers.is_valid_number(phonenumbers.parse(LANDLINE_E164))
assert not phonenumbers.is_valid_number(phonenumbers.parse(INVALID_05X, "IL"))


@pytest.fixture
def normalizer() -> PhoneNormalizer:
    return PhoneNormalizer()


MESSY_FORMS = [
    f"{LOCAL[:3]}-{LOCAL[3:]}",                                     # 050-2345678
    f"+972-{NSN[:2]}-{NSN[2:5]}-{NSN[5:]}",                         # +972-50-234-5678
    f"972{NSN}",
    f"00972{NSN}",
    f"00 972 {NSN[:2]} {NSN[2:]}",
    f"({LOCAL[:3]}) {LOCAL[3:6]} {LOCAL[6:]}",
    f"{LOCAL[:3]}.{LOCAL[3:6]}.{LOCAL[6:]}",
    f"+972 (0){NSN[:2]}-{NSN[2:]}",
    f"+972 (0) {NSN}",
    f"tel:+972{NSN}",
    f"tel:{LOCAL}",
    f"p:{LOCAL}",
    f"טל: {LOCAL}",
    f"נייד:{LOCAL[:3]}-{LOCAL[3:]}",
    f"טלפון: {LOCAL[:3]} {LOCAL[3:]}",
    f"{LOCAL} נייד",
    f"Mobile: {LOCAL}",
    f"\u200e{LOCAL[:3]}-{LOCAL[3:]}\u200f",                         # LRM / RLM around
    f"{LOCAL[:3]}\u200e-\u200f{LOCAL[3:]}",                         # bidi marks inside
    f"\u2066{LOCAL}\u2069",                                         # bidi isolates
    f"\u202b{LOCAL}\u202c",                                         # embedding + pop
    f"{LOCAL[:3]}\u2013{LOCAL[3:6]}\u2014{LOCAL[6:]}",              # en / em dash
    f"{LOCAL[:3]}\u2011{LOCAL[3:]}",                                # non-breaking hyphen
    f"{LOCAL[:3]}\u2212{LOCAL[3:]}",                                # minus sign
    f"{LOCAL[:3]}\u00a0{LOCAL[3:6]}\u00a0{LOCAL[6:]}",              # NBSP
    f"{LOCAL[:3]}\u202f{LOCAL[3:]}",                                # narrow NBSP
    LOCAL.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),      # Arabic-Indic
    LOCAL.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")),      # Persian
    LOCAL.translate(str.maketrans("0123456789", "０１２３４５６７８９")),  # full-width
    f"＋９７２{NSN}",
    f"  {LOCAL}\t",
    f"++972{NSN}",
    f"+972-{LOCAL}",
    f"9720{NSN}",
]


@pytest.mark.parametrize("raw", MESSY_FORMS)
def test_messy_forms_of_one_mobile(normalizer: PhoneNormalizer, raw: str) -> None:
    result = normalizer.normalize(raw)
    assert result == PhoneResult(MOBILE_E164, "mobile"), raw


@pytest.mark.parametrize(
    ("kind", "type_name", "ok_by_default"),
    [
        (PhoneNumberType.MOBILE, "mobile", True),
        (PhoneNumberType.FIXED_LINE, "fixed_line", True),
        (PhoneNumberType.VOIP, "voip", True),
        (PhoneNumberType.TOLL_FREE, "toll_free", False),
        (PhoneNumberType.SHARED_COST, "shared_cost", False),
        (PhoneNumberType.PREMIUM_RATE, "premium_rate", False),
        (PhoneNumberType.UAN, "uan", False),
        (PhoneNumberType.VOICEMAIL, "voicemail", False),
    ],
)
@pytest.mark.parametrize(
    "fmt", [PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164]
)
def test_il_types(
    normalizer: PhoneNormalizer, kind: int, type_name: str, ok_by_default: bool, fmt: int
) -> None:
    num = _example(kind)
    raw = phonenumbers.format_number(num, fmt)
    result = normalizer.normalize(raw)
    assert result.e164 == _e164(num)
    assert result.number_type == type_name
    assert result.ok is ok_by_default
    if not ok_by_default:
        assert result.problem == "type_rejected"
        assert "not allowed here" in result.reason


@pytest.mark.parametrize(
    ("raw", "e164", "number_type", "words"),
    [
        ("1-800-123-456", "+9721800123456", "toll_free", "toll-free"),
        ("1-700-123-456", "+9721700123456", "shared_cost", "shared-cost"),
        ("1919123456", "+9721919123456", "premium_rate", "premium-rate"),
        ("1599-123456", "+9721599123456", "uan", "company-wide"),
    ],
)
def test_special_numbers_are_type_rejected_in_plain_words(
    normalizer: PhoneNormalizer, raw: str, e164: str, number_type: str, words: str
) -> None:
    result = normalizer.normalize(raw)
    assert (result.e164, result.number_type, result.problem) == (e164, number_type, "type_rejected")
    assert words in result.reason
    assert "allowed: mobile, landline, VoIP" in result.reason


@pytest.mark.parametrize(
    ("raw", "e164", "number_type"),
    [
        ("+1 212-555-0123", "+12125550123", "fixed_line_or_mobile"),
        ("001 212 555 0123", "+12125550123", "fixed_line_or_mobile"),
        ("+44 20 7946 0958", "+442079460958", "fixed_line"),
        ("+44 7911 123456", "+447911123456", "mobile"),
        ("+33 1 23 45 67 89", "+33123456789", "fixed_line"),
        ("0033 6 12 34 56 78", "+33612345678", "mobile"),
    ],
)
def test_international(normalizer: PhoneNormalizer, raw: str, e164: str, number_type: str) -> None:
    result = normalizer.normalize(raw)
    assert (result.e164, result.number_type, result.problem) == (e164, number_type, None)


def test_us_number_without_plus_is_read_as_international(normalizer: PhoneNormalizer) -> None:
    result = normalizer.normalize("12125550123")
    assert result.ok and result.e164 == "+12125550123"
    assert "not a valid Israeli number" in result.reason
    assert "+1 212-555-0123" in result.reason


def test_no_international_fallback_for_local_or_short_numbers(normalizer: PhoneNormalizer) -> None:
    # A leading 0 is a national number; 10 digits is too short to carry a country code.
    assert normalizer.normalize("012125550123").problem == "invalid_phone"
    assert normalizer.normalize("2125550123").problem == "invalid_phone"


def test_international_fallback_wants_the_code_standing_alone(normalizer: PhoneNormalizer) -> None:
    for raw in ("1 212 555 0123", "1-212-555-0123", "44 20 7946 0958"):
        result = normalizer.normalize(raw)
        assert result.ok and "read as an international number" in result.reason, raw
    # A count or a stray number before a local number is no country code: not +1 305…,
    # +20 88… or +8 1200….
    for raw in ("13 058761393", "20 0884306374", "8-12000000000"):
        assert normalizer.normalize(raw).problem == "invalid_phone", raw


# --- Excel damage ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "numeric", "note"),
    [
        (NSN, True, f"leading zero restored (Excel stored the number as {NSN})"),
        (f"{NSN}.0", True, f"leading zero restored (Excel stored the number as {NSN})"),
        (NSN, False, f"leading zero restored (the cell held {NSN})"),
        (f"{NSN}.0", False, f"leading zero restored (the cell held {NSN})"),
        (f"{NSN},00", False, f"leading zero restored (the cell held {NSN})"),
        (f"972{NSN}.0", True, ""),
        (f"9.72{NSN}E+11", False, f"converted from Excel scientific notation (9.72{NSN}E+11)"),
    ],
)
def test_excel_repairs(normalizer: PhoneNormalizer, raw: str, numeric: bool, note: str) -> None:
    result = normalizer.normalize(raw, numeric=numeric)
    assert (result.e164, result.problem) == (MOBILE_E164, None)
    assert result.reason == note


@pytest.mark.parametrize("raw", ["9.72501E+11", "9.72501e11", "9,72501E+11", "5.02346E+08"])
def test_lossy_scientific_notation_is_refused(normalizer: PhoneNormalizer, raw: str) -> None:
    result = normalizer.normalize(raw, numeric=True)
    assert result.problem == "invalid_phone" and result.e164 is None
    assert result.reason == (
        f"Excel scientific notation ({raw}) lost digits; format the column as Text in Excel "
        "and export again"
    )


def test_lost_zero_is_not_claimed_when_the_repair_is_invalid(normalizer: PhoneNormalizer) -> None:
    result = normalizer.normalize("501234567", numeric=True)
    assert result.problem == "invalid_phone"
    assert "restored" not in result.reason
    assert "looks like an Israeli mobile number (05X)" in result.reason


def test_toll_free_without_zero_gets_no_lost_zero_note(normalizer: PhoneNormalizer) -> None:
    result = normalizer.normalize("1800123456", numeric=True)
    assert result.number_type == "toll_free" and "zero" not in result.reason


# --- several numbers, extensions ------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164", "ignored"),
    [
        (f"{LOCAL} / 03-6234567", MOBILE_E164, "ignored 03-6234567"),
        (f"{LOCAL}, 03-6234567", MOBILE_E164, "ignored 03-6234567"),
        (f"{LOCAL}\n03-6234567", MOBILE_E164, "ignored 03-6234567"),
        (f"{LOCAL}\r\n+972-3-6234567", MOBILE_E164, "ignored +972-3-6234567"),
        (f"{LOCAL}; 03-6234567", MOBILE_E164, "ignored 03-6234567"),
        (f"{LOCAL} או 03-6234567", MOBILE_E164, "ignored 03-6234567"),
        (f"{LOCAL} or 03-6234567", MOBILE_E164, "ignored 03-6234567"),
        (f"03-6234567 / {LOCAL}", LANDLINE_E164, f"ignored {LOCAL}"),
        (f"{INVALID_05X} / 03-6234567", LANDLINE_E164, f"ignored {INVALID_05X} (not valid)"),
        (f"1-800-123-456 / {LOCAL}", MOBILE_E164, "ignored 1-800-123-456 (not allowed"),
    ],
)
def test_two_numbers_in_one_cell(
    normalizer: PhoneNormalizer, raw: str, e164: str, ignored: str
) -> None:
    result = normalizer.normalize(raw)
    assert result.ok and result.e164 == e164
    assert "cell has 2 numbers; used the first valid one" in result.reason
    assert ignored in result.reason


@pytest.mark.parametrize(
    ("raw", "ignored"),
    [
        (f"{LOCAL} 03-6234567", "ignored 03-6234567"),
        (f"{LOCAL[:3]} {LOCAL[3:6]} {LOCAL[6:]} 03 623 4567", "ignored 03 623 4567"),
        (f"טל {LOCAL} {LOCAL}", f"ignored {LOCAL}"),
    ],
)
def test_two_numbers_with_only_a_space_between(
    normalizer: PhoneNormalizer, raw: str, ignored: str
) -> None:
    result = normalizer.normalize(raw)
    assert result.ok and result.e164 == MOBILE_E164
    assert f"cell has 2 numbers; used the first one, {ignored}" in result.reason


def test_glued_digits_are_not_guessed_apart(normalizer: PhoneNormalizer) -> None:
    assert normalizer.normalize(f"{LOCAL}036234567").problem == "invalid_phone"
    assert normalizer.normalize(f"{LOCAL} 1234567").problem == "invalid_phone"


def test_two_numbers_none_usable(normalizer: PhoneNormalizer) -> None:
    result = normalizer.normalize(f"{INVALID_05X} / 1-800-123-456")
    assert result.problem == "type_rejected"  # a real number of the wrong kind says most
    assert result.reason.startswith("cell has 2 numbers, none usable")


def test_alternative_last_digit_is_noted(normalizer: PhoneNormalizer) -> None:
    result = normalizer.normalize("03-6234567/8")
    assert result.ok and result.e164 == LANDLINE_E164
    assert 'ignored "8"' in result.reason


@pytest.mark.parametrize(
    "raw",
    [
        "03-6234567 ext. 12",
        "03-6234567 ext 12",
        "03-6234567 Extension: 12",
        "03-6234567 x12",
        "03-6234567 #12",
        "03-6234567 שלוחה 12",
        "03-6234567 שלוחה: 12",
        "03-6234567 שלו' 12",
        "03-6234567,,12",
        "03-6234567, ext 12",
        "\u200f03-6234567 שלוחה 12\u200f",
    ],
)
def test_extensions_are_kept(normalizer: PhoneNormalizer, raw: str) -> None:
    result = normalizer.normalize(raw)
    assert (result.e164, result.extension, result.problem) == (LANDLINE_E164, "12", None)
    assert "extension 12" in result.reason


# --- missing and invalid ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["", "   ", "-", "--", "N/A", "n/a", "NA", "none", "אין", "לא ידוע", "\u200e", "()", "+"]
)
def test_missing(normalizer: PhoneNormalizer, raw: str) -> None:
    result = normalizer.normalize(raw)
    assert (result.e164, result.problem) == (None, "missing_phone")


@pytest.mark.parametrize("raw", ["N/A", "אין", "לא ענה", "x", "call me", "john@example.com"])
def test_text_without_digits_is_missing_and_kept_in_the_reason(
    normalizer: PhoneNormalizer, raw: str
) -> None:
    result = normalizer.normalize(raw)
    assert (result.e164, result.problem) == (None, "missing_phone")
    assert result.reason == f'no phone number ("{raw}")'


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("123", "too short"),
        ("0523", "too short"),
        ("05023456789012", "too long"),
        ("050234567", "too short for an Israeli mobile number"),
        ("05023456789", "too long for an Israeli mobile number"),
        ("05O-234-5678", "contains letters"),
        ("1-800-FLOWERS", 'the text "-FLOWERS" after the digits was ignored'),
        ("1-800-FLOWERS-NOW", 'the text "-FLOWERS-NOW" after the digits was ignored'),
        ("+999 1234567", "unknown country code"),
        ("*6789", "star service code"),
        ("6234567", "without its area code"),
        (INVALID_05X, "looks like an Israeli mobile number (05X) but that block (0501) is not "
                      "allocated; check it"),
        ("057-2345678", "looks like an Israeli mobile number (05X)"),
    ],
)
def test_invalid_says_why(normalizer: PhoneNormalizer, raw: str, why: str) -> None:
    result = normalizer.normalize(raw)
    assert (result.e164, result.problem) == (None, "invalid_phone"), result
    assert why in result.reason


def test_unallocated_05x_points_to_strictness(normalizer: PhoneNormalizer) -> None:
    reason = normalizer.normalize(INVALID_05X).reason
    assert reason.endswith("check it or use strictness: possible")
    assert "phonenumbers" not in reason  # the library and its version stay in the log


def test_strictness_possible_accepts_plausible_israeli_shapes() -> None:
    loose = PhoneNormalizer(PhonePolicy(strictness="possible"))
    result = loose.normalize(INVALID_05X)
    assert (result.e164, result.number_type, result.problem) == ("+972501234567", "mobile", None)
    assert (
        "not in the list of allocated numbers; accepted because strictness is "
        "'possible'" in result.reason
    )
    assert "phonenumbers" not in result.reason  # library internals stay in the log
    assert loose.normalize("123").problem == "invalid_phone"
    assert loose.normalize("05023456789").problem == "invalid_phone"
    assert loose.normalize(LOCAL) == PhoneResult(MOBILE_E164, "mobile")


def test_policy_allowed_types() -> None:
    mobile_only = PhoneNormalizer(PhonePolicy(allow_types=frozenset({"mobile"})))
    result = mobile_only.normalize("03-6234567")
    assert (result.problem, result.number_type, result.e164) == (
        "type_rejected", "fixed_line", LANDLINE_E164,
    )
    assert result.reason == "a landline number is not allowed here (allowed: mobile)"
    with_toll_free = PhoneNormalizer(
        PhonePolicy(allow_types=DEFAULT_ALLOWED_TYPES | {"toll_free"})
    )
    assert with_toll_free.normalize("1-800-123-456").ok


def test_other_default_region() -> None:
    uk = PhoneNormalizer(PhonePolicy(default_region="GB"))
    assert uk.normalize("020 7946 0958").e164 == "+442079460958"
    with pytest.raises(ValueError, match="unknown phone region"):
        PhoneNormalizer(PhonePolicy(default_region="XX"))


# --- first_usable, cache ---------------------------------------------------------


def test_first_usable_prefers_the_first_usable_column(normalizer: PhoneNormalizer) -> None:
    raw, result = normalizer.first_usable([("", False), (LOCAL, False), ("03-6234567", False)])
    assert (raw, result.e164) == (LOCAL, MOBILE_E164)


def test_first_usable_notes_an_earlier_bad_column(normalizer: PhoneNormalizer) -> None:
    raw, result = normalizer.first_usable([("123", False), (LOCAL, False)])
    assert raw == LOCAL and result.ok
    assert 'an earlier phone column had "123" (too short' in result.reason


@pytest.mark.parametrize(
    ("candidates", "raw", "problem"),
    [
        ([("123", False), ("1-800-123-456", False)], "1-800-123-456", "type_rejected"),
        ([("", False), ("123", False), ("N/A", False)], "123", "invalid_phone"),
        ([("", False), ("  ", False)], "", "missing_phone"),
        ([("N/A", False)], "N/A", "missing_phone"),
        ([], "", "missing_phone"),
    ],
)
def test_first_usable_failure_ranking(
    normalizer: PhoneNormalizer, candidates: list[tuple[str, bool]], raw: str, problem: str
) -> None:
    got_raw, result = normalizer.first_usable(candidates)
    assert (got_raw, result.problem) == (raw, problem)


def test_cache_key_includes_numeric(normalizer: PhoneNormalizer) -> None:
    as_number = normalizer.normalize(NSN, numeric=True)
    as_text = normalizer.normalize(NSN, numeric=False)
    assert "Excel" in as_number.reason and "Excel" not in as_text.reason
    assert normalizer.normalize(NSN, numeric=True) is as_number
    assert normalizer.cache_hits == 1


def test_cache_is_bounded() -> None:
    small = PhoneNormalizer(cache_size=3)
    for i in range(10):
        small.normalize(f"03-623456{i}", numeric=i % 2 == 0)
        assert len(small._cache) + len(small._cache_numeric) <= 3
    again = small.normalize("03-6234569")  # the last one stored is still there
    assert small.cache_hits == 1 and again.e164 == "+97236234569"


def test_fast_path_serves_common_forms(normalizer: PhoneNormalizer) -> None:
    forms = (
        LOCAL,
        f"+972-{NSN}",
        f"00972{NSN}",
        f"972{NSN}",
        f"({LOCAL[:3]}) {LOCAL[3:]}",
        f"p:+972{NSN}",
        f"tel:{LOCAL}",
    )
    for raw in forms:
        assert normalizer.normalize_uncached(raw) == PhoneResult(MOBILE_E164, "mobile")
    assert normalizer.fast_hits == len(forms)


@pytest.mark.parametrize(
    ("raw", "numeric"),
    [
        (LOCAL, False),
        (f"{LOCAL[:3]}-{LOCAL[3:]}", False),
        (f"+972 {NSN[:2]}-{NSN[2:5]}-{NSN[5:]}", False),
        (NSN, True),  # the lost-zero note
        (NSN, False),
        (f"p:+972{NSN}", False),
        ("03-6234567", False),
    ],
)
def test_fast_results_are_ordinary_phone_results(raw: str, numeric: bool) -> None:
    """The hot path builds results its own way: they must be PhoneResults in every respect."""
    fast = PhoneNormalizer().normalize_uncached(raw, numeric=numeric)
    full = PhoneNormalizer()._normalize_full(raw, numeric)
    assert type(fast) is PhoneResult
    assert fast == full and hash(fast) == hash(full) and repr(fast) == repr(full)
    assert fast.ok
    for name in ("e164", "reason", "other"):  # frozen exactly like a normal instance
        errors = []
        for result in (fast, full):
            try:
                setattr(result, name, "x")
            except Exception as exc:  # the type is what is compared
                errors.append(type(exc))
        assert len(errors) == 2 and errors[0] is errors[1]
    assert fast == full


@pytest.mark.parametrize(
    "raw",
    [
        f"p:{NSN}",  # a bare NSN behind a label: the full pipeline decides the note
        f"p:({LOCAL[:3]}) {LOCAL[3:]}",
        f"tel: {LOCAL} ",
        f"TEL:+972{NSN}",
        f"P:00972{NSN}",
        f"p:{LOCAL}.0",
        f"p:{INVALID_05X}",
        "p:1-800-123-456",
        "tel:12125550123",
        "p:",
        "tel:",
        "pp:" + LOCAL,
        "telephone " + LOCAL,
    ],
)
def test_labelled_cells_match_the_full_pipeline(raw: str) -> None:
    for numeric in (False, True):
        fast = PhoneNormalizer().normalize_uncached(raw, numeric=numeric)
        assert fast == PhoneNormalizer()._normalize_full(raw, numeric)


# --- API forms -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "form", "expected"),
    [
        (MOBILE_E164, "digits", "972502345678"),
        (MOBILE_E164, "e164", "+972502345678"),
        (MOBILE_E164, "local", "0502345678"),
        (LANDLINE_E164, "local", "036234567"),
        ("+9721800123456", "local", "1800123456"),
        ("+12125550123", "local", "12125550123"),
        ("+12125550123", "digits", "12125550123"),
    ],
)
def test_api_form(e164: str, form: str, expected: str) -> None:
    assert api_form(e164, form) == expected  # type: ignore[arg-type]


def test_api_form_default_and_errors() -> None:
    assert api_form(MOBILE_E164) == "972502345678"
    with pytest.raises(ValueError):
        api_form("0502345678")
    with pytest.raises(ValueError):
        api_form(MOBILE_E164, "national")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("972722776772", "+972722776772"),
        ("+972722776772", "+972722776772"),
        ("0502345678", MOBILE_E164),
        ("050-234-5678", MOBILE_E164),
        ("00972502345678", MOBILE_E164),
        ("12125550123", "+12125550123"),
        ("972501234567", "+972501234567"),  # not allocated, still the dialer's number
        ("502345678", MOBILE_E164),  # local without its zero: +502... is not valid
        ("+972 50-234-5678", MOBILE_E164),
        ("", None),
        ("abc", None),
        ("12", None),
    ],
)
def test_canonical_from_api(phone: str, expected: str | None) -> None:
    assert canonical_from_api(phone) == expected


# --- properties --------------------------------------------------------------------

_PREFIXES = ["", "0", "+972", "972", "00972", "+972 (0)", "+1 ", "+44 ", "1-", "*"]


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(_PREFIXES),
    digits=st.text(alphabet="0123456789", min_size=1, max_size=13),
    sep=st.sampled_from(["", "-", " ", ".", "\u2013", "\u00a0"]),
    cut=st.integers(min_value=0, max_value=13),
)
def test_idempotent_and_agrees_with_phonenumbers(
    prefix: str, digits: str, sep: str, cut: int
) -> None:
    raw = prefix + digits[:cut] + sep + digits[cut:]
    # Two long digit groups apart are two numbers in one cell, where the first valid one
    # wins (tested on its own below); the reference parses the cell as one number.
    groups = raw.split()
    assume(not (len(groups) == 2 and all(sum(c.isdigit() for c in g) >= 7 for g in groups)))
    normalizer = PhoneNormalizer(PhonePolicy(allow_types=ALL_TYPES))
    result = normalizer.normalize(raw)
    expected = None if "*" in raw else reference(raw, "IL")
    assert ((result.e164, result.number_type) if result.ok else None) == expected
    if result.e164 is not None:
        again = normalizer.normalize(result.e164)
        assert (again.e164, again.number_type, again.problem) == (
            result.e164, result.number_type, result.problem,
        )
        assert canonical_from_api(api_form(result.e164)) == result.e164


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_never_raises_on_any_text(raw: str) -> None:
    result = PhoneNormalizer().normalize(raw)
    assert result.ok == (result.problem is None)
    assert result.problem is not None or result.e164 is not None
    assert "\n" not in result.reason or "\n" in raw


@pytest.mark.parametrize(
    "cell",
    ["2026-05-02", "2026-11-28", " 2026-5-2 ", "28.11.2026", "1/5/2026", "02/05/2026",
     "31-12-1999"],
)
def test_a_date_in_a_phone_column_is_not_dialled(cell: str) -> None:
    """An Excel date cell or a typed date would pass for a Jerusalem landline that lost its 0."""
    result = PhoneNormalizer().normalize(cell)
    assert result.problem == "invalid_phone"
    assert "looks like a date" in result.reason


@pytest.mark.parametrize(
    ("cell", "e164"),
    [
        ("03.123.4567", "+97231234567"),
        ("02-123-4567", "+97221234567"),
        ("053-100-0000", "+972531000000"),
        ("053.1000000", "+972531000000"),
        ("2-1234567", "+97221234567"),
    ],
)
def test_phone_shapes_near_dates_still_read(cell: str, e164: str) -> None:
    assert PhoneNormalizer().normalize(cell).e164 == e164


def test_an_invalid_number_under_a_shared_country_code_is_not_an_unknown_code() -> None:
    """+1 is fine; the number is not (regions of +1 are known only for valid numbers)."""
    result = PhoneNormalizer().normalize("+15555555555")
    assert result.problem == "invalid_phone"
    assert "unknown country code" not in result.reason
    assert "+1" in result.reason
    assert "unknown country code" in PhoneNormalizer().normalize("+999 1234567").reason


def test_numbers_abroad_are_noted_or_refused_by_country() -> None:
    anywhere = PhoneNormalizer()
    only_il = PhoneNormalizer(PhonePolicy(countries=frozenset({"IL"})))
    us = anywhere.normalize("p:+1 212 555 0123")
    assert us.e164 == "+12125550123" and us.problem is None
    assert "a number abroad (US, +1): an international call" in us.reason
    refused = only_il.normalize("p:+1 212 555 0123")
    assert refused.problem == "type_rejected"
    assert "(countries: IL)" in refused.reason
    home = only_il.normalize("053-1000000")
    assert home.e164 == "+972531000000" and home.problem is None and home.reason == ""


@pytest.mark.parametrize(
    ("cell", "e164"),
    [
        ("4930901820", "+4930901820"),       # Berlin: a too-long Israeli landline without it
        ("12125550123", "+12125550123"),
        ("33612345678", "+33612345678"),
        ("442079460018", "+442079460018"),
        ("972531000000", "+972531000000"),   # the API's form of an Israeli mobile
        ("97236234567", "+97236234567"),
        ("0531000000", "+972531000000"),     # a local number keeps its country
        ("036234567", "+97236234567"),
        ("531000000", "+972531000000"),      # no valid number abroad: a lost leading zero
        ("49523746", "+97249523746"),        # valid both ways (+49 523746): the lost zero wins
        ("532127928", "+972532127928"),      # (+53 Cuba)
        ("+4930901820", "+4930901820"),
        ("4930901820.0", "+4930901820"),     # an Excel number cell
        ("49 30 901820", "+4930901820"),
    ],
)
def test_digits_are_international(cell: str, e164: str) -> None:
    """A file in the Dialer API's form: bare digits are a country code first."""
    normalizer = PhoneNormalizer(PhonePolicy(digits_are_international=True))
    result = normalizer.normalize(cell)
    assert (result.e164, result.problem) == (e164, None)
    assert "read as an international number" not in result.reason  # no "check it" warning


def test_digits_are_international_keeps_the_policy() -> None:
    only_il = PhoneNormalizer(
        PhonePolicy(digits_are_international=True, countries=frozenset({"IL"}))
    )
    refused = only_il.normalize("4930901820")
    assert refused.problem == "type_rejected" and "(countries: IL)" in refused.reason
    plain = PhoneNormalizer()
    assert plain.normalize("4930901820").problem == "invalid_phone"  # without the option
    assert "too long for an Israeli landline" in plain.normalize("4930901820").reason


def test_digits_are_international_in_a_mapping() -> None:
    from importer.mapping import parse_mapping

    mapping = parse_mapping("name: x\nphone:\n  columns: [p]\n  digits_are_international: true\n")
    assert mapping.phone_policy().digits_are_international is True
    assert parse_mapping("phone: [p]\n").phone_policy().digits_are_international is False
