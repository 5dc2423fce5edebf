"""Phone normalisation, Excel-damage repair and the number-type policy.

``PhoneNormalizer.normalize`` turns whatever people type into a phone cell
into E.164 (``+972521234567``), or says in plain words why it cannot:

1. clean the text: Unicode digits to ASCII, bidi marks and zero-width
   characters out, Unicode dashes and spaces to plain ones;
2. spot cells without digits (empty, ``-``, ``N/A``, ``אין``, ``לא ענה``, an e-mail address):
   missing_phone, the text kept in the reason;
3. repair Excel damage: ``521234567.0`` float artefacts, lost leading zeros
   (noted), scientific notation (refused unless it kept every digit);
4. split cells holding several numbers (``/``, ``,``, ``;``, new lines,
   "or"/"או") and keep the first usable one, noting the others;
5. take off labels (``tel:``, ``טל:``, ``נייד:``) and extensions (``ext. 12``,
   ``שלוחה 12``, ``#12``), which are returned in ``PhoneResult.extension``;
6. validate with phonenumbers: plain digit strings of the default region go
   through ``importer.phone_fastpath`` (an exact mirror of phonenumbers built
   from its metadata), everything else through ``phonenumbers.parse``;
   ASCII cells of digits and plain separators (optionally behind ``p:`` or
   ``tel:``) that turn out valid and allowed skip steps 1-5 altogether: a hot
   path in front of the pipeline, never changing its answer (the differential
   test compares whole results, the hot path against the full pipeline);
7. apply the policy: allowed number types, and strictness ``valid`` (the number
   is in phonenumbers' allocated blocks) or ``possible`` (an Israeli
   mobile/landline/VoIP shape is enough);
8. a cell refused above because it holds more than a number (a note with
   digits: ``054-7654321 after 18:00``) is searched with phonenumbers'
   ``PhoneNumberMatcher`` at ``Leniency.VALID`` (``importer.phone_text``): the
   first valid number is used and the rest of the cell is kept in the reason
   ("note kept: after 18:00"). A cell holding a date, a time, an amount of
   money or a labelled ID number goes to the matcher straight away (splitting
   would take those for numbers); good cells never reach it.

Decisions worth knowing:

- Letters inside a number are refused ("contains letters"): vanity numbers
  such as 1-800-FLOWERS are rare in lead files, while names and notes typed
  into the phone cell are common and phonenumbers would turn them into digits.
- A number of 11 or more digits without ``+``/``00``, not starting with 0,
  that is not a valid number of the default region but is a valid
  international number (``12125550123``) is read as international, and the
  reason says so; written in groups, the first must be the country code and
  the second must not start with a trunk 0 (``13 058761393`` is a count and a
  local number, not a number abroad).
- With ``PhonePolicy.digits_are_international`` (files in the Dialer API's form, such as
  a ``pending`` export) bare digits not starting with 0 are read as a country code and
  number first (``4930901820`` is +49 30 901820) and only when that is no valid number as
  one of the default region; a number with its leading 0 stays local, and so do digits
  valid both ways (``49523746``: 04-952-3746 that lost its zero, or +49 523746).
- A type-rejected result still carries its ``e164`` and ``number_type``; only
  ``ok`` results may be dialled.
- A lost leading zero (``521234567``, a number cell or text) is read the way
  phonenumbers reads it, as the national number, and the reason notes the
  restored zero; it is never claimed when the result is not a valid number.
- ``first_usable`` ranks failures: type_rejected (a real number of the wrong
  kind) beats invalid_phone beats missing_phone; ties go to the first column.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from importer.i18n.reasons import Reason, ReasonKind, join_reasons
from importer.outcomes import Status
from importer.phones.fastpath import fast_digits, fast_path_for, type_name
from importer.phones.in_text import EXT_LABEL as _EXT_LABEL
from importer.phones.in_text import find_numbers, has_extra_text, has_protected, note_around

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "PHONE_TYPES",
    "PhoneNormalizer",
    "PhonePolicy",
    "PhoneResult",
    "PhoneType",
    "api_form",
    "canonical_from_api",
    "describe_type",
    "pending_key",
]

#: The number types a mapping may allow (phonenumbers' types, by name).
PhoneType = Literal[
    "mobile",
    "fixed_line",
    "fixed_line_or_mobile",
    "voip",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
]
PHONE_TYPES: tuple[str, ...] = get_args(PhoneType)

# Names are phonenumbers.PhoneNumberType names, lower-cased.
DEFAULT_ALLOWED_TYPES: frozenset[str] = frozenset(
    {"mobile", "fixed_line", "fixed_line_or_mobile", "voip"}
)

Problem = Literal[Status.MISSING_PHONE, Status.INVALID_PHONE, Status.TYPE_REJECTED]

log = logging.getLogger(__name__)

# The words for each number type, as parts of reasons (their codes never lead a reason).
_TYPE_WORDS: dict[str, ReasonKind] = {
    "mobile": ReasonKind("type_mobile", "mobile number"),
    "fixed_line": ReasonKind("type_fixed_line", "landline number"),
    "fixed_line_or_mobile": ReasonKind("type_fixed_line_or_mobile", "landline or mobile number"),
    "voip": ReasonKind("type_voip", "VoIP number (07X)"),
    "toll_free": ReasonKind("type_toll_free", "toll-free number (1-800)"),
    "premium_rate": ReasonKind("type_premium_rate", "premium-rate number (pay line)"),
    "shared_cost": ReasonKind("type_shared_cost", "shared-cost number (1-700)"),
    "uan": ReasonKind("type_uan", "company-wide number (1-599)"),
    "personal_number": ReasonKind("type_personal_number", "personal forwarding number"),
    "pager": ReasonKind("type_pager", "pager number"),
    "voicemail": ReasonKind("type_voicemail", "voicemail access number"),
    "unknown": ReasonKind("type_unknown", "number of unknown type"),
}
_OTHER_TYPE = ReasonKind("type_other", "{type} number")

# --- the reasons a phone cell gets (README "Reason codes" lists them) -------------------------
NO_PHONE_NUMBER = ReasonKind("empty_phone", "no phone number")
NO_PHONE_WORDS = ReasonKind("no_phone_text", 'no phone number ("{text}")')
LOOKS_LIKE_DATE = ReasonKind("looks_like_date", 'looks like a date ("{text}"), not a phone number')
NO_NUMBER_IN_TEXT = ReasonKind(
    "no_number_in_text",
    'no phone number in "{text}" (a date, a time, an amount or an ID number is not one)',
)
SCIENTIFIC_LOST = ReasonKind(
    "scientific_notation",
    "Excel scientific notation ({text}) lost digits; format the column as Text in Excel and "
    "export again",
)
SCIENTIFIC_CONVERTED = ReasonKind(
    "scientific_notation_converted", "converted from Excel scientific notation ({text})"
)
IGNORED_FRAGMENT = ReasonKind("ignored_fragment", 'ignored "{text}"')
SEVERAL_USED_FIRST = ReasonKind(
    "several_numbers", "cell has {count} numbers; used the first valid one, ignored {others}"
)
SEVERAL_NONE_USABLE = ReasonKind(
    "several_numbers_none_usable", "cell has {count} numbers, none usable: {number}: {reason}"
)
SEVERAL_NONE_USABLE_IGNORED = ReasonKind(
    "several_numbers_none_usable_ignored", "cell has {count} numbers, none usable; ignored {others}"
)
TWO_NUMBERS = ReasonKind("two_numbers", "cell has 2 numbers; used the first one, ignored {other}")
IGNORED_INVALID = ReasonKind("ignored_invalid", "{number} (not valid)")
IGNORED_NOT_ALLOWED = ReasonKind("ignored_not_allowed", "{number} (not allowed: {type})")
LIST = ReasonKind("list", "{first}, {rest}")
EARLIER_COLUMN = ReasonKind("earlier_column", "an earlier phone column had {problems}")
SKIPPED_CELL = ReasonKind("skipped_cell", '"{cell}" ({reason})')
STAR_CODE = ReasonKind(
    "star_code", "a star service code ({text}) cannot be dialled from a campaign"
)
LETTERS = ReasonKind("letters", 'contains letters ("{text}")')
TEXT_AFTER_IGNORED = ReasonKind(
    "text_after_digits", 'the text "{text}" after the digits was ignored'
)
EXTENSION_KEPT = ReasonKind(
    "extension_kept", "extension {extension} kept separately (the dialer calls the main number)"
)
NOTE_KEPT = ReasonKind("note_kept", "note kept: {note}")
LEADING_ZERO_EXCEL = ReasonKind(
    "leading_zero_restored_excel", "leading zero restored (Excel stored the number as {digits})"
)
LEADING_ZERO = ReasonKind("leading_zero_restored", "leading zero restored (the cell held {digits})")
UNKNOWN_COUNTRY_CODE = ReasonKind("unknown_country_code", "unknown country code (+{code})")
UNKNOWN_COUNTRY_AFTER_PREFIX = ReasonKind(
    "unknown_country_code_after_prefix", "unknown country code after + or 00"
)
TOO_SHORT = ReasonKind(
    "too_short", "too short for {where} number ({digits} digits after the prefix)"
)
TOO_LONG = ReasonKind("too_long", "too long for {where} number ({digits} digits after the prefix)")
WRONG_LENGTH = ReasonKind(
    "wrong_length", "wrong number of digits for {where} number ({digits} after the prefix)"
)
NO_AREA_CODE = ReasonKind(
    "no_area_code", "too short: the area code is missing (for example 03 or 02)"
)
LANDLINE_NO_AREA_CODE = ReasonKind(
    "landline_without_area_code",
    "too short: looks like a landline number without its area code (for example 03)",
)
TOO_SHORT_FOR = ReasonKind("too_short_for_type", "too short for {kind}")
TOO_LONG_FOR = ReasonKind("too_long_for_type", "too long for {kind}")
TOO_SHORT_TO_BE_PHONE = ReasonKind(
    "too_short_to_be_phone", 'too short to be a phone number ("{text}")'
)
TOO_LONG_TO_BE_PHONE = ReasonKind("too_long_to_be_phone", "too long to be a phone number")
NOT_A_PHONE = ReasonKind("not_a_phone", 'not a phone number ("{text}")')
# phonenumbers' name and version stay out of reasons (staff read them); they go to the log.
NOT_ALLOCATED_BLOCK = ReasonKind(
    "not_allocated_block",
    "looks like {kind} but that block ({block}) is not allocated; check it or use strictness: "
    "possible",
)
NOT_ALLOCATED = ReasonKind(
    "not_allocated", "not a valid {country} number: no such number block is allocated"
)
ACCEPTED_POSSIBLE = ReasonKind(
    "accepted_possible",
    "looks like {kind}; not in the list of allocated numbers; accepted because strictness is "
    "'possible'",
)
READ_AS_INTERNATIONAL = ReasonKind(
    "read_as_international",
    "not a valid {country} number, so it was read as an international number ({number}, "
    "{region}) although it has no + or 00; check the country",
)
ABROAD_NOT_ALLOWED = ReasonKind(
    "abroad_not_allowed", "a number abroad ({where}) is not allowed here (countries: {countries})"
)
ABROAD = ReasonKind("abroad", "a number abroad ({where}): an international call")
TYPE_NOT_ALLOWED = ReasonKind(
    "type_not_allowed", "a {type} is not allowed here (allowed: {allowed})"
)
NONE_ALLOWED = ReasonKind("none_allowed", "none")
ISRAELI = ReasonKind("country_israeli", "Israeli")
AN_ISRAELI = ReasonKind("country_an_israeli", "an Israeli")
A_REGION = ReasonKind("country_a", "a {region}")
AN_REGION = ReasonKind("country_an", "an {region}")
_MOBILE_SHAPE = ReasonKind("shape_mobile", "an Israeli mobile number (05X)")
_VOIP_SHAPE = ReasonKind("shape_voip", "an Israeli VoIP number (07X)")
_LANDLINE_SHAPE = ReasonKind("shape_landline", "an Israeli landline number")
_MOBILE_LENGTH = ReasonKind(
    "length_mobile", "an Israeli mobile number (05X numbers have 10 digits with the leading 0)"
)
_VOIP_LENGTH = ReasonKind(
    "length_voip", "an Israeli VoIP number (07X numbers have 10 digits with the leading 0)"
)
_LANDLINE_LENGTH = ReasonKind("length_landline", "an Israeli landline number (0X + 7 digits)")
_NO_PHONE = NO_PHONE_NUMBER()


def describe_type(number_type: str) -> Reason:
    """Plain words for a number type name ("toll_free" -> "toll-free number (1-800)")."""
    kind = _TYPE_WORDS.get(number_type)
    return kind() if kind is not None else _OTHER_TYPE(type=number_type.replace("_", " "))


def listed(items: list[str]) -> str:
    """Items joined by ", ", each item kept a reason in every language."""
    if not items:
        return ""
    out = items[-1]
    for item in reversed(items[:-1]):
        out = LIST(first=item, rest=out)
    return out


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """The outcome of normalising one raw cell (or several candidate cells)."""

    e164: str | None  # "+972521234567" when the number is usable
    number_type: str | None = None  # "mobile", "fixed_line", "voip", "toll_free", ...
    problem: Problem | None = None  # None when e164 is usable
    reason: str = ""  # a Reason (plain language); repair notes even when ok
    extension: str | None = None

    @property
    def ok(self) -> bool:
        """True when the number can be sent to the dialer."""
        return self.problem is None and self.e164 is not None

    def __reduce__(self) -> tuple[type[PhoneResult], tuple[object, ...]]:
        # A plain constructor call: a slots dataclass unpickles field by field, several
        # times slower, and results cross a pipe from the engine's helper process.
        return PhoneResult, (self.e164, self.number_type, self.problem, self.reason,
                             self.extension)


@dataclass(frozen=True, slots=True)
class PhonePolicy:
    """What counts as an acceptable number."""

    default_region: str = "IL"
    allow_types: frozenset[str] = field(default=DEFAULT_ALLOWED_TYPES)
    strictness: Literal["valid", "possible"] = "valid"
    countries: frozenset[str] | None = None  # regions whose numbers may be dialled; None: any
    # Digits without "+"/"00" and without a leading 0 are read first as a country code and
    # number (the Dialer API's form, 4930901820), then as a number of default_region.
    digits_are_international: bool = False


# --- text cleaning -------------------------------------------------------------

_char_map: dict[str, str] = {}


def _map_char(ch: str) -> str:
    """ASCII stand-in for one non-ASCII character (after NFKC)."""
    if ch.isdecimal():
        return str(unicodedata.decimal(ch))
    if ch in "\u2028\u2029\u0085":
        return "\n"
    cat = unicodedata.category(ch)
    if cat == "Cf":  # LRM/RLM/ALM, bidi embeddings and isolates, zero-width, soft hyphen
        return ""
    if cat == "Zs":
        return " "
    if cat == "Pd" or ch in "\u2212\u30fc\u2043":
        return "-"
    return ch


def _clean_text(raw: str) -> str:
    if not raw.isascii():
        raw = unicodedata.normalize("NFKC", raw)
        out = []
        for ch in raw:
            if ch.isascii():
                out.append(ch)
                continue
            mapped = _char_map.get(ch)
            if mapped is None:
                mapped = _char_map[ch] = _map_char(ch)
            out.append(mapped)
        raw = "".join(out)
    if "\t" in raw or "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return raw.strip()


_HAS_DIGIT = re.compile(r"\d")
_PUNCT_ONLY = re.compile(r"[\W_]*")

# --- Excel damage ---------------------------------------------------------------

_SCIENTIFIC = re.compile(r"[+-]?(\d+)(?:[.,](\d+))?[eE]\+?(\d{1,2})")
_FLOAT_ARTEFACT = re.compile(r"(\d{7,})[.,]0+")

# --- several numbers, labels and extensions -------------------------------------

_MAYBE_MULTI = re.compile(r"[/\\|;\n,]|\s(?:or|או|and)\s", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:[/\\|;\n]|(?<!,),(?!,)|\s(?:or|או|and)\s)\s*", re.IGNORECASE)
_EXT_ONLY = re.compile(rf"(?:{_EXT_LABEL})\s*[.:=]?\s*#?\s*(\d{{1,6}})\s*#?", re.IGNORECASE)
_EXT_TAIL = re.compile(
    rf"(?:\s*(?:{_EXT_LABEL})\s*[.:=]?\s*#?\s*|\s*#\s*|\s*,,\s*)(\d{{1,6}})\s*#?\s*$",
    re.IGNORECASE,
)
_PLAIN = re.compile(r"[0-9 +\-.()]*")
_LEADING_JUNK = re.compile(r"^[^\d+]+")
_TRAILING_JUNK = re.compile(r"[^\d]+$")
_LETTER = re.compile(r"[^\W\d_]")
_SPACE_RUN = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"\D")
_DIGIT_GROUPS = re.compile(r"\d+")
_OPEN_AFTER_DIGITS = re.compile(r"\d[^()]*\([^)]*$")

# Israeli shapes accepted with strictness "possible" (new blocks are added to
# phonenumbers months after operators hand them out).
_IL_SHAPES: tuple[tuple[re.Pattern[str], str, ReasonKind], ...] = (
    (re.compile(r"5\d{8}"), "mobile", _MOBILE_SHAPE),
    (re.compile(r"7\d{8}"), "voip", _VOIP_SHAPE),
    (re.compile(r"[2-489]\d{7}"), "fixed_line", _LANDLINE_SHAPE),
)
_PN_VERSION = getattr(phonenumbers, "__version__", "?")


@functools.cache
def _log_metadata_version() -> None:
    """Say once, in the log, whose list of allocated blocks "not allocated" reasons rely on."""
    log.debug("numbers are checked against phonenumbers %s's allocated blocks", _PN_VERSION)
# A date in a phone column (an Excel date cell, "28.11.2026" typed in the wrong column)
# has 8 digits and would pass for a Jerusalem landline that lost its zero.  Dates in
# these shapes are refused; no Israeli number is written like one (with its zero it
# has 9-10 digits; a dd.mm.yyyy or yyyy-mm-dd shape holds 8 at most).
_DATE_SEPARATORS = frozenset("-./")
_DATE = re.compile(
    r"\s*(?:(?:19|20)\d\d([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])([-./])(?:0?[1-9]|1[0-2])\2(?:19|20)\d\d)\s*"
)


def _date_shaped(raw: str) -> PhoneResult | None:
    """invalid_phone for a cell that is a calendar date, else None."""
    if _DATE.fullmatch(raw) is None:
        return None
    return PhoneResult(
        None,
        problem=Status.INVALID_PHONE,
        reason=LOOKS_LIKE_DATE(text=raw),
    )


_MAX_FAST_INPUT = 250  # phonenumbers' _MAX_INPUT_STRING_LENGTH, as in fast_digits
_FALLBACK_MIN_DIGITS = 11
_GLUED_MIN_DIGITS = 16  # two numbers typed with only a space between them
_NOTE_LIMIT = 60  # a note kept in the reason is cut to this many characters


@dataclass(slots=True)
class _Verdict:
    """One candidate number's outcome before it becomes a PhoneResult."""

    e164: str | None
    number_type: str | None
    problem: Problem | None
    reason: str
    notes: list[str]
    extension: str | None = None
    shown: str = ""

    def result(self, extra: list[str] | None = None) -> PhoneResult:
        """Freeze into a PhoneResult, putting the problem reason before notes."""
        reason = join_reasons(self.reason, *self.notes, *(extra or ()))
        return PhoneResult(self.e164, self.number_type, self.problem, reason, self.extension)


