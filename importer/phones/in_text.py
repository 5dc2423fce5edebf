"""Finding the phone number in a cell that also holds a note ("054-7654321 after 18:00").

``PhoneNormalizer`` asks this module only about cells its own pipeline has
refused and that hold more than a number (letters, signs, a time, a date),
and about cells holding a date, a time, an amount or a labelled ID number,
which its splitting would take for numbers. The search is phonenumbers'
``PhoneNumberMatcher`` at ``Leniency.VALID`` (see docs/decisions.md): a
number is taken only when it is valid as written, national prefix included,
so a count next to a whole number never joins it (``0547654321 3 ילדים``:
``05476543213`` is no valid number, so the matcher takes the number alone)
and a 9-digit ID number never passes for a mobile that lost its zero.

Before the matcher sees the text, tokens that are not phone numbers by their
shape or their label are blanked with ``_`` (same length, so positions stay
those of the cell): dates (the matcher throws away a whole run such as
``12/05/2026 052-7654321`` as a date), times, amounts of money, and ID
numbers after an ID label (``ת.ז 023456789`` would be a valid Jerusalem
landline). What is left of the cell once the numbers are taken out is the
note the report keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

__all__ = [
    "EXT_LABEL",
    "Found",
    "find_numbers",
    "has_extra_text",
    "has_protected",
    "masked",
    "note_around",
]

# Words that introduce an extension (the English ones phonenumbers knows too).
EXT_LABEL = r"extension|ext|extn|x|שלוחה|שלוח'|שלו'|של'|פנימי"

# A cell longer than this is a paragraph, not a phone cell with a note: not searched.
_MAX_TEXT = 500
# PhoneNumberMatcher gives up after this many candidates that are not numbers.
_MAX_TRIES = 200

_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d\d"
# Only shapes no number of the region is written in: a four-digit year with
# "-", "." or "/", or a two-digit year with "/" (as the matcher's own date check).
_DATE = re.compile(
    r"(?<!\d)(?<!\d[-./])"
    rf"(?:{_YEAR}([-./]){_MONTH}\1{_DAY}"
    rf"|{_DAY}([-./]){_MONTH}\2{_YEAR}"
    rf"|{_MONTH}([-./]){_DAY}\3{_YEAR}"
    rf"|{_DAY}/{_MONTH}/\d\d|{_MONTH}/{_DAY}/\d\d)"
    r"(?!\d)(?![-./]\d)"
)
_HOUR = r"(?:[01]?\d|2[0-3])"
_CLOCK = rf"{_HOUR}[:.][0-5]\d"
_TIME = re.compile(
    # "18.00-20.00": a range of times, dots or not.
    rf"(?<![\d:./-]){_CLOCK}\s?-\s?{_CLOCK}(?![\d:]|[-./]\d)"
    rf"|(?<![\d:]){_HOUR}:[0-5]\d(?::[0-5]\d)?(?![\d:])"
    # "18.00" alone only between spaces or words: dots also separate a number's digits.
    rf"|(?<![\d:./-]){_HOUR}\.[0-5]\d(?![\d:]|[-./]\d)"
)
# 1,200 or 1200 or 1200.50; a longer run of digits is a phone number, not an amount.
_AMOUNT = r"(?<![\d,.])(?:\d{1,3}(?:,\d{3})+|\d{1,7})(?:\.\d{1,2})?(?![\d,])"
_CODE = r"\b(?:NIS|ILS|USD|EUR)\b"
# The sign after an amount first ("1,200 ₪"), unless it is written onto the next amount
# ("9176 ₪13,259"); a sign before an amount only when written onto it ("₪1,200").
_MONEY = re.compile(
    rf"{_AMOUNT}[ \u00a0]?(?:[₪$€£]|ש[\"'״]?ח\b|שקל\w*|{_CODE})(?!\d)"
    rf"|[₪$€£]{_AMOUNT}|{_CODE}[ \u00a0]?{_AMOUNT}",
    re.IGNORECASE,
)
_ID_LABEL = (
    r"(?<![^\W\d_])(?:ת\s?\.?\s?ז\.?|ת[\"'״]ז|תעודת\s+זהות|ת\.\s?זהות|מס(?:פר|'|׳)?\s+זהות"
    r"|זהות|דרכון|\bI\.?D\.?(?:\s*(?:no|number|#)\.?)?|\bpassport(?:\s*(?:no|number|#)\.?)?)"
)
_ID = re.compile(rf"(?:{_ID_LABEL})\s*[:#.\-]?\s*(\d{{5,9}}(?:-\d)?)(?!\d)", re.IGNORECASE)
# Each pattern with the group that is blanked (an ID's label stays).
_Blanked = tuple[tuple[re.Pattern[str], int], ...]
_PROTECTED: _Blanked = ((_DATE, 0), (_TIME, 0), (_MONEY, 0), (_ID, 1))
# What each of _PROTECTED needs, cheaply: most messy cells (labels, extensions, two
# numbers) are settled by these, on their way to the splitting in PhoneNormalizer.
_DATE_OR_TIME_HINT = re.compile(r"\d[-./]\d\d?[-./]\d|\d[:.][0-5]\d")
_ASCII_WORD_HINTS = ("nis", "ils", "usd", "eur", "id", "i.d", "passport")
_OTHER_HINT = re.compile(r"[₪$€£]|ש[\"'״]?ח|שקל|ת|זהות|דרכון")
# A slash with a space beside it separates two entries, as the pipeline splits on it; the
# matcher would read "(050) 241590 / 8 rooms" as one number.
_SPACED_SLASH = re.compile(r"\s+/\s*|/\s+")
_BLANKED: _Blanked = (*_PROTECTED, (_SPACED_SLASH, 0))
_EXT_AFTER = re.compile(rf"\s*(?:{EXT_LABEL})\s*[.:=]?\s*#?\s*(\d{{1,6}})(?!\d)\s*#?", re.I)
_LABEL_BEFORE = re.compile(r"(?:^|\s)[^\W\d_][^\s\d:]{0,14}\s*:\s*$")
_PLAIN = re.compile(r"[0-9 +\-.()]*")
_DIGIT = re.compile(r"\d")
_SPACES = re.compile(r"\s+")
# Separators and a dangling "or"/"and" left at either end once the numbers are out.
_EDGE = re.compile(
    r"^(?:[\s,;:|/\\.-]|(?:or|and|או)(?=\s|$))+|(?:[\s,;:|/\\-]|(?<=\s)(?:or|and|או))+$",
    re.IGNORECASE,
)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")


@dataclass(frozen=True, slots=True)
class Found:
    """One number PhoneNumberMatcher found in a cell."""

    start: int  # where it starts in the cell
    end: int  # where it ends, its extension included
    e164: str
    raw: str  # as written, without an extension found after it
    extension: str | None


def has_extra_text(text: str) -> bool:
    """True when a cell holds more than a number's characters: letters, signs, a date, a time."""
    return _PLAIN.fullmatch(text) is None or has_protected(text)


