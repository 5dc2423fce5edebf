"""A real HTTP server for the emulated Dialer API, usable in-process or as a subprocess.

``EmulatorServer`` runs a ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, one thread per
connection, Nagle off) on a background thread over a SQLite ``Store``::

    with EmulatorServer(db_path=tmp / "emu.db", port=0) as server:
        demo = server.seed_demo()
        requests.post(f"{server.base_url}/GetCampaignList", json={"Code": demo.account_code})

Every request is recorded in ``request_log`` exactly as it came over the wire (method,
path with query, body) — that is its purpose: tests check that clients keep codes out of
URLs. The in-memory log keeps the last ``request_log_size`` requests and the first
``MAX_LOGGED_BODY`` characters of each body; the optional file (JSON lines) keeps whole
bodies. Ordinary logging (logger ``importer.emulator``) never shows paths, queries or
bodies, only the method name and the status, and only with ``verbose``.

Requests larger than ``MAX_BODY_BYTES`` get HTTP 413 and the connection is closed.
``start_emulator_process`` runs ``lead-importer emulator --port 0`` in a child process and
parses the URL it prints (for crash and restart tests).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import unquote, urlsplit

import platformdirs

from importer.config import DEFAULT_SETTINGS_METHOD
from importer.emulator.app import ApiRequest, ApiResponse, DialerApp, envelope, render
from importer.emulator.dialling import DialSimulator
from importer.emulator.faults import Action, FaultConfig, FaultInjector
from importer.emulator.store import CallRow, CampaignRow, Store

__all__ = [
    "API_BASE_PATH",
    "DEMO_ACCOUNT_CODE",
    "DemoAccount",
    "EmulatorProcess",
    "EmulatorServer",
    "FaultConfig",
    "LoggedRequest",
    "default_db_path",
    "start_emulator_process",
]

log = logging.getLogger("importer.emulator")

API_BASE_PATH = "/ForwardDialer/Dialer"
MAX_BODY_BYTES = 256 * 1024 * 1024
MAX_LOGGED_BODY = 1_000_000
DEMO_ACCOUNT_CODE = "demo"
DEMO_SMART_CAMPAIGN = "Hot leads"
DEMO_AGENT_CAMPAIGN = "Callbacks"
DEMO_MEMBERS = (("SIP1001", "Dana Cohen"), ("SIP1002", "Yossi Levi"))
URL_MARKER = "VOICENTER_API_URL="


def default_db_path() -> Path:
    """Where the emulator keeps its state unless told otherwise."""
    return Path(platformdirs.user_data_dir("lead-importer", appauthor=False)) / "emulator.db"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """The seeded demo account: its code and the codes of its two campaigns by name."""

    account_code: str
    campaigns: dict[str, str]


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as received (the wire view, secrets included)."""

    method: str  # API method from the path, as sent ("" if not an API path)
    http_method: str  # GET, POST, ...
    path: str  # path including the query string
    query: str  # the query string alone
    body: str  # the body as text (truncated in memory, see MAX_LOGGED_BODY)
    status: int | None = None  # HTTP status answered; None when the connection was dropped
    fault: str | None = None  # "fail", "rate_limited" or "drop" when a fault was injected
    time: float = 0.0  # epoch seconds when it arrived
    client_port: int = 0  # the client's port: equal ports = one reused connection


