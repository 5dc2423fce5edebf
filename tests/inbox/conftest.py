"""Shared pieces for the drop-folder tests: a small real processor and config builders."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from importer.config import Settings
from importer.errors import (
    DialerConnectionError,
    EmptySourceError,
    EncodingDetectionError,
    MappingError,
)
from importer.inbox import InboxRunner
from importer.inbox.config import InboxConfig, load_inbox_config
from importer.outcomes import Summary
from importer.pipeline import FileOutcome, ImportOptions, ImportResult


class CsvProcessor:
    """Stands in for run_import in the folder-mechanics tests: really reads the CSV.

    A ``phone`` column is required (MappingError listing the columns otherwise);
    a phone ``reject`` makes the file exit 1; a column ``offline`` simulates an
    unreachable API (exit 3); a column ``crash`` raises an unexpected error.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.options: list[ImportOptions] = []
        self._lock = threading.Lock()

    def __call__(
        self,
        paths: Sequence[Path],
        options: ImportOptions,
        settings: Settings,
        *,
        progress: Callable[..., None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ImportResult:
        path = paths[0]
        with self._lock:
            self.calls.append(path.name)
            self.options.append(options)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise EncodingDetectionError(str(path), "cannot tell the encoding") from None
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            raise EmptySourceError(str(path), "the file is empty")
        header = rows[0]
        if "crash" in header:
            raise RuntimeError("processor bug")
        if "offline" in header:
            raise DialerConnectionError("could not connect to the dialer", method="AddCallsBulk")
        if "phone" not in header:
            # As run_import does: without a mapping file, the hint is the automatic mapping's.
            automatic = options.mapping_path is None
            raise MappingError(
                str(path),
                [f"no column looks like a phone number; the columns are: {', '.join(header)}"],
                hint=MappingError.AUTOMATIC_HINT if automatic else None,
            )
        col = header.index("phone")
        phones = [r[col] for r in rows[1:] if len(r) > col]
        rejected = sum(1 for p in phones if p == "reject")
        counts = {"added": len(phones) - rejected}
        if rejected:
            counts["rejected"] = rejected
        options.report_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        report = options.report_dir / f"{path.stem}.{stamp}.report.csv"
        report.write_text("row,phone\n" + "".join(f"{i},{p}\n" for i, p in enumerate(phones, 2)))
        summary = Summary(
            source_file=path.name,
            campaign=options.campaign or "",
            mode=options.mode,
            dry_run=options.dry_run,
            started_at=datetime.now(UTC).isoformat(),
            counts=counts,
            total_rows=len(phones),
        )
        code = 1 if rejected else 0
        return ImportResult(
            files=[FileOutcome(path, summary, {"csv": report}, code)],
            run_id="run-1",
            exit_code=code,
        )


def write_config(root: Path, inboxes: list[dict[str, Any]] | None = None, **top: Any) -> Path:
    """Write an inbox.yaml under ``root`` (one inbox at ``root`` by default)."""
    data: dict[str, Any] = {"settle_seconds": 0, "poll_seconds": 0.05, **top}
    data["inboxes"] = inboxes or [{"name": "Leads", "path": ".", "campaign": "Hot leads"}]
    path = root / "inbox.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def processor() -> CsvProcessor:
    return CsvProcessor()


@pytest.fixture
def make_runner(tmp_path: Path, processor: CsvProcessor) -> Callable[..., InboxRunner]:
    """Build a runner over ``tmp_path`` with the CsvProcessor."""

    def build(config: InboxConfig | None = None, **top: Any) -> InboxRunner:
        if config is None:
            config = load_inbox_config(write_config(tmp_path, **top))
        runner = InboxRunner(config, Settings(), import_fn=processor)
        runner.prepare()
        return runner

    return build


def drop(
    folder: Path, name: str, text: str = "name,phone\nDana,0521234567\n", *, old: bool = True
) -> Path:
    """Save a file into a folder; ``old`` backdates it so it counts as settled."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    if old:
        past = time.time() - 3600
        os.utime(path, (past, past))
    return path


# --- local receivers for notifications ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SmtpSink:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self.received = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.received.set()
        return "250 OK"

    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    """A plain SMTP server on 127.0.0.1 that accepts LOGIN/PLAIN (password s3cret)."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        authenticator=sink.authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def tls_smtp_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SmtpSink, int, Path]]:
    """An SMTP server on 127.0.0.1 that requires STARTTLS, with a self-signed certificate."""
    import datetime as dt
    import ipaddress

    from aiosmtpd.controller import Controller
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    sink = SmtpSink()
    port = free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=sink.authenticator,
    )
    controller.start()
    try:
        yield sink, port, cert_path
    finally:
        controller.stop()


class WebhookSink:
    """Requests received by the local HTTP receiver."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.status = 200
        self.received = threading.Event()


@pytest.fixture
def webhook_server() -> Iterator[tuple[WebhookSink, str]]:
    """A stdlib HTTP server on 127.0.0.1 recording JSON POSTs; yields (sink, url)."""
    sink = WebhookSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            sink.requests.append((self.path, dict(self.headers.items()), body))
            self.send_response(sink.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            sink.received.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink, f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-token-path"
    finally:
        server.shutdown()
        server.server_close()
