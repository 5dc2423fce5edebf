"""The drop folders' recent files, offered on the Upload page (``serve --inbox FILE``).

Files are listed from each inbox's ``inbox/``, ``failed/`` and ``done/`` folders with the
drop folder's own rules (no lock files, partial downloads, hidden files or links), newest
first.  A file is chosen by an opaque id that is looked up in a fresh listing: nothing a
browser sends becomes a path.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from importer.inbox.config import InboxConfig
from importer.inbox.runner import ignore_reason

__all__ = ["FOLDERS", "InboxFile", "find_file", "recent_files"]

#: The folders a file can be picked from: waiting, could not be imported, imported.
FOLDERS = ("inbox", "failed", "done")
_NOTE_SUFFIX = ".error.txt"


@dataclass(frozen=True, slots=True)
class InboxFile:
    """A file in a drop folder."""

    file_id: str
    inbox: str
    folder: str
    name: str
    size: int
    modified: float
    path: Path


def _listing(config: InboxConfig) -> list[InboxFile]:
    found = []
    for index, inbox in enumerate(config.inboxes):
        for folder in FOLDERS:
            try:
                entries = list(os.scandir(inbox.folder(folder)))
            except OSError:
                continue
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if ignore_reason(entry.name, st) or entry.name.endswith(_NOTE_SUFFIX):
                    continue
                key = f"{index}\0{folder}\0{entry.name}".encode("utf-8", "surrogateescape")
                found.append(InboxFile(
                    hashlib.sha256(key).hexdigest()[:32], inbox.name, folder, entry.name,
                    st.st_size, st.st_mtime, Path(entry.path),
                ))
    return sorted(found, key=lambda f: f.modified, reverse=True)


def recent_files(config: InboxConfig | None, limit: int = 30) -> list[InboxFile]:
    """The newest files of every inbox (none without ``--inbox``)."""
    return _listing(config)[:limit] if config is not None else []


def find_file(config: InboxConfig | None, file_id: str) -> InboxFile | None:
    """The file with this id in a fresh listing, or None."""
    if config is None:
        return None
    return next((f for f in _listing(config) if f.file_id == file_id), None)
