"""The columnar engine's building blocks, each against the rule it must match."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.engine.csv_reader import odd_line_ends
from importer.engine.dry_run import _first_rows
from importer.engine.mapper import PY_WHITESPACE, PlainColumn
from importer.mapping.binder import cell_value
from importer.phones.number_set import NumberSet
from importer.report.block import _STAND_INS, _notable, csv_lines
from importer.report.writer import escape_cell
from importer.sources.quotes import file_well_quoted, record_end, scan_quotes


def test_python_whitespace_is_what_str_strip_removes() -> None:
    every = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert every == PY_WHITESPACE


# Control bytes too: the block writer borrows four that no cell holds as stand-ins.
_CHARS = [*"ab05,\"'=+-@ \t\r\n\x00\x01\x02\x1f\x7f", "\u200b", "\xa0", "＝", "ש", "\u202e"]
_CELLS = st.text(alphabet=st.sampled_from(_CHARS), max_size=8)


def _csv_writer_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([escape_cell(cell) for cell in row])
    return out.getvalue().encode("utf-8")


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    rows=st.lists(st.lists(_CELLS, min_size=3, max_size=3), min_size=1, max_size=40),
    constant=_CELLS,
)
def test_block_lines_are_the_row_writers_bytes(rows: list[list[str]], constant: str) -> None:
    columns: list[pa.Array | str] = [
        pa.array(list(c), type=pa.string()) for c in zip(*rows, strict=True)
    ]
    columns.insert(1, constant)
    expected = _csv_writer_bytes([[r[0], constant, r[1], r[2]] for r in rows])
    assert csv_lines(columns) == expected


def test_notable_bytes_cover_structure_and_stand_ins() -> None:
    marked = np.flatnonzero(_notable(np.arange(256, dtype=np.uint8))).tolist()
    assert set(b',"\r\n') | set(_STAND_INS) <= set(marked)
    assert set(marked) - set(b',"\r\n') - set(_STAND_INS) == {0x09, 0x00}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(values=st.lists(st.lists(_CELLS, min_size=3, max_size=3), min_size=1, max_size=6),
       picks=st.lists(st.integers(min_value=0, max_value=5), min_size=64, max_size=200))
def test_block_lines_of_a_few_values_repeated(values: list[list[str]], picks: list[int]) -> None:
    # Columns of a few values over many rows are quoted value by value: the same bytes.
    rows = [values[p % len(values)] for p in picks]
    columns: list[pa.Array | str] = [
        pa.array(list(c), type=pa.string()) for c in zip(*rows, strict=True)
    ]
    assert csv_lines(columns) == _csv_writer_bytes(rows)


def test_block_lines_when_no_stand_in_is_free() -> None:
    # Every control byte the writer could borrow is in some cell: the lines are still right.
    controls = [chr(b) for b in [*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]]
    rows = [[c, f'x,"{c}"\r\n', "=" + c] for c in controls] + [["a", "b, c", "'q"]]
    columns: list[pa.Array | str] = [
        pa.array(list(c), type=pa.string()) for c in zip(*rows, strict=True)
    ]
    columns.append("same, on every row")
    expected = _csv_writer_bytes([[*r, "same, on every row"] for r in rows])
    assert csv_lines(columns) == expected
    # Four control bytes fewer: four stand-ins are free again, and the bytes are the same.
    assert csv_lines([c if isinstance(c, str) else c[4:] for c in columns]) == (
        _csv_writer_bytes([[*r, "same, on every row"] for r in rows[4:]])
    )


@settings(max_examples=100, deadline=None, derandomize=True)
@given(cells=st.lists(_CELLS, min_size=1, max_size=30))
def test_plain_columns_are_cell_value(cells: list[str]) -> None:
    texts = PlainColumn(pa.array(cells, type=pa.string())).texts().to_pylist()
    assert texts == [cell_value(c) for c in cells]


@pytest.mark.parametrize(
    ("text", "ok", "multiline"),
    [
        (b'a,b\n1,2\n', True, False),
        (b'a,"b, c"\n1,"x ""y"""\n', True, False),
        (b'a,"line\nbreak"\n', True, True),
        (b'a,"x"\r\n', True, False),
        (b'a,5" screen\n', False, False),      # a quote inside an unquoted cell
        (b'a,"x"y\n', False, False),           # text after the closing quote
        (b'a, "x"\n', False, False),           # a space before the opening quote
        (b'a,"never closed\n', False, False),
        (b'a,"x"\rb\n', False, False),         # a lone CR after a closing quote
    ],
)
def test_quote_scan(text: bytes, ok: bool, multiline: bool) -> None:
    scan = scan_quotes(text, ord(","))
    assert scan.ok is ok
    if ok:
        assert scan.multiline is multiline


