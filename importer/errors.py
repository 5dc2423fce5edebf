"""The one exception hierarchy of lead-importer.

Only what stops a run is raised; problems with single rows are report data
(see ``importer.report``), never exceptions.  Every class carries the CLI exit
code it maps to, so the CLI turns any of them into a one-paragraph message
without a traceback.  Messages never contain account or campaign codes: build
them with ``importer.redact.mask`` or let the client redact them.

::

    ImporterError                       exit 2 unless stated
    ├── ConfigError                     bad flags, environment or config file
    │   ├── ConfigFileError             bad settings file or inbox.yaml (``problems`` lists all)
    │   │   └── MappingError            bad mapping file
    │   └── CampaignNotFoundError       no campaign with that name or code
    ├── SourceError                     a file cannot be read (file, row, column)
    │   ├── UnsupportedFormatError      not a format we read (or binary named .csv)
    │   ├── EncodingDetectionError      bytes cannot be decoded confidently
    │   ├── EncryptedFileError          password-protected workbook
    │   ├── UnsafeFileError             decompression bomb, too big, XML entities
    │   └── EmptySourceError            empty file, or a header and no data
    ├── DialerError                     exit 3: the Dialer API could not be used
    │   ├── TransportError              no usable answer (connection, timeout, ...)
    │   │   ├── DialerConnectionError   could not connect; nothing was sent
    │   │   ├── DialerTimeoutError      no answer in time (reads only)
    │   │   ├── HTTPStatusError         HTTP error status (``status``)
    │   │   │   ├── RateLimitedError    HTTP 429 (``retry_after`` seconds)
    │   │   │   └── AuthorizationError  HTTP 401/403 (IP not whitelisted, ...)
    │   │   └── BadResponseError        body is not the JSON envelope we expect
    │   ├── AmbiguousWriteError         a write was sent and no answer came back:
    │   │                               it may or may not have been applied
    │   ├── ApiError                    the envelope's ErrorCode is not 0
    │   │   └── InvalidCampaignError    the campaign code was refused
    │   └── CampaignDisabledError       campaign disabled (run without --allow-disabled)
    ├── JournalError                    the run journal is corrupt or from a newer version
    ├── LockError                       exit 3: another importer holds the lock
    ├── RunInterruptedError             exit 3: stopped by a signal; state recorded, re-run resumes
    └── StorageError                    exit 3: a report or the journal could not be written
                                        (disk full, file too large, I/O error); re-run resumes
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = [
    "AmbiguousWriteError",
    "ApiError",
    "AuthorizationError",
    "BadResponseError",
    "CampaignDisabledError",
    "CampaignNotFoundError",
    "ConfigError",
    "ConfigFileError",
    "DialerConnectionError",
    "DialerError",
    "DialerTimeoutError",
    "EmptySourceError",
    "EncodingDetectionError",
    "EncryptedFileError",
    "HTTPStatusError",
    "ImporterError",
    "InvalidCampaignError",
    "JournalError",
    "LockError",
    "MappingError",
    "RateLimitedError",
    "RunInterruptedError",
    "SourceError",
    "StorageError",
    "TransportError",
    "UnsafeFileError",
    "UnsupportedFormatError",
]

EXIT_OK = 0
EXIT_ROWS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_API_UNUSABLE = 3


class ImporterError(Exception):
    """Base of every error lead-importer raises on purpose."""

    exit_code: int = EXIT_BAD_INPUT


class ConfigError(ImporterError):
    """Bad flags, environment variables or configuration file."""


class ConfigFileError(ConfigError):
    """A file people write (settings, inbox.yaml, a mapping) is invalid; ``problems`` lists all.

    ``what`` names the kind of file in the message ("the inbox configuration has 2 problem(s)").
    """

    what = "configuration file"

    def __init__(self, source: str, problems: list[str], *, what: str | None = None) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{source}: the {what or self.what} has {len(self.problems)} problem(s):\n{lines}"
        )


class MappingError(ConfigFileError):
    """A mapping file is invalid; ``problems`` holds every problem found."""

    what = "mapping"

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(source, problems)


class CampaignNotFoundError(ConfigError):
    """No campaign of the account has that name or code."""


class SourceError(ImporterError):
    """A source file cannot be read; names the file and, when known, row and column."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        sheet: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.sheet = sheet
        where = [file]
        if sheet:
            where.append(f"sheet {sheet!r}")
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column {column!r}")
        self.message = message
        super().__init__(f"{', '.join(where)}: {message}")


