"""The package layers hold (import-linter contracts in pyproject.toml; docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import-linter's console script, beside this interpreter (it reconfigures logging, so it
# runs in a process of its own rather than inside the test worker).
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_the_layers_and_the_emulators_fence_hold() -> None:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
