"""Notifications after each drop-folder file: a summary e-mail and/or a webhook.

Besides one notice per file (:class:`FileNotice`) there is one per set-up problem
(:class:`SetupNotice`): a mistake in the configuration or the account that keeps an
inbox's files waiting, sent once a day at most while it lasts (see ``importer.inbox``).

Failing to notify is logged and never stops the import: the files, the reports
and the error files in the folders are the record; notifications are a courtesy.
Each notification is tried once (a retry storm against a mail relay or a chat
webhook helps nobody).  Secrets never appear in logs: the SMTP password comes
from an environment variable, and webhook URLs are logged by host only because
chat webhooks carry their token in the path.
"""

from __future__ import annotations

import email.policy
import html
import json
import logging
import mimetypes
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from importer.errors import EXIT_OK, EXIT_ROWS_FAILED
from importer.i18n import Lang, _, is_rtl, use_language
from importer.inbox.config import EmailNotify, Notify, WebhookNotify, expand_env
from importer.outcomes import Status, status_name
from importer.redact import redact

__all__ = [
    "FileNotice",
    "Notice",
    "SetupNotice",
    "send_email",
    "send_notifications",
    "send_webhook",
]

log = logging.getLogger(__name__)

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NOT_A_LEAD = Status.NOT_A_LEAD.value
# Headers are not folded (998 is RFC 5322's line limit): Python's folding of a long
# non-ASCII subject into several encoded words drops the space where it splits them
# ("שום דבר לא" arrived as "שום דברלא").
_MAIL_POLICY = email.policy.default.clone(max_line_length=998)


class NotifyError(Exception):
    """A notification could not be sent (internal: always caught and logged)."""


@dataclass(frozen=True, slots=True)
class Block:
    """A piece of a notification's body, rendered as plain text and as HTML.

    ``kind``: ``fields`` (label/value pairs), ``table`` (a heading and name/number rows),
    ``list`` (an optional heading and items), ``heading`` or ``text``.  A ``glued`` block
    follows the one before without a blank line in the plain text.
    """

    kind: str
    text: str = ""
    items: tuple[object, ...] = ()
    glued: bool = False


def render_text(blocks: list[Block]) -> str:
    """The plain-text body: labels padded into columns, a blank line between blocks."""
    lines: list[str] = []
    for i, block in enumerate(blocks):
        if i and not block.glued:
            lines.append("")
        if block.kind == "fields":
            lines.extend(f"{label:<11}{value}" for label, value in _pairs(block))
        elif block.kind == "table":
            lines.append(block.text)
            lines.extend(f"  {name:<20} {n}" for name, n in _pairs(block))
        elif block.kind == "list":
            if block.text:
                lines.append(block.text)
            lines.extend(f"  {item}" for item in block.items)
        else:
            lines.append(block.text)
    return redact("\n".join(lines) + "\n")


def render_html(blocks: list[Block], *, title: str, lang: Lang) -> str:
    """The HTML body: every text escaped, right to left for Hebrew, values isolated (bdi)."""
    direction = "rtl" if is_rtl(lang) else "ltr"
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}" dir="{direction}">',
        f'<head><meta charset="utf-8"><title>{_esc(title)}</title></head>',
        f'<body dir="{direction}" style="font-family: Arial, Helvetica, sans-serif">',
    ]
    for block in blocks:
        if block.kind == "fields":
            out.append("<table>")
            out.extend(f"<tr><th style=\"text-align: start\">{_esc(label)}</th>"
                       f"<td><bdi>{_esc(value)}</bdi></td></tr>" for label, value in _pairs(block))
            out.append("</table>")
        elif block.kind == "table":
            out.append(f"<h3>{_esc(block.text)}</h3><table>")
            out.extend(f"<tr><td>{_esc(name)}</td><td><bdi>{_esc(n)}</bdi></td></tr>"
                       for name, n in _pairs(block))
            out.append("</table>")
        elif block.kind == "list":
            if block.text:
                out.append(f"<h3>{_esc(block.text)}</h3>")
            out.append("<ul>")
            out.extend(f"<li><bdi>{_esc(item)}</bdi></li>" for item in block.items)
            out.append("</ul>")
        elif block.kind == "heading":
            out.append(f"<h3>{_esc(block.text)}</h3>")
        else:
            out.append(f"<p>{_esc(block.text).replace(chr(10), '<br>')}</p>")
    out.append("</body></html>")
    return redact("\n".join(out) + "\n")


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pairs(block: Block) -> list[tuple[object, object]]:
    return [item for item in block.items if isinstance(item, tuple)]


