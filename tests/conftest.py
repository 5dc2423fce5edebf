"""Shared fixtures: the Dialer API emulator, in-process and as a child process.

* ``emulator``: a fresh ``EmulatorServer`` on a free 127.0.0.1 port with a temporary
  database, the demo account seeded (``emulator.demo``) and no faults.
* ``emulator_env``: the same, with ``VOICENTER_API_URL`` / ``VOICENTER_ACCOUNT_CODE=demo``
  set, ``VOICENTER_CAMPAIGN`` unset and campaign locks in the test's tmp dir
  (``LEAD_IMPORTER_LOCK_DIR``) for the test.
* ``emulator_process``: a factory that runs ``lead-importer emulator --port 0 ARGS`` as a
  child process (database in the test's tmp dir unless ``--db`` is given) and returns an
  ``EmulatorProcess`` (``.base_url``, ``.stop()``, ``.kill()``); all are stopped afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from importer.emulator.server import (
    EmulatorProcess,
    EmulatorServer,
    FaultConfig,
    start_emulator_process,
)
from importer.mapping import scheduling

#: "Now" for calling hours in every test: a Wednesday morning in Israel, so that reports do not
#: depend on the day the suite runs (CI may run on a Saturday). Tests about the hard days pass
#: --now (or ImportOptions.now) themselves.
TEST_NOW = "2026-07-01T10:00:00+03:00"


@pytest.fixture(autouse=True)
def _calling_hours_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calling hours read TEST_NOW: the library's clock here, LEAD_IMPORTER_NOW for the CLI."""
    fixed = datetime.fromisoformat(TEST_NOW)
    monkeypatch.setattr(scheduling, "wall_clock", lambda: fixed)
    monkeypatch.setenv("LEAD_IMPORTER_NOW", TEST_NOW)


@pytest.fixture(autouse=True)
def _english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read English unless they choose Hebrew: the machine's locale does not decide."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    """A running emulator with the demo account; faults off."""
    server = EmulatorServer(
        db_path=tmp_path / "emulator.db", host="127.0.0.1", port=0, faults=FaultConfig(), seed=0
    )
    server.start()
    try:
        server.seed_demo()
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator_env(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> EmulatorServer:
    """The emulator, with the VOICENTER_* environment pointing at it."""
    monkeypatch.setenv("VOICENTER_API_URL", emulator.base_url)
    monkeypatch.setenv("VOICENTER_ACCOUNT_CODE", "demo")
    monkeypatch.setenv("LEAD_IMPORTER_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("VOICENTER_CAMPAIGN", raising=False)
    return emulator


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    """Start ``lead-importer emulator --port 0 *args`` child processes (stopped at teardown)."""
    started: list[EmulatorProcess] = []

    def start(*args: str) -> EmulatorProcess:
        argv = list(args)
        if "--db" not in argv:
            argv += ["--db", str(tmp_path / "emulator-process.db")]
        proc = start_emulator_process(argv)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.process.poll() is None:
            proc.kill()
