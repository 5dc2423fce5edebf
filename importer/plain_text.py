"""Showing hostile text (file names, headers, cells) inside our own lines, safely.

A file name may hold a newline, a YAML or log line of its own, or a right-to-left
override that makes a line read backwards.  Wherever such text is shown inside a
line we write (a comment in a suggested mapping, a log line), every character that
can end the line or reorder it is written as an escape instead, so the line stays
one line and reads as it is.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["escape_controls", "quoted"]

# Cc: controls (\n, \r, NEL \x85 ...); Cf: formats (bidi overrides, zero-width marks);
# Zl/Zp: U+2028/U+2029, which YAML 1.1 and some log viewers treat as line breaks;
# Cs/Co/Cn: surrogates, private use and unassigned code points.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@lru_cache(maxsize=4096)
def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if unicodedata.category(ch) in _UNSAFE_CATEGORIES:
        code = ord(ch)
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def escape_controls(text: str) -> str:
    """``text`` with line breaks, controls and bidi/format characters written as escapes."""
    if text.isprintable():  # the common case: nothing to escape (printable excludes Cc/Cf/Z*)
        return text
    return "".join(_escape_char(ch) for ch in text)


def quoted(text: str) -> str:
    """``text`` in double quotes for a message or comment, escaped as ``escape_controls`` does."""
    return '"' + escape_controls(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'
