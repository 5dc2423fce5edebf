"""Fixtures for the differential tests: the corpus, and emulators with calls already pending."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.emulator.server import EmulatorServer, FaultConfig
from tests.engine.corpus import build_corpus, mobiles

# Corpus rows whose numbers are pending before a run (in "Hot leads"; a few in "Callbacks",
# which `pending_scope: account` sees), and numbers in no file, which a sync would remove.
PENDING_ROWS = (2, 13, 30, 64, 205, 222, 310, 345, 410, 505, 620, 705, 810, 905, 1010, 1105,
                1402, 1605, 1803)
OTHER_CAMPAIGN_ROWS = (50, 230, 1450)
NOT_IN_ANY_FILE = (3990, 3991, 3992)


def seed_pending(server: EmulatorServer) -> None:
    """Make the corpus's PENDING_ROWS numbers (and a few others) pending, with details."""
    demo = server.demo or server.seed_demo()
    client = DialerClient(Settings(api_url=server.base_url, account_code="demo"))
    numbers = mobiles()
    for n, row in enumerate((*PENDING_ROWS, *NOT_IN_ANY_FILE)):
        client.add_call(demo.campaigns["Hot leads"], CallTarget(
            target="972" + numbers[row][1:], customer_name=f"Pending {n}", priority=n % 4,
            custom_data={"var_LeadID": f"old-{n}", "var_City": "ישן", "var_Keep": "k"}))
    for row in OTHER_CAMPAIGN_ROWS:
        client.add_call(demo.campaigns["Callbacks"], CallTarget(target="972" + numbers[row][1:]))


def start_emulator(folder: Path) -> EmulatorServer:
    """A fresh emulator (demo account seeded, no faults) with the corpus's calls pending."""
    server = EmulatorServer(db_path=folder / "emulator.db", host="127.0.0.1", port=0,
                            faults=FaultConfig(), seed=0)
    server.start()
    server.seed_demo()
    seed_pending(server)
    return server


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every corpus file, written once per session."""
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """One emulator for a module's dry runs (they change nothing in it)."""
    server = start_emulator(tmp_path_factory.mktemp("emulator"))
    try:
        yield server
    finally:
        server.stop()
