"""``python3 scripts/dev.py serve``: the web workspace on the demo emulator, to try it.

Starts ``lead-importer emulator --demo`` and ``lead-importer serve`` as separate
processes (as a user would), with a demo user, and prints the address and the
login. Everything lives in the work folder given as the first argument; Ctrl-C
stops both.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from importer.emulator.server import start_emulator_process  # noqa: E402

USER, PASSWORD = "demo", "demo-password"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "importer", *args]


def _free_port(wanted: int) -> int:
    """``wanted`` when it is free on 127.0.0.1, else any free port."""
    for port in (wanted, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise SystemExit("no free port")


def main() -> int:
    """Run the emulator and the web workspace until Ctrl-C."""
    work = Path(sys.argv[1])
    port = _free_port(int(sys.argv[2]) if len(sys.argv) > 2 else 8080)
    work.mkdir(parents=True, exist_ok=True)
    emulator = start_emulator_process(["--demo", "--db", str(work / "emulator.db")])
    env = dict(os.environ, VOICENTER_API_URL=emulator.base_url, VOICENTER_ACCOUNT_CODE="demo",
               LEAD_IMPORTER_STATE_DIR=str(work / "state"))
    users = work / "users.json"
    subprocess.run(_cli("users", "add", USER, "--users", str(users)), input=PASSWORD + "\n",
                   text=True, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"\nThe web workspace: http://127.0.0.1:{port}/?lang=he  (English: ?lang=en)")
    print(f"Sign in as {USER!r} with the password {PASSWORD!r}.")
    print(f"Try it with the files in {ROOT / 'sample_data'}. Ctrl-C stops it.\n", flush=True)
    serve = subprocess.Popen(
        _cli("serve", "--port", str(port), "--data-dir", str(work / "web"), "--users", str(users)),
        env=env, cwd=ROOT,
    )
    try:
        return serve.wait()
    except KeyboardInterrupt:
        serve.wait(30)  # it got the Ctrl-C too and stops its jobs first
        return 0
    finally:
        emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