def test_record_end_is_outside_quotes() -> None:
    assert record_end(b'a,"x\ny"\nb,') == 8
    assert record_end(b'a,"x\ny') is None
    assert record_end(b"no line end") is None


def test_whole_file_quote_check(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(b'name,phone\n"Levi, Dana",0521234567\n' * 1000)
    assert file_well_quoted(good, ",", "utf-8")
    odd = tmp_path / "odd.csv"
    odd.write_bytes(b'name,phone\nDana 5" tall,0521234567\n')
    assert not file_well_quoted(odd, ",", "utf-8")
    wide = tmp_path / "wide.csv"
    wide.write_bytes("name,phone\n".encode("utf-16"))
    assert not file_well_quoted(wide, ",", "utf-16")   # not ASCII-compatible: not checked
    long = tmp_path / "long.csv"   # records end within two reads: under the field limit
    long.write_bytes(b'name,note\nDana,"' + b"x" * (7 << 20) + b'"\n')
    assert file_well_quoted(long, ",", "utf-8")
    huge = tmp_path / "huge.csv"   # a whole read without a record end: the csv module checks
    huge.write_bytes(b'name,note\nDana,"' + b"x" * (13 << 20) + b'"\n')
    assert not file_well_quoted(huge, ",", "utf-8")


def test_add_many_agrees_with_add() -> None:
    rng = random.Random(7)
    bulk, single = NumberSet(), NumberSet()
    for round_no in range(40):
        keys = list(dict.fromkeys(rng.randrange(10_000) for _ in range(200)))
        if round_no % 3 == 0:   # a run may mix both (a file by rows, then one by blocks)
            for key in keys:
                assert bulk.add(key) == single.add(key)
            continue
        expected = [single.add(key) for key in keys]
        assert bulk.add_many(np.array(keys, dtype=np.int64)).tolist() == expected
    assert len(bulk) == len(single)
    assert all((k in bulk) == (k in single) for k in range(10_000))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(keys=st.lists(st.integers(min_value=0, max_value=30), max_size=60))
def test_first_rows_are_np_unique_with_index(keys: list[int]) -> None:
    array = np.array(keys, dtype=np.int64)
    distinct, first = _first_rows(array)
    want_distinct, want_first = np.unique(array, return_index=True)
    assert distinct.tolist() == want_distinct.tolist()
    assert first.tolist() == want_first.tolist()


@settings(max_examples=400, deadline=None, derandomize=True)
@given(piece=st.lists(st.sampled_from([b"a", b",", b"\r", b"\n", b"\r\n", b"\x00", b"\xd7"]),
                      max_size=12).map(b"".join))
def test_odd_line_ends_are_the_byte_patterns(piece: bytes) -> None:
    expected = (
        b"\x00" in piece
        or (b"\r" in piece and piece.count(b"\r") != piece.count(b"\r\n"))
        or piece.startswith((b"\n", b"\r\n"))
        or b"\n\n" in piece
        or b"\n\r\n" in piece
    )
    assert odd_line_ends(piece) is expected
