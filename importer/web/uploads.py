"""Uploaded files: kept under random names in a private folder, read by the library.

A file's name in the browser is shown, never used as a path: each upload gets
a random folder (``uploads/<id>/``, mode 0700) and each file a random name
with an extension from a fixed list.  What the reader saw (format, encoding,
sheet, header row, columns, row count, warnings, a few sample values) is read
with ``importer.sources`` as ``inspect`` reads it, the mapping is suggested
by ``mapping suggest`` and checked by binding it as ``import`` does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from importer.errors import ImporterError, MappingError
from importer.i18n import _
from importer.mapping import parse_mapping, suggest_mapping
from importer.mapping.binder import bind
from importer.mapping.schema import read_yaml
from importer.sources import SourceOptions, open_source, open_sources, require_phone_sheet
from importer.web.columns import Choice, apply_choices, dump_mapping, roles
from importer.web.problems import HttpProblem, error_texts, status_of
from importer.web.store import UploadFile, UploadRecord, WebStore

__all__ = ["MappingDraft", "UploadStore", "private_dir"]

log = logging.getLogger(__name__)

SAMPLES = 3
_EXTENSIONS = {"csv", "tsv", "txt", "xlsx", "xlsm", "xlsb", "xls", "ods", "html", "htm", "xml"}


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the server's user only."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _extension(name: str) -> str:
    """The file's extension when it is one we read (the reader goes by content anyway)."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return f".{ext}" if ext in _EXTENSIONS else ""


def _sheet_option(sheet: str | None, name: str | None = None) -> SourceOptions:
    """Reading options for an uploaded file: the chosen sheet, and the browser's name for it
    (what the library's notes and errors then call the file)."""
    return SourceOptions(sheet=sheet or None, name=name)


def _display(
    text: str, upload: UploadRecord | None = None, files: Sequence[UploadFile] = ()
) -> str:
    """A library message with our stored paths replaced by the browser's names (the library
    names a file by the name it is given; a few messages quote a whole path)."""
    for f in [*(upload.files if upload else []), *files]:
        text = text.replace(str(f.stored), f.name)
    return text


@dataclass(slots=True)
class MappingDraft:
    """An upload's mapping: its text, its problems, and each column's role with samples."""

    yaml: str
    problems: list[str]
    columns: list[dict[str, Any]]


