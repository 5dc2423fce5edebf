"""Property: any table of text written as CSV, in any supported encoding and delimiter,
reads back identical (cells, columns and row numbers)."""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.sources import open_source

DELIMITERS = [",", ";", "\t", "|"]
HEBREW = "".join(chr(c) for c in range(0x05D0, 0x05EB))
LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PUNCT = "0123456789 -+.:'\"()@/\n"
# Unicode encodings can hold anything; Windows-1255 text is Hebrew with digits and
# punctuation (Latin letters glued to Hebrew ones would, rightly, look like mojibake).
ENCODINGS = {
    "utf-8": HEBREW + LATIN + PUNCT + "éü€₪–",
    "utf-8-sig": HEBREW + LATIN + PUNCT + "“”",
    "utf-16": HEBREW + LATIN + PUNCT + "😀",
    "utf-16-be-bom": HEBREW + LATIN + PUNCT,
    "cp1255": HEBREW + PUNCT + "₪–",
}


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding)


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, str, list[str], list[list[str]]]:
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    delimiter = draw(st.sampled_from(DELIMITERS))
    # Other candidate delimiters are left out of the cells: a file whose every row holds
    # the same number of semicolons inside comma-separated cells is ambiguous to anyone.
    alphabet = ENCODINGS[encoding] + delimiter
    width = draw(st.integers(min_value=2, max_value=6))
    names = draw(
        st.lists(
            st.text(alphabet=HEBREW if encoding == "cp1255" else HEBREW + LATIN, min_size=1,
                    max_size=8),
            min_size=width, max_size=width, unique_by=str.casefold,
        )
    )
    cell = st.text(alphabet=alphabet, max_size=12)
    row = st.lists(cell, min_size=width, max_size=width).filter(lambda r: "".join(r).strip())
    rows = draw(st.lists(row, min_size=1, max_size=8))
    return encoding, delimiter, names, rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_csv_round_trip(table: tuple[str, str, list[str], list[list[str]]]) -> None:
    encoding, delimiter, names, rows = table
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(names)
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(_encode(buf.getvalue(), encoding))
        with open_source(path) as src:
            got = list(src.rows())
            assert src.info.columns == names
            assert src.info.delimiter == delimiter
    assert [list(r.cells) for r in got] == rows
    assert [r.row for r in got] == list(range(2, len(rows) + 2))
    assert all(r.problems == () for r in got)
