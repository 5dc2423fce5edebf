"""`lead-importer users add/remove/list`: scrypt hashes in an owner-only file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from importer.cli import cli
from importer.web.users import UserStore, hash_password, verify_password


def _users(*args: str, stdin: str = "") -> Result:
    return CliRunner().invoke(cli, ["users", *args], input=stdin)


def test_add_list_remove(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    done = _users("add", "dana", "--users", str(users), stdin="correct-horse-1\n")
    assert done.exit_code == 0, done.output
    data = json.loads(users.read_text(encoding="utf-8"))
    stored = data["users"]["dana"]["password"]
    assert stored.startswith("scrypt$") and "correct-horse-1" not in users.read_text()
    assert users.stat().st_mode & 0o777 == 0o600
    assert UserStore(users).check("dana", "correct-horse-1")
    assert not UserStore(users).check("dana", "correct-horse-2")
    assert _users("list", "--users", str(users)).stdout.split() == ["dana"]
    assert _users("remove", "dana", "--users", str(users)).exit_code == 0
    assert _users("list", "--users", str(users)).stdout.startswith("No users")
    missing = _users("remove", "dana", "--users", str(users))
    assert missing.exit_code == 2 and "no user" in missing.stderr


def test_short_passwords_and_odd_names_are_refused(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    short = _users("add", "dana", "--users", str(users), stdin="short\n")
    assert short.exit_code == 2 and "too short" in short.stderr
    odd = _users("add", "../x", "--users", str(users), stdin="long-enough-1\n")
    assert odd.exit_code == 2 and "cannot be a user name" in odd.stderr
    assert "Traceback" not in short.stderr + odd.stderr


def test_hashes_are_salted() -> None:
    first, second = hash_password("same password"), hash_password("same password")
    assert first != second
    assert verify_password("same password", first) and verify_password("same password", second)
    assert not verify_password("same password", "garbage")
