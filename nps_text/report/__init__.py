"""The report: the self-contained HTML page, the Prefect markdown summary and the analysts' exports.

Public API (called by the flow and the CLI):

- :func:`render_report` -- the HTML page for a run's tables (and the :func:`manifest_facts` it shows).
- :func:`markdown_summary` -- headline NPS and top improvement areas as markdown.
- :func:`improvement_areas_rows` -- the improvement areas as JSON-safe rows (Prefect table artifact).
- :func:`export_run` -- a run folder's Parquet tables as Excel, CSV, Parquet or DuckDB.
- :func:`load_run` -- read a run folder's tables and manifest back.
"""

from __future__ import annotations

from nps_text.report.config import ReportConfig
from nps_text.report.export import export_run, load_run
from nps_text.report.html import manifest_facts, render_report
from nps_text.report.markdown import improvement_areas_rows, markdown_summary

__all__ = [
    "ReportConfig",
    "export_run",
    "improvement_areas_rows",
    "load_run",
    "manifest_facts",
    "markdown_summary",
    "render_report",
]
