"""A drop folder in Hebrew: its inbox.yaml, notes, e-mails (real SMTP) and reports."""

from __future__ import annotations

from pathlib import Path

import yaml
from openpyxl import load_workbook

from importer.config import load_settings
from importer.emulator.server import EmulatorServer
from importer.i18n import FSI, PDI
from importer.inbox import InboxRunner
from importer.inbox.config import load_inbox_config
from importer.inbox.notify import FileNotice
from importer.inbox.runner import init_inbox
from tests.inbox.conftest import SmtpSink, WebhookSink, drop
from tests.phone_samples import valid_mobiles


def test_inbox_init_writes_hebrew_for_a_hebrew_campaign_or_locale(tmp_path: Path) -> None:
    he = init_inbox(tmp_path / "a", campaign="לידים חמים", environ={"LANG": "en_US.UTF-8"})
    assert yaml.safe_load(he.read_text(encoding="utf-8"))["inboxes"][0]["language"] == "he"
    by_locale = init_inbox(tmp_path / "b", campaign="Hot leads", environ={"LANG": "he_IL.UTF-8"})
    assert load_inbox_config(by_locale).inboxes[0].language == "he"
    english = init_inbox(tmp_path / "c", campaign="Hot leads", environ={"LANG": "C.UTF-8"})
    assert load_inbox_config(english).inboxes[0].language is None


def test_a_drop_folder_in_hebrew_note_and_email(
    emulator_env: EmulatorServer, tmp_path: Path, smtp_server: tuple[SmtpSink, int],
    webhook_server: tuple[WebhookSink, str],
) -> None:
    sink, port = smtp_server
    hooks, url = webhook_server
    root = tmp_path / "leads"
    config_path = init_inbox(root, campaign="Hot leads", environ={"LANG": "he_IL.UTF-8"})
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["settle_seconds"] = 0
    data["state_dir"] = str(tmp_path / "state")
    data["inboxes"][0]["notify"] = {"email": {
        "host": "127.0.0.1", "port": port, "security": "none", "from": "leads@example.co.il",
        "to": ["marketing@example.co.il"]}, "webhook": {"url": url}}
    config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_inbox_config(config_path)
    runner = InboxRunner(config, load_settings(None))
    runner.prepare()
    good = valid_mobiles(2)
    drop(root / "inbox", "טובים.csv", f"name,phone\nDana,{good[0]}\nRon,{good[1]}\n")
    drop(root / "inbox", "bad.csv", "name,email\nDana,d@example.com\n")
    runner.run_once()

    [note] = (root / "failed").glob("*.error.txt")
    text = note.read_text(encoding="utf-8-sig")
    assert text.startswith("\u200flead-importer לא הצליח לייבא את הקובץ הזה.")
    assert "מה הבעיה" in text and "איך מתקנים" in text
    assert f"קובץ:      {FSI}bad.csv{PDI}" in text
    # The commonest failure, a file without a phone column, in Hebrew too.
    assert "אין עמודה עם מספרי טלפון ב-" in text and "המיפוי שהוצע לקובץ" in text

    by_file = {m["Subject"].split(":")[0]: m for m in sink.messages}
    mail = by_file["[lead-importer] טובים.csv"]
    assert mail["Subject"].endswith("נוסף: 2")
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
    assert "שורות לפי סטטוס:" in plain.get_content()
    page = html.get_content()
    assert '<html lang="he" dir="rtl">' in page and "<th" in page
    assert "נוסף" in page and "<bdi>" in page
    failed_mail = by_file["[lead-importer] bad.csv"]
    assert failed_mail["Subject"].endswith("נכשל - שום דבר לא יובא")
    # The webhook: the same keys and codes, the message and headline in Hebrew.
    payloads = {body["file"]: body for _, _, body in hooks.requests}
    good_hook = payloads["טובים.csv"]
    assert good_hook["outcome"] == "done" and good_hook["counts"]["added"] == 2
    assert good_hook["message"].startswith("יובא.") and good_hook["headline"] == "נוסף: 2"
    assert payloads["bad.csv"]["outcome"] == "failed"
    # The reports of the folder are Hebrew too.
    [xlsx] = (root / "reports").glob("*.report.xlsx")
    assert load_workbook(xlsx).sheetnames == ["סיכום", "שורות"]


def test_html_escapes_what_comes_from_files() -> None:
    notice = FileNotice(inbox="<b>x</b>", file="<script>alert(1)</script>.csv", outcome="done",
                        exit_code=0, location="/tmp/a&b", message="line1\n<i>line2</i>",
                        counts={"added": 1}, language="he")
    page = notice.html()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<i>" not in page and "&lt;i&gt;line2&lt;/i&gt;<" in page.replace("<br>", "")
    assert "/tmp/a&amp;b" in page
    english = FileNotice(inbox="x", file="f.csv", outcome="done", exit_code=0, location="l",
                         message="m").html()
    assert '<html lang="en" dir="ltr">' in english