class UploadStore:
    """Uploads in ``<data_dir>/uploads``, recorded in the web store."""

    def __init__(self, root: Path, store: WebStore, keep_days: float) -> None:
        """``keep_days``: uploads older than this are removed by ``remove_old``."""
        self.root = private_dir(root)
        self.store = store
        self.keep_days = keep_days

    def new_folder(self) -> tuple[str, Path]:
        """A fresh random upload id and its private folder."""
        upload_id = secrets.token_hex(16)
        return upload_id, private_dir(self.root / upload_id)

    @staticmethod
    def stored_path(folder: Path, browser_name: str) -> Path:
        """Where a file is kept: a random name; only a known extension comes from the browser."""
        return folder / (secrets.token_hex(8) + _extension(browser_name))

    def add(self, upload_id: str, user: str, files: list[tuple[str, Path]]) -> UploadRecord:
        """Read every saved file (SourceError for a bad one) and record the upload."""
        entries = []
        try:
            for idx, (name, stored) in enumerate(files):
                entry = UploadFile(idx, name, stored, stored.stat().st_size, {})
                try:
                    info = inspect(stored, None, name)
                except ImporterError as exc:
                    raise _problem(exc, partial(_display, files=[entry])) from None
                entries.append(UploadFile(idx, name, stored, entry.size, {**info, "name": name}))
        except BaseException:
            self.discard(upload_id)
            raise
        self.store.add_upload(upload_id, user, entries)
        record = self.store.upload(upload_id)
        assert record is not None
        return record

    def discard(self, upload_id: str) -> None:
        """Remove an upload's folder (a failed upload, or an old one)."""
        folder = self.root / upload_id
        if folder.parent == self.root and folder.name == upload_id:
            shutil.rmtree(folder, ignore_errors=True)

    def choose_sheet(self, upload: UploadRecord, sheet: str | None) -> UploadRecord:
        """Read the files again from another sheet (the mapping is suggested again)."""
        infos = []
        for f in upload.files:
            try:
                infos.append({**inspect(f.stored, sheet, f.name), "name": f.name})
            except ImporterError as exc:
                raise _problem(exc, lambda t: _display(t, upload)) from None
        self.store.set_upload_sheet(upload.upload_id, sheet, infos)
        record = self.store.upload(upload.upload_id)
        assert record is not None
        return record

    # ------------------------------------------------------------------ mapping

    def draft(self, upload: UploadRecord) -> MappingDraft:
        """The upload's mapping (the user's, else suggested), its problems and column roles."""
        text = upload.mapping_yaml
        if text is None:
            try:
                first = upload.files[0]
                text = suggest_mapping(first.stored, _sheet_option(upload.sheet, first.name))
            except ImporterError as exc:
                return MappingDraft("", _problems_of(exc, upload), self._columns(upload, {}))
        return self._draft(upload, text)

    def _draft(self, upload: UploadRecord, text: str) -> MappingDraft:
        problems = mapping_problems(text, upload)
        try:
            data = read_yaml(text, "mapping")
        except MappingError:
            data = None
        columns = self._columns(upload, data if isinstance(data, dict) else {})
        return MappingDraft(text, problems, columns)

    def save_yaml(self, upload: UploadRecord, text: str) -> MappingDraft:
        """Keep the user's mapping text for this upload; its problems (none when it binds)."""
        self.store.set_upload_mapping(upload.upload_id, text)
        return self._draft(upload, text)

    def save_choices(self, upload: UploadRecord, choices: list[Choice]) -> MappingDraft:
        """Apply the Columns page's choices to the current mapping and keep the result."""
        draft = self.draft(upload)
        try:
            data = read_yaml(draft.yaml, "mapping") if draft.yaml else None
        except MappingError as exc:
            return MappingDraft(draft.yaml, exc.problems, draft.columns)
        base: dict[str, Any] = data if isinstance(data, dict) else {"name": _("Web mapping")}
        columns = upload.files[0].info.get("columns", [])
        changed, problems = apply_choices(base, columns, choices)
        text = dump_mapping(changed)
        result = self.save_yaml(upload, text)
        result.problems = problems + result.problems
        return result

    @staticmethod
    def _columns(upload: UploadRecord, data: dict[str, Any]) -> list[dict[str, Any]]:
        info = upload.files[0].info
        columns = list(info.get("columns", []))
        samples = info.get("samples", {})
        return [
            {"column": c.column, "role": c.role, "key": c.key, "samples": samples.get(c.column, [])}
            for c in roles(data, columns)
        ]

    # ------------------------------------------------------------------ housekeeping

    def remove_old(self, busy: set[str]) -> int:
        """Remove uploads older than ``keep_days`` (not those a job is using)."""
        before = datetime.now(UTC) - timedelta(days=self.keep_days)
        stamp = before.isoformat(timespec="seconds").replace("+00:00", "Z")
        removed = 0
        for upload_id in self.store.old_uploads(stamp):
            if upload_id in busy:
                continue
            self.discard(upload_id)
            self.store.drop_upload(upload_id)
            removed += 1
        # Folders no upload record names (a server stopped while receiving a file).
        for folder in self.root.iterdir():
            with contextlib.suppress(OSError):
                old = folder.stat().st_mtime < before.timestamp()
                if old and self.store.upload(folder.name) is None:
                    shutil.rmtree(folder, ignore_errors=True)
        return removed


def inspect(path: Path, sheet: str | None, name: str | None = None) -> dict[str, Any]:
    """What the reader sees in a file, as ``lead-importer inspect --json`` shows it; ``name``:
    what to call the file (the browser's name)."""
    with open_source(path, _sheet_option(sheet, name)) as source:
        info = source.info
        samples: dict[str, list[str]] = {c: [] for c in info.columns}
        count = 0
        for row in source.rows():
            count += 1
            if count <= SAMPLES:
                for column, cell in zip(info.columns, row.cells, strict=False):
                    if cell.strip():
                        samples[column].append(cell[:80])
    return {
        "format": info.format,
        "encoding": info.encoding,
        "sheet": info.sheet,
        "sheets": [s.name for s in info.sheets if not s.hidden],
        "header_row": info.header_row,
        "columns": list(info.columns),
        "row_count": count,
        "warnings": list(info.warnings),
        "samples": samples,
    }


def _problem(exc: ImporterError, rename: Callable[[str], str]) -> HttpProblem:
    """A bad file as the API answers it (422): the library's words, the browser's names."""
    return HttpProblem(status_of(exc), *error_texts(exc, rename))


def _problems_of(exc: ImporterError, upload: UploadRecord) -> list[str]:
    problems = exc.problems if isinstance(exc, MappingError) else [exc.shown()]
    return [_display(p, upload) for p in problems]


def mapping_problems(text: str, upload: UploadRecord) -> list[str]:
    """Why a mapping cannot import these files ([] when it binds to every file's columns)."""
    try:
        mapping = parse_mapping(text, "mapping")
    except MappingError as exc:
        return list(exc.problems)
    problems: list[str] = []
    if mapping.dedupe.suppression:
        problems.append(_(
            "dedupe.suppression names files on the server: ask whoever runs the server to add "
            "the list to its config file (suppression:)."
        ))
    for f in upload.files:
        try:
            for source in open_sources(f.stored, replace(mapping.source_options(), name=f.name)):
                with source:
                    require_phone_sheet(source.info)
                    bind(mapping, source.info)
        except MappingError as exc:
            problems += [_display(p, upload) for p in exc.problems]
        except ImporterError as exc:
            problems.append(_display(exc.shown(), upload))
    return problems


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to a new owner-only file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