def has_protected(text: str) -> bool:
    """True when a cell holds a date, a time, an amount of money or a labelled ID number."""
    if not _may_hold_protected(text):
        return False
    return any(pattern.search(text) is not None for pattern, _group in _PROTECTED)


def _may_hold_protected(text: str) -> bool:
    """Cheap pre-check for has_protected: False when no pattern of _PROTECTED can match."""
    if _DATE_OR_TIME_HINT.search(text) is not None or "$" in text:
        return True
    lower = text.lower()
    if any(word in lower for word in _ASCII_WORD_HINTS):
        return True
    return not text.isascii() and _OTHER_HINT.search(text) is not None


def masked(text: str) -> str:
    """The cell with dates, times, amounts, labelled IDs and spaced slashes blanked with "_"."""
    chars = list(text)
    for pattern, group in _BLANKED:
        for m in pattern.finditer(text):
            chars[m.start(group) : m.end(group)] = "_" * (m.end(group) - m.start(group))
    return "".join(chars)


def find_numbers(text: str, region: str) -> list[Found]:
    """Every valid number in a cleaned cell, in order, as PhoneNumberMatcher (VALID) finds them."""
    if len(text) > _MAX_TEXT or _DIGIT.search(text) is None:
        return []
    blanked = masked(text)
    found: list[Found] = []
    matcher = PhoneNumberMatcher(blanked, region, leniency=Leniency.VALID, max_tries=_MAX_TRIES)
    for match in matcher:
        num = match.number
        extension = num.extension or None
        raw, end = text[match.start : match.end], match.end
        after = _EXT_AFTER.match(blanked, end) if extension is None else None
        if after is not None:
            extension, end = after.group(1), after.end()
        num.extension = None
        e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
        found.append(Found(match.start, end, e164, raw.strip(), extension))
    return found


def note_around(text: str, spans: list[tuple[int, int]]) -> str:
    """What a cell says besides its numbers: brackets, separators and a label before it dropped."""
    parts: list[str] = []
    at = 0
    for start, end in spans:
        before = text[at:start]
        if at == 0:
            label = _LABEL_BEFORE.search(before)
            if label is not None:
                before = before[: label.start()]
        parts.append(before)
        at = end
    parts.append(text[at:])
    note = _SPACES.sub(" ", " ".join(parts))
    note = _EMPTY_BRACKETS.sub(" ", note)
    note = _EDGE.sub("", _SPACES.sub(" ", note).strip())
    while note.startswith("(") and note.endswith(")") and _balanced(note[1:-1]):
        note = note[1:-1].strip()
    return note


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0
