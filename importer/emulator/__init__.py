"""A local emulator of the Voicenter Dialer API: a real HTTP server with state and faults.

Modules: ``app`` (methods, validation, error codes and every assumption where the vendor
page is silent), ``targets`` (phone numbers and target fields), ``store`` (SQLite state),
``faults`` (latency, 500s, dropped connections, 429s), ``dialling`` (campaigns that drain
over time) and ``server`` (the HTTP server, the in-process helper, the subprocess helper).
"""

from __future__ import annotations

from importer.emulator.faults import FaultConfig
from importer.emulator.server import (
    API_BASE_PATH,
    DemoAccount,
    EmulatorProcess,
    EmulatorServer,
    LoggedRequest,
    default_db_path,
    start_emulator_process,
)

__all__ = [
    "API_BASE_PATH",
    "DemoAccount",
    "EmulatorProcess",
    "EmulatorServer",
    "FaultConfig",
    "LoggedRequest",
    "default_db_path",
    "start_emulator_process",
]