class _Unfrozen:
    """PhoneResult's memory layout without the frozen guard, to fill a result quickly.

    A frozen dataclass sets each field through object.__setattr__, which cost
    about a fifth of the fast path. The hot path fills one of these with plain
    slot stores and then makes it a PhoneResult by assigning ``__class__``,
    which CPython allows between classes with the same slots; the result is an
    ordinary, immutable PhoneResult (tests compare it field by field).
    """

    __slots__ = PhoneResult.__slots__

    e164: str | None
    number_type: str | None
    problem: Problem | None
    reason: str
    extension: str | None


_NEW = object.__new__


def _plain_result(e164: str, number_type: str, reason: str = "") -> PhoneResult:
    """PhoneResult(e164, number_type, reason=reason), without the frozen-dataclass overhead."""
    result = _NEW(_Unfrozen)
    result.e164 = e164
    result.number_type = number_type
    result.problem = None
    result.reason = reason
    result.extension = None
    result.__class__ = PhoneResult  # type: ignore[assignment]
    return result  # type: ignore[return-value]


_PROBLEM_RANK: dict[str | None, int] = {
    Status.TYPE_REJECTED: 3,
    Status.INVALID_PHONE: 2,
    Status.MISSING_PHONE: 1,
    None: 0,
}


class PhoneNormalizer:
    """Normalises raw phone text to E.164 with a fast path and a cache."""

    def __init__(self, policy: PhonePolicy | None = None, *, cache_size: int = 1_000_000) -> None:
        self.policy = policy or PhonePolicy()
        self.region = self.policy.default_region.upper()
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(self.region, None)
        if metadata is None:
            raise ValueError(f"unknown phone region {self.policy.default_region!r}")
        self._fast = fast_path_for(self.region)
        self._cc = str(metadata.country_code)
        self._home_prefix = f"+{self._cc}"
        self._national_prefix: str = metadata.national_prefix or ""
        # Two caches keyed by the raw string alone (text cells and number
        # cells): no key tuple to build and hash on the hot path.
        self._cache: dict[str, PhoneResult] = {}
        self._cache_numeric: dict[str, PhoneResult] = {}
        self._cache_size = cache_size
        self._cache_room = cache_size
        self.cache_hits = 0
        self.fast_hits = 0
        self._international_first = self.policy.digits_are_international

    # --- public ---------------------------------------------------------------

    def normalize(self, raw: str, *, numeric: bool = False) -> PhoneResult:
        """Normalise one cell; ``numeric`` says the workbook stored it as a number."""
        cache = self._cache_numeric if numeric else self._cache
        hit = cache.get(raw)
        if hit is not None:
            self.cache_hits += 1
            return hit
        result = self._normalize_uncached(raw, numeric)
        # Only misses add entries, one each: counting them down bounds both caches together.
        self._cache_room -= 1
        if self._cache_room < 0:
            self._cache.clear()
            self._cache_numeric.clear()
            self._cache_room = self._cache_size - 1
        cache[raw] = result
        return result

    def normalize_uncached(self, raw: str, *, numeric: bool = False) -> PhoneResult:
        """Like ``normalize`` but never reads or fills the cache (benchmarks, tests)."""
        return self._normalize_uncached(raw, numeric)

    def first_usable(self, candidates: list[tuple[str, bool]]) -> tuple[str, PhoneResult]:
        """Return (raw, result) for the first candidate (raw, numeric) that is usable.

        When none is usable, return the most informative failure: type_rejected
        beats invalid_phone beats missing_phone, ties go to the earlier column;
        ``raw`` is "" when every candidate is empty.
        """
        best: tuple[str, PhoneResult] | None = None
        skipped: list[str] = []
        for raw, numeric in candidates:
            result = self.normalize(raw, numeric=numeric)
            if result.ok:
                if skipped:
                    note = EARLIER_COLUMN(problems=join_reasons(*skipped))
                    result = replace(result, reason=join_reasons(result.reason, note))
                return raw, result
            if result.problem != Status.MISSING_PHONE:
                skipped.append(SKIPPED_CELL(cell=_shorten(raw), reason=result.reason))
            if best is None or _PROBLEM_RANK[result.problem] > _PROBLEM_RANK[best[1].problem]:
                best = (raw, result)
        if best is None:
            return "", PhoneResult(None, problem=Status.MISSING_PHONE, reason=_NO_PHONE)
        raw, result = best
        if result.problem == Status.MISSING_PHONE and not (raw or "").strip():
            raw = ""
        return raw, result

    # --- pipeline ---------------------------------------------------------------

    def _normalize_uncached(self, raw: str, numeric: bool) -> PhoneResult:
        if self._international_first:
            abroad = self._international(raw)
            if abroad is not None:
                return abroad
        # The hot path, for ASCII cells of digits and plain separators: exactly
        # the cells _clean_text leaves alone and fast_digits accepts. It runs
        # FastPath.quick inline (one regex for the usual forms) and builds the
        # result directly; everything else, including every number it does not
        # find valid and allowed, goes through the full pipeline.
        if raw.__class__ is str and raw.isascii() and len(raw) <= _MAX_FAST_INPUT:
            plus = False
            body = raw
            if raw[:1] in "pPtT":
                # "p:+972..." (Facebook lead exports) and "tel:...": the messy
                # pipeline takes the label off and, for a valid allowed number
                # that is not a bare NSN, returns exactly the plain answer.
                label = raw[:4].lower()
                if label[:2] == "p:":
                    body = raw[2:]
                elif label == "tel:":
                    body = raw[4:]
            if body.isdigit():
                digits = body
            else:
                # Dashes, then spaces, settle most cells; each step stops early
                # only when nothing but digits is left, so the outcome is that
                # of removing all five separators.
                digits = body.replace("-", "")
                if not digits.isdigit():
                    digits = digits.replace(" ", "")
                    if not digits.isdigit():
                        digits = digits.replace(".", "").replace("(", "").replace(")", "")
                        if not digits.isdigit():
                            plus = digits[:1] == "+"
                            digits = digits[1:] if plus and digits[1:].isdigit() else ""
            if len(digits) <= 8 and digits is not body and _date_shaped(body) is not None:
                # A date has at most 8 digits: longer numbers never pay for this check.
                return self._normalize_full(raw, numeric)
            if digits and ("." not in body or not _FLOAT_ARTEFACT.fullmatch(body.strip())):
                fast = self._fast
                shape = (fast.shapes_plus if plus else fast.shapes_bare).get(len(digits))
                m = shape(digits) if shape is not None else None
                found = fast.shape_groups.get(m.lastgroup) if m is not None else None  # type: ignore[arg-type]
                if found is not None:
                    kind, offset = found
                    nsn = digits[offset:] if offset else digits
                    e164 = fast.e164_prefix + nsn
                else:
                    # Lengths not compiled yet, and forms the shapes leave out.
                    hit = (
                        fast.classify(plus, digits)
                        if shape is not None
                        else fast.quick(plus, digits)
                    )
                    if hit is None:
                        return self._normalize_full(raw, numeric)
                    e164, kind, nsn = hit
                if kind in self.policy.allow_types and (digits != nsn or body is raw):
                    self.fast_hits += 1
                    reason = ""
                    if (
                        digits == nsn
                        and digits == raw.strip()
                        and fast.national_prefix_in_format(nsn)
                    ):
                        reason = _lost_zero_note(digits, numeric)  # the note _judge adds
                    result = _NEW(_Unfrozen)
                    result.e164 = e164
                    result.number_type = kind
                    result.problem = None
                    result.reason = reason
                    result.extension = None
                    result.__class__ = PhoneResult  # type: ignore[assignment]
                    return result  # type: ignore[return-value]
        return self._normalize_full(raw, numeric)

    def _international(self, raw: str) -> PhoneResult | None:
        """The API-form reading (country code first) of a cell of bare digits, when valid.

        None sends the cell down the ordinary pipeline: a number with "+" or "00", a local
        number with its leading 0 (0521234567 stays Israeli), digits that are no valid
        international number (521234567, a mobile that lost its zero), and digits valid both
        ways (49523746: +49 523746, or 04-9523746 without its zero). Those short numbers are
        far more often local ones that lost the 0; this tool's exports write "+" anyway.
        """
        text = _clean_text(raw if isinstance(raw, str) else _number_text(raw))
        artefact = _FLOAT_ARTEFACT.fullmatch(text)
        fd = fast_digits(artefact.group(1) if artefact else text)
        if fd is None or fd[0] or not fd[1] or fd[1][0] == "0":
            return None
        digits = fd[1]
        # Home numbers (972...) are the common case: the compiled metadata answers them.
        hit = self._fast.classify(True, digits) if digits.startswith(self._cc) else None
        if hit is not None:
            e164, kind = hit[0], hit[1]
        else:
            try:
                num = phonenumbers.parse("+" + digits, None)
            except NumberParseException:
                return None
            if not phonenumbers.is_valid_number(num) or self._valid_at_home(digits):
                return None
            e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
            kind = type_name(phonenumbers.number_type(num))
        return self._policy(_Verdict(e164, kind, None, "", [], shown=digits)).result()

    def _valid_at_home(self, digits: str) -> bool:
        """Whether bare digits are a valid number of the default region as they stand."""
        if self._fast.classify(False, digits) is not None:
            return True
        try:
            return bool(phonenumbers.is_valid_number(phonenumbers.parse(digits, self.region)))
        except NumberParseException:
            return False

    def _normalize_full(self, raw: str, numeric: bool) -> PhoneResult:
        if raw is None:
            return PhoneResult(None, problem=Status.MISSING_PHONE, reason=_NO_PHONE)
        if not isinstance(raw, str):
            raw, numeric = _number_text(raw), True
        date = _date_shaped(raw.strip())
        if date is not None:
            return date
        text = _clean_text(raw)
        fd = fast_digits(text) if text else None
        if fd is not None and not ("." in text and _FLOAT_ARTEFACT.fullmatch(text)):
            # The hot path: digits and plain separators only.
            plus, digits = fd
            if not digits:
                return PhoneResult(None, problem=Status.MISSING_PHONE, reason=_NO_PHONE)
            hit = self._fast.classify(plus, digits)
            if hit is not None and hit[1] in self.policy.allow_types and digits != hit[2]:
                self.fast_hits += 1
                return _plain_result(hit[0], hit[1])
            verdict = self._judge(text, numeric, digits == text, fd, hit)
            if verdict.problem != Status.INVALID_PHONE:
                return verdict.result()
            if has_protected(text):
                # A date or a time among the digits: never one of two numbers split below.
                return self._from_text(text) or verdict.result()
            if len(digits) >= _GLUED_MIN_DIGITS:
                return self._split_on_spaces(text, numeric) or verdict.result()
            return verdict.result()
        return self._normalize_messy(text, numeric)

    def _normalize_messy(self, text: str, numeric: bool) -> PhoneResult:
        if _HAS_DIGIT.search(text) is None:
            # "N/A", "אין", "לא ענה", "x", an e-mail address: no number was given, whatever
            # the words. One status for all of them; the text stays in the reason.
            shown = _SPACE_RUN.sub(" ", text).strip()
            if not shown or _PUNCT_ONLY.fullmatch(text):
                return PhoneResult(None, problem=Status.MISSING_PHONE, reason=_NO_PHONE)
            return PhoneResult(
                None, problem=Status.MISSING_PHONE, reason=NO_PHONE_WORDS(text=_shorten(shown))
            )
        notes: list[str] = []
        sci = _SCIENTIFIC.fullmatch(text)
        if sci is not None:
            whole, frac, exp = sci.group(1), sci.group(2) or "", int(sci.group(3))
            if len(frac) != exp:
                return PhoneResult(
                    None,
                    problem=Status.INVALID_PHONE,
                    reason=SCIENTIFIC_LOST(text=text),
                )
            notes.append(SCIENTIFIC_CONVERTED(text=text))
            text = whole + frac
        else:
            artefact = _FLOAT_ARTEFACT.fullmatch(text)
            if artefact is not None:
                text = artefact.group(1)
        if _PLAIN.fullmatch(text):
            verdict = self._judge(text, numeric, text.isdigit())
            verdict.notes[:0] = notes
            return self._or_from_text(verdict.result(), text)
        if has_protected(text):
            # Splitting would take a date, a time, an amount or an ID number for a phone
            # number; only the matcher, which never sees them, decides.
            found = self._from_text(text)
            if found is not None:
                return found
            result = self._several(text, numeric, notes)
            return _no_number(text) if result.ok else result
        return self._or_from_text(self._several(text, numeric, notes), text)

    def _several(self, text: str, numeric: bool, notes: list[str]) -> PhoneResult:
        pieces = [text]
        if _MAYBE_MULTI.search(text):
            pieces = [p for p in _SPLIT.split(text) if p.strip()]
        candidates: list[tuple[str, str | None]] = []  # (text, extension from a later piece)
        fragments: list[str] = []
        for piece in pieces:
            ext_only = _EXT_ONLY.fullmatch(piece.strip())
            if ext_only is not None and candidates and candidates[-1][1] is None:
                candidates[-1] = (candidates[-1][0], ext_only.group(1))
            elif candidates and len(re.sub(r"\D", "", piece)) < 5:
                fragments.append(piece.strip())
            else:
                candidates.append((piece.strip(), None))
        if not candidates:
            return PhoneResult(None, problem=Status.MISSING_PHONE, reason=_NO_PHONE)
        verdicts = [self._judge_piece(p, numeric, ext) for p, ext in candidates]
        for v in verdicts:
            v.notes[:0] = notes
        extra: list[str] = [IGNORED_FRAGMENT(text=f) for f in fragments]
        if len(verdicts) == 1:
            only = verdicts[0]
            if (
                only.problem == Status.INVALID_PHONE
                and len(_NON_DIGITS.sub("", text)) >= _GLUED_MIN_DIGITS
            ):
                split = self._split_on_spaces(candidates[0][0], numeric)
                if split is not None:
                    return split
            return only.result(extra)
        count = len(verdicts)
        for i, v in enumerate(verdicts):
            if v.problem is None:
                if any(
                    o.problem == Status.INVALID_PHONE and has_extra_text(piece)
                    for o, (piece, _ext) in zip(verdicts[:i], candidates, strict=False)
                ):
                    # An earlier piece was refused for its note: it may hold the first number.
                    found = self._from_text(text)
                    if found is not None and found.ok:
                        return found
                others = listed([_ignored(o) for j, o in enumerate(verdicts) if j != i])
                return v.result([SEVERAL_USED_FIRST(count=count, others=others), *extra])
        best = max(verdicts, key=lambda v: _PROBLEM_RANK[v.problem])
        v = replace(
            best, reason=SEVERAL_NONE_USABLE(count=count, number=best.shown, reason=best.reason)
        )
        return v.result(extra)

    def _or_from_text(self, result: PhoneResult, text: str) -> PhoneResult:
        """``result``, or the number found inside the text when the pipeline refused a note."""
        if result.problem != Status.INVALID_PHONE or not has_extra_text(text):
            return result
        return self._from_text(text) or result

    def _from_text(self, text: str) -> PhoneResult | None:
        """The first usable number PhoneNumberMatcher finds in the cell, its note kept; or None."""
        # Digits right after "*" or "#" are a service code (*6000, *020000000), never a phone.
        found = [
            f for f in find_numbers(text, self.region)
            if f.start == 0 or text[f.start - 1] not in "*#"
        ]
        if not found:
            return None
        verdicts = []
        for number in found:
            verdict = self._judge(number.e164, False, False)
            verdict.shown = _shorten(number.raw)
            if number.extension is not None:
                verdict.extension = number.extension
                verdict.notes.append(EXTENSION_KEPT(extension=number.extension))
            verdicts.append(verdict)
        chosen = next((v for v in verdicts if v.problem is None), None)
        if chosen is None:
            chosen = max(verdicts, key=lambda v: _PROBLEM_RANK[v.problem])
        note = note_around(text, [(f.start, f.end) for f in found])
        if note:
            chosen.notes.insert(0, NOTE_KEPT(note=_shorten(note, _NOTE_LIMIT)))
        if len(verdicts) == 1:
            return chosen.result()
        count = len(verdicts)
        others = listed([_ignored(o) for o in verdicts if o is not chosen])
        if chosen.problem is None:
            return chosen.result([SEVERAL_USED_FIRST(count=count, others=others)])
        return chosen.result([SEVERAL_NONE_USABLE_IGNORED(count=count, others=others)])

    def _split_on_spaces(self, text: str, numeric: bool) -> PhoneResult | None:
        """Two numbers with only spaces between them ("050-1234567 03-1234567"), if it is that."""
        tokens = text.split()
        for i in range(1, len(tokens)):
            left, right = " ".join(tokens[:i]), " ".join(tokens[i:])
            first = self._judge_piece(left, numeric, None)
            if first.problem is None:
                second = self._judge_piece(right, numeric, None)
                if second.problem is None or second.problem == Status.TYPE_REJECTED:
                    return first.result([TWO_NUMBERS(other=right)])
        return None

    def _judge_piece(self, piece: str, numeric: bool, ext: str | None) -> _Verdict:
        shown = _shorten(piece)
        m = _EXT_TAIL.search(piece)
        if m is not None and _HAS_DIGIT.search(piece[: m.start()]):
            ext, piece = m.group(1), piece[: m.start()]
        if "*" in piece:
            return _Verdict(
                None,
                None,
                Status.INVALID_PHONE,
                STAR_CODE(text=shown),
                [],
                ext,
                shown,
            )
        core = _TRAILING_JUNK.sub("", _LEADING_JUNK.sub("", piece))
        # "050-311-444 (3 kids)": the note's count would join the number once its words go.
        if _LETTER.search(core) or (_LETTER.search(piece) and _OPEN_AFTER_DIGITS.search(core)):
            return _Verdict(
                None,
                None,
                Status.INVALID_PHONE,
                LETTERS(text=shown),
                [],
                ext,
                shown,
            )
        verdict = self._judge(core, numeric, core.isdigit())
        verdict.shown = shown
        tail = _TRAILING_JUNK.search(piece.rstrip())
        if verdict.problem == Status.INVALID_PHONE and tail and _LETTER.search(tail.group()):
            verdict.notes.append(TEXT_AFTER_IGNORED(text=_shorten(tail.group())))
        if ext is not None:
            verdict.extension = ext
            verdict.notes.append(EXTENSION_KEPT(extension=ext))
        return verdict

    def _judge(
        self,
        core: str,
        numeric: bool,
        bare: bool,
        fd: tuple[bool, str] | None = None,
        hit: tuple[str, str, str] | None = None,
    ) -> _Verdict:
        """Validate one cleaned number and apply the policy."""
        if fd is None:
            fd = fast_digits(core)
            if fd is not None:
                hit = self._fast.classify(*fd)
        if hit is not None and fd is not None:
            self.fast_hits += 1
            e164, kind, nsn = hit
            notes = []
            if bare and fd[1] == nsn and self._fast.national_prefix_in_format(nsn):
                notes.append(_lost_zero_note(fd[1], numeric))
            return self._policy(_Verdict(e164, kind, None, "", notes, shown=core))
        return self._judge_slow(core, numeric, bare, fd)

    def _judge_slow(
        self, core: str, numeric: bool, bare: bool, fd: tuple[bool, str] | None
    ) -> _Verdict:
        try:
            num = phonenumbers.parse(core, self.region)
        except NumberParseException as exc:
            return self._fallback(fd, core) or _Verdict(
                None,
                None,
                Status.INVALID_PHONE,
                _parse_error_reason(exc, core),
                [],
                shown=core,
            )
        e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(num):
            kind = type_name(phonenumbers.number_type(num))
            notes = []
            nsn = phonenumbers.national_significant_number(num)
            if bare and fd is not None and fd[1] == nsn and self._lost_zero(e164):
                notes.append(_lost_zero_note(fd[1], numeric))
            return self._policy(_Verdict(e164, kind, None, "", notes, shown=core))
        fallback = self._fallback(fd, core)
        if fallback is not None:
            return fallback
        return self._invalid(num, core)

    def _fallback(self, fd: tuple[bool, str] | None, core: str) -> _Verdict | None:
        """A number with its country code but without "+"/"00" (12125550123)."""
        if fd is None or fd[0]:
            return None
        digits = fd[1]
        if len(digits) < _FALLBACK_MIN_DIGITS or digits[0] == "0" or digits.startswith(self._cc):
            return None
        try:
            num = phonenumbers.parse("+" + digits, None)
        except NumberParseException:
            return None
        if not phonenumbers.is_valid_number(num):
            return None
        groups = _DIGIT_GROUPS.findall(core)
        if len(groups) > 1 and (
            groups[0] != str(num.country_code)
            or (groups[1].startswith("0") and not num.italian_leading_zero)
        ):
            # "13 058761393", "20 0884306374": a count before a local number, not a code.
            # A code typed without "+" stands alone and is followed by the national
            # number without its 0 ("1 212 555 0123"), or the number is one block.
            return None
        region = phonenumbers.region_code_for_number(num) or "?"
        shown = phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL)
        note = READ_AS_INTERNATIONAL(country=_country(self.region), number=shown, region=region)
        kind = type_name(phonenumbers.number_type(num))
        e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
        return self._policy(_Verdict(e164, kind, None, "", [note], shown=digits))

    def _invalid(self, num: phonenumbers.PhoneNumber, core: str) -> _Verdict:
        nsn = phonenumbers.national_significant_number(num)
        region = phonenumbers.region_code_for_number(num)
        possible = phonenumbers.is_possible_number_with_reason(num)
        where = _a(region or f"+{num.country_code}")
        # +1 and other shared codes have no region for an invalid number: the code itself
        # may still be fine.
        known = phonenumbers.region_code_for_country_code(num.country_code or 0) != "ZZ"
        if possible == ValidationResult.INVALID_COUNTRY_CODE or not known:
            reason: str = UNKNOWN_COUNTRY_CODE(code=str(num.country_code))
        elif possible == ValidationResult.TOO_SHORT:
            reason = TOO_SHORT(where=where, digits=len(nsn))
        elif possible == ValidationResult.TOO_LONG:
            reason = TOO_LONG(where=where, digits=len(nsn))
        elif possible == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
            reason = NO_AREA_CODE()
        elif possible == ValidationResult.INVALID_LENGTH:
            reason = WRONG_LENGTH(where=where, digits=len(nsn))
        elif (hint := _il_length_hint(num.country_code or 0, nsn)) is not None:
            reason = hint
        else:
            shaped = self._il_shape(num, nsn)
            _log_metadata_version()
            if shaped is not None:
                kind, words = shaped
                if self.policy.strictness == "possible":
                    note = ACCEPTED_POSSIBLE(kind=words())
                    e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
                    return self._policy(_Verdict(e164, kind, None, "", [note], shown=core))
                block = "0" + nsn[:3] if kind != "fixed_line" else "0" + nsn[:2]
                reason = NOT_ALLOCATED_BLOCK(kind=words(), block=block)
            else:
                reason = NOT_ALLOCATED(country=_country(region or f"+{num.country_code}"))
        return _Verdict(None, None, Status.INVALID_PHONE, reason, [], shown=core)

    def _il_shape(
        self, num: phonenumbers.PhoneNumber, nsn: str
    ) -> tuple[str, ReasonKind] | None:
        if num.country_code != 972 or not phonenumbers.is_possible_number(num):
            return None
        for pattern, kind, words in _IL_SHAPES:
            if pattern.fullmatch(nsn):
                return kind, words
        return None

    def _policy(self, v: _Verdict) -> _Verdict:
        kind = v.number_type or "unknown"
        if v.e164 and not v.e164.startswith(self._home_prefix):
            # Only the slow path sees numbers abroad: the fast path knows the home country only.
            region = _region_of(v.e164)
            where = f"{region}, {v.e164[: len(v.e164) - len(_nsn_of(v.e164))]}"
            countries = self.policy.countries
            if countries is not None and region not in countries:
                v.problem = Status.TYPE_REJECTED
                v.reason = ABROAD_NOT_ALLOWED(where=where, countries=", ".join(sorted(countries)))
                return v
            if kind in self.policy.allow_types:
                v.notes.append(ABROAD(where=where))
        if kind in self.policy.allow_types:
            return v
        v.problem = Status.TYPE_REJECTED
        allowed = _allowed_words(self.policy.allow_types)
        v.reason = TYPE_NOT_ALLOWED(type=describe_type(kind), allowed=allowed or NONE_ALLOWED())
        return v

    def _lost_zero(self, e164: str) -> bool:
        return bool(self._national_prefix) and national_digits(e164).startswith(
            self._national_prefix
        )


