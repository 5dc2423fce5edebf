"""CSV report lines for a block of rows, built by Arrow kernels, byte for byte as ``csv.writer``.

The row writer (``ReportWriter.write``) escapes each cell with ``escape_cell`` and
lets ``csv.writer`` (QUOTE_MINIMAL, ``,``, ``"``, ``\\r\\n``) quote it.  Here the same two
rules run on whole columns:

* escape: a cell starting with ``'``, or with a formula trigger after any ignorable
  leading characters (``is_formula_like``), gets one ``'`` in front;
* quote: a cell holding ``,``, ``"``, CR or LF is wrapped in ``"`` with ``"`` doubled.

The character sets are the writer's own (``_TRIGGERS``, ``_IGNORABLE``), written into
the patterns code point by code point, so the two can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from importer.redact import redact, registered_secrets
from importer.report.writer import _IGNORABLE, _TRIGGERS

__all__ = ["ReportBlock", "block_texts", "csv_cell", "csv_column", "lines_bytes", "redact_rows"]


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
        "",
        block.campaign,
    ]
    texts += [block.fields.get(key, "") for key in field_keys]
    return texts


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


def _char_class(chars: str | frozenset[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(chars)) + "]"


# escape_cell: "'" first, or [ignorable]* then a trigger (is_formula_like).
_ESCAPE = "^(?:\\x{27}|" + _char_class(_IGNORABLE) + "*" + _char_class(_TRIGGERS) + ")"
_QUOTE = "[,\"\\r\\n]"


def csv_column(values: pa.Array) -> pa.Array:
    """A column's cells as the CSV report writes them (escaped, then quoted when needed)."""
    escape = pc.match_substring_regex(values, _ESCAPE)
    if pc.any(escape).as_py():
        values = pc.if_else(escape, pc.binary_join_element_wise("'", values, ""), values)
    quote = pc.match_substring_regex(values, _QUOTE)
    if pc.any(quote).as_py():
        doubled = pc.replace_substring(values, '"', '""')
        values = pc.if_else(quote, pc.binary_join_element_wise('"', doubled, '"', ""), values)
    return values


def csv_cell(value: str) -> str:
    """One constant cell (the file name, the campaign) as the CSV report writes it."""
    out = csv_column(pa.array([value], type=pa.string()))
    return str(out[0].as_py())


def lines_bytes(columns: list[pa.Array | str]) -> memoryview:
    """The CSV lines (CRLF-ended) of columns already in their CSV form; strings repeat."""
    joined = pc.binary_join_element_wise(*columns, ",")
    ended = pc.binary_join_element_wise(joined, "\r\n", "")
    if isinstance(ended, pa.ChunkedArray):
        ended = ended.combine_chunks()
    if len(ended) == 0:
        return memoryview(b"")
    offsets = ended.buffers()[1]
    data = ended.buffers()[2]
    first = pa.Array.from_buffers(pa.int32(), len(ended) + 1, [None, offsets], offset=ended.offset)
    start = first[0].as_py()
    end = first[len(ended)].as_py()
    if data is None:
        return memoryview(b"")
    return memoryview(data)[start:end]
