"""Serving the web workspace with uvicorn: in a thread (tests, dev) or in the foreground."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType

import uvicorn

from importer.errors import ConfigError
from importer.web.app import create_app
from importer.web.config import WebConfig

__all__ = ["WebServer"]


class _Server(uvicorn.Server):
    """uvicorn, minus its own signal handling: ``serve_forever`` installs ours."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """No handlers here (uvicorn's re-raise the signal at exit: exit status -15)."""
        yield


class WebServer:
    """``lead-importer serve``: the app on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        config: WebConfig,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        trusted_proxies: str = "127.0.0.1",
    ) -> None:
        """Bind the socket now, so the URL is known and a busy port fails at once."""
        self.app = create_app(config)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            # Listening now: connections made before uvicorn runs wait in the backlog.
            self.socket.listen(2048)
        except OSError as exc:
            self.socket.close()
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc})"
            ).with_hint("Choose another --port, or stop the program using this one.") from None
        self.host = host
        self.port = int(self.socket.getsockname()[1])
        self.server = _Server(uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=trusted_proxies,
            timeout_graceful_shutdown=5,
        ))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8080``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until SIGINT/SIGTERM: running jobs stop after their chunks in flight (as
        Ctrl-C stops an import) and are resumable; a second signal stops at once."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._stop_signal)
        try:
            self.server.run(sockets=[self.socket])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop_signal(self, _signum: int, _frame: FrameType | None) -> None:
        if self.server.should_exit:
            self.server.force_exit = True
        self.server.should_exit = True

    def start(self) -> None:
        """Serve in a background thread; returns once the server answers."""
        self._thread = threading.Thread(
            target=lambda: self.server.run(sockets=[self.socket]), name="web", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError("the web server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop a server started with ``start``."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
