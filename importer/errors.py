"""The one exception hierarchy of lead-importer.

Only what stops a run is raised; problems with single rows are report data
(see ``importer.report``), never exceptions.  Every class carries the CLI exit
code it maps to, so the CLI turns any of them into a one-paragraph message
without a traceback.  Messages never contain account or campaign codes: build
them with ``importer.redact.mask`` or let the client redact them.

Each error also carries a ``hint``: how to fix it, in plain words for whoever
ran the importer.  The class gives the usual one; where it depends on what was
being done (an automatic mapping or a named one), the code that raises the
error sets it.  The CLI prints it after the message, and a drop folder's
``.error.txt`` note has it under "How to fix it".

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
from typing import ClassVar, Self

from importer.i18n import N_, _

__all__ = [
    "EXIT_API_UNUSABLE",
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_ROWS_FAILED",
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

#: Exit codes of every command (README "Statuses and exit codes").
EXIT_OK = 0              # every row is accounted for
EXIT_ROWS_FAILED = 1     # some rows were rejected or failed (a re-run retries them)
EXIT_BAD_INPUT = 2       # bad input or configuration: nothing was pushed
EXIT_API_UNUSABLE = 3    # the API, a lock, a signal or a full disk stopped the run; resumable
EXIT_INTERNAL = 70       # a bug (EX_SOFTWARE of sysexits.h): never a traceback, though


class ImporterError(Exception):
    """Base of every error lead-importer raises on purpose."""

    exit_code: int = EXIT_BAD_INPUT
    #: How to fix it, when the message does not say it all; "" for nothing to add.
    default_hint: ClassVar[str] = ""
    _hint: str | None = None
    _message_id: str | None = None
    _values: dict[str, object] | None = None

    def __init__(self, *args: object, **values: object) -> None:
        # ``Error(N_("{path}: no such file"), path=p)``: the message is a catalogue entry
        # with values, so the CLI and the drop folders can show it translated (shown()).
        if values and len(args) == 1 and isinstance(args[0], str):
            self._message_id, self._values = args[0], values
            args = (args[0].format_map(values),)
        super().__init__(*args)

    def shown(self) -> str:
        """The message in the current language (English when the catalogue has none)."""
        if self._message_id is not None:
            return _(self._message_id, **(self._values or {}))
        return _(str(self))

    def shown_hint(self) -> str:
        """The hint in the current language ("" for none)."""
        return _(self.hint) if self.hint else ""

    @property
    def hint(self) -> str:
        """How to fix it, in plain words: set where the error was raised, else the class's."""
        return self.default_hint if self._hint is None else self._hint

    @hint.setter
    def hint(self, value: str) -> None:
        self._hint = value

    def with_hint(self, hint: str) -> Self:
        """This error, with ``hint`` instead of its class's: ``raise Error(...).with_hint(...)``."""
        self._hint = hint
        return self


class ConfigError(ImporterError):
    """Bad flags, environment variables or configuration file."""

    default_hint = N_(
        "This is a set-up problem, not a problem with the file's rows: check the command's "
        "options (or inbox.yaml for a drop folder), the mapping and the VOICENTER_* settings."
    )


class ConfigFileError(ConfigError):
    """A file people write (settings, inbox.yaml, a mapping) is invalid; ``problems`` lists all.

    ``what`` names the kind of file in the message ("the inbox configuration has 2 problem(s)").
    """

    what = N_("configuration file")
    default_hint = N_("Correct the lines listed in that file, then run the command again.")

    def __init__(self, source: str, problems: list[str], *, what: str | None = None) -> None:
        self.source = source
        self.problems = list(problems)
        self._what = what or self.what
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{source}: the {self._what} has {len(self.problems)} problem(s):\n{lines}"
        )

    def shown(self) -> str:
        """The message in the current language (the problems as they were found)."""
        lines = "\n".join(f"  - {_shown(p)}" for p in self.problems)
        head = _("{source}: the {what} has {count} problem(s):", source=_shown(self.source),
                 what=_(self._what), count=len(self.problems))
        return f"{head}\n{lines}"


def _shown(text: str) -> str:
    """A text in the current language: a note that knows its catalogue entry shows itself."""
    shown = getattr(text, "shown", None)   # importer.outcomes.Note (a layer above this one)
    return shown() if callable(shown) else _(text)