# --- helpers --------------------------------------------------------------------


_SHORT_TYPE_WORDS: dict[str, ReasonKind] = {
    "mobile": ReasonKind("short_type_mobile", "mobile"),
    "fixed_line": ReasonKind("short_type_fixed_line", "landline"),
    "fixed_line_or_mobile": ReasonKind("short_type_fixed_line_or_mobile", "landline-or-mobile"),
    "voip": ReasonKind("short_type_voip", "VoIP"),
    "toll_free": ReasonKind("short_type_toll_free", "toll-free"),
    "premium_rate": ReasonKind("short_type_premium_rate", "premium-rate"),
    "shared_cost": ReasonKind("short_type_shared_cost", "shared-cost"),
    "uan": ReasonKind("short_type_uan", "company-wide (1-599)"),
    "unknown": ReasonKind("short_type_unknown", "unknown type"),
}


@functools.lru_cache(maxsize=64)
def _allowed_words(allowed: frozenset[str]) -> str:
    """ "mobile, landline, VoIP" for the default policy."""
    order = list(_SHORT_TYPE_WORDS) + sorted(allowed - set(_SHORT_TYPE_WORDS))
    shown: list[str] = [
        _SHORT_TYPE_WORDS[t]() if t in _SHORT_TYPE_WORDS else t.replace("_", " ")
        for t in order
        if t in allowed
        and not (t == "fixed_line_or_mobile" and {"mobile", "fixed_line"} <= allowed)
    ]
    return listed(shown)


