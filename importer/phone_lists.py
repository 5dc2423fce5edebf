"""Reading lists of phone numbers: do-not-call lists, ``remove --file`` and reports fed back.

A list is any file the readers open (CSV/TSV/XLSX/ODS/...; every visible sheet of a
workbook). In each sheet the numbers come from one place:

1. the columns whose header names a phone number (``phone``, ``Phone``, ``טלפון``,
   ``נייד``, ``Target``, ...): the import report's ``phone`` column (E.164 behind the CSV
   formula guard, ``'+972...``) and the pending export's ``Phone`` column are read alone,
   so the raw phone text, row numbers and lead IDs around them never count;
2. else the columns whose header holds a phone word (``Home phone``, ``טלפון 2``);
3. else the column where most filled cells are phone numbers (a bare column of numbers,
   with or without a header line), judged on the first rows of the sheet.

A sheet with neither (the Summary sheet of a report workbook) gives nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

from importer.errors import ConfigError, EmptySourceError, SourceError
from importer.headers import find_columns, normalize_header
from importer.phones import PhoneNormalizer
from importer.sources import open_sources
from importer.sources.model import SourceOptions

__all__ = ["PHONE_HEADERS", "read_phone_list"]

#: Headers that name the phone column of a list (matched case-, space- and
#: punctuation-insensitively; "phone_raw" of the reports is not one of them).
PHONE_HEADERS: tuple[str, ...] = (
    "phone", "phones", "phone number", "telephone", "tel", "mobile", "mobile phone", "cell",
    "cellphone", "target", "msisdn", "user phone", "home phone", "work phone", "office phone",
    "other phone", "landline", "phone 2", "mobile 2",
    "טלפון", "טל", "נייד", "טלפון נייד", "סלולרי", "פלאפון", "מספר טלפון", "מס טלפון",
    "טלפון בבית", "טלפון בעבודה", "טלפון נוסף", "טלפון 2", "נייד 2",
)
# Without an exact name, headers holding one of these words ("Contact phone 3", "טלפון אבא").
_WORDS: tuple[str, ...] = ("phone", "mobile", "טלפון", "נייד", "סלולרי", "פלאפון")
SAMPLE_ROWS = 1000
# A row's cells and the indexes of those the workbook stored as numbers.
_Line = tuple[Sequence[str], frozenset[int]]


@dataclass(frozen=True, slots=True)
class _Choice:
    """Where a sheet's numbers are: column indexes, and whether row 1 holds data."""

    columns: tuple[int, ...]
    header_is_data: bool


def read_phone_list(
    path: Path, normalizer: PhoneNormalizer, *, what: str = "phone list"
) -> set[str]:
    """The E.164 numbers of a list file (see the module docstring); ``what`` names it in errors."""
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist")
    numbers: set[str] = set()
    unread: list[str] = []
    read_any = False
    try:
        # header_row=1: a list may be a bare column of numbers whose first line is a number.
        for source in open_sources(path, SourceOptions(header_row=1, all_sheets=True)):
            with source:
                header = tuple(source.info.columns)
                rows = iter(source.rows())
                sample: list[_Line] = [(r.cells, r.numeric) for r in islice(rows, SAMPLE_ROWS)]
                choice = _choose(header, sample, normalizer)
                if choice is None:
                    unread.append(_sheet_label(source.info.sheet, header))
                    continue
                read_any = True
                lines = chain(
                    [(header, frozenset[int]())] if choice.header_is_data else [],
                    sample,
                    ((r.cells, r.numeric) for r in rows),
                )
                numbers.update(_numbers(_cells(lines, choice.columns), normalizer))
    except EmptySourceError as exc:
        # One line only: a header without numbers, or numbers without a header.
        return numbers | _numbers(((c, False) for c in exc.header), normalizer)
    except SourceError as exc:
        raise ConfigError(f"{what}: {exc}") from None
    if unread and not read_any:
        raise ConfigError(
            f"{what} {path.name}: no column holds phone numbers ({'; '.join(unread)}); "
            "name the phone column 'phone' or 'טלפון'"
        )
    return numbers


def _sheet_label(sheet: str | None, header: Sequence[str]) -> str:
    # Header cells come from the file: quoted, and cut so a hostile one cannot flood the message.
    shown = ", ".join(repr(h if len(h) <= 40 else h[:39] + "…") for h in header[:8])
    shown += ", ..." if len(header) > 8 else ""
    return f"sheet {sheet!r}: columns {shown}" if sheet else f"columns {shown}"


def _choose(
    header: Sequence[str], sample: list[_Line], normalizer: PhoneNormalizer
) -> _Choice | None:
    """The named phone columns, else the column where most filled cells are numbers."""
    names = [_unquoted(h) for h in header]
    named = find_columns(PHONE_HEADERS, names) or [
        i for i, name in enumerate(names) if any(w in normalize_header(name) for w in _WORDS)
    ]
    if named:
        return _Choice(tuple(sorted(named)), header_is_data=False)
    lines: list[_Line] = [(header, frozenset()), *sample]
    width = max(len(cells) for cells, _ in lines)
    filled = [0] * width
    phones = [0] * width
    for line, (cells, numeric) in enumerate(lines):
        for index, cell in enumerate(cells):
            text = _unquoted(cell).strip()
            if not text:
                continue
            if normalizer.normalize(text, numeric=index in numeric).e164:
                phones[index] += 1
                filled[index] += 1
            elif line:  # a first line that is no number is the column's name, not data
                filled[index] += 1
    best = max(range(width), key=lambda i: (phones[i], -i), default=None)
    if best is None or phones[best] * 2 <= filled[best]:
        return None
    return _Choice((best,), header_is_data=True)


def _cells(lines: Iterable[_Line], columns: tuple[int, ...]) -> Iterator[tuple[str, bool]]:
    for cells, numeric in lines:
        for index in columns:
            if index < len(cells):
                yield _unquoted(cells[index]).strip(), index in numeric


def _numbers(candidates: Iterable[tuple[str, bool]], normalizer: PhoneNormalizer) -> set[str]:
    found: set[str] = set()
    for raw, numeric in candidates:
        if raw:
            result = normalizer.normalize(raw, numeric=numeric)
            if result.e164:
                found.add(result.e164)
    return found


def _unquoted(cell: str) -> str:
    """A cell without the CSV formula guard our reports and exports put before ``+972...``."""
    return cell[1:] if cell[:1] == "'" else cell
