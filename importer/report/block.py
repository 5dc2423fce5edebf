"""CSV report lines for a block of rows, byte for byte what the row writer gives.

The row writer (``ReportWriter.write``) escapes each cell with ``escape_cell`` and
lets ``csv.writer`` (QUOTE_MINIMAL, ``,``, ``"``, CRLF) quote it.  Here each column's
cells are marked with numpy from its UTF-8 buffers, put in their CSV form by Arrow
kernels, and Arrow's writer (quoting off) writes the lines:

* a cell whose first byte is ``'`` or an ASCII formula trigger gets one ``'`` in front
  (what ``escape_cell`` does to it);
* a cell holding ``,``, ``"``, CR or LF is quoted (inner quotes doubled), its
  structural characters written as stand-in bytes that no cell of the block holds and
  translated back once the block's lines are written;
* a cell whose first byte may start an ignorable or a full-width trigger goes through
  ``csv_cell`` in Python: they are few, and the rules then stay in one place.

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
    "report_lines",
    "string_buffers",
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
# What Arrow's writer refuses to write with quoting off, and what a quoted cell is made of.
_STRUCTURAL = ',"\r\n'
_QUOTE_BYTES = np.frombuffer(_STRUCTURAL.encode("ascii"), dtype=np.uint8)
# Stand-ins for the structural characters while Arrow writes the lines: ASCII control
# bytes that are neither structural nor whitespace; four that no cell of the block holds
# are chosen per block, and the written bytes are translated back.
_STAND_INS = bytes([*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _lookup(members: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    table = np.zeros(256, dtype=np.bool_)
    table[members] = True
    return table


# Byte -> whether it is one of the set: one pass of indexing instead of np.isin.
_IS_ESCAPE_FIRST = _lookup(_ESCAPE_FIRST)
_IS_LOOK_FIRST = _lookup(_LOOK_FIRST)
_IS_QUOTE_BYTE = _lookup(_QUOTE_BYTES)


def _notable(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Which bytes are structural or may be stand-ins (and tabs): comparisons, which numpy
    runs several times faster than a lookup table's gather."""
    marked = data < 0x20
    marked |= data == 0x22
    marked |= data == 0x2C
    marked |= data == 0x7F
    return marked


def csv_cell(value: str) -> str:
    """One cell as the CSV report writes it: ``escape_cell``, then ``csv.writer``'s quoting."""
    value = escape_cell(value)
    if any(c in value for c in _STRUCTURAL):
        return '"' + value.replace('"', '""') + '"'
    return value


