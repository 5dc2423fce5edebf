"""The languages people read: a gettext catalogue per language, chosen per run, per request.

English is the source language: every message is written in English in the code, marked with
``_`` (translate now), ``N_`` (mark for the catalogue, translate later) or declared as a
:class:`~importer.i18n.reasons.ReasonKind`; ``scripts/i18n.py`` extracts them with Babel into
``importer/i18n/messages.pot`` and merges that into each language's ``.po`` file.  The ``.po``
files are read at run time with Babel (no compiled ``.mo`` to keep in step with them).

Machine contracts never change with the language: CSV column names, status codes, JSON keys
and exit codes stay English; only what people read is translated.

The current language is a context variable, so a web request or a job thread sets its own
(threads do not inherit it: set it with :func:`use_language` in each).
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal, get_args

from importer.i18n.catalogue import lookup

__all__ = [
    "FSI",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "N_",
    "PDI",
    "Lang",
    "UnknownLanguageError",
    "_",
    "current_language",
    "is_rtl",
    "isolate",
    "language_from_environment",
    "parse_language",
    "placeholders",
    "resolve_language",
    "translate",
    "use_language",
]

Lang = Literal["en", "he"]
LANGUAGES: tuple[Lang, ...] = get_args(Lang)
#: Each language's name in itself, for choosers.
LANGUAGE_NAMES: dict[Lang, str] = {"en": "English", "he": "עברית"}
_RTL: frozenset[str] = frozenset({"he"})
# Unicode's "first strong isolate" and its end: the text inside takes its own direction and
# does not reorder what is around it, so "+972 52-123-4567" or a Latin file name stays whole
# and left-to-right inside a Hebrew sentence (a text with no strong letter is laid out LTR).
FSI, PDI = "\u2068", "\u2069"

_current: ContextVar[Lang] = ContextVar("lead_importer_language", default="en")


class UnknownLanguageError(ValueError):
    """A language name that is not one of LANGUAGES (callers turn it into their own error)."""


def resolve_language(*choices: str | None, environ: Mapping[str, str] | None = None) -> Lang:
    """The first given choice (flag, config, file), else the environment's, else English."""
    for choice in choices:
        if choice is not None and str(choice).strip():
            return parse_language(str(choice))
    return language_from_environment(os.environ if environ is None else environ)


def parse_language(value: str) -> Lang:
    """``he``, ``he_IL.UTF-8``, ``Hebrew`` or ``iw`` -> ``he``; unknown names are an error."""
    code = _locale_language(value)
    if code is None:
        raise UnknownLanguageError(
            f'unknown language "{value}"; choose one of: {", ".join(LANGUAGES)}'
        )
    return code


def language_from_environment(environ: Mapping[str, str]) -> Lang:
    """The language of the POSIX locale variables (LC_ALL, LC_MESSAGES, LANG), else English."""
    # GNU gettext reads LANGUAGE (a list) before the others, but only for a locale that is
    # not "C"; POSIX: LC_ALL beats LC_MESSAGES beats LANG.
    locale_name = next(
        (environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(k)), ""
    )
    candidates = []
    if locale_name not in ("", "C", "POSIX") and not locale_name.startswith("C."):
        candidates = [*environ.get("LANGUAGE", "").split(":"), locale_name]
    for name in candidates:
        code = _locale_language(name)
        if code is not None:
            return code
    return "en"


_ALIASES: dict[str, Lang] = {
    "en": "en", "english": "en", "he": "he", "iw": "he", "hebrew": "he", "עברית": "he",
}


def _locale_language(value: str) -> Lang | None:
    name = re.split(r"[_.@-]", value.strip().lower(), maxsplit=1)[0]
    return _ALIASES.get(name)


def is_rtl(lang: str) -> bool:
    """True for languages written right to left."""
    return lang in _RTL


def current_language() -> Lang:
    """The language of this context (a run, a request, a job thread)."""
    return _current.get()


@contextmanager
def use_language(lang: Lang) -> Iterator[Lang]:
    """Translate into ``lang`` inside the block (this thread or task only)."""
    token = _current.set(lang)
    try:
        yield lang
    finally:
        _current.reset(token)


def isolate(text: str) -> str:
    """``text`` between FSI and PDI: it keeps its own direction inside a sentence."""
    return f"{FSI}{text}{PDI}" if text else text


def translate(lang: str, message: str, context: str | None = None, /, **params: object) -> str:
    """``message`` in ``lang`` (English when the catalogue has none), with ``params`` filled in.

    In a right-to-left language every value is isolated (:func:`isolate`), so numbers, phones
    and Latin names keep their order inside the Hebrew sentence.
    """
    text = message if lang == "en" else (lookup(lang, message, context) or message)
    if not params:
        return text
    if is_rtl(lang):
        params = {k: isolate(_text_of(v)) for k, v in params.items()}
    return text.format_map(params)


def _text_of(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _(message: str, /, **params: object) -> str:
    """``message`` in the current language, with ``params`` filled in."""
    return translate(_current.get(), message, None, **params)


def N_(message: str, /) -> str:
    """Mark ``message`` for the catalogue without translating it (it is translated later)."""
    return message


def placeholders(text: str) -> frozenset[str]:
    """The ``{names}`` of a message (the catalogue check compares them across languages)."""
    names = set()
    for _literal, field, _spec, _conv in string.Formatter().parse(text):
        if field is not None:
            names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    return frozenset(names)
