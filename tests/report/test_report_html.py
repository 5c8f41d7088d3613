"""The HTML report: each section on the small run, escaping, graceful degradation, page size."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nps_text.report import render_report
from nps_text.report.config import ReportConfig
from nps_text.report.i18n import DE, EN, choose_language

from .conftest import FORMULA_COMMENT, IMG_COMMENT, SCRIPT_COMMENT

Run = tuple[dict[str, pd.DataFrame], dict[str, Any]]


def section(html: str, section_id: str) -> str:
    """The HTML of one ``<section id=...>``."""
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.DOTALL)
    assert match, f"section {section_id} missing"
    return match.group(0)


@pytest.fixture(scope="module")
def html_en(run_tables: Run) -> str:
    tables, manifest = run_tables
    return render_report(tables, manifest, ReportConfig(language="en"))


@pytest.fixture(scope="module")
def html_de(run_tables: Run) -> str:
    tables, manifest = run_tables
    return render_report(tables, manifest, ReportConfig(language="de"))


def test_sections_appear_in_the_agreed_order(html_en: str) -> None:
    order = ["headline", "trend", "segments", "improvement", "praise", "coverage", "follow-up"]
    positions = [html_en.index(f'<section id="{name}"') for name in order]
    assert positions == sorted(positions)


def test_headline_shows_nps_interval_and_significant_drop_in_words(html_en: str) -> None:
    headline = section(html_en, "headline")
    assert "13.0" in headline
    assert "95% confidence interval 1.1 to 24.9" in headline
    assert "a statistically significant drop" in headline
    assert "vs. 2026-W13" in headline
    assert "Latest period 2026-W14" in headline
    assert "Promoters <strong>44%</strong> (88)" in headline
    assert "3 input rows could not be used" in headline


def test_headline_says_not_significant_in_words(run_tables: Run) -> None:
    tables, manifest = run_tables
    changes = tables["nps_changes"].copy()
    changes["significant"] = False
    changes["direction"] = "none"
    html = render_report({**tables, "nps_changes": changes}, manifest, ReportConfig(language="en"))
    assert "not statistically significant" in section(html, "headline")
    assert "significant drop" not in section(html, "headline").replace("not statistically significant", "")


def test_segment_alerts_list_significant_segment_drops(html_en: str, run_tables: Run) -> None:
    tables, _ = run_tables
    changes = tables["nps_changes"]
    dropped = changes[(changes["segment"] != "all") & changes["significant"] & (changes["period"] == "2026-W14")]
    assert not dropped.empty
    headline = section(html_en, "headline")
    for _, row in dropped.iterrows():
        assert f"{row['segment']} {row['segment_value']}" in headline


def test_trend_chart_is_inline_svg_with_band_and_marked_drop(html_en: str) -> None:
    trend = section(html_en, "trend")
    assert trend.count("<svg") == 1
    assert "2026-W07" in trend and "2026-W14" in trend
    assert "significant drop" in trend  # legend entry for the red markers
    assert "#c62828" in trend  # the drop marker's colour
    assert "confidence interval" in trend


def test_segment_charts_one_per_passthrough_column(html_en: str) -> None:
    segments = section(html_en, "segments")
    assert segments.count("<svg") == 2
    for value in ("Berlin", "Hamburg", "München", "app", "web", "store"):
        assert value in segments
    assert "n=" in segments


def test_improvement_areas_show_impact_share_trend_and_quotes(html_en: str, run_tables: Run) -> None:
    tables, manifest = run_tables
    areas = section(html_en, "improvement")
    ranked = tables["improvement_areas"].sort_values("rank")
    labels = ranked["theme_label"].tolist()
    positions = [areas.index(label) for label in labels]
    assert positions == sorted(positions)
    first = ranked.iloc[0]  # as insights.improvement_areas computes it: 15 of the 41 detractors with a comment
    assert (first["detractor_count"], first["nps_impact"], round(100 * first["share_of_detractors"])) == (15, 7.5, 37)
    assert "NPS impact" in areas and "+7.5 points" in areas
    assert "Share of detractors" in areas and "37%" in areas
    assert "Trend: −33.3 pp vs. 2026-W13" in areas and "Trend: +33.3 pp vs. 2026-W13" in areas
    expected_quotes = sum(min(3, len(quotes)) for quotes in tables["improvement_areas"]["example_comments"])
    assert areas.count("<blockquote") == expected_quotes
    assert "Delivery took far too long." in areas
    # an emerging theme is marked as such
    emerging = tables["improvement_areas"].assign(trend=[12.5, 0.2, -4.0], trend_p_value=[0.01, 0.8, 0.6], emerging=[True, False, False])
    areas = section(render_report({**tables, "improvement_areas": emerging}, manifest, ReportConfig(language="en")),
                    "improvement")
    assert "Trend: +12.5 pp vs. 2026-W13" in areas and "emerging" in areas
    assert "Trend: −4.0 pp vs. 2026-W13" in areas
    assert 'class="badge trend-rising"' in areas


def test_praise_lists_promoter_themes_with_quotes(html_en: str) -> None:
    praise = section(html_en, "praise")
    assert "Freundliches Personal / friendly staff" in praise
    assert "of promoters" in praise
    assert "Staff were lovely and helpful." in praise or "Super freundliche Beratung in der Filiale!" in praise
    assert "Lieferzeit" not in praise


def test_coverage_counts_per_group(html_en: str, run_tables: Run) -> None:
    tables, _ = run_tables
    coverage = section(html_en, "coverage")
    responses = tables["responses"]
    counts = pd.crosstab(responses["nps_group"], responses["comment_status"]).astype(int).to_dict("index")
    for group, label in (("promoter", "Promoters"), ("passive", "Passives"), ("detractor", "Detractors")):
        row = re.search(rf"<th scope=\"row\">{label}</th>(.*?)</tr>", coverage, re.DOTALL)
        assert row
        numbers = [int(n) for n in re.findall(r'<td class="num">(\d+)', row.group(1))]
        expected = counts[group]
        assert numbers == [
            sum(expected.values()),
            expected["text"],
            expected["empty"],
            expected["non_informative"],
        ]


def test_trend_as_word_or_missing(run_tables: Run) -> None:
    tables, manifest = run_tables
    areas = tables["improvement_areas"].copy()
    areas["trend"] = ["rising", None, float("nan")]
    html = section(render_report({**tables, "improvement_areas": areas}, manifest, ReportConfig(language="de")), "improvement")
    assert "Trend: steigend" in html
    assert html.count("Trend:") == 1


def test_follow_up_lists_show_counts_and_first_rows(run_tables: Run) -> None:
    tables, manifest = run_tables
    html = render_report(tables, manifest, ReportConfig(language="en", follow_up_rows=4))
    follow_up = section(html, "follow-up")
    counts = tables["follow_up"]["follow_up"].value_counts()
    assert f"<strong>{counts['call_back_detractor']}</strong> Call back detractors" in follow_up
    assert f"First 4 of {counts['thank_promoter']}" in follow_up
    assert follow_up.count('<td class="id">') == 4 * len(counts)
    assert "nps-text export" in follow_up


def test_follow_up_lists_the_same_from_a_view_of_the_responses(run_tables: Run) -> None:
    """The run hands the report follow_up as a view of the responses (no second copy): the page is the same."""
    from nps_text.insights import follow_up_view

    tables, manifest = run_tables
    view = follow_up_view(tables["responses"])
    config = ReportConfig(language="en", follow_up_rows=4)
    from_view = section(render_report({**tables, "follow_up": view}, manifest, config), "follow-up")
    assert from_view == section(render_report(tables, manifest, config), "follow-up")
    assert from_view.count('<td class="id">') == 16


def test_german_ui_text(html_de: str) -> None:
    assert '<html lang="de">' in html_de
    assert "NPS-Bericht" in html_de
    assert "Wichtigste Verbesserungsfelder" in html_de
    assert "13,0" in html_de
    assert "statistisch signifikanter Rückgang" in html_de


def test_translations_have_the_same_keys() -> None:
    assert set(DE) == set(EN)


def test_language_auto_follows_the_comments() -> None:
    assert choose_language("auto", pd.DataFrame({"language": ["de", "de", "en", None]})) == "de"
    assert choose_language("auto", pd.DataFrame({"language": ["en", "fr", "fr"]})) == "en"
    assert choose_language("auto", pd.DataFrame({"score": [1]})) == "en"
    assert choose_language("de", None) == "de"


def test_comments_are_escaped_never_markup(html_en: str, html_de: str, run_tables: Run) -> None:
    for html in (html_en, html_de):
        assert "<script" not in html
        assert "onerror=alert" not in html.replace("onerror=alert(2)&gt;", "")
        assert "<img" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=alert(2)&gt;" in html
    # the fixture's hostile comments really are in the run, so the escaping above is exercised
    comments = set(run_tables[0]["responses"]["comment"].dropna())
    assert {SCRIPT_COMMENT, IMG_COMMENT} <= comments


def test_page_is_self_contained(html_en: str) -> None:
    assert "Content-Security-Policy" in html_en and "script-src 'none'" in html_en
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html_en)
    assert "@import" not in html_en
    assert not re.search(r"url\((?!#)", html_en)  # only references inside the page's own SVG
    assert "cdn" not in html_en.lower()


def test_element_ids_are_unique_across_charts(html_en: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', html_en)
    assert len(ids) == len(set(ids))


def test_formula_comment_shows_as_written(html_en: str, run_tables: Run) -> None:
    assert FORMULA_COMMENT in set(run_tables[0]["responses"]["comment"].dropna())
    assert "=HYPERLINK(&#34;http://evil.example&#34;,&#34;click&#34;)" in html_en
    # the spreadsheet guard (a leading quote) is for CSV/Excel only; the page shows the comment as written
    assert "&#39;=HYPERLINK" not in html_en and "'=HYPERLINK" not in html_en


def test_print_css_present(html_en: str) -> None:
    assert "@media print" in html_en and "@page" in html_en


@pytest.mark.parametrize(
    "missing",
    [
        ("themes",),
        ("improvement_areas",),
        ("follow_up",),
        ("sentences",),
        ("nps_changes",),
        ("themes", "improvement_areas", "follow_up", "sentences"),
        ("nps_summary", "nps_changes", "themes", "improvement_areas", "follow_up"),
    ],
)
def test_missing_tables_degrade_gracefully(run_tables: Run, missing: tuple[str, ...]) -> None:
    tables, manifest = run_tables
    reduced = {name: frame for name, frame in tables.items() if name not in missing}
    html = render_report(reduced, manifest, ReportConfig(language="en"))
    assert "<section id=\"follow-up\"" in html
    if "improvement_areas" in missing:
        assert "Improvement areas are not part of this run" in html
    if "follow_up" in missing:
        assert "Follow-up lists are not part of this run" in html
    if "themes" in missing:
        assert "Themes are not part of this run" in html
    if "nps_summary" in missing:
        assert "13.0" in section(html, "headline")  # computed from responses
        assert "no dates" in section(html, "trend")


def test_empty_tables_and_null_model_columns(run_tables: Run) -> None:
    tables, manifest = run_tables
    responses = tables["responses"].copy()
    for column in ("sentiment", "sentiment_confidence", "theme_id", "theme_label"):
        responses[column] = None
    empty = {name: frame.iloc[0:0] for name, frame in tables.items() if name != "responses"}
    html = render_report({**empty, "responses": responses}, {}, ReportConfig())
    assert "13.0" in html
    assert "Themes are not part of this run" in html


def test_only_responses_without_dates_or_segments() -> None:
    responses = pd.DataFrame(
        {
            "response_id": ["a", "b", "c"],
            "score": [10, 7, 2],
            "nps_group": ["promoter", "passive", "detractor"],
            "comment": ["Super", None, "<b>bad</b>"],
            "comment_status": ["text", "empty", "text"],
            "language": ["de", None, "de"],
        }
    )
    html = render_report({"responses": responses}, {}, ReportConfig())
    assert '<html lang="de">' in html
    assert "keinen Verlauf" in html
    assert "keine Segmentspalten" in html
    assert "<b>bad" not in html  # never markup (shown escaped where the page quotes it)


def test_no_responses_at_all() -> None:
    html = render_report({}, {}, ReportConfig(language="en"))
    assert "No NPS figures are available" in html


def test_render_does_not_mutate_tables(run_tables: Run) -> None:
    tables, manifest = run_tables
    before = {name: frame.copy() for name, frame in tables.items()}
    render_report(tables, manifest, ReportConfig())
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def big_run(run_tables: Run, n: int = 100_000) -> dict[str, pd.DataFrame]:
    """The small run scaled to ``n`` responses, 52 weeks and 400 branches (long comments too)."""
    tables, _ = run_tables
    rng = np.random.default_rng(1)
    repeats = -(-n // len(tables["responses"]))
    responses = pd.concat([tables["responses"]] * repeats, ignore_index=True).head(n)
    responses["response_id"] = [f"R{i:06d}" for i in range(n)]
    responses["comment"] = responses["comment"].where(responses["comment"].isna(), responses["comment"] + " x" * 400)
    weeks = [f"2025-W{w:02d}" for w in range(1, 53)]
    branches = [f"Branch {i:03d}" for i in range(400)]
    summary_rows = []
    for segment, values in (("all", ["all"]), ("branch", branches), ("channel", ["app", "web", "store"])):
        for value in values:
            for period in ["all", *weeks]:
                nps = float(rng.uniform(-40, 60))
                summary_rows.append(
                    {"segment": segment, "segment_value": value, "period": period, "responses": int(rng.integers(10, 500)),
                     "promoters": 1, "passives": 1, "detractors": 1, "nps": nps, "nps_ci_low": nps - 9, "nps_ci_high": nps + 9}
                )
    summary = pd.DataFrame(summary_rows)
    follow_up = responses.assign(follow_up="call_back_detractor")[
        ["follow_up", "response_id", "score", "nps_group", "comment_status", "comment", "theme_label", "branch"]
    ]
    areas = tables["improvement_areas"].copy()
    areas["example_comments"] = [[("lang " * 2000)] * 10] * len(areas)
    return {**tables, "responses": responses, "nps_summary": summary, "follow_up": follow_up, "improvement_areas": areas}


def test_page_stays_small_for_100k_responses(run_tables: Run) -> None:
    tables = big_run(run_tables)
    started = time.perf_counter()
    html = render_report(tables, {}, ReportConfig())
    seconds = time.perf_counter() - started
    size = len(html.encode("utf-8"))
    print(f"100k responses: {size / 1e6:.2f} MB in {seconds:.1f} s")
    assert size < 5_000_000


def test_rendering_is_deterministic(run_tables: Run) -> None:
    tables, manifest = run_tables
    assert render_report(tables, manifest, ReportConfig()) == render_report(tables, manifest, ReportConfig())


def test_without_matplotlib_the_report_explains_missing_charts(
    run_tables: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nps_text.report import charts

    monkeypatch.setattr(charts, "available", lambda: False)
    tables, manifest = run_tables
    html = render_report(tables, manifest, ReportConfig(language="en"))
    assert "<svg" not in html
    assert section(html, "trend").count("pip install matplotlib") == 1
    assert section(html, "segments").count("pip install matplotlib") == 2


def test_odd_values_in_charts(run_tables: Run) -> None:
    """Many periods (capped), missing intervals, and segment names with markup and math-text signs."""
    tables, manifest = run_tables
    days = pd.date_range("2025-01-01", periods=400, freq="D").strftime("%Y-%m-%d")
    overall = pd.DataFrame(
        {"segment": "all", "segment_value": "all", "period": ["all", *days], "responses": 5,
         "promoters": 2, "passives": 1, "detractors": 2, "nps": 0.0, "nps_ci_low": float("nan"), "nps_ci_high": float("nan")}
    )
    branches = pd.DataFrame(
        {"segment": "branch", "segment_value": ["$x^2$ & <b>Co</b>", "Düsseldorf", "A" * 80], "period": "all",
         "responses": [10, 20, 30], "promoters": 1, "passives": 1, "detractors": 1,
         "nps": [-100.0, 100.0, float("nan")], "nps_ci_low": [-100.0, 80.0, float("nan")], "nps_ci_high": [-80.0, 100.0, float("nan")]}
    )
    summary = pd.concat([overall, branches], ignore_index=True)
    html = render_report({**tables, "nps_summary": summary, "nps_changes": tables["nps_changes"].iloc[0:0]},
                         manifest, ReportConfig(language="en", max_periods=52))
    trend = section(html, "trend")
    assert "Showing the last 52 of 400 periods." in trend
    segments = section(html, "segments")
    assert "$x^2$ &amp; &lt;b&gt;Co&lt;/b&gt;" in segments
    assert "<b>Co" not in segments
    assert "Düsseldorf" in segments
    assert ">nan<" not in segments.lower()


def test_segment_values_are_capped(run_tables: Run) -> None:
    tables, manifest = run_tables
    rows = pd.DataFrame(
        {"segment": "product", "segment_value": [f"P{i}" for i in range(40)], "period": "all",
         "responses": range(1, 41), "promoters": 1, "passives": 1, "detractors": 1,
         "nps": 10.0, "nps_ci_low": 0.0, "nps_ci_high": 20.0}
    )
    summary = pd.concat([tables["nps_summary"], rows], ignore_index=True)
    html = render_report({**tables, "nps_summary": summary}, manifest, ReportConfig(language="en", max_segment_values=5))
    segments = section(html, "segments")
    assert "Showing the 5 largest of 40 values." in segments
    assert "P39" in segments and "P30" not in segments


def test_renders_tables_from_the_real_nps_step(run_tables: Run) -> None:
    """Guards the contract: the lead's nps step's summary and changes render as the fixture's do."""
    from nps_text import nps

    tables, manifest = run_tables
    summary = nps.nps_summary(tables["responses"], ["branch", "channel"])
    changes = nps.period_changes(summary)
    html = render_report({**tables, "nps_summary": summary, "nps_changes": changes}, manifest, ReportConfig(language="en"))
    headline = section(html, "headline")
    assert "13.0" in headline and "confidence interval" in headline
    assert "vs. 2026-W13" in headline
    assert section(html, "trend").count("<svg") == 1
    assert section(html, "segments").count("<svg") == 2


def test_headline_without_a_usable_nps(run_tables: Run) -> None:
    tables, manifest = run_tables
    summary = tables["nps_summary"].copy()
    summary["nps"] = float("nan")
    summary["responses"] = float("nan")
    html = render_report({"nps_summary": summary}, manifest, ReportConfig(language="en"))
    assert "No NPS figures are available" in section(html, "headline")
    assert "nan" not in section(html, "headline").lower()
