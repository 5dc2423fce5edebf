"""StateLock and CampaignLock: one importer at a time across processes, even after a kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from importer import locking
from importer.errors import ConfigError, LockError
from importer.locking import CampaignLock, StateLock, campaign_lock_name

_HOLDER = """
import sys
from pathlib import Path
from importer import locking
from importer.locking import CampaignLock, StateLock, campaign_lock_name
lock = StateLock(Path(sys.argv[1]), sys.argv[2], timeout=30, purpose="importing leads.csv")
lock.acquire()
print("locked", flush=True)
sys.stdin.readline()          # hold until the parent says so (or kills us)
lock.release()
print("released", flush=True)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the "journal" lock of tmp_path/state."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "state"), "journal"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


def test_lock_and_owner_record(tmp_path: Path) -> None:
    lock = StateLock(tmp_path / "state", purpose="importing a.csv")
    with lock:
        assert lock.is_held
        owner = lock.owner()
        assert owner is not None
        assert owner.pid == os.getpid()
        assert owner.purpose == "importing a.csv"
        assert json.loads(lock.owner_path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert not lock.is_held
    assert not lock.owner_path.exists()
    with lock:                                     # reusable after release
        assert lock.is_held


def test_nested_acquire_on_one_object(tmp_path: Path) -> None:
    lock = StateLock(tmp_path, "inbox")
    with lock, lock:
        assert lock.is_held
    assert not lock.is_held


def test_second_object_in_the_same_process_is_excluded(tmp_path: Path) -> None:
    with StateLock(tmp_path, "journal"), pytest.raises(LockError):
        StateLock(tmp_path, "journal", timeout=0.2).acquire()
    with StateLock(tmp_path, "journal"), StateLock(tmp_path, "other", timeout=0.2):
        pass                                      # different names do not interfere


def test_second_process_waits_then_gets_a_clear_lock_error(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    lock = StateLock(tmp_path / "state", timeout=0.5)
    with pytest.raises(LockError) as err:
        lock.acquire()
    message = str(err.value)
    assert message.startswith(f"another lead-importer run is using {tmp_path / 'state'} (pid ")
    assert f"pid {holder.pid} on " in message
    assert "importing leads.csv" in message and "waited 0.5 s" in message
    assert err.value.exit_code == 3
    assert not lock.is_held


def test_lock_is_free_once_the_holder_releases(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    with StateLock(tmp_path / "state", timeout=5) as lock:
        owner = lock.owner()
        assert owner is not None and owner.pid == os.getpid()


def test_a_killed_holder_does_not_block_the_next_run(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    holder.kill()                                  # SIGKILL: no chance to clean up
    holder.wait(timeout=30)
    lock = StateLock(tmp_path / "state", timeout=10)
    assert lock.owner() is not None               # the stale owner record is still there
    with lock:
        owner = lock.owner()
        assert owner is not None and owner.pid == os.getpid()


def test_bad_names_and_unusable_directories(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lock name"):
        StateLock(tmp_path, "../escape")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create the lock file"):
        StateLock(blocker / "state").acquire()


CODE = "Xq7RkP2mWz9T"  # a campaign code: a secret that must never appear in a file name


def test_campaign_lock_files_hold_no_campaign_code(tmp_path: Path) -> None:
    lock = CampaignLock(
        CODE, tmp_path / "locks", campaign_name="Hot leads", purpose="importing a.csv"
    )
    with lock:
        files = sorted((tmp_path / "locks").iterdir())
        assert [f.name for f in files] == [lock.path.name, lock.owner_path.name]
        texts = [f.read_text(encoding="utf-8") for f in files]
    assert lock.path.name == f"{campaign_lock_name(CODE)}.lock"
    for text in [*(f.name for f in files), *texts]:
        assert CODE.lower() not in text.lower()
        assert "hot leads" not in text.lower() and "hot_leads" not in text.lower()
    assert "importing a.csv" in texts[1]                    # the holder's purpose is not secret


def test_campaign_lock_name_is_a_stable_fingerprint() -> None:
    name = campaign_lock_name(CODE)
    assert name == campaign_lock_name(CODE)                # every run finds the same file
    assert name != campaign_lock_name(CODE[:-1] + "U")
    assert name.startswith("campaign-") and len(name) == len("campaign-") + 32


def test_campaign_lock_excludes_runs_of_every_state_dir(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    with CampaignLock(CODE, locks, campaign_name="Hot leads", purpose="importing a.csv"):
        waiting = CampaignLock(CODE, locks, 0.2, campaign_name="Hot leads")
        with pytest.raises(LockError) as err:
            waiting.acquire()
        with CampaignLock("another-campaign-code", locks, 0.2):
            pass                                           # other campaigns go ahead
    message = str(err.value)
    assert message.startswith("another lead-importer run is importing into campaign 'Hot leads'")
    assert f"pid {os.getpid()} on " in message and "importing a.csv" in message
    assert "waited 0.2 s" in message and CODE not in message
    assert err.value.exit_code == 3
    with waiting:                                          # free once the first run is done
        assert waiting.is_held


def test_machine_wide_lock_folder_is_shared_by_every_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = tmp_path / "machine" / "lead-importer-locks"
    monkeypatch.setattr(locking, "default_lock_dir", lambda: machine)
    lock = CampaignLock(CODE)
    assert lock.machine_wide and lock.path.parent == machine
    with lock:
        if os.name != "nt":                                # like /tmp: sticky, open to all
            assert machine.stat().st_mode & 0o7777 == 0o1777
            assert lock.path.stat().st_mode & 0o777 == 0o666


def test_unusable_lock_folder_names_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="LEAD_IMPORTER_LOCK_DIR") as err:
        CampaignLock(CODE, blocker / "locks").acquire()
    assert CODE not in str(err.value)
