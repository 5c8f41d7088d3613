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
    assert "| 1 | Lieferzeit / delivery time | +7.5 points | 24% | +12.5 pp vs. 2026-W13 (emerging) |" in text
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
    rows = improvement_areas_rows(tables, ReportConfig())
    json.dumps(rows)
    assert [row["rank"] for row in rows] == [1, 2, 3]
    assert rows[0]["theme_label"] == "Lieferzeit / delivery time"
    assert rows[0]["emerging"] is True
    assert " | " in rows[0]["example_comments"]
    assert improvement_areas_rows({}, ReportConfig()) == []
