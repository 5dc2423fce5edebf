"""Whether a delimited file's quotes are all well-formed, by a scan of its bytes.

A cell is well-quoted when its ``"`` opens it (right after a delimiter or a line
start), inner quotes are doubled, and its closing ``"`` comes right before a
delimiter, a line end or the end of the text.  When every quote of a file is like
that, the csv module reads it without an error (an unclosed quote is the error this
rules out; over-long cells are checked apart), so the whole-file parse at open can be
skipped; and Arrow's parser reads such text exactly as the csv module does.
"""

from __future__ import annotations

import codecs
from pathlib import Path

__all__ = [
    "QuoteScan",
    "ascii_compatible",
    "file_quote_scan",
    "file_well_quoted",
    "record_end",
    "scan_quotes",
]

_READ_BYTES = 6 << 20  # a record shorter than this is far under the 16 MB field limit


class QuoteScan:
    """The outcome of ``scan_quotes``: well-formed or not, and whether a quoted cell
    holds a line break (Arrow's parser then needs ``newlines_in_values``)."""

    __slots__ = ("multiline", "ok")

    def __init__(self, ok: bool, multiline: bool) -> None:
        self.ok = ok
        self.multiline = multiline


def scan_quotes(data: bytes, delimiter: int) -> QuoteScan:
    """Check every ``"`` in ``data`` (bytes of an ASCII-compatible encoding)."""
    multiline = False
    at = data.find(b'"')
    while at >= 0:
        if at and data[at - 1] not in (delimiter, 0x0A):
            return QuoteScan(False, multiline)
        start = at + 1
        at = start
        while True:
            close = data.find(b'"', at)
            if close < 0:
                return QuoteScan(False, multiline)
            if data[close + 1 : close + 2] == b'"':
                at = close + 2
                continue
            break
        after = data[close + 1 : close + 2]
        if after == b"\r":
            if data[close + 2 : close + 3] != b"\n":
                return QuoteScan(False, multiline)
        elif after not in (b"", b"\n") and after[0] != delimiter:
            return QuoteScan(False, multiline)
        if not multiline and (
            data.find(b"\n", start, close) >= 0 or data.find(b"\r", start, close) >= 0
        ):
            multiline = True
        at = data.find(b'"', close + 1)
    return QuoteScan(True, multiline)


def record_end(data: bytes) -> int | None:
    """Where a piece of well-quoted text can end: after its last line end outside quotes."""
    end = data.rfind(b"\n")
    if end < 0:
        return None
    # An even count of quotes before a line end puts it outside quotes (for text whose
    # quotes then check out as well-formed); counted once, then line by line backwards.
    quotes = data.count(b'"', 0, end)
    while True:
        if quotes % 2 == 0:
            return end + 1
        previous = data.rfind(b"\n", 0, end)
        if previous < 0:
            return None
        quotes -= data.count(b'"', previous, end)
        end = previous


def ascii_compatible(codec: str) -> bool:
    """Whether bytes below 0x80 mean ASCII in this codec (cuts at line ends are safe)."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return False
    if name.startswith(("utf-16", "utf-32", "utf_16", "utf_32")):
        return False
    try:
        return "\n,;\t|\"".encode(name) == b"\n,;\t|\"" and b"x\ny".decode(name) == "x\ny"
    except (UnicodeError, LookupError):
        return False


def file_well_quoted(path: Path, delimiter: str, codec: str) -> bool:
    """Whether every quote of the file is well-formed and every record is shorter than a
    read (6 MB, under the csv module's field limit); False also when the file cannot be
    checked this way (say UTF-16)."""
    return file_quote_scan(path, delimiter, codec).ok


def file_quote_scan(path: Path, delimiter: str, codec: str) -> QuoteScan:
    """``file_well_quoted`` as a ``QuoteScan`` of the whole file: ``multiline`` says whether
    any quoted cell holds a line break (a reader of the file's pieces need not scan them
    again when none does)."""
    if len(delimiter) != 1 or not delimiter.isascii() or not ascii_compatible(codec):
        return QuoteScan(False, False)
    separator = ord(delimiter)
    multiline = False
    rest = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_READ_BYTES):
            data = rest + chunk
            cut = record_end(data)
            if cut is None:
                # One record longer than a whole read: leave such a file to the csv module,
                # which says exactly what is wrong with it (a cell over the field limit).
                return QuoteScan(False, multiline)
            scan = scan_quotes(data[:cut], separator)
            multiline = multiline or scan.multiline
            if not scan.ok:
                return QuoteScan(False, multiline)
            rest = data[cut:]
    scan = scan_quotes(rest, separator) if rest else QuoteScan(True, False)
    return QuoteScan(scan.ok, multiline or scan.multiline)