class _RequestLog:
    def __init__(self, size: int, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=size)
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def add(self, entry: LoggedRequest) -> None:
        kept = entry
        if len(entry.body) > MAX_LOGGED_BODY:
            cut = len(entry.body) - MAX_LOGGED_BODY
            kept = LoggedRequest(
                entry.method,
                entry.http_method,
                entry.path,
                entry.query,
                entry.body[:MAX_LOGGED_BODY] + f"...[{cut} more characters]",
                entry.status,
                entry.fault,
                entry.time,
                entry.client_port,
            )
        with self._lock:
            self._entries.append(kept)
            if self._file is not None:
                record = {
                    "time": entry.time,
                    "method": entry.method,
                    "http_method": entry.http_method,
                    "path": entry.path,
                    "body": entry.body,
                    "status": entry.status,
                    "fault": entry.fault,
                }
                self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._file.flush()

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive threads wait for clients; stop() closes them instead

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up mid-request is normal for a test server; stay quiet
        log.debug("connection error", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    # quiet: the default handler logs the request line, which may hold codes
    def log_message(self, format: str, *args: Any) -> None:
        """Drop http.server's own log lines."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Drop http.server's request lines (they contain query strings)."""

    def do_GET(self) -> None:
        """Serve a GET."""
        self._dispatch()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Refuse a PUT."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Refuse a DELETE."""
        self._dispatch()

    def do_PATCH(self) -> None:
        """Refuse a PATCH."""
        self._dispatch()

    def do_OPTIONS(self) -> None:
        """Refuse an OPTIONS."""
        self._dispatch()

    def do_HEAD(self) -> None:
        """Refuse a HEAD (no body allowed)."""
        self._read_body()
        self.send_response(405)
        self.send_header("Allow", "GET, POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _read_body(self) -> bytes | None:
        """The request body, or None when it is too large or unreadable."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, payload: dict[str, Any], headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        data = render(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self) -> None:
        emulator = self.server.emulator
        arrived = time.time()
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except (ValueError, OSError):
            body = None
        body_text = "" if body is None else body.decode("utf-8", errors="replace")
        name = ""
        path = unquote(split.path).rstrip("/")
        prefix = API_BASE_PATH.lower() + "/"
        if path.lower().startswith(prefix) and "/" not in path[len(prefix) :]:
            name = path[len(prefix) :]

        def record(status: int | None, fault: str | None = None) -> None:
            emulator._log_request(
                LoggedRequest(
                    name,
                    self.command,
                    self.path,
                    split.query,
                    body_text,
                    status,
                    fault,
                    arrived,
                    int(self.client_address[1]),
                )
            )

        def answer(response: ApiResponse, fault: str | None = None) -> None:
            record(response.status, fault)
            self._send(response.status, response.payload, response.headers)
            # only a known method's canonical name: a path segment could be anything
            shown = spec.name if spec is not None else "(unknown method)"
            log.info("%s %s -> %s", self.command, shown, response.status)

        spec = None
        if body is None:
            self.close_connection = True
            answer(ApiResponse(413, envelope(413, "Request body too large or unreadable")))
            return
        spec = emulator.app.route(name) if name else None
        if spec is None:
            answer(ApiResponse(404, envelope(404, f"Unknown method: {name or split.path}")))
            return
        if self.command not in ("GET", "POST") or (self.command == "GET" and not spec.allows_get):
            allowed = "GET, POST" if spec.allows_get else "POST"
            answer(
                ApiResponse(
                    405, envelope(405, f"{spec.name} accepts {allowed} only"), (("Allow", allowed),)
                )
            )
            return
        verdict = emulator.faults_injector.decide(spec.name, is_write=spec.is_write)
        if verdict.delay_s:
            time.sleep(verdict.delay_s)
        if verdict.action is Action.RATE_LIMITED:
            answer(
                ApiResponse(
                    429,
                    envelope(429, "Too many requests"),
                    (("Retry-After", str(verdict.retry_after)),),
                ),
                "rate_limited",
            )
            return
        if verdict.action is Action.FAIL:
            answer(
                ApiResponse(500, envelope(500, "Internal server error (injected fault)")), "fail"
            )
            return
        try:
            emulator.dialler.tick()
            response = emulator.app.handle(
                spec,
                ApiRequest(self.command, split.query, body, self.headers.get("Content-Type", "")),
            )
        except Exception:
            log.exception("emulator error in %s", spec.name)
            answer(ApiResponse(500, envelope(500, "Internal error in the emulator")))
            return
        if verdict.action is Action.DROP:
            record(None, "drop")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        answer(response)


class EmulatorServer:
    """The emulated Dialer API on a real socket, with a background serving thread."""

    def __init__(
        self,
        db_path: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
        seed: int | None = 0,
        *,
        settings_method: str = DEFAULT_SETTINGS_METHOD,
        request_log_path: Path | str | None = None,
        request_log_size: int = 10_000,
    ) -> None:
        self.db_path = (Path(db_path) if db_path is not None else default_db_path()).resolve()
        self.host = host
        self._requested_port = port
        self.store = Store(self.db_path)
        self.app = DialerApp(self.store, settings_method)
        self.faults_injector = FaultInjector(faults or FaultConfig(), seed)
        self.dialler = DialSimulator(self.store, (faults or FaultConfig()).dial_rate)
        self._log = _RequestLog(
            request_log_size, Path(request_log_path) if request_log_path else None
        )
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._seed_lock = threading.Lock()
        self.demo: DemoAccount | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the socket and serve on a background thread."""
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"dialer-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and the database."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            with httpd.connections_lock:
                open_connections = list(httpd.connections)
            for conn in open_connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            if self._thread is not None:
                self._thread.join(timeout=5)
        self._log.close()
        self.store.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._httpd is None:
            raise RuntimeError("the emulator is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port/ForwardDialer/Dialer``: the VOICENTER_API_URL to use."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}{API_BASE_PATH}"

    # --- faults and logs -----------------------------------------------------------------

    @property
    def faults(self) -> FaultConfig:
        """The current fault configuration."""
        return self.faults_injector.config

    def set_faults(self, faults: FaultConfig) -> None:
        """Change the injected faults (and the dialling rate) at runtime."""
        self.faults_injector.configure(faults)
        self.dialler.set_rate(faults.dial_rate)

    def _log_request(self, entry: LoggedRequest) -> None:
        self._log.add(entry)

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Requests received so far, oldest first (a copy)."""
        return self._log.entries()

    def clear_request_log(self) -> None:
        """Forget the in-memory request log."""
        self._log.clear()

    # --- state helpers for tests and the CLI ---------------------------------------------

    def seed_demo(self) -> DemoAccount:
        """Create (once) the demo account with its two campaigns; return their codes."""
        with self._seed_lock:
            existing = {c.name: c for c in self.store.campaigns_of(DEMO_ACCOUNT_CODE)}
            codes: dict[str, str] = {}
            for name, dynamic in ((DEMO_SMART_CAMPAIGN, False), (DEMO_AGENT_CAMPAIGN, True)):
                row = existing.get(name)
                if row is None:
                    row = self.store.create_campaign(
                        DEMO_ACCOUNT_CODE, name, is_dynamic=dynamic, enabled=True
                    )
                    if dynamic:
                        self.store.add_members(row.id, DEMO_MEMBERS)
                codes[name] = row.code
            self.demo = DemoAccount(DEMO_ACCOUNT_CODE, codes)
            return self.demo

    def add_campaign(
        self, account_code: str, name: str, is_dynamic: bool = False, enabled: bool = True
    ) -> str:
        """Create a campaign (and its account if new); return its code."""
        return self.store.create_campaign(
            account_code, name, is_dynamic=is_dynamic, enabled=enabled
        ).code

    def campaign(self, code: str) -> CampaignRow | None:
        """The stored campaign (with its smart-dialer settings), or None."""
        return self.store.campaign_by_code(code)

    def _campaign_id(self, code: str) -> int:
        row = self.store.campaign_by_code(code)
        if row is None:
            raise KeyError("no campaign with that code")
        return row.id

    def pending_calls(self, code: str) -> list[CallRow]:
        """Pending calls of a campaign, newest first (direct store access)."""
        return self.store.pending(self._campaign_id(code))

    def pending_phones(self, code: str) -> list[str]:
        """Pending phone numbers (digits), oldest first, duplicates kept."""
        return [c.phone for c in reversed(self.pending_calls(code))]

    def members(self, code: str) -> list[tuple[str, str]]:
        """(SIP code, display name) of a campaign's members."""
        return self.store.members(self._campaign_id(code))

    def dialled_count(self, code: str) -> int:
        """How many calls the dialling simulation consumed from a campaign."""
        return self.store.dialled_total(self._campaign_id(code))


@dataclass
class EmulatorProcess:
    """An emulator running as ``lead-importer emulator`` in a child process."""

    process: subprocess.Popen[str]
    base_url: str
    output: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 15.0) -> int:
        """Ask it to stop (SIGTERM / terminate) and wait; its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout)

    def kill(self) -> int:
        """Kill it without warning (a crash); its exit code."""
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(15)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.stop()


def parse_url_line(line: str) -> str | None:
    """The URL from a printed ``... VOICENTER_API_URL=<url>`` line, else None."""
    if URL_MARKER not in line:
        return None
    url = line.split(URL_MARKER, 1)[1].strip().strip('"').strip("'")
    return url or None


def start_emulator_process(
    args: Sequence[str] = (),
    *,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> EmulatorProcess:
    """Run ``python -m importer emulator --port 0 ARGS`` and wait for its URL line."""
    cmd = [sys.executable, "-m", "importer", "emulator", "--port", "0", *args]
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env=child_env,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip("\n"))
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name="emulator-output", daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(0.01, remaining))
        except queue.Empty:
            line = ""
            if remaining <= 0:
                proc.kill()
                proc.wait()
                raise RuntimeError(
                    "the emulator did not print its URL in time:\n" + "\n".join(output)
                ) from None
            continue
        if line is None:
            proc.wait()
            raise RuntimeError(
                f"the emulator exited with code {proc.returncode}:\n" + "\n".join(output)
            )
        url = parse_url_line(line)
        if url:
            return EmulatorProcess(proc, url, output)


def install_stop_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM (and SIGBREAK on Windows) for a graceful shutdown."""

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    if hasattr(signal, "SIGBREAK"):
        signal.signal(signal.SIGBREAK, handler)
