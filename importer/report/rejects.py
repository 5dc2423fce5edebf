"""The rejects file: the rows an import could not add for a reason people can fix.

``<stem>.<UTC ts>.rejects.csv`` (and ``.rejects.xlsx`` with xlsx reports) sits next to
the run's reports and holds the source file's own columns, as read and in their
order, with each rejected row's cells as read, then three columns of ours: ``reason``
(in the run's language), ``reason_code`` (stable, README "Reason codes") and
``source_row`` (the row number the user sees in the source).  People fix the
phones in Excel and import the file again with the same mapping; the binder never
lets those columns reach the dialer (``importer.headers.rejects_columns``).

The CSV follows the report's rules: UTF-8 with a BOM, written with the csv module,
formula-like cells escaped by ``escape_cell``; the workbook keeps every cell as text.
Nothing is created until the first rejected row, so a clean import leaves no file.
Any engine that knows a row's cells when its status is final may write here.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from importer.errors import StorageError
from importer.headers import REJECTS_COLUMNS
from importer.i18n import Lang
from importer.redact import redact, registered_secrets
from importer.report.writer import (
    _CSV_FIRST,
    ReasonTexts,
    escape_cell,
    is_formula_like,
    report_file_mode,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["REJECTS_SUFFIXES", "RejectsWriter", "rejects_base", "rejects_base_of"]

#: Format -> file suffix; the key under which the summary's ``reports`` names each file.
REJECTS_SUFFIXES = {"rejects": ".rejects.csv", "rejects_xlsx": ".rejects.xlsx"}
_BINARY = getattr(os, "O_BINARY", 0)
_REPORT_SUFFIXES = (".report.csv", ".report.xlsx", ".summary.json")


# "<stem>.<UTC ts>[-n].rejects" and whatever Excel or a drop folder added after it
# ("Save as" .xlsx, a drop folder's ".<ts>" when the name was taken).
_REJECTS_NAME = re.compile(r"^(?P<base>.+\.\d{8}T\d{6}Z(?:-\d+)?)\.rejects(?:\.|$)")


def rejects_base_of(file_name: str) -> str | None:
    """"<stem>.<UTC ts>" when a file name is one of our rejects files' (even re-saved)."""
    found = _REJECTS_NAME.match(file_name)
    return found.group("base") if found else None


def rejects_base(report_paths: dict[str, Path]) -> str:
    """"<stem>.<UTC ts>" of a run's reports (their file name without the report suffix)."""
    for path in report_paths.values():
        name = Path(path).name
        for suffix in _REPORT_SUFFIXES:
            if name.endswith(suffix):
                return name[: -len(suffix)]
    raise ValueError("no report path to name the rejects file after")


