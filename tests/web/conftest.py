"""Fixtures for the web workspace: the real server on a free port, against the emulator.

* ``web``: a ``WebServer`` in a thread (``.url``), data in the test's tmp dir, the demo
  emulator behind it, and one user (``USER``/``PASSWORD``).
* ``signed_in``: a ``requests.Session`` signed in as that user, with its CSRF token
  sent on every request (``.csrf``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from importer.config import load_settings
from importer.emulator.server import EmulatorServer
from importer.web.config import WebConfig
from importer.web.server import WebServer
from importer.web.users import UserStore

USER = "dana"
PASSWORD = "correct-horse-1"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


@dataclass
class Web:
    """A running web workspace."""

    server: WebServer
    config: WebConfig
    emulator: EmulatorServer

    @property
    def url(self) -> str:
        return self.server.url


def make_config(tmp_path: Path, **extra: object) -> WebConfig:
    """The config of a test server: data and state in tmp_path, one user."""
    settings = load_settings(None, state_dir=tmp_path / "state")
    users = tmp_path / "users.json"
    if not users.exists():
        UserStore(users).add(USER, PASSWORD)
    return WebConfig(settings=settings, data_dir=tmp_path / "web", users_file=users,
                     **extra)  # type: ignore[arg-type]


@contextlib.contextmanager
def serving(config: WebConfig) -> Iterator[WebServer]:
    """The web workspace with ``config`` on a free port of 127.0.0.1, stopped afterwards."""
    server = WebServer(config, "127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def web(emulator_env: EmulatorServer, tmp_path: Path) -> Iterator[Web]:
    """The web workspace on a free port, against the demo emulator."""
    config = make_config(tmp_path)
    with serving(config) as server:
        yield Web(server, config, emulator_env)


def sign_in(url: str, user: str = USER, password: str = PASSWORD) -> requests.Session:
    """A session signed in through POST /login, sending its CSRF token on every request."""
    session = requests.Session()
    answer = session.post(f"{url}/login", data={"username": user, "password": password},
                          headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 200, answer.text
    token = answer.json()["csrf_token"]
    session.headers["X-CSRF-Token"] = token
    session.csrf = token  # type: ignore[attr-defined]
    return session


@pytest.fixture
def signed_in(web: Web) -> requests.Session:
    """A signed-in API client."""
    return sign_in(web.url)