@dataclass(slots=True)
class FileNotice:
    """What happened to one dropped file, as told to people and webhooks."""

    inbox: str
    file: str                                # the name as it was dropped
    outcome: str                             # "done", "failed", "retry" or "changed"
    exit_code: int
    location: str                            # where the file is now
    message: str                             # one plain-language sentence or paragraph
    campaign: str = ""
    dry_run: bool = False
    run_id: str = ""
    total_rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    reports: dict[str, Path] = field(default_factory=dict)
    error_file: Path | None = None
    finished_at: str = ""
    already_imported: bool = False           # nothing sent now: counts are the earlier run's
    language: Lang = "en"                    # of the subject, headline and body

    @property
    def is_problem(self) -> bool:
        """True unless every row was accounted for without API rejections."""
        return self.exit_code != EXIT_OK

    @property
    def about(self) -> str:
        """What the notice is about, for log lines."""
        return self.file

    def subject(self) -> str:
        """The e-mail subject, without the configured prefix."""
        with use_language(self.language):
            return _("{file}: {headline}").format(file=self.file, headline=self.headline())

    def attachments(self) -> list[Path]:
        """The error note, for any e-mail; the XLSX report is attached only when configured."""
        return [self.error_file] if self.error_file is not None else []

    def headline(self) -> str:
        """A short line such as ``120 added, 3 invalid_phone`` or ``FAILED``."""
        with use_language(self.language):
            return self._headline()

    def _headline(self) -> str:
        if self.outcome == "failed":
            return _("FAILED - nothing was imported")
        if self.outcome == "retry":
            return _("NOT IMPORTED YET - the dialer could not be reached; will retry")
        if self.outcome == "changed":
            return _("CHANGED WHILE BEING IMPORTED - will be imported whole once complete")
        if self.already_imported:
            return _("already imported earlier - nothing sent now")
        each = _("{count} {status}")
        parts = [
            each.format(count=n, status=status_name(status))
            for status, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if n and status != _NOT_A_LEAD
        ]
        text = ", ".join(parts) if parts else _("{count} rows").format(count=self.total_rows)
        not_leads = self.counts.get(_NOT_A_LEAD, 0)
        if not_leads:
            # Said apart and last: titles, headers and blank rows are not problems.
            text += "; " + each.format(count=not_leads, status=status_name(_NOT_A_LEAD))
        if self.exit_code == EXIT_ROWS_FAILED:
            text += _(" - some rows were not accepted, see the report")
        return _("dry run: {text}").format(text=text) if self.dry_run else text

    def as_json(self) -> dict[str, Any]:
        """The webhook payload (also logged); no account or campaign codes."""
        data = {
            "event": "lead-importer.file",
            "inbox": self.inbox,
            "file": self.file,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "headline": self.headline(),
            "message": self.message,
            "location": self.location,
            "campaign": self.campaign,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "total_rows": self.total_rows,
            "counts": dict(self.counts),
            "already_imported": self.already_imported,
            "reports": {k: str(v) for k, v in self.reports.items()},
            "error_file": str(self.error_file) if self.error_file else None,
            "finished_at": self.finished_at,
        }
        result: dict[str, Any] = json.loads(redact(json.dumps(data, ensure_ascii=False)))
        return result

    def body(self) -> str:
        """The plain-text body of the summary e-mail."""
        return render_text(self.blocks())

    def html(self) -> str:
        """The HTML body of the summary e-mail (right to left in Hebrew)."""
        return render_html(self.blocks(), title=self.subject(), lang=self.language)

    def blocks(self) -> list[Block]:
        """What the e-mail says, in the notice's language."""
        with use_language(self.language):
            fields: list[tuple[str, object]] = [
                (_("File:"), self.file), (_("Inbox:"), self.inbox),
                (_("Result:"), self._headline()),
            ]
            if self.campaign:
                fields.append((_("Campaign:"), self.campaign))
            fields.append((_("Now in:"), self.location))
            if self.total_rows:
                fields.append((_("Rows:"), self.total_rows))
            blocks = [Block("fields", items=tuple(fields))]
            if self.counts:
                rows = tuple((status_name(status), n) for status, n in sorted(self.counts.items())
                             if n and status != _NOT_A_LEAD)
                blocks.append(Block("table", _("Rows by status:"), rows))
                not_leads = self.counts.get(_NOT_A_LEAD, 0)
                if not_leads:
                    blocks.append(Block("text", _(
                        "Not leads: {count} row(s) were group titles, repeated headers, report "
                        "footers or blank rows (status {status}); nothing to do about them."
                    ).format(count=not_leads, status=status_name(_NOT_A_LEAD))))
            blocks.append(Block("text", self.message))
            if self.reports:
                blocks.append(Block("list", _("Reports:"), tuple(map(str, self.reports.values()))))
            if self.error_file:
                blocks.append(Block("text", _("Details: {path}").format(path=self.error_file)))
            return blocks


