"""A short markdown summary (headline NPS, top improvement areas) and table rows for the Prefect artifacts.

Artifacts are stored in Prefect's database, outside the run's output folder, so they hold figures and
labels only: comments are quoted only with ``report.artifact_quotes: true``. Every text taken from the
data (theme labels, quotes, segment alerts) goes through :func:`nps_text.pii.redact` once more, so that
an artifact holds no personal data even when ``comments.redact_pii`` is off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nps_text.pii import redact
from nps_text.report import sections
from nps_text.report.config import ReportConfig
from nps_text.report.i18n import choose_language, translator

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#])")


def escape_markdown(text: Any) -> str:
    """Escape markdown and HTML specials so data shows as text (``|`` cannot break a table row).

    Example:
        >>> escape_markdown("a|b <script>")
        'a\\\\|b \\\\<script\\\\>'
    """
    flat = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def markdown_summary(
    tables: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any], config: ReportConfig
) -> str:
    """The headline NPS, its change and the top improvement areas as markdown.

    The flow publishes this as a Prefect markdown artifact; the text is short (a heading, two lines
    and a table) so it reads well in the Prefect UI.

    Example:
        >>> print(markdown_summary(tables, manifest, ReportConfig()))  # doctest: +SKIP
        # NPS report
        **NPS 13.0** (95% confidence interval 1.1 to 24.9) · 200 responses
        ...
    """
    responses = tables.get("responses")
    language = choose_language(config.language, responses if isinstance(responses, pd.DataFrame) else None)
    t = translator(language)
    title = t["title"] if config.title == "NPS report" else config.title
    lines = [f"# {escape_markdown(title)}", ""]
    headline = sections.headline(tables, manifest, language, t)
    if not headline["available"]:
        lines.append(headline["message"])
    else:
        first = f"**{t['nps_overall']}: {headline['nps']}**"
        if headline["interval"]:
            first += f" ({headline['interval']})"
        lines.append(f"{first} · {headline['responses']}")
        split = ", ".join(f"{group['label']} {group['percent']}" for group in headline["groups"])
        lines.extend(["", split])
        if headline["change"]:
            latest = f"{escape_markdown(headline['latest'])}: " if headline["latest"] else ""
            lines.extend(["", latest + escape_markdown(headline["change"])])
        if headline["alerts"]:
            alerts = "; ".join(escape_markdown(redact(str(alert))) for alert in headline["alerts"])
            lines.extend(["", f"**{t['segment_alerts']}:** " + alerts])
    lines.extend(["", f"## {t['improvement']}", ""])
    areas = sections.improvement_areas(tables, config, language, t)
    if not areas:
        lines.append(t["improvement_missing"])
    else:
        lines.append(f"| # | {t['col_theme']} | {t['nps_impact']} | {t['share_of_detractors']} | {t['trend_label']} |")
        lines.append("|---:|---|---:|---:|---|")
        for area in areas:
            trend = area["trend"] or ""
            if area["emerging"]:
                trend = f"{trend} ({t['emerging']})" if trend else t["emerging"]
            lines.append(
                f"| {area['rank']} | {escape_markdown(redact(area['label']))} | +{area['impact']} | {area['share'] or ''} "
                f"| {escape_markdown(trend)} |"
            )
    return "\n".join(lines).strip() + "\n"


ARTIFACT_COLUMNS: tuple[str, ...] = (
    "rank",
    "theme_label",
    "nps_impact",
    "share_of_detractors",
    "detractor_count",
    "trend",
    "emerging",
    "significant",
    "example_comments",
)


def improvement_areas_rows(tables: Mapping[str, pd.DataFrame], config: ReportConfig) -> list[dict[str, Any]]:
    """The top improvement areas as JSON-safe rows, for a Prefect table artifact.

    Numbers are rounded, missing values ``None``, text redacted (:func:`nps_text.pii.redact`). Example
    comments are left out unless ``config.artifact_quotes``; then up to three, redacted and cut to
    ``config.quote_length``, joined by `` | ``.

    Example:
        >>> create_table_artifact(improvement_areas_rows(tables, cfg), key="improvement-areas")  # doctest: +SKIP
    """
    areas = sections.usable(tables, "improvement_areas", ("theme_label",))
    if areas is None:
        return []
    if "rank" in areas.columns:
        areas = areas.sort_values("rank")
    columns = [
        column
        for column in ARTIFACT_COLUMNS
        if column in areas.columns and (column != "example_comments" or config.artifact_quotes)
    ]
    rows = []
    for _, row in areas.head(config.top_improvement_areas).iterrows():
        record: dict[str, Any] = {}
        for column in columns:
            value = row[column]
            if column == "example_comments":
                record[column] = " | ".join(
                    sections.shorten(redact(str(quote)), config.quote_length)
                    for quote in sections.as_list(value)[:3]
                )
            elif sections.as_list(value) == []:
                record[column] = None
            elif isinstance(value, (bool, np.bool_)):
                record[column] = bool(value)
            elif isinstance(value, (int, np.integer)):
                record[column] = int(value)
            elif isinstance(value, (float, np.floating)):
                record[column] = round(float(value), 3)
            else:
                record[column] = redact(str(value))
        rows.append(record)
    return rows
