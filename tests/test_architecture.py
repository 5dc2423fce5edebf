"""The package layers hold (import-linter contracts in pyproject.toml; docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import-linter's command, run by this interpreter in a process of its own: it reconfigures
# logging, which would change what other tests in the same worker see.
LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]


def test_the_layers_and_the_emulators_fence_hold() -> None:
    done = subprocess.run(
        [*LINT_IMPORTS, "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
