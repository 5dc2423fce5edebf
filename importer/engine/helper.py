"""A second process for a big file's phones: while this process reports one block, a
forked child normalises the next block's distinct phone cells (issue 19).

The rule (``BoundMapping.phone_cell_rule``: the normaliser and phonenumbers) is pure
Python, the largest part of a dry run, and the GIL keeps a thread from sharing it.  The
child runs the very same function object (it inherits the bound mapping with the fork),
so no rule is implemented twice and the answers are the ones this process would compute.

Answers come back as columns: per distinct cell the stripped text, the number sent and
the number type (one Arrow IPC batch, read here without a copy), plus in full only the
few results that carry a problem, a note or an extension.  Pickling 20,000 result
objects cost more than the rule itself; a result is rebuilt here only when a row asks
for it.

Anything unusual ends the help, never the run: a child that cannot start, dies, or
fails makes this process run the rule itself (a rule that raises then raises here, as
it would have without the helper).  The CSV lines were tried in the child too: ~0.2 s
faster at 1M rows, for ~30 MB more memory and a thread per pipe end (docs/decisions.md).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from importer.engine.distinct import by_distinct_text
from importer.engine.threads import available_threads
from importer.outcomes import Status
from importer.phones import PhoneResult

__all__ = ["MIN_ROWS", "Helper", "PhoneOut", "PhoneOuts", "helper_scope", "wanted"]

# (raw cell, result, problem, notes joined, E.164 when usable else "")
PhoneOut = tuple[str, PhoneResult, Status | None, str, str]
PhoneRule = Callable[[str], PhoneOut]
_T = TypeVar("_T")

#: A block smaller than this is normalised in this process: forking costs a few ms, and a
#: file of a few thousand rows is done before a child would have helped.
MIN_ROWS = 5_000

_PROTOCOL = pickle.HIGHEST_PROTOCOL
# (raw texts, numbers sent and number types as one Arrow IPC stream; full results by index)
_Packed = tuple[bytes, dict[int, PhoneOut]]
# (row -> distinct index, *_Packed)
_Answer = tuple["npt.NDArray[np.int64]", bytes, dict[int, PhoneOut]]


def wanted() -> bool:
    """Whether a second process can help: two threads or more (LEAD_IMPORTER_THREADS, else
    the cores), and fork (Linux only: macOS's system libraries are not safe to use after
    fork, Windows has none)."""
    if not sys.platform.startswith("linux"):
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return available_threads() >= 2


class PhoneOuts(Sequence[PhoneOut]):
    """A block's phone results as the helper sent them: columns, rebuilt one at a time."""

    def __init__(self, packed: _Packed) -> None:
        stream, self.full = packed
        batch = pa.ipc.open_stream(stream).read_next_batch()
        self.raw_array, self.sent_array, types = batch.columns
        self.raw: Sequence[str] = _Later(len(types), self.raw_array.to_pylist)
        self.sent: Sequence[str] = _Later(len(types), self.sent_array.to_pylist)
        self.types: Sequence[str | None] = _Later(len(types), types.to_pylist)

    def __len__(self) -> int:
        return len(self.raw)

    @overload
    def __getitem__(self, index: int) -> PhoneOut: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[PhoneOut]: ...

    def __getitem__(self, index: int | slice) -> PhoneOut | Sequence[PhoneOut]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        full = self.full.get(index)
        if full is not None:
            return full
        sent = self.sent[index]
        return self.raw[index], PhoneResult(sent, self.types[index]), None, "", sent

    def parts(self) -> list[Sequence[Any]]:
        """The five parts of every result, in result order (``Distinct.part``)."""
        n = len(self.raw)
        problems: list[Status | None] = [None] * n
        notes: list[str] = [""] * n
        for index, (_, _, problem, note, _) in self.full.items():
            problems[index] = problem
            notes[index] = note
        results = _Later(n, lambda: [self[i][1] for i in range(n)])
        return [self.raw, results, problems, notes, self.sent]

    def arrays(self) -> dict[int, pa.Array]:
        """The text parts as Arrow arrays (``Distinct.arrays``): raw (0) and sent (4)."""
        return {0: self.raw_array, 4: self.sent_array}


class _Later(Sequence[_T]):
    """A sequence of ``size`` items made all at once, when the first one is read."""

    def __init__(self, size: int, make: Callable[[], list[_T]]) -> None:
        self._size = size
        self._make = make
        self._items: list[_T] | None = None

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> _T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[_T]: ...

    def __getitem__(self, index: int | slice) -> _T | Sequence[_T]:
        if self._items is None:
            self._items = self._make()
        return self._items[index]


def _plain(out: PhoneOut) -> bool:
    """Whether ``PhoneOuts`` rebuilds this result exactly from its columns."""
    _raw, result, problem, note, sent = out
    return (
        problem is None
        and not note
        and bool(sent)
        and result.__class__ is PhoneResult
        and result.e164 == sent
        and result.problem is None
        and not result.reason
        and result.extension is None
    )


