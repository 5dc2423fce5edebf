"""Run ``python -m importer`` as a real child process under a memory cap and a timeout.

The cap is an address-space limit (``RLIMIT_AS``) set in the child before it
starts Python: a reader that tried to inflate a bomb would hit ``MemoryError``
(exit 70, "unexpected internal error") instead of passing quietly.  A normal
run needs ~70 MB resident; its address space is larger (thread stacks, and
OpenBLAS, loaded by numpy when openpyxl writes the XLSX report, reserves a
buffer per core), so the BLAS thread count is pinned to keep the reservation
the same on any machine.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.phone_samples import valid_mobiles

__all__ = [
    "MEMORY_CAP",
    "TIMEOUT_S",
    "Completed",
    "child_env",
    "is_write",
    "run_importer",
    "valid_mobiles",
]

MEMORY_CAP = 1536 * 1024 * 1024
TIMEOUT_S = 60.0
_WRITES = {"addcallsbulk", "addcall", "updatecall", "removecall", "clearcampaigncalls"}


@dataclass(frozen=True, slots=True)
class Completed:
    """What a child run left behind."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float
    timed_out: bool


def child_env(api_url: str, account_code: str = "demo", **extra: str) -> dict[str, str]:
    """The environment of a child run: the emulator's URL and account, nothing inherited
    that could change the outcome (a stray VOICENTER_CAMPAIGN, say)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VOICENTER_", "LEAD_IMPORTER_"))
    }
    env.update(
        VOICENTER_API_URL=api_url,
        VOICENTER_ACCOUNT_CODE=account_code,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        PYTHONIOENCODING="utf-8",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def _child_setup(umask: int | None, file_size_limit: int | None) -> Callable[[], None]:
    """What the child does before exec: the memory cap, and a umask or file-size cap if asked.

    With a file-size cap a write past it fails with EFBIG, as on a full disk;
    SIGXFSZ, which would kill the process instead, is ignored (exec keeps that).
    """

    def setup() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
        if umask is not None:
            os.umask(umask)
        if file_size_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return setup


class _PeakWatch(threading.Thread):
    """The child's own peak RSS: its ``VmHWM`` after exec, polled from ``/proc``.

    ``ru_maxrss`` of a forked child includes the parent's RSS at the fork (Linux keeps the
    high-water mark across exec), so a pytest worker grown to 400 MB by earlier tests made
    every child "use" 400 MB.  ``VmHWM`` belongs to the address space exec makes, and it only
    grows, so the last reading before exit is the peak (readings taken before exec, when the
    command line is still the parent's, are ignored).
    """

    def __init__(self, pid: int, argv: list[str]) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.cmdline = ("\0".join(argv) + "\0").encode()
        self.peak_kb = 0
        self._done = threading.Event()
        self.start()

    def run(self) -> None:
        """Poll until stopped."""
        while not self._done.wait(0.01):
            self._read()

    def _read(self) -> None:
        try:
            if Path(f"/proc/{self.pid}/cmdline").read_bytes() != self.cmdline:
                return
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            return

    def stop(self) -> None:
        """Stop polling (the child has exited)."""
        self._done.set()
        self.join()


def run_importer(
    args: list[str],
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = TIMEOUT_S,
    umask: int | None = None,
    file_size_limit: int | None = None,
) -> Completed:
    """Run ``python -m importer ARGS``; kill it after ``timeout`` seconds.

    ``umask`` and ``file_size_limit`` (bytes, ``RLIMIT_FSIZE``) apply to the child only.

    The child's peak RSS is its ``VmHWM``, read from ``/proc`` while it runs (see
    :class:`_PeakWatch`); where there is no ``/proc``, ``os.wait4``'s figure.
    """
    argv = [sys.executable, "-m", "importer", *args]
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=dict(env),
            cwd=cwd,
            # Only setrlimit, umask and signal run before exec.
            preexec_fn=_child_setup(umask, file_size_limit),  # noqa: PLW1509
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        watch = _PeakWatch(proc.pid, argv)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            watch.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    return Completed(
        argv=args,
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        max_rss_mb=(watch.peak_kb or usage.ru_maxrss) / 1024,
        timed_out=killed.is_set(),
    )


def is_write(method: str) -> bool:
    """True for API methods that change a campaign's calls."""
    return method.lower() in _WRITES
