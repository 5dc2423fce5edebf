"""Why a row ended as it did, as data: a reason is a list of notes, each a kind and values.

The report's ``reason`` column is written in the run's language and its ``reason_code``
column carries the first note's code, which scripts can rely on whatever the language.  A
:class:`Reason` *is* its English text (a ``str``), so code that compares, logs or stores
reasons as text keeps working, and it remembers its notes, so a report can render it in
another language and the journal can keep it (:meth:`Reason.to_json`).

A kind is declared once, with a stable code and its English wording (the catalogue's message
id; the code is the message context), and called with its values::

    TOO_SHORT = ReasonKind("too_short", "too short for {where} number ({digits} digits ...)")
    reason = TOO_SHORT(where=..., digits=8)

A value may itself be a reason (a note about another cell's problem): it is rendered in the
same language.  Every other value is text from a file or a number and is shown as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from importer.i18n import Localized, translate

__all__ = [
    "KINDS",
    "SEPARATOR",
    "TEXT",
    "Reason",
    "ReasonKind",
    "join_reasons",
    "reason_code",
    "render_reason",
]

#: How notes are joined, in every language (a semicolon reads the same in Hebrew).
SEPARATOR = "; "
#: Every declared kind by code: the catalogue check and the journal's reader use it.
KINDS: dict[str, ReasonKind] = {}


class ReasonKind:
    """One kind of reason: a stable code and its English wording with ``{values}``."""

    __slots__ = ("code", "english")
    code: str
    english: str

    def __init__(self, code: str, english: str) -> None:
        if code in KINDS and KINDS[code].english != english:
            raise ValueError(f"reason code {code!r} is declared twice with different words")
        self.code = code
        self.english = english
        KINDS[code] = self

    def __call__(self, **values: object) -> Reason:
        """A reason of this kind with these values."""
        return Reason._of(((self, _frozen(values)),))

    def __repr__(self) -> str:
        return f"ReasonKind({self.code!r})"

    def __reduce__(self) -> tuple[Callable[[str, str], ReasonKind], tuple[str, str]]:
        # A reason that crossed a pipe (the engine's helper process) keeps its kind: the
        # one declared here, not a copy.
        return _kind, (self.code, self.english)


def _kind(code: str, english: str) -> ReasonKind:
    """The declared kind with this code (declared now if this process has not)."""
    known = KINDS.get(code)
    return known if known is not None else ReasonKind(code, english)


Note = tuple[ReasonKind, tuple[tuple[str, object], ...]]


def _frozen(values: dict[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple((k, v if isinstance(v, (Reason, int)) else str(v)) for k, v in values.items())


def _english(note: Note) -> str:
    kind, values = note
    return kind.english.format_map(dict(values)) if values else kind.english


class Reason(str):
    """A reason's English text that remembers its notes (see the module's docstring)."""

    notes: tuple[Note, ...]
    _cache: ClassVar[dict[tuple[str, str], str]] = {}

    @classmethod
    def _of(cls, notes: tuple[Note, ...]) -> Reason:
        self = super().__new__(cls, SEPARATOR.join(_english(n) for n in notes))
        self.notes = notes
        return self

    @property
    def code(self) -> str:
        """The first note's code ("" for no note)."""
        return self.notes[0][0].code if self.notes else ""

    def render(self, lang: str) -> str:
        """This reason in ``lang``."""
        if lang == "en":
            return str.__str__(self)
        return SEPARATOR.join(_render_note(n, lang) for n in self.notes)

    def to_json(self) -> str:
        """The notes as JSON (codes and values), for the journal."""
        return json.dumps(_notes_data(self.notes), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str, english: str) -> str:
        """The reason stored by :meth:`to_json`; ``english`` when a code is no longer known."""
        try:
            return cls._of(_notes_from(json.loads(data)))
        except (KeyError, TypeError, ValueError):
            return english


def _render_note(note: Note, lang: str) -> str:
    kind, values = note
    shown: dict[str, object] = {}
    for key, value in values:
        if isinstance(value, Reason):
            # A translated part in the same language (its own values are isolated already):
            # it belongs to the sentence's direction, so it is not isolated again.
            shown[key] = Localized(value.render(lang))
        else:
            shown[key] = value
    return translate(lang, kind.english, kind.code, **shown)


def _notes_data(notes: Iterable[Note]) -> list[Any]:
    return [
        [kind.code, {k: ({"reason": _notes_data(v.notes)} if isinstance(v, Reason) else v)
                     for k, v in values}]
        for kind, values in notes
    ]


def _notes_from(data: list[Any]) -> tuple[Note, ...]:
    notes: list[Note] = []
    for code, values in data:
        parts: list[tuple[str, object]] = []
        for key, value in values.items():
            if isinstance(value, dict):
                parts.append((key, Reason._of(_notes_from(value["reason"]))))
            else:
                parts.append((key, value))
        notes.append((KINDS[code], tuple(parts)))
    return tuple(notes)


#: Text from elsewhere (an API's own words): shown as it is in every language.
TEXT = ReasonKind("text", "{text}")


def join_reasons(*parts: str) -> str:
    """Several reasons as one, joined by SEPARATOR; empty parts are left out."""
    kept = [p for p in parts if p]
    if not kept:
        return ""
    if len(kept) == 1:
        return kept[0]
    notes: list[Note] = []
    for part in kept:
        notes.extend(part.notes if isinstance(part, Reason) else ((TEXT, (("text", part),)),))
    return Reason._of(tuple(notes))


def reason_code(reason: str) -> str:
    """The stable code of a reason for the report's ``reason_code`` column."""
    if isinstance(reason, Reason):
        return reason.code
    return "text" if reason else ""


def render_reason(reason: str, lang: str) -> str:
    """A reason in ``lang``, as a plain ``str``; text that is no Reason is a ``TEXT`` note.

    Rendering parts and joining them with SEPARATOR gives what rendering their
    :func:`join_reasons` gives, so the columnar engine may join rendered columns.
    """
    if not reason:
        return ""
    if isinstance(reason, Reason):
        return reason.render(lang)
    return TEXT(text=reason).render(lang)