@dataclass(slots=True)
class SetupNotice:
    """A set-up problem that keeps an inbox's files waiting, as told to people and webhooks."""

    inbox: str
    exit_code: int                           # 2 configuration, 3 dialer or account
    problems: list[tuple[str, str, str]]     # (what was checked, what is wrong, how to fix it)
    waiting: list[str]                       # the files left where they are
    location: str                            # the inbox/ folder
    finished_at: str = ""
    outcome: str = "setup"
    reports: dict[str, Path] = field(default_factory=dict)   # none: nothing was imported
    language: Lang = "en"                    # of the subject, headline and body

    @property
    def is_problem(self) -> bool:
        """Always: a set-up problem is worth telling even with ``send: problems``."""
        return True

    @property
    def about(self) -> str:
        """What the notice is about, for log lines."""
        return f"the set-up of inbox {self.inbox!r}"

    def headline(self) -> str:
        """``SET-UP PROBLEM - 2 file(s) waiting, nothing imported``."""
        with use_language(self.language):
            return _("SET-UP PROBLEM - {count} file(s) waiting, nothing imported").format(
                count=len(self.waiting))

    def subject(self) -> str:
        """The e-mail subject, without the configured prefix."""
        with use_language(self.language):
            return _("inbox {inbox}: {headline}").format(inbox=self.inbox,
                                                         headline=self.headline())

    def attachments(self) -> list[Path]:
        """Nothing to attach: no file was read."""
        return []

    def as_json(self) -> dict[str, Any]:
        """The webhook payload; no account or campaign codes."""
        data = {
            "event": "lead-importer.setup",
            "inbox": self.inbox,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "headline": self.headline(),
            "message": self.message(),
            "problems": [
                {"check": check, "problem": what, "fix": how}
                for check, what, how in self.problems
            ],
            "waiting": list(self.waiting),
            "location": self.location,
            "finished_at": self.finished_at,
        }
        result: dict[str, Any] = json.loads(redact(json.dumps(data, ensure_ascii=False)))
        return result

    def message(self) -> str:
        """One paragraph: nothing is wrong with the files, this is what to change."""
        with use_language(self.language):
            fixes = " ".join(dict.fromkeys(_(how) for _c, _w, how in self.problems if how))
            return (
                _("This is a set-up problem, not a problem with the files: they stay where they "
                  "are and the next run after the fix imports them.") + f" {fixes}"
            ).strip()

    def body(self) -> str:
        """The plain-text body of the e-mail."""
        return render_text(self.blocks())

    def html(self) -> str:
        """The HTML body of the e-mail (right to left in Hebrew)."""
        return render_html(self.blocks(), title=self.subject(), lang=self.language)

    def blocks(self) -> list[Block]:
        """What the e-mail says, in the notice's language."""
        with use_language(self.language):
            blocks = [
                Block("fields", items=((_("Inbox:"), self.inbox),
                                       (_("Result:"), self.headline()),
                                       (_("Waiting:"), self.location))),
                Block("list", items=tuple(self.waiting), glued=True),
                Block("text", _(
                    "This is a set-up problem, not a problem with the files: they stay where "
                    "they are,\nnobody needs to drop them again, and the next run after the fix "
                    "imports them.")),
            ]
            for check, what, how in self.problems:
                blocks.append(Block("heading", _("What is wrong ({check})").format(check=check)))
                blocks.append(Block("text", _(what), glued=True))
                if how:
                    blocks.append(Block("heading", _("How to fix it"), glued=True))
                    blocks.append(Block("text", _(how), glued=True))
            blocks.append(Block("text", _(
                "`lead-importer inbox check --config inbox.yaml` checks the whole set-up. This "
                "notice is sent again after a day if the problem lasts, at once if it changes.")))
            return blocks


