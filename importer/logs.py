"""Logging set-up for scheduled runs: plain text on a terminal, JSON lines for log collectors.

Every handler gets the redacting filter, so account and campaign codes never
reach a log file whatever a message contains.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from importer.errors import ConfigError
from importer.plain_text import escape_controls
from importer.redact import install_log_redaction, redact

__all__ = ["JsonFormatter", "TextFormatter", "configure_logging"]

LogFormat = Literal["text", "json"]

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"
# attributes every LogRecord has; anything else was passed with ``extra=`` and is kept
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO-8601), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a single JSON line."""
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                # extras skip the message's redaction, so they get their own
                data[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def _escaped(arg: object) -> object:
    if isinstance(arg, str):
        return escape_controls(arg)
    if isinstance(arg, os.PathLike):
        return escape_controls(str(os.fspath(arg)))
    return arg


class TextFormatter(logging.Formatter):
    """Plain text lines; text arguments (file names, headers) cannot start a line of their own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        """Escape line breaks and bidi controls in the record's text arguments."""
        args = record.args
        # A lone mapping argument (``%(name)s`` style) is left as it is.
        if isinstance(args, tuple) and any(isinstance(a, str | os.PathLike) for a in args):
            record = logging.makeLogRecord(record.__dict__)
            record.args = tuple(_escaped(a) for a in args)
            record.message = record.getMessage()
        return super().formatMessage(record)


def configure_logging(
    *,
    level: int = logging.INFO,
    log_format: LogFormat = "text",
    log_file: Path | None = None,
    stderr_level: int | None = None,
) -> None:
    """Send the root logger's records to stderr, and to ``log_file`` (appended) if given.

    With a log file, stderr gets only warnings and errors by default, so cron
    mails someone only when something needs attention.
    """
    text = TextFormatter(_TEXT_FORMAT)
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else text
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    if stderr_level is None:
        stderr_level = logging.WARNING if log_file is not None else level
    console.setLevel(max(stderr_level, level))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
            file_handler.setLevel(level)
            handlers.append(file_handler)
        except OSError as exc:
            raise ConfigError(f"{log_file}: cannot write the log file ({exc.strerror})") from None
    for handler in handlers:
        # With a log file the JSON goes there; the terminal (or cron's mail) stays readable.
        handler.setFormatter(text if handler is console and log_file is not None else formatter)
        root.addHandler(handler)
    root.setLevel(level)
    install_log_redaction(root)
