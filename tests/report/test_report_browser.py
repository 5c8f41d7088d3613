"""The report in a real browser: headless Chromium (Debian's package, installed by ``.ci/run``).

Fails on any console error, page error or network request; saves a PNG screenshot (and a PDF print)
under the test's tmp dir. Skips only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nps_text.report import render_report
from nps_text.report.config import ReportConfig

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

NO_CHROMIUM = "needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"

pytestmark = [
    pytest.mark.browser,
    # In CI a missing browser is a failure (see below), never a silent skip.
    pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"), reason=NO_CHROMIUM),
]

Run = tuple[dict[str, pd.DataFrame], dict[str, Any]]


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the module, with a fresh profile, offline."""
    if not CHROMIUM.exists():
        pytest.fail(f"CI is set but chromium is missing: {NO_CHROMIUM}")
    from playwright import sync_api

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            offline=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


class PageWatch:
    """Collects what the page did that it must not do."""

    def __init__(self, page: Any, own_url: str) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.own_url = own_url
        page.on("console", self.on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", self.on_request)

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)


    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def on_request(self, request: Any) -> None:
        if request.url != self.own_url:
            self.requests.append(request.url)


def open_report(context: Any, path: Path) -> tuple[Any, PageWatch]:
    page = context.new_page()
    url = path.resolve().as_uri()
    watch = PageWatch(page, url)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)  # let anything deferred (it must not exist) happen
    return page, watch


def test_report_opens_cleanly_offline_and_screenshot(browser_context: Any, run_tables: Run, tmp_path: Path) -> None:
    tables, manifest = run_tables
    path = tmp_path / "report.html"
    path.write_text(render_report(tables, manifest, ReportConfig(language="de")), encoding="utf-8")
    page, watch = open_report(browser_context, path)
    try:
        assert watch.console_errors == []
        assert watch.page_errors == []
        assert watch.requests == []
        assert page.title() == "NPS-Bericht"
        assert page.locator("section.card").count() == 7
        assert page.locator("figure.chart svg").count() == 3
        # Charts are laid out at a readable size.
        box = page.locator("#trend svg").bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 150
        # The body font really is a sans-serif (the inline CSS parsed).
        family = page.evaluate("getComputedStyle(document.body).fontFamily")
        assert "Arial" in family
        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 10_000
        page.emulate_media(media="print")
        page.pdf(path=str(tmp_path / "report.pdf"), format="A4")
        assert (tmp_path / "report.pdf").stat().st_size > 10_000
        assert watch.requests == [] and watch.console_errors == []
    finally:
        page.close()


def test_injected_script_does_not_execute(browser_context: Any, run_tables: Run, tmp_path: Path) -> None:
    tables, manifest = run_tables
    attacks = [
        "<script>window.__pwned = 'script'; alert(1)</script>",
        "<img src=x onerror=\"window.__pwned = 'img'; alert(2)\">",
        "\"><svg onload=\"window.__pwned = 'svg'\"></svg>",
        "</blockquote><iframe src=\"javascript:alert(3)\"></iframe>",
    ]
    responses = tables["responses"].copy()
    follow_up = tables["follow_up"].copy()
    areas = tables["improvement_areas"].copy()
    detractor_rows = follow_up.index[follow_up["follow_up"] == "call_back_detractor"][: len(attacks)]
    follow_up.loc[detractor_rows, "comment"] = attacks
    areas["example_comments"] = [attacks[:3]] * len(areas)
    areas.loc[0, "theme_label"] = attacks[0]
    path = tmp_path / "attack.html"
    html = render_report(
        {**tables, "responses": responses, "follow_up": follow_up, "improvement_areas": areas},
        manifest,
        ReportConfig(language="en"),
    )
    path.write_text(html, encoding="utf-8")
    page, watch = open_report(browser_context, path)
    try:
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert watch.dialogs == []
        assert watch.requests == []  # <img src=x> would have been fetched
        injected = page.evaluate(
            "document.querySelectorAll('script, iframe, img, [onerror], [onload]').length"
        )
        assert injected == 0
        text = page.locator("#improvement").inner_text()
        assert "<script>window.__pwned = 'script'; alert(1)</script>" in text
        assert "<img src=x onerror=" in page.locator("#follow-up").inner_text()
        assert watch.console_errors == [] and watch.page_errors == []
    finally:
        page.close()
