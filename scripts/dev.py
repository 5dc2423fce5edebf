#!/usr/bin/env python3
"""Quick-start driver: ``python3 scripts/dev.py demo``, ``test`` or ``serve``.

Needs only Python 3.11+ and pip: it creates ``.venv`` beside the project,
installs the project into it (again only when pyproject.toml changed), and runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def _ensure_venv(extra: str) -> None:
    if not PY.exists():
        print(f"creating {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    stamp = VENV / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("installing lead-importer and its dependencies into .venv ...", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    target = f".[{extra}]" if extra else "."
    subprocess.run([*pip, "-e", target], check=True, cwd=ROOT)
    stamp.write_text(digest)


def test(args: list[str]) -> int:
    """Install the test extra and run pytest, on every core unless ``-n`` is given."""
    _ensure_venv("test")
    # Every test has its own emulator, folders and ports, so they run side by side.
    # worksteal: an idle worker takes queued tests from a busy one, so a few long tests at
    # the end of one worker's queue do not keep the other idle.
    parallel = ([] if any(a.startswith(("-n", "--numprocesses")) for a in args)
                else ["-n", "auto", "--dist", "worksteal"])
    command = [str(PY), "-m", "pytest", *parallel, *args]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def demo(args: list[str]) -> int:
    """Start the emulator with the demo account, import sample_data/, show the result."""
    _ensure_venv("")
    work = Path(tempfile.mkdtemp(prefix="lead-importer-demo-"))
    demo_script = ROOT / "scripts" / "demo_run.py"
    command = [str(PY), str(demo_script), str(work), *args]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def serve(args: list[str]) -> int:
    """The web workspace on the demo emulator, with a demo user (``serve [PORT]``)."""
    _ensure_venv("")
    work = Path(tempfile.mkdtemp(prefix="lead-importer-web-"))
    command = [str(PY), str(ROOT / "scripts" / "web_demo.py"), str(work), *args]
    try:
        return subprocess.run(command, cwd=ROOT, check=False).returncode
    except KeyboardInterrupt:
        return 0


def main() -> int:
    """Dispatch to demo, test or serve."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may run on an old python3
        print("lead-importer needs Python 3.11 or newer")
        return 2
    commands = {"demo": demo, "test": test, "serve": serve}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
