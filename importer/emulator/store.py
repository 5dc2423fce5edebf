"""The emulator's state in SQLite: accounts, campaigns, pending calls, members.

One connection shared by all request threads behind a lock (requests are short and the
GIL serialises Python work anyway); WAL journal so a killed emulator loses nothing it
answered for. Call ids are a per-campaign counter that is never reused, like the vendor's
sequential ``CallID``. Duplicates are kept: the same number may be pending several times in
one campaign, exactly as the real service does.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CallRow",
    "CampaignRow",
    "CampaignStats",
    "NewCall",
    "Store",
    "iso_utc",
    "new_code",
]

_SCHEMA_VERSION = "1"
_FIRST_CAMPAIGN_ID = 13570
_CODE_ALPHABET = string.ascii_letters + string.digits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (code TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    account_code TEXT NOT NULL REFERENCES accounts(code),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    is_dynamic INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    next_call_id INTEGER NOT NULL DEFAULT 1,
    queue_for_monitoring INTEGER,
    queue_maximum_callers INTEGER,
    coefficient INTEGER,
    dialled_total INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    call_id INTEGER NOT NULL,
    phone TEXT NOT NULL,
    customer_name TEXT NOT NULL DEFAULT '',
    caller_id TEXT NOT NULL DEFAULT '',
    caller_name TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 1,
    custom_data TEXT,
    originate_time INTEGER,
    is_date_local INTEGER,
    ignore_dnc INTEGER,
    inserted_ms INTEGER NOT NULL,
    inserted_at TEXT NOT NULL,
    last_call_ms INTEGER
);
CREATE INDEX IF NOT EXISTS calls_by_phone ON calls (campaign_id, phone);
CREATE INDEX IF NOT EXISTS calls_by_call_id ON calls (campaign_id, call_id);
CREATE INDEX IF NOT EXISTS calls_by_dial_order ON calls (campaign_id, priority DESC, call_id);
CREATE INDEX IF NOT EXISTS calls_by_originate ON calls (campaign_id, originate_time);
CREATE TABLE IF NOT EXISTS members (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    member TEXT NOT NULL,
    display_name TEXT NOT NULL,
    PRIMARY KEY (campaign_id, member)
);
"""


_PENDING_JSON_SQL = """
SELECT json_object(
    'CampaignID', campaign_id,
    'CallID', CAST(call_id AS TEXT),
    'Phone', phone,
    'CallStatus', json('{"Status":1,"Description":"Tosend"}'),
    'CallInserted', inserted_at,
    'CallerID', caller_id,
    'CallerName', caller_name,
    'CustomerName', customer_name,
    'Priorety', priority,
    'LastCallDate', CASE WHEN last_call_ms IS NULL THEN NULL
        ELSE strftime('%Y-%m-%d %H:%M:%f', last_call_ms / 1000.0, 'unixepoch') END,
    'CustomData', json(custom_data),
    'OriginateTime', originate_time,
    'IsDateLocal', CASE WHEN is_date_local IS NULL THEN NULL
        WHEN is_date_local THEN json('true') ELSE json('false') END
)
FROM calls WHERE campaign_id = ? ORDER BY call_id DESC
"""


