"""Per-row results, the run summary, and the report writers (csv, xlsx, json).

One :class:`ReportWriter` per input file streams :class:`RowResult` rows, in
input order, into ``<file-stem>.<UTC timestamp>.report.csv`` and collects
what ``.report.xlsx`` and ``.summary.json`` need; ``close`` finishes all three.
Memory stays flat however many rows are written: the CSV is streamed, and
the rows meant for the workbook are spooled to an unlinked temporary file
next to the reports (openpyxl's write-only mode builds the workbook from it
at close, when the row count -- and so the Summary sheet -- is known).

Formula injection (OWASP "CSV Injection", CWE-1236)
    A cell is *formula-like* when, after any leading spaces/invisible marks,
    it starts with ``= + - @`` (or their full-width forms), or when it starts
    with TAB, CR, LF or NUL.

    * CSV: a formula-like cell, and any cell that already starts with ``'``,
      gets a single quote prepended -- the OWASP recommendation (a tab or a
      space prefix is not safe: spreadsheets strip or act on them). Escaping
      cells that start with ``'`` too makes the rule reversible:
      :func:`unescape_cell` drops exactly one leading quote, so
      :func:`read_report_csv` gives back exactly what was written. Phones get
      no exemption: ``+972521234567`` would be *evaluated* by Excel (shown as
      ``9.72521E+11``; ``+972-52-...`` even becomes a subtraction), while
      ``'+972521234567`` keeps every digit and reads as the phone. The rule is
      one test on the first character, so unaffected cells cost nothing.
    * XLSX: every string is written as a string cell (``t="inlineStr"``,
      never a formula, whatever it starts with) with its value unchanged, and
      formula-like cells also carry Excel's ``quotePrefix`` style -- the flag
      Excel itself sets when you type ``'=x`` -- so the cell shows the plain
      text (phones included) and stays text even if someone edits it.
      Characters XML cannot hold (control characters, lone surrogates) become
      U+FFFD and cells are cut at Excel's 32,767-character limit; the CSV
      keeps the exact text.

Big files
    When a file has more than ``xlsx_row_limit`` rows, the Rows sheet lists
    only the rows that need attention -- every status except ``added``,
    ``updated``, ``would_add``, ``would_update`` and ``not_a_lead`` -- (at most
    ``xlsx_row_limit`` of them) and the Summary sheet says so; the CSV always has every row.

Interrupted runs
    Used as a context manager, an exception still closes every report with
    what was written; the file names stay the same (scripts rely on them),
    the JSON has ``"interrupted": true`` and the Summary says so in a note.

Secrets
    ``importer.redact.redact`` runs once per row over the row's joined text
    (one substring scan per registered code, and a no-op when none is
    registered); only a row that contains a code is redacted cell by cell.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import marshal
import os
import re
import secrets
import stat
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal, Self, get_args

from importer.errors import ConfigError, StorageError
from importer.i18n import N_, Lang, _, is_rtl, use_language
from importer.i18n.reasons import Reason, reason_code, render_reason
from importer.outcomes import (
    IMPORT_STATUSES,
    QUIET_STATUSES,
    RowResult,
    Summary,
)
from importer.redact import redact

if TYPE_CHECKING:
    import pyarrow as pa

    from importer.report.block import ReportBlock

__all__ = [
    "BASE_COLUMNS",
    "REPORT_FORMATS",
    "REPORT_FORMAT_NAMES",
    "ReportFormat",
    "ReportWriter",
    "count_statuses",
    "escape_cell",
    "is_formula_like",
    "looks_rtl",
    "parse_report_formats",
    "read_report_csv",
    "remove_unfinished",
    "report_file_mode",
    "split_report_formats",
    "summary_to_dict",
    "unescape_cell",
]

log = logging.getLogger(__name__)


BASE_COLUMNS: tuple[str, ...] = (
    "source_file",
    "sheet",
    "row",
    "phone_raw",
    "phone",
    "status",
    "reason",
    "reason_code",
    "error_code",
    "campaign",
    "dial_after",
)

#: The report formats, in the order they are written and listed: the one list the CLI's
#: --report-format, inbox.yaml's report_formats and ReportWriter all check against.
ReportFormat = Literal["csv", "xlsx", "json"]
REPORT_FORMAT_NAMES: tuple[ReportFormat, ...] = get_args(ReportFormat)
REPORT_FORMATS: frozenset[str] = frozenset(REPORT_FORMAT_NAMES)


def split_report_formats(value: str) -> list[str]:
    """The names in a comma-separated list of report formats (``"csv, JSON"`` -> csv, json)."""
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def parse_report_formats(value: str) -> frozenset[str]:
    """The formats a comma-separated list names; ConfigError when empty or one is unknown."""
    formats = frozenset(split_report_formats(value))
    if not formats or formats - REPORT_FORMATS:
        raise ConfigError(
            f"choose from {', '.join(REPORT_FORMAT_NAMES)} (comma-separated), not {value!r}"
        )
    return formats

# --------------------------------------------------------------------------- cells

_TRIGGERS = frozenset("=+-@\t\r\n\x00＝＋－＠")
# Spreadsheets skip leading blanks before parsing a formula; bidi marks are
# invisible too, so a formula hiding behind any of them counts as formula-like.
_IGNORABLE = " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u200b\u200e\u200f\u202f\u205f\u3000\ufeff\x0b\x0c"
_CSV_FIRST = frozenset(_TRIGGERS | set(_IGNORABLE) | {"'"})
_XLSX_FIRST = frozenset(_TRIGGERS | set(_IGNORABLE))


def is_formula_like(value: str) -> bool:
    """Whether a spreadsheet could read ``value`` as a formula (see the module docstring)."""
    if not value:
        return False
    if value[0] in _TRIGGERS:
        return True
    stripped = value.lstrip(_IGNORABLE)
    return bool(stripped) and stripped[0] in _TRIGGERS


# Finds a cell after the first of a comma-joined line that starts with a character
# escape_cell looks at (a literal first character keeps the search fast).  A comma
# inside a cell can match too: that only sends the row down the per-cell path.
_CSV_FIRST_AFTER_COMMA = re.compile(
    ",[" + "".join(re.escape(c) for c in sorted(_CSV_FIRST)) + "]"
)


def _escaped_part(texts: list[str]) -> str:
    line = ",".join(texts)
    if line[:1] not in _CSV_FIRST and _CSV_FIRST_AFTER_COMMA.search(line) is None:
        return line
    return ",".join([escape_cell(t) if t[:1] in _CSV_FIRST else t for t in texts])


def _escaped_line(texts: list[str]) -> str:
    """The report row's cells, each through ``escape_cell``, joined by commas.

    Per-cell checks cost more than the rest of writing a row, and almost no cell
    needs one; the phone columns (3 and 4, nearly always "+972...") are checked on
    their own, so one search over the rest of the line settles most rows.
    """
    raw, phone = texts[3], texts[4]
    return ",".join((
        _escaped_part(texts[:3]),
        escape_cell(raw) if raw[:1] in _CSV_FIRST else raw,
        escape_cell(phone) if phone[:1] in _CSV_FIRST else phone,
        _escaped_part(texts[5:]),
    ))


def escape_cell(value: str) -> str:
    """Return the CSV form of a cell: ``'`` prepended when formula-like or quote-led."""
    if value[:1] in _CSV_FIRST and (value[0] == "'" or is_formula_like(value)):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """Undo :func:`escape_cell` (drop one leading ``'``)."""
    return value[1:] if value[:1] == "'" else value