def string_buffers(values: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
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


# A column with quoted cells is quoted value by value when it has at least this many rows
# and at most one distinct value per this many rows.
_FEW_VALUES_FROM = 64
_FEW_VALUES_SHARE = 4


@dataclass(slots=True)
class _Marks:
    """What a column's cells need to be written as ``csv_cell`` writes them."""

    escape: npt.NDArray[np.bool_]   # a leading "'" (escape_cell), nothing to look at
    look: npt.NDArray[np.bool_]     # a first byte that may start an ignorable: Python decides
    quote: npt.NDArray[np.bool_]    # holds a structural character (and is not a ``look``)
    present: bytes                  # the structural and stand-in bytes found in the column


def csv_lines(columns: list[pa.Array | str]) -> bytes:
    """The CSV report lines (CRLF-ended) of a block; a string is the same cell on every row.

    Every cell is put in its CSV form by column operations (``csv_cell`` runs in Python
    only on cells whose first byte may start an ignorable), with the structural characters
    of quoted cells replaced by stand-in bytes that no cell holds; Arrow's writer (quoting
    off) writes the lines and the stand-ins are translated back.
    """
    arrays = [c for c in columns if not isinstance(c, str)]
    if not arrays:
        return b""
    marks = [None if isinstance(c, str) else _cell_marks(c) for c in columns]
    used = set(b"".join(m.present for m in marks if m is not None))
    for column in columns:
        if isinstance(column, str):
            used.update(csv_cell(column).encode("utf-8"))
    free = bytes([b for b in _STAND_INS if b not in used][: len(_STRUCTURAL)])
    if len(free) < len(_STRUCTURAL):
        return _lines_in_python(columns, len(arrays[0]))  # a block full of control bytes
    stand_in = dict(zip(_STRUCTURAL, free.decode("ascii"), strict=True))
    to_stand_ins = str.maketrans(stand_in)
    n = len(arrays[0])
    prepared = [
        pa.repeat(pa.scalar(csv_cell(c).translate(to_stand_ins), pa.string()), n)
        if isinstance(c, str)
        else _csv_form(c, m, stand_in)
        for c, m in zip(columns, marks, strict=True)
    ]
    table = pa.table(prepared, names=[f"c{i}" for i in range(len(prepared))])
    sink = io.BytesIO()
    pacsv.write_csv(
        table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none", eol="\r\n")
    )
    data = sink.getvalue()
    # Four in-place single-byte replaces (memchr per hit) beat one translate of every byte.
    for stand, char in zip(free, _STRUCTURAL.encode("ascii"), strict=True):
        data = data.replace(bytes([stand]), bytes([char]))
    return data


def report_lines(columns: list[pa.Array | str]) -> bytes:
    """``csv_lines`` with every registered code masked (codes are rare in cells: one search
    of the block's bytes, then the slow way)."""
    data = csv_lines(columns)
    return csv_lines(redact_rows(columns)) if has_secret(data) else data


def _csv_form(column: pa.Array, marks: _Marks | None, stand_in: dict[str, str]) -> pa.Array:
    """The column's cells as ``csv_cell`` writes them, structural characters stood in for."""
    assert marks is not None
    if marks.quote.any() and len(column) >= _FEW_VALUES_FROM:
        # Quoting takes several passes over the text; a column of a few values repeated
        # (reasons, statuses) is quoted once per value and spread back by index.
        encoded = pc.dictionary_encode(column)
        values = encoded.dictionary
        if len(values) * _FEW_VALUES_SHARE <= len(column):
            form = _csv_form(values, _cell_marks(values), stand_in)
            return form.take(encoded.indices)
    look = np.flatnonzero(marks.look)
    fixed: list[str] = []
    if len(look):
        to_stand_ins = str.maketrans(stand_in)
        originals = column.take(pa.array(look)).to_pylist()
        fixed = [csv_cell(t).translate(to_stand_ins) for t in originals]
    if marks.escape.any():
        column = pc.if_else(pa.array(marks.escape), pc.utf8_replace_slice(column, 0, 0, "'"),
                            column)
    if marks.quote.any():
        inner = column
        for char, stand in stand_in.items():
            if char.encode("ascii") in marks.present:
                inner = pc.replace_substring(inner, char, stand * 2 if char == '"' else stand)
        quote = stand_in['"']
        wrapped = pc.binary_join_element_wise(quote, inner, quote, "")
        # Cells not quoted hold no structural character: ``inner`` is them as they were.
        column = wrapped if marks.quote.all() else pc.if_else(pa.array(marks.quote), wrapped,
                                                              inner)
    if fixed:
        column = pc.replace_with_mask(column, pa.array(marks.look), pa.array(fixed, pa.string()))
    return column


def _lines_in_python(columns: list[pa.Array | str], n: int) -> bytes:
    """The lines cell by cell in Python (when no four stand-in bytes are free)."""
    cells = [
        [csv_cell(c)] * n if isinstance(c, str) else [csv_cell(v) for v in c.to_pylist()]
        for c in columns
    ]
    return "".join(",".join(row) + "\r\n" for row in zip(*cells, strict=True)).encode("utf-8")


def _cell_marks(values: pa.Array) -> _Marks:
    """Which cells take a leading "'", which need a look in Python, which need quoting."""
    offsets, data = string_buffers(values)
    n = len(offsets) - 1
    filled = np.diff(offsets) > 0
    first = np.zeros(n, dtype=np.uint8)
    first[filled] = data[offsets[:-1][filled]]
    look = filled & _IS_LOOK_FIRST[first]
    escape = filled & _IS_ESCAPE_FIRST[first] & ~look
    body = data[offsets[0] : offsets[-1]]
    hits = np.flatnonzero(_notable(body))
    found = body[hits]
    structural = _IS_QUOTE_BYTE[found]
    quote = np.zeros(n, dtype=np.bool_)
    if structural.any():
        at = hits[structural] + offsets[0]
        quote[np.searchsorted(offsets, at, side="right") - 1] = True
    return _Marks(escape, look, quote & ~look, bytes(np.unique(found).tolist()))