def iso_utc(ms: int) -> str:
    """``2022-08-31T14:31:11.400Z`` for epoch milliseconds."""
    stamp = datetime.fromtimestamp(ms / 1000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def new_code(length: int = 32) -> str:
    """A random-looking campaign code like the vendor's (letters and digits)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One campaign as stored."""

    id: int
    account_code: str
    code: str
    name: str
    is_dynamic: bool
    enabled: bool
    queue_for_monitoring: int | None = None
    queue_maximum_callers: int | None = None
    coefficient: int | None = None


@dataclass(frozen=True, slots=True)
class CampaignStats:
    """Counts shown in campaign objects."""

    total_pending: int
    max_priority: int | None
    min_priority: int | None
    awaiting: int


@dataclass(frozen=True, slots=True)
class NewCall:
    """A call to insert (or the new values of an updated call)."""

    campaign_id: int
    phone: str
    customer_name: str = ""
    caller_id: str = ""
    priority: int = 1
    custom_data: dict[str, Any] | None = None
    originate_time: int | None = None
    is_date_local: bool | None = None
    ignore_dnc: bool | None = None


@dataclass(frozen=True, slots=True)
class CallRow:
    """A pending call as stored."""

    campaign_id: int
    call_id: int
    phone: str
    customer_name: str
    caller_id: str
    caller_name: str
    priority: int
    custom_data: dict[str, Any] | None
    originate_time: int | None
    is_date_local: bool | None
    inserted_ms: int
    last_call_ms: int | None


_CAMPAIGN_COLUMNS = (
    "id, account_code, code, name, is_dynamic, enabled, "
    "queue_for_monitoring, queue_maximum_callers, coefficient"
)
_CALL_COLUMNS = (
    "campaign_id, call_id, phone, customer_name, caller_id, caller_name, priority, "
    "custom_data, originate_time, is_date_local, inserted_ms, last_call_ms"
)
_UPDATABLE = {
    "customer_name": "customer_name",
    "caller_id": "caller_id",
    "priority": "priority",
    "custom_data": "custom_data",
    "originate_time": "originate_time",
    "is_date_local": "is_date_local",
    "ignore_dnc_status": "ignore_dnc",
}


def _campaign(row: Sequence[Any]) -> CampaignRow:
    return CampaignRow(
        id=row[0],
        account_code=row[1],
        code=row[2],
        name=row[3],
        is_dynamic=bool(row[4]),
        enabled=bool(row[5]),
        queue_for_monitoring=row[6],
        queue_maximum_callers=row[7],
        coefficient=row[8],
    )


def _call(row: Sequence[Any]) -> CallRow:
    return CallRow(
        campaign_id=row[0],
        call_id=row[1],
        phone=row[2],
        customer_name=row[3],
        caller_id=row[4],
        caller_name=row[5],
        priority=row[6],
        custom_data=json.loads(row[7]) if row[7] is not None else None,
        originate_time=row[8],
        is_date_local=None if row[9] is None else bool(row[9]),
        inserted_ms=row[10],
        last_call_ms=row[11],
    )


def _db_value(attr: str, value: Any) -> Any:
    if attr == "custom_data":
        return None if value is None else json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


class Store:
    """Thread-safe access to the emulator database."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._conn.executescript(_SCHEMA)
        with self._tx() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (_SCHEMA_VERSION,),
            )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # --- meta and accounts -------------------------------------------------------------

    def meta_get(self, key: str) -> str | None:
        """A value from the meta table."""
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def meta_set(self, key: str, value: str) -> None:
        """Store a value in the meta table."""
        with self._tx() as cur:
            cur.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def account_exists(self, code: str) -> bool:
        """True when the account code is known."""
        return bool(self._read("SELECT 1 FROM accounts WHERE code = ?", (code,)))

    # --- campaigns -----------------------------------------------------------------------

    def create_campaign(
        self, account_code: str, name: str, *, is_dynamic: bool, enabled: bool
    ) -> CampaignRow:
        """Create a campaign (and its account if new) with a fresh secret code."""
        with self._tx() as cur:
            cur.execute("INSERT OR IGNORE INTO accounts (code) VALUES (?)", (account_code,))
            (next_id,) = cur.execute(
                "SELECT COALESCE(MAX(id) + 1, ?) FROM campaigns", (_FIRST_CAMPAIGN_ID,)
            ).fetchone()
            code = new_code()
            cur.execute(
                "INSERT INTO campaigns (id, account_code, code, name, is_dynamic, enabled) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (next_id, account_code, code, name, int(is_dynamic), int(enabled)),
            )
        return CampaignRow(next_id, account_code, code, name, is_dynamic, enabled)

    def campaign_by_code(self, code: str) -> CampaignRow | None:
        """The campaign with this code, if any."""
        rows = self._read(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE code = ?", (code,))
        return _campaign(rows[0]) if rows else None

    def campaigns_of(self, account_code: str) -> list[CampaignRow]:
        """Every campaign of an account, oldest first."""
        rows = self._read(
            f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE account_code = ? ORDER BY id",
            (account_code,),
        )
        return [_campaign(r) for r in rows]

    def enabled_campaign_ids(self) -> list[int]:
        """Ids of enabled campaigns (for the dialling simulation)."""
        return [r[0] for r in self._read("SELECT id FROM campaigns WHERE enabled = 1")]

    def set_enabled(self, campaign_id: int, enabled: bool) -> None:
        """Start or stop a campaign."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE campaigns SET enabled = ? WHERE id = ?", (int(enabled), campaign_id)
            )

    def set_settings(
        self, campaign_id: int, queue: int, maximum_callers: int, coefficient: int
    ) -> None:
        """Store smart-dialer pacing settings."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE campaigns SET queue_for_monitoring = ?, queue_maximum_callers = ?, "
                "coefficient = ? WHERE id = ?",
                (queue, maximum_callers, coefficient, campaign_id),
            )

    def stats(self, campaign_ids: Iterable[int], now_s: float) -> dict[int, CampaignStats]:
        """Pending counts and priority range per campaign."""
        out: dict[int, CampaignStats] = {}
        with self._lock:
            for cid in campaign_ids:
                # separate queries so SQLite answers MIN/MAX and the future count from indexes
                (total,) = self._conn.execute(
                    "SELECT COUNT(*) FROM calls WHERE campaign_id = ?", (cid,)
                ).fetchone()
                (max_p,) = self._conn.execute(
                    "SELECT MAX(priority) FROM calls WHERE campaign_id = ?", (cid,)
                ).fetchone()
                (min_p,) = self._conn.execute(
                    "SELECT MIN(priority) FROM calls WHERE campaign_id = ?", (cid,)
                ).fetchone()
                (future,) = self._conn.execute(
                    "SELECT COUNT(*) FROM calls WHERE campaign_id = ? AND originate_time > ?",
                    (cid, int(now_s)),
                ).fetchone()
                out[cid] = CampaignStats(total, max_p, min_p, total - future)
        return out

    # --- calls ---------------------------------------------------------------------------

    def insert_calls(self, calls: Sequence[NewCall], now_ms: int | None = None) -> int:
        """Insert calls in one transaction, numbering them per campaign."""
        if not calls:
            return 0
        with self._tx() as cur:
            self._insert(cur, calls, now_ms)
        return len(calls)

    @staticmethod
    def _insert(cur: sqlite3.Cursor, calls: Sequence[NewCall], now_ms: int | None) -> None:
        inserted_ms = int(time.time() * 1000) if now_ms is None else now_ms
        inserted_at = iso_utc(inserted_ms)
        counters: dict[int, int] = {}
        for cid in {c.campaign_id for c in calls}:
            (counters[cid],) = cur.execute(
                "SELECT next_call_id FROM campaigns WHERE id = ?", (cid,)
            ).fetchone()
        params = []
        for c in calls:
            call_id = counters[c.campaign_id]
            counters[c.campaign_id] = call_id + 1
            params.append(
                (
                    c.campaign_id,
                    call_id,
                    c.phone,
                    c.customer_name,
                    c.caller_id,
                    c.priority,
                    _db_value("custom_data", c.custom_data),
                    c.originate_time,
                    _db_value("is_date_local", c.is_date_local),
                    _db_value("ignore_dnc", c.ignore_dnc),
                    inserted_ms,
                    inserted_at,
                )
            )
        cur.executemany(
            "INSERT INTO calls (campaign_id, call_id, phone, customer_name, caller_id, "
            "priority, custom_data, originate_time, is_date_local, ignore_dnc, inserted_ms, "
            "inserted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params,
        )
        cur.executemany(
            "UPDATE campaigns SET next_call_id = ? WHERE id = ?",
            [(n, cid) for cid, n in counters.items()],
        )

    def update_or_insert(self, call: NewCall, present: Iterable[str]) -> int:
        """Update the given fields of every pending call of that phone; insert if none.

        Returns how many calls were updated (0 means the call was added).
        """
        sets = [(col, attr) for attr, col in _UPDATABLE.items() if attr in set(present)]
        with self._tx() as cur:
            updated = 0
            if sets:
                attr_values = {
                    "customer_name": call.customer_name,
                    "caller_id": call.caller_id,
                    "priority": call.priority,
                    "custom_data": call.custom_data,
                    "originate_time": call.originate_time,
                    "is_date_local": call.is_date_local,
                    "ignore_dnc_status": call.ignore_dnc,
                }
                assignments = ", ".join(f"{col} = ?" for col, _ in sets)
                values = [_db_value(attr, attr_values[attr]) for _, attr in sets]
                updated = cur.execute(
                    f"UPDATE calls SET {assignments} WHERE campaign_id = ? AND phone = ?",
                    (*values, call.campaign_id, call.phone),
                ).rowcount
            else:
                (updated,) = cur.execute(
                    "SELECT COUNT(*) FROM calls WHERE campaign_id = ? AND phone = ?",
                    (call.campaign_id, call.phone),
                ).fetchone()
            if updated == 0:
                self._insert(cur, [call], None)
        return updated

    def remove_phone(self, campaign_id: int, phone: str) -> int:
        """Remove every pending call of a phone; how many went."""
        with self._tx() as cur:
            return cur.execute(
                "DELETE FROM calls WHERE campaign_id = ? AND phone = ?", (campaign_id, phone)
            ).rowcount

    def clear(self, campaign_id: int) -> int:
        """Remove every pending call of a campaign."""
        with self._tx() as cur:
            return cur.execute("DELETE FROM calls WHERE campaign_id = ?", (campaign_id,)).rowcount

    def pending(self, campaign_id: int) -> list[CallRow]:
        """Pending calls, newest first."""
        rows = self._read(
            f"SELECT {_CALL_COLUMNS} FROM calls WHERE campaign_id = ? ORDER BY call_id DESC",
            (campaign_id,),
        )
        return [_call(r) for r in rows]

    def pending_json(self, campaign_id: int) -> str:
        """The ``Calls`` array of GetCampaignPendingCalls as JSON text, newest first.

        Built by SQLite's JSON functions: several times faster than Python for 100k calls.
        """
        rows = self._read(_PENDING_JSON_SQL, (campaign_id,))
        return "[" + ",".join(r[0] for r in rows) + "]"

    def dial(self, campaign_id: int, count: int, now_s: float) -> int:
        """Consume up to ``count`` due calls, highest priority then oldest first."""
        if count <= 0:
            return 0
        with self._tx() as cur:
            gone = cur.execute(
                "DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE campaign_id = ? "
                "AND (originate_time IS NULL OR originate_time <= ?) "
                "ORDER BY priority DESC, call_id LIMIT ?)",
                (campaign_id, int(now_s), count),
            ).rowcount
            cur.execute(
                "UPDATE campaigns SET dialled_total = dialled_total + ? WHERE id = ?",
                (gone, campaign_id),
            )
        return gone

    def dialled_total(self, campaign_id: int) -> int:
        """How many calls the dialling simulation consumed from a campaign."""
        rows = self._read("SELECT dialled_total FROM campaigns WHERE id = ?", (campaign_id,))
        return int(rows[0][0]) if rows else 0

    # --- members -------------------------------------------------------------------------

    def members(self, campaign_id: int) -> list[tuple[str, str]]:
        """(member, display name) pairs in the order they were added."""
        return [
            (r[0], r[1])
            for r in self._read(
                "SELECT member, display_name FROM members WHERE campaign_id = ? ORDER BY rowid",
                (campaign_id,),
            )
        ]

    def add_members(self, campaign_id: int, members: Sequence[tuple[str, str]]) -> int:
        """Add members not yet present; how many were new."""
        with self._tx() as cur:
            added = 0
            for member, display in members:
                added += cur.execute(
                    "INSERT OR IGNORE INTO members (campaign_id, member, display_name) "
                    "VALUES (?, ?, ?)",
                    (campaign_id, member, display),
                ).rowcount
            return added

    def remove_members(self, campaign_id: int, members: Sequence[str]) -> int:
        """Remove members; how many were present."""
        with self._tx() as cur:
            removed = 0
            for member in members:
                removed += cur.execute(
                    "DELETE FROM members WHERE campaign_id = ? AND member = ?",
                    (campaign_id, member),
                ).rowcount
            return removed