class UnsupportedFormatError(SourceError):
    """The file is not in a format we read (or its content contradicts its name)."""


class EncodingDetectionError(SourceError):
    """The bytes cannot be decoded confidently; the message names the candidates."""


class EncryptedFileError(SourceError):
    """The workbook is password-protected."""


class UnsafeFileError(SourceError):
    """The file exceeds a safety limit (size, compression ratio, XML entities)."""


class EmptySourceError(SourceError):
    """The file (or chosen sheet) holds no header, or a header and no data rows.

    ``header`` holds the header row's cells when there was one: a one-line file
    may be data without a header (a do-not-call list of a single number).
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        sheet: str | None = None,
        header: tuple[str, ...] = (),
    ) -> None:
        self.header = header
        super().__init__(file, message, row=row, column=column, sheet=sheet)


class DialerError(ImporterError):
    """The Dialer API could not be used."""

    exit_code = EXIT_API_UNUSABLE

    def __init__(self, message: str, *, method: str | None = None) -> None:
        self.method = method
        super().__init__(f"{method}: {message}" if method else message)


class TransportError(DialerError):
    """No usable answer came back (connection, timeout, HTTP status, bad body)."""


class DialerConnectionError(TransportError):
    """Could not connect to the API; the request was not sent."""


class DialerTimeoutError(TransportError):
    """The API did not answer in time."""


class HTTPStatusError(TransportError):
    """The API answered with an HTTP error status."""

    def __init__(self, message: str, *, method: str | None = None, status: int) -> None:
        self.status = status
        super().__init__(message, method=method)


class RateLimitedError(HTTPStatusError):
    """HTTP 429; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self, message: str, *, method: str | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, method=method, status=429)


class AuthorizationError(HTTPStatusError):
    """HTTP 401/403: credentials or the caller's IP address were refused."""


class BadResponseError(TransportError):
    """The body is not valid JSON or lacks the ErrorCode/Description envelope."""


class AmbiguousWriteError(DialerError):
    """A write was sent but no answer came back: it may have been applied."""


class ApiError(DialerError):
    """The API answered with a non-zero ErrorCode."""

    def __init__(self, method: str, code: int, description: str) -> None:
        self.code = code
        self.description = description
        super().__init__(f"API error {code}: {description}", method=method)


class InvalidCampaignError(ApiError):
    """The API refused the campaign code."""


class CampaignDisabledError(DialerError):
    """The campaign is disabled and the run was not allowed to proceed."""


class JournalError(ImporterError):
    """The run journal cannot be used (corrupt, or written by a newer version)."""


class LockError(ImporterError):
    """Another importer holds the lock on the state directory or inbox."""

    exit_code = EXIT_API_UNUSABLE


class RunInterruptedError(ImporterError):
    """The run was stopped (SIGTERM / Ctrl-C) after recording its state; a re-run resumes."""

    exit_code = EXIT_API_UNUSABLE


# errno values that mean "no room": a full disk, a full quota, a file-size limit.
_NO_ROOM = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if code
)


class StorageError(ImporterError):
    """A report or the run journal could not be written: disk full, file too large, I/O error.

    Nothing is lost: what was sent is in the journal (or is checked against the
    campaign by the re-run), so freeing space and running the same command
    again finishes the job.  ``folder`` is where space is needed; ``pushed``
    counts the calls this run had added when it stopped (None: not known yet).
    """

    exit_code = EXIT_API_UNUSABLE

    def __init__(
        self, message: str, *, folder: Path | None = None, pushed: int | None = None
    ) -> None:
        self.folder = folder
        self.pushed = pushed
        super().__init__(message)

    @staticmethod
    def no_room(exc: OSError) -> bool:
        """Whether an OSError means the disk (or quota, or file-size limit) is full."""
        return exc.errno in _NO_ROOM