class MappingError(ConfigFileError):
    """A mapping is invalid, or does not fit the file; ``problems`` holds every problem found.

    The class's hint is for a mapping file that is wrong in itself; ``COLUMNS_HINT``
    is for a file that does not fit the mapping it was given, ``AUTOMATIC_HINT`` for
    a file no mapping could be made for automatically.
    """

    what = N_("mapping")
    default_hint = N_(
        "Correct the mapping file as listed (docs/mapping.md describes every key), then check "
        "it again with `lead-importer mapping check MAPPING`."
    )
    COLUMNS_HINT: ClassVar[str] = N_(
        "Rename the file's column headers to those the mapping expects, or adjust the mapping "
        "(`lead-importer mapping check MAPPING FILE` shows every problem)."
    )
    AUTOMATIC_HINT: ClassVar[str] = N_(
        "lead-importer could not tell which column holds what. Make sure the first row holds "
        "the column titles and that one column holds the phone numbers, titled for example "
        "'Phone', 'Mobile' or 'טלפון'. If this kind of file comes often, write a mapping for it "
        "and name it with --mapping (in a drop folder: `mapping:` in inbox.yaml)."
    )

    def __init__(self, source: str, problems: list[str], *, hint: str | None = None) -> None:
        super().__init__(source, problems)
        self._hint = hint


class CampaignNotFoundError(ConfigError):
    """No campaign of the account has that name or code."""

    default_hint = N_(
        "Write the campaign name exactly as the dialer shows it (`lead-importer campaigns` "
        "lists them) where it is set: --campaign, the mapping's `campaign:`, inbox.yaml or "
        "VOICENTER_CAMPAIGN."
    )


class SourceError(ImporterError):
    """A source file cannot be read; names the file and, when known, row and column."""

    default_hint = N_(
        "Open the file to check that it is complete and not damaged (a download that did not "
        "finish looks like this), then export or save it again."
    )

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

    def shown(self) -> str:
        """The message in the current language: where (file, sheet, row, column), then what."""
        where = [self.file]
        if self.sheet:
            where.append(_("sheet {sheet}", sheet=repr(self.sheet)))
        if self.row is not None:
            where.append(_("row {row}", row=self.row))
        if self.column:
            where.append(_("column {column}", column=repr(self.column)))
        return f"{', '.join(where)}: {_shown(self.message)}"


class UnsupportedFormatError(SourceError):
    """The file is not in a format we read (or its content contradicts its name)."""

    default_hint = N_(
        "Save the file as an Excel workbook (.xlsx) or as CSV. lead-importer reads .xlsx, "
        ".xlsm, .xls, .ods, .csv, .tsv and .txt files and HTML tables."
    )


class EncodingDetectionError(SourceError):
    """The bytes cannot be decoded confidently; the message names the candidates."""

    default_hint = N_(
        "Open the file in Excel and choose File > Save As > 'CSV UTF-8 (Comma delimited)', or "
        "save it as an Excel workbook (.xlsx)."
    )


class EncryptedFileError(SourceError):
    """The workbook is password-protected."""

    default_hint = N_(
        "Open it in Excel, choose File > Info > Protect Workbook > Encrypt with Password, "
        "delete the password and save the workbook."
    )


class UnsafeFileError(SourceError):
    """The file exceeds a safety limit (size, compression ratio, XML entities)."""

    default_hint = N_(
        "The file is bigger (or more compressed) than the safety limits allow: split it into "
        "smaller files, or open it in Excel and save it again."
    )


class EmptySourceError(SourceError):
    """The file (or chosen sheet) holds no header, or a header and no data rows.

    ``header`` holds the header row's cells when there was one: a one-line file
    may be data without a header (a do-not-call list of a single number).
    """

    default_hint = N_(
        "Check that the right report or sheet was exported and that the lead rows are under "
        "a header row."
    )

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

    default_hint = N_(
        "This concerns lead-importer's own records (the state directory), not the file: "
        "`lead-importer runs` on the same machine shows them."
    )


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
        self, message: str, *, folder: Path | None = None, pushed: int | None = None,
        **values: object,
    ) -> None:
        self.folder = folder
        self.pushed = pushed
        if values:
            values.setdefault("folder", folder)
        super().__init__(message, **values)

    @staticmethod
    def no_room(exc: OSError) -> bool:
        """Whether an OSError means the disk (or quota, or file-size limit) is full."""
        return exc.errno in _NO_ROOM
