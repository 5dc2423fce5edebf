"""`lead-importer serve` as a process: killed in the middle of an import, started again.

The job it left running is shown as interrupted, and resuming it finishes the import
through the journal: every lead ends up pending once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from importer.config import load_settings
from importer.dialer import DialerClient
from importer.emulator.faults import FaultConfig
from importer.emulator.server import EmulatorServer
from importer.web.users import UserStore
from tests.web.conftest import PASSWORD, SAMPLES, USER, sign_in


class Serve:
    """One `lead-importer serve` child process."""

    def __init__(self, tmp_path: Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1",
                   LEAD_IMPORTER_STATE_DIR=str(tmp_path / "state"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "importer", "serve", "--port", "0",
             "--data-dir", str(tmp_path / "web"), "--users", str(tmp_path / "users.json")],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        self.url = ""
        while not self.url and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            found = re.search(r"on (http://\S+)", line)
            if found:
                self.url = found.group(1)
        assert self.url, "serve printed no URL"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(30)


@pytest.fixture
def serve(emulator_env: EmulatorServer, tmp_path: Path) -> Iterator[Any]:
    UserStore(tmp_path / "users.json").add(USER, PASSWORD)
    started: list[Serve] = []

    def start() -> Serve:
        started.append(Serve(tmp_path))
        return started[-1]

    yield start
    for child in started:
        if child.process.poll() is None:
            child.kill()


def _job(session: requests.Session, url: str, job_id: str) -> dict[str, Any]:
    return session.get(f"{url}/api/jobs/{job_id}", timeout=10).json()


def _wait(session: requests.Session, url: str, job_id: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = _job(session, url, job_id)
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}")


def _slow_import(
    session: requests.Session, url: str, emulator: EmulatorServer, *, latency_ms: int
) -> str:
    """Upload the Hebrew CRM sample and start its real import with every AddCallsBulk held
    ``latency_ms`` by the emulator; the job's id once it is running."""
    files = [("file", ("crm_export_he.csv", (SAMPLES / "crm_export_he.csv").read_bytes()))]
    upload = session.post(f"{url}/api/uploads", files=files, timeout=30).json()
    emulator.set_faults(FaultConfig(latency_ms=latency_ms, methods={"AddCallsBulk"}))
    answer = session.post(f"{url}/api/uploads/{upload['upload_id']}/jobs",
                          json={"campaign": "Hot leads", "dry_run": False}, timeout=30)
    job_id: str = answer.json()["job_id"]
    _wait(session, url, job_id, {"running"})
    return job_id


def test_a_killed_server_marks_the_job_interrupted_and_resume_finishes_it(
    serve: Any, emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    first = serve()
    session = sign_in(first.url)
    # The chunk's request hangs long enough for the server to die with it in flight.
    job_id = _slow_import(session, first.url, emulator_env, latency_ms=5000)
    deadline = time.monotonic() + 30
    while not session.get(f"{first.url}/api/runs", timeout=10).json()["runs"]:
        assert time.monotonic() < deadline, "the import never started its run"
        time.sleep(0.05)
    time.sleep(0.5)  # its chunk is on its way (the emulator holds it 5 s)
    first.kill()
    emulator_env.set_faults(FaultConfig())

    second = serve()
    session = sign_in(second.url)
    job = _job(session, second.url, job_id)
    assert job["state"] == "interrupted"
    runs = session.get(f"{second.url}/api/runs", timeout=10).json()["runs"]
    assert runs[0]["resumable"] and runs[0]["outcome"] == "unfinished"

    answer = session.post(f"{second.url}/api/jobs/{job_id}/resume", timeout=10)
    assert answer.status_code == 202
    resumed = _wait(session, second.url, answer.json()["job_id"], {"done", "failed"})
    assert resumed["state"] == "done", resumed
    assert resumed["run_id"] == runs[0]["run_id"]  # the same run, resumed by the journal
    assert resumed["counts"]["added"] == 21
    settings = load_settings(None)
    with DialerClient(settings) as client:
        (hot,) = [c for c in client.get_campaign_list("demo") if c.name == "Hot leads"]
        pending = client.get_campaign_pending_calls(hot.code).calls
    assert len(pending) == 21 and len({c.phone for c in pending}) == 21
    assert second.stop() == 0


def test_a_stopped_server_stops_its_jobs_as_interrupted(
    serve: Any, emulator_env: EmulatorServer
) -> None:
    server = serve()
    session = sign_in(server.url)
    job_id = _slow_import(session, server.url, emulator_env, latency_ms=2000)
    assert server.stop() == 0  # SIGTERM: the job settles its chunk in flight, then stops
    emulator_env.set_faults(FaultConfig())
    again = serve()
    session = sign_in(again.url)
    assert _job(session, again.url, job_id)["state"] in {"interrupted", "done"}
