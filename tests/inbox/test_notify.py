"""Notifications: real SMTP (aiosmtpd) and HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook

from importer.inbox import InboxRunner
from importer.inbox.config import EmailNotify, WebhookNotify, load_inbox_config
from importer.inbox.notify import FileNotice, send_notifications
from importer.redact import register_secret
from tests.inbox.conftest import SmtpSink, WebhookSink, drop, free_port, write_config

Runner = Callable[..., InboxRunner]


def _notice(tmp_path: Path, **kw: object) -> FileNotice:
    xlsx = tmp_path / "leads.20261128T120000Z.report.xlsx"
    wb = Workbook()
    wb.active.append(["row", "status"])  # type: ignore[union-attr]
    wb.save(xlsx)
    base: dict[str, object] = {
        "inbox": "Facebook",
        "file": "לידים.xlsx",
        "outcome": "done",
        "exit_code": 0,
        "location": str(tmp_path / "done" / "לידים.xlsx"),
        "message": "Imported.",
        "campaign": "Hot leads",
        "total_rows": 3,
        "counts": {"added": 2, "invalid_phone": 1},
        "reports": {"xlsx": xlsx},
    }
    base.update(kw)
    return FileNotice(**base)  # type: ignore[arg-type]


def _email(port: int, **kw: object) -> EmailNotify:
    data: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "leads@example.co.il",
        "to": ["marketing@example.co.il", "boss@example.co.il"],
    }
    data.update(kw)
    return EmailNotify.model_validate(data)


def test_summary_email_with_the_xlsx_report_attached(
    smtp_server: tuple[SmtpSink, int], tmp_path: Path
) -> None:
    sink, port = smtp_server
    from importer.inbox.config import Notify

    failed = send_notifications(Notify(email=_email(port)), _notice(tmp_path))
    assert failed == []
    [msg] = sink.messages
    assert sink.envelopes[0] == (
        "leads@example.co.il",
        ["marketing@example.co.il", "boss@example.co.il"],
    )
    assert msg["Subject"] == "[lead-importer] לידים.xlsx: 2 added, 1 invalid_phone"
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Campaign:  Hot leads" in text and "invalid_phone" in text
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "leads.20261128T120000Z.report.xlsx"
    assert attachment.get_content_type() == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert attachment.get_content()[:2] == b"PK"


def test_rows_that_are_not_leads_are_told_apart_not_as_problems(
    smtp_server: tuple[SmtpSink, int], tmp_path: Path
) -> None:
    sink, port = smtp_server
    from importer.inbox.config import Notify

    notice = _notice(tmp_path, total_rows=8, counts={"added": 4, "missing_phone": 1,
                                                     "not_a_lead": 3})
    assert not notice.is_problem
    problems_only = Notify(email=_email(port, send="problems"))
    assert send_notifications(problems_only, notice) == [] and sink.messages == []
    assert send_notifications(Notify(email=_email(port)), notice) == []
    [msg] = sink.messages
    assert msg["Subject"] == "[lead-importer] לידים.xlsx: 4 added, 1 missing_phone; 3 not_a_lead"
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    by_status = text.split("Rows by status:\n", 1)[1].split("\n\n", 1)[0]
    assert by_status.splitlines() == ["  added                4", "  missing_phone        1"]
    assert "Not leads: 3 row(s) were group titles, repeated headers, report footers" in text


def test_email_login_takes_the_password_from_the_environment(
    smtp_server: tuple[SmtpSink, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, port = smtp_server
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    from importer.inbox.config import Notify

    config = _email(port, username="leads", password_env="TEST_SMTP_PASSWORD")
    assert send_notifications(Notify(email=config), _notice(tmp_path)) == []
    assert sink.logins == [(b"leads", b"s3cret")]
    assert len(sink.messages) == 1


def test_starttls_with_a_private_ca(
    tls_smtp_server: tuple[SmtpSink, int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, port, cert = tls_smtp_server
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    from importer.inbox.config import Notify

    trusted = _email(
        port,
        security="starttls",
        username="leads",
        password_env="TEST_SMTP_PASSWORD",
        ca_file=str(cert),
    )
    assert send_notifications(Notify(email=trusted), _notice(tmp_path)) == []
    assert len(sink.messages) == 1
    # without the CA the certificate is refused: logged, not raised
    untrusted = _email(port, security="starttls")
    assert send_notifications(Notify(email=untrusted), _notice(tmp_path)) == ["email"]
    assert len(sink.messages) == 1


def test_webhook_posts_the_summary_once(
    webhook_server: tuple[WebhookSink, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, url = webhook_server
    monkeypatch.setenv("TEST_HOOK_TOKEN", "tok-123")
    from importer.inbox.config import Notify

    hook = WebhookNotify(url=url, headers={"Authorization": "Bearer ${TEST_HOOK_TOKEN}"})
    register_secret("CAMPAIGN-CODE-XYZ")
    notice = _notice(tmp_path, message="refused by CAMPAIGN-CODE-XYZ")
    assert send_notifications(Notify(webhook=hook), notice) == []
    [(path, headers, body)] = sink.requests
    assert path == "/hooks/secret-token-path"
    assert headers["Authorization"] == "Bearer tok-123"
    assert body["file"] == "לידים.xlsx"
    assert body["outcome"] == "done"
    assert body["counts"] == {"added": 2, "invalid_phone": 1}
    assert body["campaign"] == "Hot leads"
    assert "CAMPAIGN-CODE-XYZ" not in str(body)


def test_notification_failures_are_logged_not_raised(
    webhook_server: tuple[WebhookSink, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink, url = webhook_server
    sink.status = 500
    from importer.inbox.config import Notify

    notify = Notify(email=_email(free_port()), webhook=WebhookNotify(url=url))
    with caplog.at_level(logging.WARNING):
        assert send_notifications(notify, _notice(tmp_path)) == ["email", "webhook"]
    assert len(sink.requests) == 1  # tried once, no retry storm
    assert "secret-token-path" not in caplog.text  # webhook URLs are logged by host only
    assert "HTTP 500" in caplog.text


def test_send_problems_only(smtp_server: tuple[SmtpSink, int], tmp_path: Path) -> None:
    sink, port = smtp_server
    from importer.inbox.config import Notify

    notify = Notify(email=_email(port, send="problems"))
    send_notifications(notify, _notice(tmp_path))
    assert sink.messages == []
    send_notifications(notify, _notice(tmp_path, outcome="failed", exit_code=2, reports={}))
    assert len(sink.messages) == 1


def test_inbox_notifies_after_each_file(
    smtp_server: tuple[SmtpSink, int],
    webhook_server: tuple[WebhookSink, str],
    tmp_path: Path,
    make_runner: Runner,
) -> None:
    sink, port = smtp_server
    hooks, url = webhook_server
    config = load_inbox_config(
        write_config(
            tmp_path,
            [
                {
                    "name": "Leads",
                    "path": ".",
                    "campaign": "Hot leads",
                    "notify": {
                        "email": {
                            "host": "127.0.0.1",
                            "port": port,
                            "security": "none",
                            "from": "leads@example.co.il",
                            "to": "marketing@example.co.il",
                        },
                        "webhook": {"url": url},
                    },
                }
            ],
        )
    )
    runner = make_runner(config)
    drop(tmp_path / "inbox", "good.csv")
    drop(tmp_path / "inbox", "bad.csv", "name,email\nDana,d@x\n")
    result = runner.run_once()
    assert result.exit_code == 2
    subjects = sorted(m["Subject"] for m in sink.messages)
    assert subjects == [
        "[lead-importer] bad.csv: FAILED - nothing was imported",
        "[lead-importer] good.csv: 1 added",
    ]
    failed_mail = next(m for m in sink.messages if "bad.csv" in m["Subject"])
    [note] = list(failed_mail.iter_attachments())
    assert note.get_filename() == "bad.csv.error.txt"
    outcomes = sorted((b["file"], b["outcome"]) for _, _, b in hooks.requests)
    assert outcomes == [("bad.csv", "failed"), ("good.csv", "done")]
    bad = next(b for _, _, b in hooks.requests if b["file"] == "bad.csv")
    assert "no column looks like a phone number" in bad["message"]
    assert bad["error_file"].endswith("bad.csv.error.txt")


def test_unreachable_notifications_do_not_stop_the_inbox(
    tmp_path: Path, make_runner: Runner
) -> None:
    config = load_inbox_config(
        write_config(
            tmp_path,
            [
                {
                    "name": "Leads",
                    "path": ".",
                    "notify": {
                        "email": {
                            "host": "127.0.0.1",
                            "port": free_port(),
                            "security": "none",
                            "from": "a@b.c",
                            "to": "d@e.f",
                            "timeout_seconds": 2,
                        },
                        "webhook": {
                            "url": f"http://127.0.0.1:{free_port()}/x",
                            "timeout_seconds": 2,
                        },
                    },
                }
            ],
        )
    )
    runner = make_runner(config)
    drop(tmp_path / "inbox", "a.csv")
    drop(tmp_path / "inbox", "b.csv")
    result = runner.run_once()
    assert [f.outcome for f in result.files] == ["done", "done"]
