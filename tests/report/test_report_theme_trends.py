"""Emerging and fading themes beside the NPS trend, and the multi-theme note of the improvement areas."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from nps_text.report import render_report
from nps_text.report.config import ReportConfig
from nps_text.report.i18n import DE, EN

Run = tuple[dict[str, pd.DataFrame], dict[str, Any]]


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.DOTALL)
    assert match, f"section {section_id} missing"
    return match.group(0)


def test_theme_trends_sit_beside_the_nps_trend(run_tables: Run) -> None:
    tables, manifest = run_tables
    trends = tables["theme_trends"]
    latest = trends[trends["period"] == trends["period"].max()]
    for language, text in (("en", EN), ("de", DE)):
        html = render_report(tables, manifest, ReportConfig(language=language))
        trend = _section(html, "trend")
        assert text["theme_trends"] in trend
        assert str(latest["previous_period"].iloc[0]) in trend
        for label in latest["theme_label"]:
            assert str(label) in trend
        # the improvement areas say that one detractor can count for several themes
        improvement = _section(html, "improvement")
        assert ("more than 100%" if language == "en" else "mehr als 100 %") in improvement


def test_flagged_themes_come_first_with_their_p_value(run_tables: Run) -> None:
    tables, manifest = run_tables
    trends = tables["theme_trends"].copy()
    last = trends["period"].max()
    mask = (trends["period"] == last) & (trends["theme_id"] == trends.loc[trends["period"] == last, "theme_id"].iloc[-1])
    trends.loc[mask, ["trend", "p_value"]] = ["fading", 0.0004]
    html = render_report({**tables, "theme_trends": trends}, manifest, ReportConfig(language="en"))
    table = re.search(r'<table class="theme-trends">.*?</table>', _section(html, "trend"), re.DOTALL)
    assert table
    first_row = table.group(0).split("<tbody>")[1].split("</tr>")[0]
    assert "fading" in first_row and "&lt; 0.001" in first_row


def test_no_theme_trends_section_without_the_table_or_a_previous_period(run_tables: Run) -> None:
    tables, manifest = run_tables
    without = {name: frame for name, frame in tables.items() if name != "theme_trends"}
    assert EN["theme_trends"] not in render_report(without, manifest, ReportConfig(language="en"))
    trends = tables["theme_trends"]
    first = trends[trends["period"] == trends["period"].min()]
    assert EN["theme_trends"] not in render_report({**tables, "theme_trends": first}, manifest, ReportConfig(language="en"))
