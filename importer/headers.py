"""Matching column headers by meaning, not by spelling.

Headers typed by people differ in case, spacing, punctuation, niqqud and
invisible direction marks; ``normalize_header`` erases all of that so that
``"Phone Number"``, ``"phone_number"`` and ``" PHONE-NUMBER "`` (or ``"טֶלֶפוֹן"``
and ``"טלפון"``) compare equal.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = [
    "MAX_HEADER_CHARS",
    "REJECTS_COLUMNS",
    "closest_headers",
    "custom_data_key",
    "find_columns",
    "normalize_header",
    "normalize_value",
    "rejects_columns",
    "repeated_name",
]

# A header cell longer than this is a paste gone wrong, never a column anyone maps: binding
# and suggestions ignore it (normalising a 10 MB header took seconds per lookup, and a YAML
# key made from it is over PyYAML's 1024-character limit for keys).
MAX_HEADER_CHARS = 1000


def normalize_header(text: str) -> str:
    """Case-, space-, punctuation-, niqqud- and direction-mark-insensitive form of a header."""
    text = unicodedata.normalize("NFKC", text).casefold()
    # Keeping only letters and digits drops spaces, punctuation, underscores,
    # bidi controls (category Cf) and niqqud/cantillation marks (category Mn).
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


@lru_cache(maxsize=65_536)
def normalize_value(text: str) -> str:
    """Lighter normalisation for cell values matched against a ``map``.

    Case, niqqud, direction marks and runs of spaces are ignored, but
    punctuation is kept so that ``"A+"`` and ``"A"`` stay different.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(
        ch for ch in text if unicodedata.category(ch) not in {"Mn", "Cf", "Cc"}
    )
    return " ".join(kept.split())


def _match_key(text: str) -> str:
    # A header made only of punctuation ("#", "-") is matched by its exact text.
    return normalize_header(text) or text.strip()


#: The columns a rejects file adds after the source's own (importer.report.rejects).
REJECTS_COLUMNS: tuple[str, ...] = ("reason", "reason_code", "source_row")
# What rejects files written before reason codes added.
_OLD_REJECTS_COLUMNS: tuple[str, ...] = ("reason", "source_row")


def rejects_columns(headers: Sequence[str]) -> tuple[int, ...] | None:
    """Indexes of a rejects file's trailing ``reason``, ``reason_code`` and ``source_row``
    columns (``reason`` and ``source_row`` in older files), else None.

    The readers rename a name the file repeats (``reason (2)`` when the source had
    its own ``reason``), so a renamed copy counts too.  Only the last columns are
    looked at: those are the ones our rejects files add.
    """
    for ours in (REJECTS_COLUMNS, _OLD_REJECTS_COLUMNS):
        if len(headers) <= len(ours):
            continue
        tail = headers[len(headers) - len(ours):]
        if all((repeated_name(h.strip()) or h.strip()).casefold() == wanted
               for h, wanted in zip(tail, ours, strict=True)):
            return tuple(range(len(headers) - len(ours), len(headers)))
    return None


# The readers make header names unique: a name the file repeats becomes "name (2)", ...
_REPEATED = re.compile(r"^(.*\S) \((\d+)\)$")


def repeated_name(header: str) -> str | None:
    """``"טלפון"`` for ``"טלפון (2)"`` (a repeated header renamed by the reader), else None."""
    found = _REPEATED.match(header)
    return found.group(1) if found else None


def find_columns(aliases: Iterable[str], headers: Sequence[str]) -> list[int]:
    """Indexes of the headers matching any alias, in alias order, without repeats.

    When the file repeats a matching name (three "טלפון" columns, renamed "טלפון (2)",
    "טלפון (3)" by the reader), every one of them matches, in file order: a mobile in
    the second "טלפון" column must not be lost because the first one is empty.
    """
    normalized = [_match_key(h) for h in headers]
    bases = [_match_key(base) if (base := repeated_name(h)) else None for h in headers]
    found: list[int] = []
    for alias in aliases:
        key = _match_key(alias)
        if not key:
            continue
        for index, header in enumerate(normalized):
            if header == key and index not in found:
                found.append(index)
        for index, base in enumerate(bases):
            if base == key and index not in found:
                found.append(index)
    return found


def closest_headers(alias: str, headers: Sequence[str], limit: int = 3) -> list[str]:
    """The headers that look most like ``alias`` (for "did you mean" messages)."""
    key = normalize_header(alias)
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(normalize_header(header), header)
    picks = difflib.get_close_matches(key, [k for k in by_norm if k], n=limit, cutoff=0.6)
    if key:
        # "טלפון" is a fair suggestion for "טלפון נייד" even when difflib's ratio is low.
        for norm in by_norm:
            if norm and norm not in picks and (key in norm or norm in key):
                picks.append(norm)
    return [by_norm[p] for p in picks[:limit]]


