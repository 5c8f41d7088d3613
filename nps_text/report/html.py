"""The HTML report: one self-contained page rendered with Jinja2 (autoescaping on).

The page carries its CSS inline and its charts as inline SVG; it loads nothing and runs no script,
and its Content-Security-Policy forbids both, so a comment that slipped past escaping still could
not execute. All data reaches the page through the template's autoescaping; only the SVG charts,
which matplotlib generated and XML-escaped itself, are marked safe.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import pandas as pd

from nps_text.report import sections
from nps_text.report.config import ReportConfig
from nps_text.report.i18n import choose_language, translator

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "NPS report"
MANIFEST_FACTS = ("input", "rows_in", "rows_valid", "rows_rejected", "models", "started_at")
"""The manifest keys the page shows (with the NPS settings of its ``config``): :func:`manifest_facts`."""


def manifest_facts(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run manifest the page is rendered from: :data:`MANIFEST_FACTS` and ``config.nps`` (the
    confidence level). :func:`render_report` sees nothing else, so a report depends only on its tables, its
    :class:`ReportConfig` and these facts (:func:`nps_text.writers.outputs.output_digests`).

    Example:
        >>> manifest_facts({"rows_in": 3, "timings_s": {"nps": 0.1}, "config": {"nps": {"confidence": 0.9}, "cache": {}}})
        {'rows_in': 3, 'config': {'nps': {'confidence': 0.9}}}
    """
    facts = {key: manifest[key] for key in MANIFEST_FACTS if key in manifest}
    config = manifest.get("config")
    if isinstance(config, Mapping) and "nps" in config:
        facts["config"] = {"nps": config["nps"]}
    return facts


def render_report(tables: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any], config: ReportConfig) -> str:
    """Render the run's report as one self-contained HTML page.

    Any table but ``responses`` may be missing or empty (sentiment or themes not run): the section then
    explains why it is empty instead of failing.

    Args:
        tables: The run's tables by name (``responses``, ``nps_summary``, ``nps_changes``, ``themes``,
            ``improvement_areas``, ``follow_up``, ...), as the pipeline writes them.
        manifest: The run manifest; the page shows its :func:`manifest_facts` (input, row counts, models,
            ``started_at``, the confidence level of ``config``).
        config: What to show and in which language.

    Returns:
        The page as a string (UTF-8 when written).

    Example:
        >>> html = render_report(tables, manifest, ReportConfig(language="de"))  # doctest: +SKIP
        >>> Path("report.html").write_text(html, encoding="utf-8")  # doctest: +SKIP
    """
    import jinja2

    from nps_text import __version__
    from nps_text.report import charts

    manifest = manifest_facts(manifest)
    responses = tables.get("responses")
    language = choose_language(config.language, responses if isinstance(responses, pd.DataFrame) else None)
    t = translator(language)
    title = t["title"] if config.title == DEFAULT_TITLE else config.title
    level = sections.confidence_level(manifest)

    headline = sections.headline(tables, manifest, language, t)

    draw = charts.available()
    charts_note = None if draw else t["charts_unavailable"]
    if not draw:
        logger.warning("matplotlib is not installed: the report shows no charts (pip install matplotlib)")

    trend_svg = None
    trend_capped = None
    trend, total_periods = sections.trend_frame(tables, config.max_periods)
    if trend is not None:
        trend_svg = charts.trend_chart(trend, t) if draw else None
        if total_periods > len(trend):
            trend_capped = t["trend_shown_last"].format(n=len(trend), total=total_periods)

    overall_nps = headline.get("nps_value") if headline.get("available") else None
    segments = []
    for number, (name, values, total) in enumerate(sections.segment_frames(tables, config.max_segment_values), 1):
        segments.append(
            {
                "name": name,
                "svg": charts.segment_chart(values, overall_nps, name, id_prefix=f"segment{number}") if draw else None,
                "capped": t["segment_capped"].format(n=len(values), total=total) if total > len(values) else None,
            }
        )

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("report.html.j2")
    return template.render(
        language=language,
        t=t,
        title=title,
        css=_read_template("report.css"),
        version=__version__,
        generated=_generated(manifest),
        span=sections.period_span(tables),
        level=level,
        headline=headline,
        trend_svg=trend_svg,
        has_trend=trend is not None,
        charts_note=charts_note,
        trend_capped=trend_capped,
        segments=segments,
        theme_trends=sections.theme_trends(tables, language, t),
        areas=sections.improvement_areas(tables, config, language, t),
        no_topic=sections.no_specific_topic(tables, config, language, t),
        areas_note=sections.too_few_for_themes(tables, "detractor", t) or t["improvement_missing"],
        praise=sections.praise(tables, config, language, t),
        coverage=sections.coverage(tables, language, t),
        follow_ups=sections.follow_ups(tables, config, t),
        about=sections.about(manifest, t),
    )


def _read_template(name: str) -> str:
    return files("nps_text.report").joinpath("templates", name).read_text(encoding="utf-8")


def _load_template(name: str) -> str:
    return _read_template(name)


def _generated(manifest: Mapping[str, Any]) -> str:
    """When the run started (from the manifest), else now; minutes precision, UTC."""
    started = manifest.get("started_at")
    if started:
        try:
            moment = datetime.fromisoformat(str(started))
        except ValueError:
            return str(started)
    else:
        moment = datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