Notice = FileNotice | SetupNotice


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


def build_email(config: EmailNotify, notice: Notice) -> EmailMessage:
    """The summary e-mail, with the XLSX report attached when there is one."""
    msg = EmailMessage(policy=_MAIL_POLICY)
    msg["Subject"] = redact(f"{config.subject_prefix} {notice.subject()}".strip())
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    # Plain text for every mail reader, HTML for the right-to-left layout of Hebrew.
    msg.set_content(notice.body())
    msg.add_alternative(notice.html(), subtype="html")
    attachments: list[Path] = []
    xlsx = notice.reports.get("xlsx")
    if config.attach_report and xlsx is not None and xlsx.is_file():
        attachments.append(xlsx)
    attachments.extend(path for path in notice.attachments() if path.is_file())
    for path in attachments:
        ctype = _XLSX if path.suffix == ".xlsx" else mimetypes.guess_type(path.name)[0]
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        msg.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return msg


def send_email(config: EmailNotify, notice: Notice) -> None:
    """Send the summary e-mail; raises NotifyError on any failure."""
    password: str | None = None
    if config.password_env:
        password = os.environ.get(config.password_env)
        if not password:
            raise NotifyError(f"environment variable {config.password_env} is not set")
    try:
        msg = build_email(config, notice)
        context = ssl.create_default_context(
            cafile=str(config.ca_file) if config.ca_file else None
        )
        port = config.effective_port()
        smtp: smtplib.SMTP
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                config.host, port, timeout=config.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, port, timeout=config.timeout_seconds)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=context)
            if config.username:
                smtp.login(config.username, password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        # str(exc) of an SMTP error is the server's reply, never our password
        raise NotifyError(f"{type(exc).__name__}: {exc}") from None


def send_webhook(config: WebhookNotify, notice: Notice) -> None:
    """POST the summary as JSON, once; raises NotifyError on any failure."""
    headers = {k: expand_env(v) for k, v in config.headers.items()}
    try:
        response = requests.post(
            config.url,
            json=notice.as_json(),
            headers=headers,
            timeout=config.timeout_seconds,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise NotifyError(type(exc).__name__) from None
    if not 200 <= response.status_code < 300:
        raise NotifyError(f"HTTP {response.status_code}")


def send_notifications(notify: Notify, notice: Notice) -> list[str]:
    """Send the configured notifications; returns the channels that failed (logged)."""
    failed: list[str] = []
    email, webhook = notify.email, notify.webhook
    if email is not None and (email.send == "always" or notice.is_problem):
        try:
            send_email(email, notice)
            log.info("e-mail about %s sent to %s", notice.about, ", ".join(email.to))
        except NotifyError as exc:
            failed.append("email")
            log.warning(
                "could not send the e-mail about %s via %s:%s (%s); the file itself was "
                "handled normally", notice.about, email.host, email.effective_port(), exc,
            )
    if webhook is not None and (webhook.send == "always" or notice.is_problem):
        try:
            send_webhook(webhook, notice)
            log.info("webhook about %s sent to %s", notice.about, _host_of(webhook.url))
        except NotifyError as exc:
            failed.append("webhook")
            log.warning(
                "could not call the webhook %s about %s (%s); the file itself was handled "
                "normally", _host_of(webhook.url), notice.about, exc,
            )
    return failed
