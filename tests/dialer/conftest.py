"""Fixtures for the Dialer client tests: the emulator on 127.0.0.1 and a fast-retrying client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.retry import RetryPolicy
from importer.emulator.server import DemoAccount, EmulatorServer

# Short waits keep the suite fast; the attempt count still exercises real retries.
FAST_RETRY = RetryPolicy(max_attempts=8, initial_wait=0.01, max_wait=0.05, max_total=10.0,
                         max_retry_after=0.2)


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return FAST_RETRY


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    """The shared emulator fixture (tests/conftest.py), demo account seeded."""
    return emulator


@pytest.fixture
def demo(emulator: EmulatorServer) -> DemoAccount:
    assert emulator.demo is not None
    return emulator.demo


@pytest.fixture
def settings(server: EmulatorServer, demo: DemoAccount) -> Settings:
    return Settings(
        api_url=server.base_url,
        account_code=demo.account_code,
        connect_timeout=2.0,
        read_timeout=5.0,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[DialerClient]:
    with DialerClient(settings, retry=FAST_RETRY) as c:
        yield c


@pytest.fixture
def hot(demo: DemoAccount) -> str:
    """The smart-dialer demo campaign's code."""
    return demo.campaigns["Hot leads"]


@pytest.fixture
def callbacks(demo: DemoAccount) -> str:
    """The agent-dialer demo campaign's code."""
    return demo.campaigns["Callbacks"]
