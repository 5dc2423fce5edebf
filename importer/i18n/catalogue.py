"""Reading the translations: each language's ``.po`` files, loaded once with Babel.

A language has one ``.po`` file per domain (``reasons``: why a row ended as it did;
``messages``: everything else the CLI, reports and drop folders say; ``web``: the web
workspace); a lookup sees them all.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

__all__ = ["CATALOGUE_DIR", "DOMAINS", "lookup", "po_path", "translations"]

CATALOGUE_DIR = Path(__file__).resolve().parent
DOMAINS: tuple[str, ...] = ("reasons", "messages", "web")
_lock = threading.Lock()


def po_path(lang: str, domain: str) -> Path:
    """Where the ``.po`` file of ``lang`` for ``domain`` lives."""
    return CATALOGUE_DIR / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"


@cache
def translations(lang: str) -> dict[tuple[str | None, str], str]:
    """(context, English message) -> translation, for every translated, non-fuzzy entry."""
    from babel.messages.pofile import read_po

    table: dict[tuple[str | None, str], str] = {}
    for domain in DOMAINS:
        path = po_path(lang, domain)
        if not path.is_file():
            continue
        with _lock, path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for message in catalog:
            if not message.id or message.fuzzy or not isinstance(message.id, str):
                continue
            if isinstance(message.string, str) and message.string:
                table[(message.context, message.id)] = message.string
    return table


def lookup(lang: str, message: str, context: str | None = None) -> str | None:
    """The translation of ``message`` in ``lang``, or None when the catalogue has none."""
    return translations(lang).get((context, message))
