"""Journey: a German survey through the real ``nps-text run`` (``report.language: de``), its report opened in
headless Chromium. What a German reader sees must be German and must not show Python's inner values.

The English UI words come from the English table of :mod:`nps_text.report.i18n` (minus the words the German
table uses too, and the words of the survey's own comments, which the page quotes); the page's visible text
(``innerText``, charts included) must contain none of them, nor ``{'``, ``None``, ``nan``, ``NaT``,
``True``/``False`` or a timestamp with microseconds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nps_text.report.i18n import DE, EN
from tests.journeys.conftest import Result, nps_text, write_csv

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
NO_CHROMIUM = "needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"

pytestmark = [
    pytest.mark.journey,
    pytest.mark.browser,
    # In CI a missing browser is a failure (see the fixture), never a silent skip.
    pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"), reason=NO_CHROMIUM),
]

HEADER = "id,score,kommentar,datum,filiale"
ROWS = [
    "1,2,Die Lieferung kam viel zu spät,05.01.2026,Berlin",
    "2,9,Sehr freundliches Personal,06.01.2026,Hamburg",
    "3,3,Lieferung zu spät und Paket beschädigt,07.01.2026,Berlin",
    "4,10,Alles super,08.01.2026,Hamburg",
    "5,1,Hotline nicht erreichbar,12.01.2026,Berlin",  # said once: the outlier theme ("Sonstiges")
    "6,7,Preis ist zu hoch,13.01.2026,Hamburg",
    "7,2,Lieferung verspätet,14.01.2026,Berlin",
    "8,10,Tolles Personal im Laden,15.01.2026,Hamburg",
    "9,0,k.A.,15.01.2026,Berlin",
    "10,8,,15.01.2026,Hamburg",
]
RAW_VALUES = {
    "dict": r"\{'",
    "repr pair": r"': ",
    "None": r"\bNone\b",
    "nan": r"\bnan\b",
    "NaT": r"\bNaT\b",
    "True/False": r"\b(True|False)\b",
    "microseconds": r"\d{2}:\d{2}:\d{2}\.\d{6}",
}


def _words(texts: Iterable[str]) -> set[str]:
    """Lower-case words of at least three letters, placeholders (``{n}``) left out."""
    return {
        word.lower()
        for text in texts
        for word in re.findall(r"[^\W\d_]{3,}", re.sub(r"\{[^}]*\}", " ", text))
    }


def english_ui_words(quoted: Iterable[str] = ()) -> set[str]:
    """Words of the English UI text that the German UI text does not use, nor the survey's own comments."""
    return _words(EN.values()) - _words(DE.values()) - _words(quoted)


@pytest.fixture(scope="module")
def german_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    work = tmp_path_factory.mktemp("report-de")
    write_csv(work / "umfrage.csv", HEADER, ROWS)
    (work / "bericht.yaml").write_text("report:\n  language: de\n", encoding="utf-8")
    result = nps_text(
        "run", "umfrage.csv", "--config", "bericht.yaml", "--out", "out", cwd=work, home=work / "home", timeout=600
    )
    assert result.returncode == 0, result.output[-3000:]
    return result, work / "out" / "report.html"


@pytest.fixture(scope="module")
def page_text(german_run: tuple[Result, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The report's visible text as Chromium renders it (offline, fresh profile)."""
    if not CHROMIUM.exists():
        pytest.fail(f"CI is set but chromium is missing: {NO_CHROMIUM}")
    from playwright import sync_api

    _, report = german_run
    with sync_api.sync_playwright() as playwright:
        context: Any = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            headless=True, offline=True, viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
            page.goto(report.resolve().as_uri(), wait_until="load")
            assert page.evaluate("document.documentElement.lang") == "de"
            yield str(page.inner_text("body"))
        finally:
            context.close()


def english_left(text: str, quoted: Iterable[str] = ()) -> list[str]:
    """English UI words found in ``text`` (whole words, any case)."""
    return sorted(word for word in english_ui_words(quoted) if re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE))


def raw_values(text: str) -> dict[str, list[str]]:
    """Python values shown as Python writes them, by kind."""
    found = {kind: re.findall(pattern, text) for kind, pattern in RAW_VALUES.items()}
    return {kind: matches for kind, matches in found.items() if matches}


def test_german_report_has_no_english_ui_text(page_text: str) -> None:
    assert "Wichtigste Verbesserungsfelder" in page_text and "Sonstiges" in page_text
    assert english_left(page_text, quoted=ROWS) == []


def test_german_report_shows_no_raw_python_values(page_text: str) -> None:
    assert raw_values(page_text) == {}


def test_the_checks_catch_what_they_look_for() -> None:
    """The two checks on text a broken page showed (so a pass above means something)."""
    broken = "Modelle cache: {'path': 'x', 'hits': None} Gestartet 2026-12-03T09:44:54.860728+00:00 Other Share now nan"
    assert {"other", "share", "now"} <= set(english_left(broken))
    assert set(raw_values(broken)) == {"dict", "repr pair", "None", "nan", "microseconds"}
    assert english_left("Überblick · Net Promoter Score · Trend · p") == []  # the same in both languages
