"""The pages in a real headless Chromium (Playwright driving Debian's chromium), in Hebrew.

Sign in, upload a Hebrew CRM export, change a column's choice, preview (counts per status,
problem rows), import (live progress, counts), download the report, undo. With
``LEAD_IMPORTER_SCREENSHOTS=DIR`` each page is also saved there as a PNG (the README's
screenshots: ``LEAD_IMPORTER_SCREENSHOTS=docs/screenshots pytest tests/web/test_browser.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from importer.emulator.server import EmulatorServer
from importer.inbox.config import parse_inbox_config
from tests.web.conftest import PASSWORD, SAMPLES, USER, Web, make_config, serving

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (.ci/run installs it)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="he-IL",
                                  accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def web_inbox(emulator_env: EmulatorServer, tmp_path: Path) -> Iterator[Web]:
    """The web workspace with a drop folder that has a file in failed/."""
    for folder in ("inbox", "failed", "done"):
        (tmp_path / "leads" / folder).mkdir(parents=True)
    failed = tmp_path / "leads" / "failed" / "לידים מהאתר.csv"
    failed.write_bytes((SAMPLES / "crm_export_he.csv").read_bytes())
    inbox = parse_inbox_config({"inboxes": [{"name": "לידים", "path": "leads"}]},
                               base_dir=tmp_path)
    config = make_config(tmp_path, inbox=inbox)
    with serving(config) as server:
        yield Web(server, config, emulator_env)


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("LEAD_IMPORTER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _sign_in(page: Page, web: Web) -> None:
    page.goto(f"{web.url}/login?lang=he")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    _shot(page, "1-sign-in")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{web.url}/")


def test_upload_columns_preview_import_report_undo_in_hebrew(
    web_inbox: Web, page: Page, tmp_path: Path
) -> None:
    web = web_inbox
    _sign_in(page, web)
    expect(page.locator("h1")).to_have_text("איזה קובץ מייבאים?")
    expect(page.locator("table.inbox")).to_contain_text("לידים מהאתר.csv")
    _shot(page, "2-upload")

    page.set_input_files("#files", str(SAMPLES / "crm_export_he.csv"))
    page.wait_for_url("**/uploads/*")
    expect(page.locator(".facts")).to_contain_text("windows-1255")
    expect(page.locator(".facts")).to_contain_text("24")
    _shot(page, "3-file")

    page.click("a.button.primary")
    page.wait_for_url("**/columns")
    city = page.locator("tr[data-column='עיר'] select.role")
    expect(city).to_have_value("custom")
    with page.expect_response("**/mapping") as changed:
        city.select_option("ignore")
    assert changed.value.ok
    expect(page.locator("#problems li")).to_have_count(0)
    expect(page.locator("#campaign")).to_contain_text("Hot leads")
    _shot(page, "4-columns")

    page.select_option("#campaign", "Hot leads")
    page.click("#preview")
    page.wait_for_url("**/jobs/*")
    expect(page.locator("table.counts")).to_contain_text("יתווספו", timeout=30_000)
    expect(page.locator("table.rows tbody tr").first).to_be_visible()
    expect(page.locator("table.rows")).to_contain_text("טלפון לא תקין")
    _shot(page, "5-preview")
    preview_url = page.url

    page.click("#import-now")
    page.wait_for_url(lambda url: url != preview_url)
    expect(page.locator("table.counts")).to_contain_text("נוספו", timeout=30_000)
    added = page.locator("table.counts tr.status-added td").inner_text()
    assert int(added.replace(",", "")) > 0
    _shot(page, "6-import")

    with page.expect_download() as download:
        page.click("a[href$='/csv']")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("crm_export_he.") and saved.name.endswith(".report.csv")
    assert "status" in saved.read_text(encoding="utf-8-sig").splitlines()[0]

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#undo")
    page.wait_for_url(lambda url: "/jobs/" in url and url != preview_url)
    expect(page.locator("table.counts")).to_contain_text("הוסרו", timeout=30_000)
    assert page.locator("table.counts tr.status-removed td").inner_text() == added
    _shot(page, "7-undo")

    page.click("a[href='/runs']")
    expect(page.locator("table.runs")).to_contain_text("crm_export_he.csv")
    expect(page.locator("table.runs")).to_contain_text(USER)
    _shot(page, "8-runs")


def test_pages_need_a_session_and_english_works(web: Web, page: Page) -> None:
    page.goto(f"{web.url}/runs")
    page.wait_for_url("**/login?next=/runs")
    page.goto(f"{web.url}/login?lang=en&next=/runs")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_have_text("Wrong user name or password.")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/runs")
    expect(page.locator("h1")).to_have_text("Recent imports")
