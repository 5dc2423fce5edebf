"""Fixtures for the end-to-end hardening tests: a work folder, a mapping, the child env."""

from __future__ import annotations

from pathlib import Path

import pytest

from importer.emulator.server import EmulatorServer
from tests.hardening._run import child_env

MAPPING = """\
name: hardening leads
phone:
  columns: [phone, טלפון]
fields:
  CustomerName: {column: name}
custom_data:
  var_Notes: {column: notes, optional: true}
dedupe:
  history_days: 0
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with ``mapping.yaml``; reports and state go below it."""
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return tmp_path


@pytest.fixture
def env(emulator: EmulatorServer) -> dict[str, str]:
    """The environment for a child ``python -m importer`` talking to the emulator."""
    return child_env(emulator.base_url)
