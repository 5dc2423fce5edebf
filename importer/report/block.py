"""CSV report lines for a block of rows, byte for byte what the row writer gives.

The row writer (``ReportWriter.write``) escapes each cell with ``escape_cell`` and
lets ``csv.writer`` (QUOTE_MINIMAL, ``,``, ``"``, CRLF) quote it.  Here each column's
cells are marked with numpy from its UTF-8 buffers, and Arrow writes the lines:

* a cell whose first byte is ``'`` or an ASCII formula trigger gets one ``'`` in front
  (what ``escape_cell`` does to it);
* a cell holding ``,``, ``"``, CR or LF, or whose first byte may start an ignorable or a
  full-width trigger, goes through ``escape_cell`` and the quoting rule in Python: they
  are few, and the rules then stay in one place.

The byte sets come from the writer's own character sets (``_TRIGGERS``, ``_IGNORABLE``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from importer.redact import redact, registered_secrets
from importer.report.writer import _IGNORABLE, _TRIGGERS, escape_cell

__all__ = [
    "ReportBlock",
    "block_texts",
    "csv_cell",
    "csv_lines",
    "has_secret",
    "redact_rows",
]


@dataclass(slots=True)
class ReportBlock:
    """Report rows of one sheet as columns (no nulls): what ``ReportWriter.write_block`` takes."""

    source_file: str
    sheet: str | None
    rows: npt.NDArray[np.int64]
    phone_raw: pa.Array
    phone: pa.Array
    status: pa.Array
    reason: pa.Array
    campaign: str
    fields: dict[str, pa.Array]
    dial_after: pa.Array | str = ""   # calling hours: "" on every row, or one per row
    reason_code: pa.Array | str = ""  # the reason's stable code ("" on every row, or per row)


def block_texts(block: ReportBlock, field_keys: list[str]) -> list[pa.Array | str]:
    """The report's columns in order; a string is the same text on every row."""
    texts: list[pa.Array | str] = [
        block.source_file,
        block.sheet or "",
        pc.cast(pa.array(block.rows, type=pa.int64()), pa.string()),
        block.phone_raw,
        block.phone,
        block.status,
        block.reason,
        block.reason_code,
        "",
        block.campaign,
        block.dial_after,
    ]
    texts += [block.fields.get(key, "") for key in field_keys]
    return texts


def has_secret(data: bytes) -> bool:
    """Whether any registered code appears in ``data`` (a block's CSV lines)."""
    return any(secret.encode("utf-8") in data for secret in registered_secrets())


def redact_rows(texts: list[pa.Array | str]) -> list[pa.Array | str]:
    """Every registered code masked, as ``redact`` masks it cell by cell (rows with none
    are left as they are)."""
    secrets = registered_secrets()
    if not secrets:
        return texts
    hit: pa.Array | None = None
    for text in texts:
        if isinstance(text, str):
            continue
        for secret in secrets:
            found = pc.match_substring(text, secret)
            hit = found if hit is None else pc.or_(hit, found)
    out: list[pa.Array | str] = []
    for text in texts:
        if isinstance(text, str):
            out.append(redact(text))
        elif hit is None or not pc.any(hit).as_py():
            out.append(text)
        else:
            chosen = pc.filter(text, hit).to_pylist()
            out.append(
                pc.replace_with_mask(text, hit, pa.array([redact(t) for t in chosen], pa.string()))
            )
    return out


# First bytes of a cell that escape_cell always escapes: "'" and the ASCII triggers.
_ESCAPE_FIRST = np.frombuffer(b"'=+-@\t\r\n\x00", dtype=np.uint8)
# First bytes that need a closer look: ASCII ignorables, and the lead bytes of the
# non-ASCII ignorables and full-width triggers (U+00A0, U+1680, U+2000.., U+3000, U+FFxx).
_LOOK_FIRST = np.unique(np.frombuffer(
    bytes({
        c.encode()[0] for c in (_IGNORABLE + "".join(_TRIGGERS)) if c in _IGNORABLE or c > "\x7f"
    }),
    dtype=np.uint8,
))
_QUOTE_BYTES = np.frombuffer(b',"\r\n', dtype=np.uint8)


