"""The columnar engine: rows mapped, classified and reported a block at a time (issue 19).

The row engine (``BoundMapping.map_row`` and ``FileRun``) is the reference: every rule
here is the row engine's own function, run once per distinct input of a block's
columns (``mapper``), and a block is read from a text file's bytes by Arrow where that
gives exactly the rows the csv module gives (``csv_reader``), else from the file's row
reader (``blocks``).  A dry run of an append import is classified and reported on whole
columns (``dry_run``); every other run hands the mapped rows one by one to ``FileRun``
(``rows``), so the journal, pushes, resume, upsert and sync are the row engine's.

With two threads or more (``threads``), a big dry run also forks a helper process for the
next block's phones (``helper``) and makes each block's report lines on a thread while the
next block is mapped (``dry_run``).

Importing this package loads pyarrow (~50 MB): the row engine does not need it, so
importer.file_run imports it only for a columnar run.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable

# Before pyarrow loads: its default allocator (mimalloc) reserves address space when it
# starts, enough to hit an address-space limit (tests/hardening runs under 1.5 GB), and it
# kept ~35 MB more at the peak of a 1M-row dry run than the C library's allocator, which
# was no slower (docs/benchmarks.md). A value the user set is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import pyarrow as pa

from importer.engine.blocks import Block, row_blocks
from importer.engine.csv_reader import blocks_of_text
from importer.engine.dry_run import BlockDryRun
from importer.engine.rows import columnar_sorted_rows
from importer.engine.threads import THREADS_ENV, configured_threads
from importer.sources import Source

__all__ = ["THREADS_ENV", "Block", "BlockDryRun", "columnar_sorted_rows", "sheet_blocks"]

def _configure_threads() -> None:
    threads = configured_threads()
    if threads is not None:
        pa.set_cpu_count(threads)
        pa.set_io_thread_count(threads)


_configure_threads()

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20   # glibc's largest
_TRIM_THRESHOLD = 64 << 20


def _keep_freed_memory() -> None:
    """Keep the block buffers malloc frees for the next block instead of handing them back.

    Arrow (on the system allocator) and numpy allocate a block's buffers, megabytes each,
    and free them a block later; glibc serves such sizes with mmap and unmaps them on
    free, so every block faulted its pages in afresh (~340k page faults and ~1 s of system
    time in a 1M-row dry run, against ~50k with this; the peak RSS did not move).  glibc
    only, and only when the user has not tuned malloc in the environment.
    """
    if not sys.platform.startswith("linux") or any(
        name.startswith("MALLOC_") or name == "GLIBC_TUNABLES" for name in os.environ
    ):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


_keep_freed_memory()


def sheet_blocks(source: Source, width: int) -> Iterable[Block]:
    """The sheet's rows in blocks: a text file's bytes by Arrow where it can, else the
    rows of the file's reader."""
    fast = blocks_of_text(source, width)
    return fast if fast is not None else row_blocks(source.rows(blank_rows=True), width)
