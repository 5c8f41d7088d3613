"""The markdown summary and table rows the flow publishes as Prefect artifacts."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from nps_text.report import ReportConfig, improvement_areas_rows, markdown_summary
from nps_text.report.markdown import escape_markdown

Run = tuple[dict[str, pd.DataFrame], dict[str, Any]]


def test_markdown_has_headline_change_and_top_areas(run_tables: Run) -> None:
    tables, manifest = run_tables
    text = markdown_summary(tables, manifest, ReportConfig(language="en"))
    lines = text.splitlines()
    assert lines[0] == "# NPS report"
    assert "**Net Promoter Score: 13.0** (95% confidence interval 1.1 to 24.9) · 200 responses" in text
    assert "a statistically significant drop" in text
    assert "| 1 | Lieferzeit / delivery time | +7.5 points | 37% | 0.0 pp vs. 2026-W13 |" in text
    emerging = tables["improvement_areas"].assign(trend=[12.5, 0.2, -4.0], trend_p_value=[0.01, 0.8, 0.6], emerging=[True, False, False])
    text = markdown_summary({**tables, "improvement_areas": emerging}, manifest, ReportConfig(language="en"))
    assert "| 1 | Lieferzeit / delivery time | +7.5 points | 37% | +12.5 pp vs. 2026-W13 (emerging) |" in text
    assert sum(line.startswith("| ") for line in lines) == 1 + 3  # header + three areas


def test_markdown_in_german(run_tables: Run) -> None:
    tables, manifest = run_tables
    text = markdown_summary(tables, manifest, ReportConfig(language="de"))
    assert text.startswith("# NPS-Bericht")
    assert "Wichtigste Verbesserungsfelder" in text and "13,0" in text


def test_markdown_caps_areas_and_escapes_labels(run_tables: Run) -> None:
    tables, manifest = run_tables
    areas = tables["improvement_areas"].copy()
    areas.loc[0, "theme_label"] = "a|b <script>x</script>"
    text = markdown_summary({**tables, "improvement_areas": areas}, manifest, ReportConfig(top_improvement_areas=2))
    assert "<script>" not in text
    assert "a\\|b \\<script\\>x\\</script\\>" in text
    assert sum(line.startswith("| ") for line in text.splitlines()) == 1 + 2


def test_markdown_without_insights_or_nps() -> None:
    text = markdown_summary({}, {}, ReportConfig(language="en"))
    assert "No NPS figures are available" in text
    assert "Improvement areas are not part of this run" in text


def test_escape_markdown_flattens_newlines() -> None:
    assert escape_markdown("line\n# heading") == "line \\# heading"


def test_improvement_rows_are_json_safe(run_tables: Run, run_dir: Any) -> None:
    from nps_text.report import load_run

    tables, _ = load_run(run_dir)  # Parquet gives numpy arrays and numpy scalars
    rows = improvement_areas_rows(tables, ReportConfig(artifact_quotes=True))
    json.dumps(rows)
    assert [row["rank"] for row in rows] == [1, 2, 3]
    assert rows[0]["theme_label"] == "Lieferzeit / delivery time"
    assert rows[0]["emerging"] is False and rows[0]["significant"] is True  # numpy booleans became JSON ones
    assert " | " in rows[0]["example_comments"]
    assert improvement_areas_rows({}, ReportConfig()) == []


def test_artifact_rows_hold_no_quotes_by_default(run_tables: Run) -> None:
    """Issue 17: artifacts live in Prefect's database; comments are quoted there only when configured."""
    tables, _ = run_tables
    rows = improvement_areas_rows(tables, ReportConfig())
    assert rows and all("example_comments" not in row for row in rows)
    assert ReportConfig().artifact_quotes is False


def test_artifact_quotes_and_labels_are_redacted(run_tables: Run) -> None:
    tables, manifest = run_tables
    areas = tables["improvement_areas"].copy()
    areas["theme_label"] = areas["theme_label"].astype(object)
    areas["example_comments"] = areas["example_comments"].astype(object)
    areas.at[0, "theme_label"] = "Rückruf +49 151 1234567"
    areas.at[0, "example_comments"] = ["Handy 0151 1234567 bitte", "mail x@example.de"]
    tables = {**tables, "improvement_areas": areas}
    rows = improvement_areas_rows(tables, ReportConfig(artifact_quotes=True))
    assert rows[0]["theme_label"] == "Rückruf [PHONE]"
    assert rows[0]["example_comments"] == "Handy [PHONE] bitte | mail [EMAIL]"
    text = markdown_summary(tables, manifest, ReportConfig(language="en"))
    assert "1234567" not in text and "Rückruf \\[PHONE\\]" in text