def _lookup(members: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    table = np.zeros(256, dtype=np.bool_)
    table[members] = True
    return table


# Byte -> whether it is one of the set: one pass of indexing instead of np.isin.
_IS_ESCAPE_FIRST = _lookup(_ESCAPE_FIRST)
_IS_LOOK_FIRST = _lookup(_LOOK_FIRST)
_IS_QUOTE_BYTE = _lookup(_QUOTE_BYTES)


def csv_cell(value: str) -> str:
    """One cell as the CSV report writes it: ``escape_cell``, then ``csv.writer``'s quoting."""
    value = escape_cell(value)
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _buffers(values: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """A string array's offsets (n + 1, absolute) and its data bytes."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = np.int64 if pa.types.is_large_string(values.type) else np.int32
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=kind)[values.offset : values.offset + len(values) + 1]
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None
        else np.zeros(0, dtype=np.uint8)
    )
    return offsets.astype(np.int64), data


def csv_lines(columns: list[pa.Array | str]) -> bytes:
    """The CSV report lines (CRLF-ended) of a block; a string is the same cell on every row.

    Rows whose every cell is written as it is (or with a leading "'") go through Arrow's
    CSV writer with quoting off; the rows with a cell to quote (every row, when a constant
    cell needs quoting) are joined by Arrow from their cells in CSV form and put back in
    their places.
    """
    arrays = [c for c in columns if not isinstance(c, str)]
    if not arrays:
        return b""
    n = len(arrays[0])
    special = np.zeros(n, dtype=np.bool_)
    if any(csv_cell(c)[:1] == '"' for c in columns if isinstance(c, str)):
        special[:] = True  # Arrow's writer refuses the quoted constant on every row
    prepared: list[pa.Array | str] = []
    for column in columns:
        if isinstance(column, str):
            prepared.append(csv_cell(column))
            continue
        escape, odd = _cell_marks(column)
        special |= odd
        if escape.any():
            column = pc.if_else(   # noqa: PLW2901 - the column in its CSV form
                pa.array(escape), pc.binary_join_element_wise("'", column, ""), column
            )
        if odd.any():
            chosen = np.flatnonzero(odd)
            fixed = [csv_cell(t) for t in column.take(pa.array(chosen)).to_pylist()]
            column = pc.replace_with_mask(  # noqa: PLW2901
                column, pa.array(odd), pa.array(fixed, type=pa.string())
            )
        prepared.append(column)
    plain = pa.array(~special)
    rows = n - int(special.sum())
    same = pa.array(np.zeros(rows, dtype=np.int64))
    table = pa.table(
        [
            pa.array([c], type=pa.string()).take(same) if isinstance(c, str) else c.filter(plain)
            for c in prepared
        ],
        names=[f"c{i}" for i in range(len(prepared))],
    )
    sink = io.BytesIO()
    if table.num_rows:
        pacsv.write_csv(
            table,
            sink,
            pacsv.WriteOptions(include_header=False, quoting_style="none", eol="\r\n"),
        )
    written = sink.getvalue()
    if rows == n:
        return written
    # The rows with a quoted cell: their cells are in CSV form already; Arrow joins them.
    picked = pa.array(np.flatnonzero(special))
    joined = pc.binary_join_element_wise(
        *[c if isinstance(c, str) else c.take(picked) for c in prepared], ","
    )
    lines = pc.binary_join_element_wise(joined, "\r\n", "")
    return _interleave(written, np.flatnonzero(special), lines)


def _cell_marks(values: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which cells take a leading "'", and which need a look in Python (quoting, or a first
    character that may be an ignorable or a full-width trigger)."""
    offsets, data = _buffers(values)
    n = len(offsets) - 1
    filled = np.diff(offsets) > 0
    first = np.zeros(n, dtype=np.uint8)
    first[filled] = data[offsets[:-1][filled]]
    escape = filled & _IS_ESCAPE_FIRST[first]
    special = filled & _IS_LOOK_FIRST[first]
    hits = np.flatnonzero(_IS_QUOTE_BYTE[data[offsets[0] : offsets[-1]]])
    if len(hits):
        special[np.searchsorted(offsets, hits + offsets[0], side="right") - 1] = True
    return escape & ~special, special


def _interleave(written: bytes, chosen: npt.NDArray[np.int64], lines: pa.Array) -> bytes:
    """Arrow's lines (every row but ``chosen``) with ``lines`` put back at ``chosen``."""
    ends = np.flatnonzero(np.frombuffer(written, dtype=np.uint8) == 0x0A) + 1
    view = memoryview(written)
    offsets, data = _buffers(lines)
    text = memoryview(data.tobytes())
    parts: list[bytes | memoryview] = []
    at = 0       # bytes of ``written`` already out
    taken = 0    # Arrow's lines already out
    for k, row in enumerate(chosen.tolist()):
        before = row - k  # Arrow's lines that come before this row
        if before > taken:
            end = int(ends[before - 1])
            parts.append(view[at:end])
            at, taken = end, before
        parts.append(text[offsets[k] : offsets[k + 1]])
    parts.append(view[at:])
    return b"".join(parts)
