"""Keeping the catalogues in step with the code: extraction, merging and checks (Babel).

Used by ``scripts/i18n.py`` (people) and ``tests/i18n`` (CI).  A domain is a set of source
files and the marker functions that name messages in them; each language has one ``.po``
file per domain.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from importer.i18n import LANGUAGES, placeholders
from importer.i18n.catalogue import CATALOGUE_DIR, DOMAINS, po_path

__all__ = ["Domain", "Problem", "check", "domain_files", "extract", "pot_path", "update"]

PACKAGE_DIR = CATALOGUE_DIR.parent
# gettext's usual markers, plus the reason kinds (context = the reason code).
_PY_KEYWORDS = {"_": None, "N_": None}
# Headers and files stay the same until a message changes (no dates, no line numbers), so
# two branches that add messages merge without conflicts in what they did not touch.
_STABLE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
_REASON_KEYWORDS = {"ReasonKind": ((1, "c"), 2)}


@dataclass(frozen=True)
class Domain:
    """A catalogue domain: which files, which markers."""

    name: str
    method_map: tuple[tuple[str, str], ...]
    keywords: dict[str, Any]


def domain_files() -> dict[str, Domain]:
    """The domains of lead-importer's catalogue."""
    return {
        "reasons": Domain("reasons", (("**.py", "python"),), _REASON_KEYWORDS),
        "messages": Domain(
            "messages", (("web/**", "ignore"), ("**.py", "python")), _PY_KEYWORDS
        ),
        "web": Domain(
            "web",
            # No ("**", "ignore"): Babel prunes every folder an ignore pattern matches, web/ too;
            # files that match no pattern are skipped anyway.
            (("web/**.py", "python"), ("web/templates/**.html", "jinja2")),
            _PY_KEYWORDS,
        ),
    }


def pot_path(domain: str) -> Path:
    """The template (``.pot``) of ``domain``."""
    return CATALOGUE_DIR / f"{domain}.pot"


def extract(domain: Domain) -> Catalog:
    """Every message the code marks for ``domain``, with where it is used."""
    catalog = Catalog(project="lead-importer", charset="utf-8", fuzzy=False,
                      creation_date=_STABLE_DATE, revision_date=_STABLE_DATE)
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext":
                                         "true"}}
    found: Iterator[tuple[str, int, object, list[str], str | None]] = extract_from_dir(
        PACKAGE_DIR,
        method_map=list(domain.method_map),
        options_map=options,
        keywords=domain.keywords,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(f"importer/{filename}", lineno)],  # type: ignore[arg-type]
                    auto_comments=comments, context=context)
    return catalog


def _po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False, sort_output=True,
             ignore_obsolete=True, include_previous=False, include_lineno=False)
    return out.getvalue()


def update() -> list[Path]:
    """Write each domain's ``.pot`` and merge it into every language's ``.po``; return them."""
    written: list[Path] = []
    for domain in domain_files().values():
        template = extract(domain)
        pot = pot_path(domain.name)
        pot.write_bytes(_po_bytes(template))
        written.append(pot)
        for lang in LANGUAGES:
            if lang == "en":
                continue
            path = po_path(lang, domain.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_file():
                with path.open("rb") as fh:
                    catalog = read_po(fh, locale=lang)
            else:
                catalog = Catalog(locale=lang, project="lead-importer", charset="utf-8",
                                  creation_date=_STABLE_DATE, revision_date=_STABLE_DATE)
            catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
            path.write_bytes(_po_bytes(catalog))
            written.append(path)
    return written


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the catalogues."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def check() -> list[Problem]:
    """Everything that makes a catalogue out of step or a translation unusable."""
    problems: list[Problem] = []
    for domain in domain_files().values():
        template = extract(domain)
        wanted = {(m.context, m.id) for m in template if m.id}
        pot = pot_path(domain.name)
        if not pot.is_file():
            if wanted:
                problems.append(Problem(str(pot), "missing: run scripts/i18n.py update"))
            continue
        with pot.open("rb") as fh:
            have = {(m.context, m.id) for m in read_po(fh) if m.id}
        for context, msgid in sorted(wanted - have, key=str):
            problems.append(Problem(str(pot), f"not extracted: {msgid!r} ({context}); "
                                              "run scripts/i18n.py update"))
        for context, msgid in sorted(have - wanted, key=str):
            problems.append(Problem(str(pot), f"no longer in the code: {msgid!r} ({context}); "
                                              "run scripts/i18n.py update"))
        for lang in LANGUAGES:
            if lang != "en":
                problems += _check_language(lang, domain.name, wanted)
    return problems


def _check_language(lang: str, domain: str, wanted: set[tuple[str | None, Any]]
                    ) -> list[Problem]:
    path = po_path(lang, domain)
    if not path.is_file():
        return [Problem(str(path), "missing: run scripts/i18n.py update")] if wanted else []
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    problems: list[Problem] = []
    seen = set()
    for message in catalog:
        if not message.id or not isinstance(message.id, str):
            continue
        seen.add((message.context, message.id))
        where = f"{path.name} {message.id!r}"
        if message.fuzzy:
            problems.append(Problem(where, "marked fuzzy: check the translation"))
        if not isinstance(message.string, str) or not message.string.strip():
            problems.append(Problem(where, f"no {lang} translation"))
            continue
        if placeholders(message.id) != placeholders(message.string):
            problems.append(Problem(where, "placeholders differ: "
                                           f"{sorted(placeholders(message.id))} in English, "
                                           f"{sorted(placeholders(message.string))} in {lang}"))
    for context, msgid in wanted - seen:
        problems.append(Problem(path.name, f"not in the catalogue: {msgid!r} ({context})"))
    return problems


__all__ += ["DOMAINS"]
