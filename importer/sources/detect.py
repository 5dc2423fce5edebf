"""What a file really is, judged by its content (never by its extension), and whether
it is safe to open."""

from __future__ import annotations

import mmap
import zipfile
from pathlib import Path

from importer.errors import (
    EmptySourceError,
    EncryptedFileError,
    SourceError,
    UnsafeFileError,
    UnsupportedFormatError,
)
from importer.i18n import N_
from importer.sources.model import SourceOptions

__all__ = ["ENCRYPTED", "check_zip", "damaged", "detect_format"]

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_SPREADSHEETML_NS = b"urn:schemas-microsoft-com:office:spreadsheet"
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
# Ratio checks only apply to members big enough to hurt.
_RATIO_MIN_BYTES = 1 << 20

# What is wrong only: how to remove the password is EncryptedFileError's hint.
ENCRYPTED = "the workbook is password-protected, so it cannot be read"


def damaged(file: str, what: str = "workbook", detail: str = "") -> SourceError:
    """The error for a file whose structure is broken."""
    extra = f" ({detail})" if detail else ""
    return SourceError(
        file,
        f"the {what} is damaged or incomplete (truncated?){extra}. Open it in Excel or "
        "LibreOffice and save it again, or ask for a fresh export.",
    )


def _utf16_name(name: str) -> bytes:
    return name.encode("utf-16-le")


def _ole2_kind(path: Path, file: str) -> str:
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        # Stream names live in the compound file's directory as UTF-16: an Office 2007+
        # file encrypted with a password is an OLE2 container with these two streams.
        if mm.find(_utf16_name("EncryptedPackage")) != -1 and mm.find(
            _utf16_name("EncryptionInfo")
        ) != -1:
            raise EncryptedFileError(file, ENCRYPTED)
        if mm.find(_utf16_name("Workbook")) != -1 or mm.find(_utf16_name("Book")) != -1:
            return "xls"
        if mm.find(_utf16_name("WordDocument")) != -1:
            raise UnsupportedFormatError(file, "is a Word document, not a spreadsheet")
    raise UnsupportedFormatError(
        file, "is an OLE2 (old Office) file without a workbook in it: not a spreadsheet"
    )


def _zip_kind(path: Path, file: str, options: SourceOptions) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            check_zip(infos, file, options)
            if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
                content_types = (
                    zf.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
                )
                if "xl/workbook.bin" in names:
                    return "xlsb"
                return "xlsm" if b"macroEnabled" in content_types else "xlsx"
            if "mimetype" in names and zf.read("mimetype").strip() == _ODS_MIME:
                return "ods"
            if (
                "content.xml" in names
                and "META-INF/manifest.xml" in names
                and _ODS_MIME in zf.read("META-INF/manifest.xml")
            ):
                return "ods"
            if "word/document.xml" in names:
                raise UnsupportedFormatError(file, "is a Word document, not a spreadsheet")
            if "mimetype" in names:
                raise UnsupportedFormatError(
                    file, "is an OpenDocument file but not a spreadsheet (.ods)"
                )
    except zipfile.BadZipFile as exc:
        raise damaged(file, detail=str(exc)) from None
    except (OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise damaged(file, detail=str(exc)) from None
    raise UnsupportedFormatError(
        file, "is a ZIP archive but not a spreadsheet (no workbook inside): unzip it first"
    )


def check_zip(infos: list[zipfile.ZipInfo], file: str, options: SourceOptions) -> None:
    """Refuse decompression bombs before any member is decompressed."""
    total = sum(i.file_size for i in infos)
    if total > options.max_uncompressed_bytes:
        raise UnsafeFileError(
            file,
            f"would unpack to {total / 2**20:,.0f} MiB, more than the limit of "
            f"{options.max_uncompressed_bytes / 2**20:,.0f} MiB (a decompression bomb, or a "
            "workbook too big to read safely): split it, or save it as CSV",
        )
    for info in infos:
        if info.file_size < _RATIO_MIN_BYTES:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > options.max_compression_ratio:
            raise UnsafeFileError(
                file,
                f"member {info.filename!r} unpacks {ratio:,.0f} times bigger than it is "
                f"stored (limit {options.max_compression_ratio:,.0f}): this looks like a "
                "decompression bomb and was not opened",
            )


def detect_format(path: Path, file: str, options: SourceOptions) -> str:
    """Return xlsx, xlsm, xlsb, xls, ods, html, spreadsheetml or text."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SourceError(file, N_("no such file")) from None
    except OSError as exc:
        raise SourceError(file, f"cannot be read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise SourceError(file, "is a folder, not a file")
    if size > options.max_file_bytes:
        raise UnsafeFileError(
            file,
            f"is {size / 2**20:,.0f} MiB, more than the limit of "
            f"{options.max_file_bytes / 2**20:,.0f} MiB (max_file_bytes): split it, or raise "
            "the limit",
        )
    if size == 0:
        raise EmptySourceError(file, "is empty (0 bytes)")
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise SourceError(file, f"cannot be read ({exc.strerror or exc})") from None
    if head.startswith(_ZIP):
        return _zip_kind(path, file, options)
    if head.startswith(_OLE2):
        return _ole2_kind(path, file)
    kind = _markup_kind(head)
    if kind == "xml":
        raise UnsupportedFormatError(
            file,
            "is an XML file but not an Excel 2003 XML spreadsheet: export it from its "
            "program as CSV or .xlsx",
        )
    return kind or "text"


def _markup_kind(head: bytes) -> str | None:
    text = head
    for bom in (b"\xef\xbb\xbf",):
        if text.startswith(bom):
            text = text[len(bom) :]
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            decoded = head.decode("utf-16", errors="ignore").encode("utf-8", "ignore")
        except UnicodeError:
            return None
        text = decoded
    stripped = text.lstrip()
    if not stripped.startswith(b"<"):
        return None
    lower = stripped.lower()
    if lower.startswith(b"<?xml") and _SPREADSHEETML_NS in lower:
        return "spreadsheetml"
    if any(tag in lower for tag in (b"<html", b"<table", b"<!doctype html")):
        return "html"
    if lower.startswith(b"<?xml"):
        return "xml"
    return None