def _pack(outs: list[PhoneOut]) -> _Packed:
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([o[0] for o in outs], type=pa.string()),
            pa.array([o[4] for o in outs], type=pa.string()),
            pa.array([o[1].number_type for o in outs], type=pa.string()),
        ],
        names=["raw", "sent", "type"],
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as stream:
        stream.write_batch(batch)
    full = {i: o for i, o in enumerate(outs) if not _plain(o)}
    return sink.getvalue().to_pybytes(), full


def _answer(stream: bytes, rule: PhoneRule) -> _Answer:
    """The child's work for one block: its phone column's distinct cells, each through the
    rule (``by_distinct_text``, as this process would run it)."""
    column = pa.ipc.open_stream(stream).read_next_batch().column(0)
    distinct = by_distinct_text(column, rule)
    return (distinct.codes, *_pack(list(distinct.outputs)))


def _serve(
    conn: Connection, parents: Connection, rule: PhoneRule
) -> None:  # pragma: no cover - in the child
    """The child: answer each block's phone column, until told to stop."""
    parents.close()  # the parent's end: only the parent holds it
    # Ctrl-C, and systemd's SIGTERM, reach the whole group: the parent decides (and says it
    # once); the child goes when told, or when the parent's end of the pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        # A private pipe from the parent that forked us: nothing else can write to it.
        stream = pickle.loads(data)  # noqa: S301
        if stream is None:
            return
        try:
            answer: _Answer | None = _answer(stream, rule)
        except Exception:  # the parent runs the rule itself and meets the error there
            answer = None
        try:
            conn.send_bytes(pickle.dumps(answer, protocol=_PROTOCOL))
        except (OSError, ValueError):
            return


class Helper:
    """One child process running the phone rule, one block at a time: the answer to a
    block is read before the next block is sent, so neither process ever waits for the
    other to read (a request and an answer both larger than the pipe would deadlock)."""

    def __init__(self, phone_rule: PhoneRule) -> None:
        self._rule = phone_rule
        self._conn: Connection | None = None
        self._process: Any = None
        self._asked = False
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=_serve, args=(theirs, ours, phone_rule), name="lead-importer-helper",
            daemon=True,
        )
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about fork in a process with threads (Arrow's pools):
                # the child runs single-threaded Arrow calls (IPC, dictionary_encode) on
                # the system allocator (glibc's malloc is fork-safe) and the rule's Python.
                warnings.simplefilter("ignore", DeprecationWarning)
                process.start()
        except OSError:  # no processes left, no memory: this process does the work
            ours.close()
            theirs.close()
            return
        theirs.close()
        self._conn = ours
        self._process = process

    @property
    def alive(self) -> bool:
        """Whether the child is there to take a block."""
        return self._conn is not None and not self._asked

    def phones(
        self, column: pa.Array
    ) -> Callable[[], tuple[npt.NDArray[np.int64], Sequence[PhoneOut]]]:
        """The phone rule over the distinct cells of ``column``: a function that returns
        (row -> distinct index, the results) when called."""
        rule = self._rule

        def here() -> tuple[npt.NDArray[np.int64], Sequence[PhoneOut]]:
            distinct = by_distinct_text(column, rule)
            return distinct.codes, distinct.outputs

        batch = pa.RecordBatch.from_arrays([column], names=["cells"])
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as stream:
            stream.write_batch(batch)
        if not self._send(sink.getvalue().to_pybytes()):
            return here

        def answer() -> tuple[npt.NDArray[np.int64], Sequence[PhoneOut]]:
            got = self._receive()
            if got is None:
                return here()
            ids, stream, full = got
            outs = PhoneOuts((stream, full))
            if len(ids) != len(column) or (len(ids) and int(ids.max()) >= len(outs)):
                return here()
            return ids, outs

        return answer

    def _send(self, stream: bytes) -> bool:
        if self._conn is None or self._asked:
            return False
        try:
            self._conn.send_bytes(pickle.dumps(stream, protocol=_PROTOCOL))
        except (OSError, ValueError):
            self.close()
            return False
        self._asked = True
        return True

    def _receive(self) -> _Answer | None:
        if self._conn is None or not self._asked:
            return None
        self._asked = False
        try:
            # Our own child, over a private pipe (not data from a file or a peer).
            got: _Answer | None = pickle.loads(self._conn.recv_bytes())  # noqa: S301
        except (EOFError, OSError, pickle.UnpicklingError):
            self.close()
            return None
        return got

    def close(self) -> None:
        """Tell the child to stop and wait for it."""
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if self._asked:  # an answer nobody wants: read it so the child can take the stop
                conn.recv_bytes()
            conn.send_bytes(pickle.dumps(None, protocol=_PROTOCOL))
        self._asked = False
        conn.close()
        process.join(timeout=30)
        if process.is_alive():  # pragma: no cover - a child stuck in the rule
            process.kill()
            process.join(timeout=5)
        with contextlib.suppress(ValueError):
            process.close()


@contextlib.contextmanager
def helper_scope() -> Iterator[list[Helper]]:
    """A place for a helper that is closed however the block loop ends."""
    held: list[Helper] = []
    try:
        yield held
    finally:
        for helper in held:
            helper.close()
