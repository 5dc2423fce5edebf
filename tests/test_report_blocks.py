"""ReportWriter.write_block with its lines made elsewhere (the columnar engine's thread): the
same bytes, in the same order, as made in place, codes masked either way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from importer import redact as redact_module
from importer.outcomes import RowResult, Status
from importer.report import ReportWriter
from importer.report.block import ReportBlock, report_lines

CODE = "SECRETBLOCK987"


@pytest.fixture
def registered_code() -> Iterator[str]:
    saved = set(redact_module._secrets), redact_module._ordered
    redact_module.register_secret(CODE)
    try:
        yield CODE
    finally:
        redact_module._secrets, redact_module._ordered = saved


def _block(first: int, n: int, *, note: str = "") -> ReportBlock:
    rows = np.arange(first, first + n, dtype=np.int64)
    phones = pa.array([f"+97252{r:07d}" for r in rows.tolist()], type=pa.string())
    return ReportBlock(
        source_file="leads.csv",
        sheet=None,
        rows=rows,
        phone_raw=pa.array([f"052-{r:07d}" for r in rows.tolist()], type=pa.string()),
        phone=phones,
        status=pa.array([Status.WOULD_ADD.value] * n, type=pa.string()),
        reason=pa.array([note if r % 3 == 0 else "" for r in rows.tolist()], type=pa.string()),
        reason_code=pa.array(["text" if note and r % 3 == 0 else "" for r in rows.tolist()],
                             type=pa.string()),
        campaign="Hot leads",
        fields={"CustomerName": pa.array([f'name, "{r}"' for r in rows.tolist()],
                                         type=pa.string())},
    )


def _write(folder: Path, later: Callable[[list[pa.Array | str]], Callable[[], bytes]] | None,
           *, row_between: bool) -> bytes:
    writer = ReportWriter(folder, "leads.csv", formats=frozenset({"csv"}),
                          field_names=["CustomerName"])
    blocks = [_block(2, 50, note="call after 17:00, please"), _block(52, 40, note=f"x {CODE} y"),
              _block(92, 30)]
    for i, block in enumerate(blocks):
        writer.write_block(block, lines_later=later)
        if row_between and i == 1:
            writer.write(RowResult("leads.csv", None, 999, "052", "", Status.INVALID_PHONE,
                                   "not a phone", campaign="Hot leads",
                                   fields={"CustomerName": "row"}))
    paths = writer.close()
    return paths["csv"].read_bytes()


@pytest.mark.parametrize("row_between", [False, True])
def test_lines_made_on_a_thread_are_the_lines_made_in_place(
    tmp_path: Path, registered_code: str, row_between: bool
) -> None:
    in_place = _write(tmp_path / "a", None, row_between=row_between)
    with ThreadPoolExecutor(1) as pool:
        def later(texts: list[pa.Array | str]) -> Callable[[], bytes]:
            return pool.submit(report_lines, texts).result

        elsewhere = _write(tmp_path / "b", later, row_between=row_between)
    assert elsewhere == in_place
    assert registered_code.encode() not in elsewhere  # masked on the thread too
    lines = elsewhere.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 50 + 40 + 30 + (1 if row_between else 0)
    # blocks in order, and a row written between blocks after the blocks before it
    numbers = [line.split(",")[2] for line in lines[1:]]
    if row_between:
        assert numbers.index("999") == 90
    assert [n for n in numbers if n != "999"] == [str(r) for r in range(2, 122)]