class RejectsWriter:
    """Streams rejected rows (source cells + reason + reason_code + source_row) to CSV, and
    XLSX if asked."""

    def __init__(
        self,
        report_dir: Path,
        base: str,
        columns: Sequence[str],
        formats: frozenset[str] | set[str] = frozenset({"csv"}),
        *,
        language: Lang = "en",
        reason_texts: ReasonTexts | None = None,
    ) -> None:
        """``base`` is the reports' "<stem>.<UTC ts>"; ``formats`` and ``language`` as the
        report's (``reason_texts``: the report's, to render each reason once per run)."""
        self.language: Lang = language
        self.reason_texts = reason_texts or ReasonTexts(language)
        self.report_dir = Path(report_dir)
        self.base = base
        self.columns = list(columns)
        self.want_xlsx = "xlsx" in formats
        self.rows = 0
        self._csv_fh: IO[str] | None = None
        self._csv: Any = None
        self._book: Any = None
        self._sheet: Any = None
        self._paths: dict[str, Path] = {}
        self._mode = 0o644

    @property
    def paths(self) -> dict[str, Path]:
        """Key ("rejects", "rejects_xlsx") -> path of the files written so far."""
        return dict(self._paths)

    def write(self, cells: Sequence[str], reason: str, source_row: int) -> None:
        """Add one rejected row: its cells as read (aligned with ``columns``) and why."""
        self._write_row(cells, *self.reason_texts(reason), source_row)

    def _write_row(self, cells: Sequence[str], shown: str, code: str, source_row: int) -> None:
        width = len(self.columns)
        row = [*cells[:width], *([""] * (width - len(cells))), shown, code, str(source_row)]
        # A code that slipped into a cell is masked here as in the report.
        row = [redact(cell) for cell in row]
        try:
            if self._csv is None:
                self._open()
            self._csv.writerow([escape_cell(cell) for cell in row])
            if self._sheet is not None:
                self._sheet.append([self._xlsx_cell(cell) for cell in row])
        except OSError as exc:
            raise self._storage_error(exc) from None
        self.rows += 1

    def write_rows(self, rows: Iterable[tuple[Sequence[str], str, str, int]]) -> None:
        """``write`` for many rows (cells, reason as shown, reason_code, source_row), the
        reasons rendered already: the same lines, fewer steps."""
        if self.want_xlsx:
            for cells, shown, code, source_row in rows:
                self._write_row(cells, shown, code, source_row)
            return
        width = len(self.columns)
        secrets = registered_secrets()
        lines = []
        for cells, shown, code, source_row in rows:
            row = [*cells[:width], *([""] * (width - len(cells))), shown, code, str(source_row)]
            if secrets:
                joined = "\x1f".join(row)
                if any(secret in joined for secret in secrets):
                    row = [redact(cell) for cell in row]
            lines.append([escape_cell(c) if c[:1] in _CSV_FIRST else c for c in row])
        if not lines:
            return
        try:
            if self._csv is None:
                self._open()
            self._csv.writerows(lines)
        except OSError as exc:
            raise self._storage_error(exc) from None
        self.rows += len(lines)

    def write_columns(self, columns: Sequence[pa.Array | str], reasons: pa.Array,
                      codes: pa.Array, source_rows: pa.Array) -> None:
        """``write_rows`` for rows held as columns (the columnar engine): one text per
        rejects column ("" for a column the sheet lacks), the reasons as shown, their codes
        and the row numbers as text; the same bytes."""
        from importer.report.block import report_lines

        if self.want_xlsx or len(columns) != len(self.columns):
            cells = zip(*([c] * len(reasons) if isinstance(c, str) else c.to_pylist()
                          for c in columns), strict=True)
            self.write_rows(zip(cells, reasons.to_pylist(), codes.to_pylist(),
                                (int(r) for r in source_rows.to_pylist()), strict=True))
            return
        if not len(reasons):
            return
        texts = [*columns, reasons, codes, source_rows]
        data = report_lines(texts)
        try:
            if self._csv is None:
                self._open()
            assert self._csv_fh is not None
            self._csv_fh.flush()
            self._csv_fh.buffer.write(data)  # type: ignore[attr-defined]
        except OSError as exc:
            raise self._storage_error(exc) from None
        self.rows += len(reasons)

    def close(self) -> dict[str, Path] | None:
        """Finish the files; None (and no file) when no row was rejected."""
        if self._csv_fh is None:
            return None
        try:
            self._csv_fh.close()
            if self._book is not None:
                target = self.report_dir / (self.base + REJECTS_SUFFIXES["rejects_xlsx"])
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, self._mode)
                with os.fdopen(fd, "wb") as fh:
                    self._book.save(fh)
                self._paths["rejects_xlsx"] = target
        except OSError as exc:
            raise self._storage_error(exc) from None
        finally:
            self._csv_fh = None
            self._book = self._sheet = None
        return dict(self._paths)

    def _open(self) -> None:
        self.report_dir.mkdir(parents=True, exist_ok=True)
        # The reports' permissions: whoever may open the folder may open the file.
        self._mode = report_file_mode(self.report_dir)
        target = self.report_dir / (self.base + REJECTS_SUFFIXES["rejects"])
        # The reports' name was claimed exclusively, so this one is ours as well.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self._mode)
        self._csv_fh = os.fdopen(fd, "w", encoding="utf-8", newline="", errors="replace")
        self._paths["rejects"] = target
        self._csv_fh.write("\ufeff")   # Excel reads Hebrew as UTF-8 with it
        self._csv = csv.writer(self._csv_fh, lineterminator="\r\n")
        header = [*self.columns, *REJECTS_COLUMNS]
        self._csv.writerow([escape_cell(redact(h)) for h in header])
        if self.want_xlsx:
            from openpyxl import Workbook

            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet("Rejects")
            self._sheet.append([self._xlsx_cell(redact(h)) for h in header])

    def _xlsx_cell(self, value: str) -> Any:
        """A text cell, never a formula; formula-like text keeps Excel's quote prefix."""
        from openpyxl.cell import WriteOnlyCell

        from importer.report.xlsx import xlsx_text

        cell = WriteOnlyCell(self._sheet, xlsx_text(value) if value else None)
        if value:
            cell.data_type = "s"
            if is_formula_like(value):
                cast(Any, cell).quotePrefix = True
        return cell

    def _storage_error(self, exc: OSError) -> StorageError:
        full = "the disk is full: " if StorageError.no_room(exc) else ""
        return StorageError(
            f"{full}cannot write the rejects file in {self.report_dir} ({exc.strerror or exc})",
            folder=self.report_dir,
        )

    def abandon(self) -> None:
        """Close what is open after a failure, keeping what reached the disk."""
        with contextlib.suppress(OSError):
            if self._csv_fh is not None:
                self._csv_fh.close()
        self._csv_fh = None
        self._book = self._sheet = None