def read_report_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read a CSV report back: one dict per row, cells exactly as they were written."""
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [unescape_cell(h) for h in next(reader, [])]
        return [
            dict(zip(header, (unescape_cell(v) for v in row), strict=False)) for row in reader
        ]


def count_statuses(rows: Iterable[RowResult]) -> dict[str, int]:
    """Count rows per status; every status is present, zeros included."""
    counts = Counter(str(r.status) for r in rows)
    return {s.value: counts.get(s.value, 0) for s in IMPORT_STATUSES}


# --------------------------------------------------------------------------- summary

def summary_to_dict(summary: Summary) -> dict[str, Any]:
    """The JSON form of a summary (also the CLI's ``--json`` object)."""
    data = asdict(summary)
    counts = {s.value: int(summary.counts.get(s.value, 0)) for s in IMPORT_STATUSES}
    for key, value in summary.counts.items():   # keep unknown statuses visible, never drop rows
        counts.setdefault(key, int(value))
    data["counts"] = counts
    if data.pop("exit_code") is not None:
        data["exit_code"] = summary.exit_code
    data["notes"] = [redact(n) for n in summary.notes]
    for key in ("source_file", "campaign", "mode", "run_id"):
        data[key] = redact(str(data[key]))
    return data


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def _file_stem(source_name: str) -> str:
    name = _UNSAFE_NAME.sub("_", source_name.replace("\\", "/").rsplit("/", 1)[-1])
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = stem.strip(" .")[:120]
    return stem or "report"


_TMP_SUFFIX = ".tmp"
_SUFFIXES = {"csv": ".report.csv", "xlsx": ".report.xlsx", "json": ".summary.json"}


def report_file_mode(report_dir: Path) -> int:
    """The permission bits of new reports: the folder's, minus execute bits (owner rw always).

    People who may open the folder may open its reports: a group-shared folder
    (``rwxrwx---``) gets ``rw-rw----`` reports, a private one ``rw-------``.
    Files are created with this mode, so the umask still applies.
    """
    try:
        folder_mode = stat.S_IMODE(report_dir.stat().st_mode)
    except OSError:
        folder_mode = 0o666
    return (folder_mode & 0o666) | 0o600


def _claim_paths(
    report_dir: Path, stem: str, stamp: str, formats: Iterable[str], mode: int
) -> dict[str, Path]:
    """Create the report files exclusively, bumping ``-2``, ``-3``... until all are new."""
    wanted: list[str] = [f for f in REPORT_FORMAT_NAMES if f in formats]
    for attempt in range(1, 10_000):
        base = f"{stem}.{stamp}" + ("" if attempt == 1 else f"-{attempt}")
        paths = {f: report_dir / (base + _SUFFIXES[f]) for f in wanted}
        if any(p.exists() for p in paths.values()):
            continue
        created: list[Path] = []
        try:
            for path in paths.values():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
                created.append(path)
        except FileExistsError:   # lost a race with another run: release and try the next name
            for path in created:
                path.unlink(missing_ok=True)
            continue
        return paths
    raise ConfigError(f"could not find a free report name for {stem!r} in {report_dir}")


def _create_temp(target: Path, mode: int) -> tuple[int, Path]:
    """Create ``.<target name>.<random>.tmp`` next to ``target`` with ``mode`` (umask applies)."""
    # Not tempfile.mkstemp: its files are always rw-------, and reports follow the folder.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _attempt in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{_TMP_SUFFIX}")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {target}")


def _replace_atomically(target: Path, write: Any, mode: int) -> None:
    """Write via a hidden temporary file in the same folder, then move it over ``target``."""
    fd, tmp = _create_temp(target, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _storage_error(report_dir: Path, exc: OSError) -> StorageError:
    if StorageError.no_room(exc):
        return StorageError(
            N_("the disk is full: cannot write the reports in {folder} ({reason})"),
            folder=report_dir, reason=exc.strerror or exc,
        )
    return StorageError(N_("cannot write the reports in {folder} ({reason})"),
                        folder=report_dir, reason=exc.strerror or exc)


def remove_unfinished(paths: Iterable[Path]) -> list[Path]:
    """Delete what a stopped or killed report writer left: empty reports and temporaries.

    ``paths`` are one writer's reports.  One still empty never received a byte
    (a workbook is written only at the end), and a hidden
    ``.<report>.<random>.tmp`` next to it is a workbook or summary whose writer
    died; neither is of use to anybody.  Reports with content are kept.
    """
    removed: list[Path] = []
    names: dict[Path, set[str]] = {}
    for path in map(Path, paths):
        names.setdefault(path.parent, set()).add(path.name)
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_size == 0:
                path.unlink()
                removed.append(path)
    for folder, wanted in names.items():
        try:
            with os.scandir(folder) as entries:
                temporaries = [
                    Path(e.path) for e in entries
                    if e.name.startswith(".") and e.name.endswith(_TMP_SUFFIX)
                    and e.name[1 : -len(_TMP_SUFFIX)].rsplit(".", 1)[0] in wanted
                    and e.is_file(follow_symlinks=False)
                ]
        except OSError:
            continue
        for tmp in temporaries:
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _write_json(target: Path, summary: Summary, mode: int) -> None:
    text = json.dumps(summary_to_dict(summary), ensure_ascii=False, indent=2) + "\n"
    _replace_atomically(target, lambda fh: fh.write(text.encode("utf-8")), mode)


_RTL_CHARS = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def looks_rtl(texts: Iterable[str]) -> bool:
    """True when any text holds right-to-left letters (Hebrew, Arabic): the sheet opens RTL."""
    return any(_RTL_CHARS.search(t) for t in texts)


# --------------------------------------------------------------------------- writer

_WIDTH_SAMPLE_ROWS = 1000
_STATUS_INDEX = BASE_COLUMNS.index("status")
_ROW_INDEX = BASE_COLUMNS.index("row")
_ERROR_CODE_INDEX = BASE_COLUMNS.index("error_code")
# Small on purpose: the rows that share reason objects share a few of them (a calling-hours
# decision, a phone result), while most reasons that differ are one-offs (a duplicate's row
# number).  At 65,536 entries the cache kept ~40 MB of one-off reasons alive (peak RSS of a
# 1M-row dry run 294 -> 255 MB, the row engine's 198 -> 122 MB, and both faster).
_REASON_CACHE_SIZE = 256
_NO_REASON = ("", "")


class ReasonTexts:
    """A reason's report cells, ``(reason in the language, reason_code)``, made once per
    distinct reason of a run (the CSV/XLSX row writers and the rejects file share it)."""

    __slots__ = ("_by_id", "_cache", "language")

    def __init__(self, language: Lang) -> None:
        self.language = language
        self._cache: dict[object, tuple[str, str]] = {}
        # Most rows share reason objects (made once per distinct cell or decision): found by
        # identity first, without hashing their notes; the entry keeps the object alive.
        self._by_id: dict[int, tuple[str, tuple[str, str]]] = {}

    def __call__(self, reason: str) -> tuple[str, str]:
        """``reason`` rendered (a plain ``str``, which the XLSX spool needs) and its code."""
        if not reason:
            return "", ""
        seen = self._by_id.get(id(reason))
        if seen is not None and seen[0] is reason:
            return seen[1]
        # Two reasons with the same English words may differ in their notes (a kind's
        # words and the same words from the API): the notes are part of the key.
        key: object = (reason, reason.notes) if isinstance(reason, Reason) else reason
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= _REASON_CACHE_SIZE:
                self._cache.clear()
            hit = self._cache[key] = (render_reason(reason, self.language), reason_code(reason))
        if len(self._by_id) >= _REASON_CACHE_SIZE:
            self._by_id.clear()
        self._by_id[id(reason)] = (reason, hit)
        return hit


class ReportWriter:
    """Stream one input file's report rows to CSV, XLSX and a JSON summary."""

    def __init__(
        self,
        report_dir: Path,
        source_name: str,
        *,
        formats: frozenset[str] = REPORT_FORMATS,
        field_names: Sequence[str] = (),
        started_at: datetime | None = None,
        rtl: bool | None = None,
        xlsx_row_limit: int = 100_000,
        expected_rows: int | None = None,
        summary: Summary | None = None,
        language: Lang = "en",
    ) -> None:
        unknown = set(formats) - REPORT_FORMATS
        if unknown:
            raise ConfigError(
                f"unknown report format(s) {', '.join(sorted(unknown))}; "
                f"choose from {', '.join(REPORT_FORMAT_NAMES)}"
            )
        self.report_dir = Path(report_dir)
        self.source_name = source_name
        #: The language of what people read (reasons, XLSX labels, statuses, notes); CSV
        #: columns, status codes and the JSON stay English.
        self.language: Lang = language
        self.reason_texts = ReasonTexts(language)
        self.formats = frozenset(formats)
        self.started_at = (started_at or datetime.now(UTC)).astimezone(UTC)
        self.xlsx_row_limit = max(1, xlsx_row_limit)
        self.counts: dict[str, int] = {s.value: 0 for s in IMPORT_STATUSES}
        self.total = 0
        self._base_summary = summary
        self._field_keys: list[str] = []
        self._blanks: list[str] = []
        self._header: list[str] | None = None
        self._field_names_given = list(field_names)
        if field_names:
            self._set_fields(field_names)
        self._rtl = rtl
        self._closed = False
        # Blocks whose CSV lines are still being made elsewhere (write_block).
        self._waiting_lines: deque[Callable[[], bytes]] = deque()
        self._paths: dict[str, Path] = {}
        self._mode = 0o644
        self._csv_fh: IO[str] | None = None
        self._csv: Any = None
        self._spool: IO[bytes] | None = None
        self._spooled_attention = 0
        self._attention = 0
        self._limited = expected_rows is not None and expected_rows > self.xlsx_row_limit
        self._widths: list[int] = []

        try:
            self.report_dir.mkdir(parents=True, exist_ok=True)
            stamp = self.started_at.strftime("%Y%m%dT%H%M%SZ")
            stem = _file_stem(source_name)
            self._mode = report_file_mode(self.report_dir)
            self._paths = _claim_paths(self.report_dir, stem, stamp, self.formats, self._mode)
            if "csv" in self.formats:
                # The BOM lets Excel read Hebrew as UTF-8.  Written by hand: the
                # "utf-8-sig" codec runs Python code on every write, "utf-8" does not.
                # The placeholder was just made empty: opened without O_TRUNC, because
                # ext4 flushes a file truncated on open when it is closed (0.12 s for a
                # 1M-row report, for nothing).
                fd = os.open(self._paths["csv"], os.O_WRONLY | getattr(os, "O_BINARY", 0))
                self._csv_fh = os.fdopen(
                    fd, "w", encoding="utf-8", newline="", errors="replace"
                )
                self._csv_fh.write("\ufeff")
                self._csv = csv.writer(self._csv_fh, lineterminator="\r\n")
            if "xlsx" in self.formats:
                # Unlinked at once, next to the reports; lives until close().
                self._spool = tempfile.TemporaryFile(  # noqa: SIM115
                    dir=self.report_dir, prefix=".spool-"
                )
            if "json" in self.formats:
                _write_json(self._paths["json"], self._progress_summary(), self._mode)
        except OSError as exc:
            self._abandon()
            for path in self._paths.values():   # placeholders: no row was written yet
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            if StorageError.no_room(exc):
                raise _storage_error(self.report_dir, exc) from None
            raise ConfigError(
                f"cannot write reports to {self.report_dir}: {exc.strerror or exc}"
            ) from exc

    # ------------------------------------------------------------- public

    @property
    def paths(self) -> dict[str, Path]:
        """Format -> report path (the files exist from the start)."""
        return dict(self._paths)

    def write(self, row: RowResult) -> None:
        """Add one row (rows come in input order)."""
        if self._closed:
            raise ValueError("the report is already closed")
        self.write_waiting_lines()
        if self._header is None:
            if not self._field_keys and row.fields:
                self._set_fields(list(row.fields))
            try:
                self._start()
            except OSError as exc:
                raise _storage_error(self.report_dir, exc) from None
        status = str(row.status)
        error_code = row.error_code
        reason, code = self.reason_texts(row.reason) if row.reason else _NO_REASON
        texts = [
            row.source_file,
            row.sheet or "",
            str(row.row),
            row.phone_raw,
            row.phone,
            status,
            reason,
            code,
            "" if error_code is None else str(error_code),
            row.campaign,
            row.dial_after,
        ]
        texts.extend(map(row.fields.get, self._field_keys, self._blanks))
        try:
            line = self._csv_line(texts)
        except TypeError:  # a field that is not text (None, a number): its text form
            texts = [t if type(t) is str else ("" if t is None else str(t)) for t in texts]
            line = self._csv_line(texts)

        self.total += 1
        try:
            self.counts[status] += 1
        except KeyError:
            self.counts[status] = 1
        attention = status not in QUIET_STATUSES
        if attention:
            self._attention += 1

        try:
            if line is not None:
                self._write_csv_line(line, texts)

            if self._spool is not None:
                self._spool_row(texts, row.row, row.error_code, attention)
        except OSError as exc:
            raise _storage_error(self.report_dir, exc) from None

    def write_block(
        self,
        block: ReportBlock,
        *,
        lines_later: Callable[[list[pa.Array | str]], Callable[[], bytes]] | None = None,
    ) -> None:
        """Add a block of rows at once (the columnar engine): the bytes ``write`` would give.

        With ``lines_later`` (``report_lines`` started elsewhere, say on another thread,
        and answered by a function that waits for it), the block's CSV lines are written
        when the next block comes or at close: their order never changes.
        """
        from importer.report.block import block_texts, csv_lines, has_secret, redact_rows

        if self._closed:
            raise ValueError("the report is already closed")
        if self._header is None:
            if not self._field_keys and block.fields:
                self._set_fields(list(block.fields))
            try:
                self._start()
            except OSError as exc:
                raise _storage_error(self.report_dir, exc) from None
        n = len(block.rows)
        if n == 0:
            return
        texts = block_texts(block, self._field_keys)
        data = b""
        later: Callable[[], bytes] | None = None
        if self._csv_fh is not None and lines_later is not None and self._spool is None:
            # The workbook needs the redacted cells now; without one, the lines can wait.
            later = lines_later(texts)
        elif self._csv_fh is not None:
            data = csv_lines(texts)
            # Codes are rare in cells: one search of the block's bytes, then the slow way.
            if has_secret(data):
                texts = redact_rows(texts)
                data = csv_lines(texts)
        else:
            texts = redact_rows(texts)
        statuses = block.status.value_counts().to_pylist()
        attention = 0
        for item in statuses:
            status, count = str(item["values"]), int(item["counts"])
            self.counts[status] = self.counts.get(status, 0) + count
            if status not in QUIET_STATUSES:
                attention += count
        try:
            if later is not None:
                self.write_waiting_lines()
                self._waiting_lines.append(later)
            elif self._csv_fh is not None:
                self.write_waiting_lines()
                self._csv_fh.flush()
                self._csv_fh.buffer.write(data)  # type: ignore[attr-defined]
            if self._spool is not None:
                self._spool_block(block, texts)
            else:
                self.total += n
                self._attention += attention
        except OSError as exc:
            raise _storage_error(self.report_dir, exc) from None

    def write_waiting_lines(self) -> None:
        """Write the CSV lines of the blocks given with ``lines_later``, in order."""
        while self._waiting_lines:
            data = self._waiting_lines.popleft()()
            if self._csv_fh is None:  # abandoned after a failed write: nothing more goes out
                continue
            try:
                self._csv_fh.flush()
                self._csv_fh.buffer.write(data)  # type: ignore[attr-defined]
            except OSError as exc:
                raise _storage_error(self.report_dir, exc) from None

    def _spool_block(self, block: ReportBlock, texts: list[pa.Array | str]) -> None:
        columns = [
            [t] * len(block.rows) if isinstance(t, str) else t.to_pylist() for t in texts
        ]
        statuses = block.status.to_pylist()
        for i, row_texts in enumerate(zip(*columns, strict=True)):
            attention = statuses[i] not in QUIET_STATUSES
            self.total += 1
            if attention:
                self._attention += 1
            self._spool_row(list(row_texts), int(block.rows[i]), None, attention)

    def _spool_row(
        self, texts: list[str], row: int, error_code: int | None, attention: bool
    ) -> None:
        """Keep the row for the workbook, which is built at close."""
        assert self._spool is not None
        if self.total <= _WIDTH_SAMPLE_ROWS:
            widths = self._widths
            for i, t in enumerate(texts):
                widths[i] = max(widths[i], len(t))
        if self.total > self.xlsx_row_limit:
            self._limited = True
        if not self._limited or (attention and self._spooled_attention < self.xlsx_row_limit):
            # Row number and error code stay numbers in the workbook.
            record: list[Any] = texts
            record[_ROW_INDEX] = row
            record[_ERROR_CODE_INDEX] = error_code
            marshal.dump(record, self._spool)
            if attention:
                self._spooled_attention += 1

    def _csv_line(self, texts: list[str]) -> str | None:
        """The row's CSV cells joined by commas (None without a CSV report); redacts ``texts``.

        The joined line doubles as the redaction probe: every cell is a substring of
        it, so a code in any cell is found with one scan per registered code.
        """
        if self._csv is None:
            joined = "\x1f".join(texts)
            if redact(joined) is not joined:
                texts[:] = [redact(t) for t in texts]
            return None
        line = _escaped_line(texts)
        if redact(line) is not line:
            texts[:] = [redact(t) for t in texts]
            line = _escaped_line(texts)
        return line

    def _write_csv_line(self, line: str, texts: list[str]) -> None:
        # The csv module quotes a cell only when it holds a comma, a quote or a line
        # break; when no cell does, the comma-joined line is exactly what it would
        # write, and writing it directly is ~3x faster than writerow.
        if '"' in line or "\n" in line or "\r" in line or line.count(",") != len(texts) - 1:
            assert self._csv is not None
            self._csv.writerow([escape_cell(t) if t[:1] in _CSV_FIRST else t for t in texts])
        else:
            assert self._csv_fh is not None
            self._csv_fh.write(line + "\r\n")

    def close(self, summary: Summary | None = None) -> dict[str, Path]:
        """Finish every report; fill ``summary`` (counts, total, reports) and return the paths."""
        if self._closed:
            return dict(self._paths)
        self._closed = True
        summary = summary if summary is not None else self._default_summary()
        try:
            if self._header is None:
                self._start()
            if self._csv_fh is not None:
                self.write_waiting_lines()
                self._csv_fh.close()
            self._fill_summary(summary)
            if "xlsx" in self._paths:
                self._write_xlsx(summary)
            if "json" in self._paths:
                _write_json(self._paths["json"], summary, self._mode)
        except OSError as exc:
            raise _storage_error(self.report_dir, exc) from None
        finally:
            self._abandon()
        return dict(self._paths)

    def __enter__(self) -> Self:
        """Return the writer itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the reports; after an exception they keep every row written and say so."""
        if self._closed:
            return
        if exc is None:
            self.close()
            return
        summary = self._default_summary()
        summary.interrupted = True
        what = type(exc).__name__ + (f": {exc}" if str(exc) else "")
        summary.notes.append(
            f"The run was interrupted ({redact(what)}) after {self.total:,} rows: "
            "the reports list only the rows handled before that."
        )
        try:
            self.close(summary)
        except Exception as close_exc:
            # The original exception is what the caller reports; after a full disk, this
            # failing too is expected and adds nothing.  The rows written stay on disk.
            quiet = isinstance(exc, StorageError)
            log.log(logging.DEBUG if quiet else logging.WARNING,
                    "could not finish the interrupted reports in %s (%s)", self.report_dir,
                    close_exc)
            log.debug("why the interrupted reports could not be finished", exc_info=True)
        remove_unfinished(self._paths.values())

    # ------------------------------------------------------------- internals

    def _set_fields(self, names: Sequence[str]) -> None:
        keys: list[str] = []
        for name in names:
            if name not in keys:
                keys.append(name)
        self._field_keys = keys
        self._blanks = [""] * len(keys)

    def _start(self) -> None:
        """Fix the columns and write the CSV header."""
        header = list(BASE_COLUMNS)
        for key in self._field_keys:
            name = key if key not in header else f"{key} (field)"
            header.append(redact(name))
        self._header = header
        self._widths = [len(h) for h in header]
        if self._csv is not None:
            self._csv.writerow([escape_cell(h) for h in header])
        if self._rtl is None:
            self._rtl = looks_rtl([self.source_name, *self._field_keys])

    def _progress_summary(self) -> Summary:
        summary = self._default_summary()
        summary.notes.append("The run is in progress (or stopped before it could finish).")
        summary.counts = {}
        return summary

    def _default_summary(self) -> Summary:
        base = self._base_summary
        if base is None:
            return Summary(
                source_file=self.source_name,
                campaign="",
                mode="",
                dry_run=False,
                started_at=_iso(self.started_at),
            )
        return Summary(
            source_file=base.source_file,
            campaign=base.campaign,
            mode=base.mode,
            dry_run=base.dry_run,
            started_at=base.started_at or _iso(self.started_at),
            run_id=base.run_id,
            notes=list(base.notes),
            exit_code=base.exit_code,
        )

    def _fill_summary(self, summary: Summary) -> None:
        if not summary.counts:
            summary.counts = dict(self.counts)
        if not summary.total_rows:
            summary.total_rows = self.total
        if not summary.started_at:
            summary.started_at = _iso(self.started_at)
        if not summary.finished_at:
            summary.finished_at = _iso(datetime.now(UTC))
        # Files written beside the reports (a rejects file) keep their keys.
        extra = {k: v for k, v in summary.reports.items() if k not in REPORT_FORMATS}
        summary.reports = {fmt: str(path) for fmt, path in self._paths.items()} | extra
        if "xlsx" in self._paths and self._limited:
            summary.notes.append(self._english_limit_note())

    def _english_limit_note(self) -> str:
        """The limit note as the JSON summary keeps it (English, whatever the language)."""
        with use_language("en"):
            return self._limit_note()

    def _limit_note(self) -> str:
        """Why the Rows sheet lists only some rows, in the current language."""
        shown = min(self._attention, self.xlsx_row_limit)
        values = {"rows": f"{self.total:,}", "shown": f"{shown:,}",
                  "attention": f"{self._attention:,}"}
        if shown < self._attention:
            listed = _(
                "This file had {rows} rows; to keep the workbook usable, the Rows sheet lists "
                "only the first {shown} of the {attention} rows that were not added (added, "
                "updated, would_add, would_update and not_a_lead rows are left out).", **values)
        else:
            listed = _(
                "This file had {rows} rows; to keep the workbook usable, the Rows sheet lists "
                "only the {shown} rows that were not added (added, updated, would_add, "
                "would_update and not_a_lead rows are left out).", **values)
        if "csv" in self._paths:
            where = _("Every row is in the CSV report: {name}.", name=self._paths["csv"].name)
        else:
            where = _("Ask for the CSV report (--report-format csv) to get every row.")
        return f"{listed} {where}"

    def _spooled_records(self) -> Iterator[list[Any]]:
        spool = self._spool
        if spool is None:
            return
        spool.flush()
        spool.seek(0)
        limited = self._limited
        while True:
            try:
                # Only ever reads what write() dumped into our own unlinked file.
                record: list[Any] = marshal.load(spool)  # noqa: S302
            except EOFError:
                return
            if limited and record[_STATUS_INDEX] in QUIET_STATUSES:
                continue
            yield record

    def _write_xlsx(self, summary: Summary) -> None:
        from importer.report.xlsx import build_workbook

        header = self._header or list(BASE_COLUMNS)
        english_note = self._english_limit_note() if self._limited else None
        with use_language(self.language):
            limit_note = self._limit_note() if self._limited else None
            # The JSON's notes are English; the workbook shows the note in its language.
            notes = [n for n in summary.notes if n != english_note]
            shown = replace(summary, notes=notes)

            def write(fh: IO[bytes]) -> None:
                build_workbook(
                    fh,
                    summary=shown,
                    header=header,
                    widths=self._widths or [len(h) for h in header],
                    records=self._spooled_records(),
                    # Hebrew reads right to left; in English, Hebrew headers still turn it.
                    rtl=is_rtl(self.language) or bool(self._rtl),
                    limit_note=limit_note,
                    status_index=_STATUS_INDEX,
                    base_columns=len(BASE_COLUMNS),
                )

            _replace_atomically(self._paths["xlsx"], write, self._mode)

    def _abandon(self) -> None:
        """Release open handles (keeping whatever reached the disk)."""
        for fh in (self._csv_fh, self._spool):
            if fh is not None:
                try:
                    fh.close()
                except OSError:   # only after a failed write, which is reported already
                    log.debug("could not close a report file", exc_info=True)
        self._csv_fh = None
        self._csv = None
        self._spool = None