def _ignored(v: _Verdict) -> str:
    if v.problem == Status.INVALID_PHONE:
        return IGNORED_INVALID(number=v.shown)
    if v.problem == Status.TYPE_REJECTED:
        return IGNORED_NOT_ALLOWED(
            number=v.shown, type=describe_type(v.number_type or "unknown")
        )
    return v.shown


def _no_number(text: str) -> PhoneResult:
    """invalid_phone for a cell whose only number-like parts are dates, times, amounts, IDs."""
    return PhoneResult(
        None,
        problem=Status.INVALID_PHONE,
        reason=NO_NUMBER_IN_TEXT(text=_shorten(text)),
    )


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}"
    return str(value)


def _shorten(text: str, limit: int = 40) -> str:
    text = _SPACE_RUN.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _region_of(e164: str) -> str:
    """The two-letter region of a valid E.164 number ("?" when phonenumbers cannot tell)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or "?"
    except phonenumbers.NumberParseException:
        return "?"


def _nsn_of(e164: str) -> str:
    try:
        return phonenumbers.national_significant_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return e164[1:]


def _country(region: str) -> str:
    return ISRAELI() if region == "IL" else region


def _a(region: str) -> str:
    if region == "IL":
        return AN_ISRAELI()
    kind = AN_REGION if region[:1] in "AEIOU" and not region.startswith("U") else A_REGION
    return kind(region=region)


_IL_LENGTHS: tuple[tuple[str, int, ReasonKind], ...] = (
    ("5", 9, _MOBILE_LENGTH),
    ("7", 9, _VOIP_LENGTH),
    ("2", 8, _LANDLINE_LENGTH),
    ("3", 8, _LANDLINE_LENGTH),
    ("4", 8, _LANDLINE_LENGTH),
    ("8", 8, _LANDLINE_LENGTH),
    ("9", 8, _LANDLINE_LENGTH),
)


def _il_length_hint(country_code: int, nsn: str) -> str | None:
    """Why an Israeli number of a known shape has the wrong length, if it has."""
    if country_code != 972:
        return None
    if len(nsn) == 7 and nsn[0] in "2345689":
        return LANDLINE_NO_AREA_CODE()
    for first, length, words in _IL_LENGTHS:
        if nsn.startswith(first) and len(nsn) != length:
            size = TOO_LONG_FOR if len(nsn) > length else TOO_SHORT_FOR
            return size(kind=words())
    return None


def _lost_zero_note(digits: str, numeric: bool) -> str:
    if numeric:
        return LEADING_ZERO_EXCEL(digits=digits)
    return LEADING_ZERO(digits=digits)


def _parse_error_reason(exc: NumberParseException, core: str) -> str:
    kind = exc.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        return UNKNOWN_COUNTRY_AFTER_PREFIX()
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return TOO_SHORT_TO_BE_PHONE(text=_shorten(core))
    if kind == NumberParseException.TOO_LONG:
        return TOO_LONG_TO_BE_PHONE()
    return NOT_A_PHONE(text=_shorten(core))


@functools.lru_cache(maxsize=65536)
def national_digits(e164: str) -> str:
    """The national dialling form of an E.164 number, digits only ("0501234567")."""
    num = phonenumbers.parse(e164, None)
    return re.sub(r"\D", "", phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL))


def api_form(e164: str, form: Literal["digits", "e164", "local"] = "digits") -> str:
    """The form of a number sent as Target: ``972521234567`` by default."""
    if not e164.startswith("+") or not e164[1:].isdigit():
        raise ValueError(f"not an E.164 number: {e164!r}")
    if form == "digits":
        return e164[1:]
    if form == "e164":
        return e164
    if form == "local":
        return national_digits(e164) if e164.startswith("+972") else e164[1:]
    raise ValueError(f"unknown phone form {form!r} (use digits, e164 or local)")


def pending_key(phone: str) -> str:
    """How a number the Dialer API lists is compared: its E.164, else its digits behind "+".

    A number phonenumbers cannot read still blocks a repeat of the same digits.
    """
    return canonical_from_api(phone) or f"+{phone.lstrip('+')}"


def canonical_from_api(phone: str, default_region: str = "IL") -> str | None:
    """E.164 for a number that came back from the Dialer API (``972722776772``, ``0501234567``).

    The dialer returns international digits without "+"; other tools may hand
    back local numbers. Validity is not required (the dialer already holds the
    number), only a parseable one; when the digits are not a valid
    international number but are a valid local one (``501234567``), the local
    reading wins. None for anything that is not a phone number.
    """
    text = _clean_text(phone or "")
    fd = fast_digits(text)
    if fd is None or len(fd[1]) < 4:
        return None
    plus, digits = fd
    readings = ["+" + digits] if plus else [digits]
    if not plus and not digits.startswith("0"):
        readings = ["+" + digits, digits]
    parsed = []
    for reading in readings:
        try:
            num = phonenumbers.parse(reading, default_region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return str(phonenumbers.format_number(num, PhoneNumberFormat.E164))
        parsed.append(num)
    if not parsed:
        return None
    return str(phonenumbers.format_number(parsed[0], PhoneNumberFormat.E164))