_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
# A Hebrew word: letters, with gershayim inside (דוא"ל) and a geresh inside or after (ג'ק, מס').
_WORD = re.compile(
    r"[A-Za-z0-9]+|[\u05d0-\u05ea](?:[\u05d0-\u05ea]|['\"\u05f3\u05f4](?=[\u05d0-\u05ea]))*"
    r"['\u05f3]?"
)
_GERESH = "'\u05f3"
_VOWEL_LETTERS = "\u05d5\u05d9"  # ו and י, which stand for vowels inside a word
# Consonants read the same wherever they stand; the rest are spelled in _hebrew_letter.
_CONSONANTS = {
    "ג": "g", "ד": "d", "ז": "z", "ח": "ch", "ט": "t", "ך": "ch", "ל": "l", "מ": "m",
    "ם": "m", "נ": "n", "ן": "n", "ס": "s", "ף": "f", "צ": "tz", "ץ": "tz", "ק": "k",
    "ר": "r", "ש": "sh", "ת": "t",
}
_WITH_GERESH = {"ג": "j", "ז": "zh", "צ": "ch", "ץ": "ch"}
_MAX_WORDS_CHARS = 40  # of a transliterated key, after "var_"


def _hebrew_letter(word: str, i: int) -> str:
    """One letter of an unpointed Hebrew word in Latin letters, by where it stands."""
    ch, first = word[i], i == 0
    # "\0" stands for the word's edges, so that it is never "in" a string of letters.
    after = word[i + 1] if i + 1 < len(word) else "\0"
    before = word[i - 1] if i else "\0"
    if after in _GERESH and ch in _WITH_GERESH:
        return _WITH_GERESH[ch]
    if ch in "אע":
        return "" if after in _VOWEL_LETTERS else "a"   # אי, עו: the vowel letter speaks
    if ch == "ו":
        if first or after == "ו":
            return "v"
        return "" if before == "ו" else "u"
    if ch == "י":
        if after == "י":
            return "y"
        if before == "י":
            return ""
        return "y" if first else "i"
    if ch == "ה":
        return "a" if after == "\0" and not first else "h"
    if ch in "בכפ":
        hard, soft = {"ב": ("b", "v"), "כ": ("k", "ch"), "פ": ("p", "f")}[ch]
        return hard if first else soft
    return _CONSONANTS.get(ch, "")


def _hebrew_word(word: str) -> str:
    """``תחום`` → ``tchum``: consonants as read, ו and י as the vowels they usually are."""
    letters = "".join(ch for ch in word if "\u05d0" <= ch <= "\u05ea" or ch in _GERESH)
    return "".join(_hebrew_letter(letters, i) for i in range(len(letters)))


def _latin_words(text: str) -> list[str]:
    """Words of a header in ASCII: accents dropped, Hebrew transliterated, the rest left out."""
    folded = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if unicodedata.category(ch) != "Mn"
    )
    words: list[str] = []
    for word in _WORD.findall(folded):
        latin = word if word.isascii() else _hebrew_word(word)
        if latin:
            words.append(latin[:1].upper() + latin[1:])
    return words


def custom_data_key(header: str, index: int) -> str:
    """An ASCII ``var_`` key for a column: ``"Lead Source"`` → ``var_LeadSource``.

    Custom-data keys travel as URL parameters and screen-pop variables, where plain
    ASCII is the safe choice.  Hebrew headers are transliterated (``תחום עיסוק`` →
    ``var_TchumIsuk``), accents are dropped (``Téléphone`` → ``var_Telephone``); a
    header with nothing left (only another script or punctuation) becomes
    ``var_Col<n>`` (1-based).
    """
    text = unicodedata.normalize("NFKC", header).strip()
    if text.isascii():
        if text.lower().startswith("var_") and len(text) > 4:
            return "var_" + re.sub(r"\W+", "_", text[4:]).strip("_")
        words = _ASCII_WORD.findall(text)
        if not words:
            return f"var_Col{index + 1}"
        return "var_" + "".join(w[:1].upper() + w[1:] for w in words)
    if text[:4].lower() == "var_":
        text = text[4:]
    key = ""
    for word in _latin_words(text):
        if key and len(key) + len(word) > _MAX_WORDS_CHARS:
            break  # a long question as a header: its first words name it well enough
        key += word
    return f"var_{key[:_MAX_WORDS_CHARS]}" if key else f"var_Col{index + 1}"
