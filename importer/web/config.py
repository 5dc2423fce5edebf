"""The web workspace's settings: where it keeps its data, its limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from importer.config import Settings
from importer.inbox.config import InboxConfig

__all__ = ["DEFAULT_MAX_UPLOAD_MB", "WebConfig"]

DEFAULT_MAX_UPLOAD_MB = 200


@dataclass(frozen=True, slots=True)
class WebConfig:
    """What ``lead-importer serve`` was given."""

    settings: Settings
    data_dir: Path                      # web.db, uploads/, reports/, jobs/, mappings/
    users_file: Path
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    max_files: int = 20
    keep_uploads_days: float = 7.0
    session_idle: timedelta = field(default_factory=lambda: timedelta(hours=12))
    lock_timeout: float = 30.0          # seconds a job waits for another import's campaign lock
    language: str | None = None         # the default page language (else the environment's)
    inbox: InboxConfig | None = None    # drop folders whose recent files the Upload page offers
