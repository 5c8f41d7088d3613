"""Alert evaluation: the run's tables + the ``alerts:`` config -> the messages to send. Pure (no I/O, no Prefect).

Rules (see :mod:`nps_text.alerts_config`):

* ``nps_drop``: a row of ``nps_changes`` in one of the newest ``lookback_periods`` periods with
  ``p_value < 1 - confidence`` and a negative change (at least ``min_drop`` points), overall or per segment value.
* ``nps_below``: a row of ``nps_summary`` (newest periods) with ``nps < threshold`` and enough responses.
* ``emerging_theme``: a theme whose share of detractors' comments rose significantly from the previous period
  to the current one: one-sided two-proportion z-test (:func:`nps_text.stats.two_proportion_z_test`) with
  x = detractors whose comment complains about the theme (any of ``theme_ids``, a negative sentence about it or a
  negative comment; themes without a subject never), n = detractors with a themed comment
  (as ``share_of_detractors``); computed by :func:`nps_text.insights.theme_trends`, the report's theme trends.

Each rule that triggers gives ONE :class:`Alert` (all its findings in one message) in the report's language,
with the figures, the top quotes (the redacted ``comment`` of ``responses``) and the report's path or URL.
Sending is :mod:`nps_text.notify`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nps_text.alerts_config import EmergingThemeRule, NpsBelowRule, NpsDropRule
from nps_text.config import PipelineConfig
from nps_text.report.i18n import choose_language, format_number, format_percent
from nps_text.rules import ALL, MISSING, has_text, known_periods
from nps_text.schema import DETRACTOR
from nps_text.stats import two_proportion_z_test as two_proportion_z_test  # re-exported: the test lives there

QUOTE_LENGTH = 300

EN: dict[str, str] = {
    "nps_drop_subject": "NPS alert ({rule}): significant NPS drop",
    "nps_below_subject": "NPS alert ({rule}): NPS below {threshold}",
    "emerging_theme_subject": "NPS alert ({rule}): emerging detractor theme",
    "overall": "Overall",
    "where": "{segment} = {value}",
    "nps_drop_line": "{where}: NPS {nps} in {period}, {change} points vs. {previous} ({previous_nps}); "
    "p {p}, {n} responses",
    "nps_below_line": "{where}: NPS {nps} in {period} is below {threshold} ({level}% CI {low} to {high}; "
    "{n} responses)",
    "emerging_theme_line": "Theme \u201c{theme}\u201d in {period}: {share} of detractor comments ({count} of {total}) "
    "vs. {previous_share} in {previous} (p {p})",
    "quotes": "What customers said:",
    "report": "Report: {report}",
}

DE: dict[str, str] = {
    "nps_drop_subject": "NPS-Alarm ({rule}): signifikanter NPS-Rückgang",
    "nps_below_subject": "NPS-Alarm ({rule}): NPS unter {threshold}",
    "emerging_theme_subject": "NPS-Alarm ({rule}): neu aufkommendes Thema bei Detraktoren",
    "overall": "Gesamt",
    "where": "{segment} = {value}",
    "nps_drop_line": "{where}: NPS {nps} in {period}, {change} Punkte gegenüber {previous} ({previous_nps}); "
    "p {p}, {n} Antworten",
    "nps_below_line": "{where}: NPS {nps} in {period} liegt unter {threshold} ({level}-%-KI {low} bis {high}; "
    "{n} Antworten)",
    "emerging_theme_line": "Thema \u201e{theme}\u201c in {period}: {share} der Detraktoren-Kommentare ({count} von "
    "{total}) gegenüber {previous_share} in {previous} (p {p})",
    "quotes": "Was Kunden sagen:",
    "report": "Bericht: {report}",
}

TRANSLATIONS: dict[str, dict[str, str]] = {"en": EN, "de": DE}


@dataclass(frozen=True)
class Alert:
    """One message of one triggered rule, ready to send to the rule's channels."""

    rule: str
    kind: str
    channels: tuple[str, ...]
    language: str
    subject: str
    body: str
    findings: tuple[dict[str, Any], ...]
    quotes: tuple[str, ...] = field(default=())
    report: str = ""


def latest_periods(periods: Sequence[Any], count: int) -> list[str]:
    """The newest ``count`` period labels (labels sort in time order), skipping ``all`` and ``unknown``."""
    return known_periods(periods)[-count:]


def evaluate_alerts(
    tables: Mapping[str, pd.DataFrame], config: PipelineConfig, report: str = ""
) -> list[Alert]:
    """Every configured rule against the run's tables; one :class:`Alert` per rule that triggers.

    Args:
        tables: The run's tables (``responses``, ``nps_summary``, ``nps_changes`` are used).
        config: The pipeline config (``alerts``, ``nps.confidence``, ``report.language``).
        report: Path or URL of the report to name in the messages (``alerts.report_url`` wins).
    """
    alerts_config = config.alerts
    if not alerts_config.enabled or not alerts_config.rules:
        return []
    responses = tables.get("responses", pd.DataFrame())
    configured = alerts_config.language if alerts_config.language != "auto" else config.report.language
    language = choose_language(configured, responses)
    text = TRANSLATIONS.get(language, EN)
    link = alerts_config.report_url or report
    alerts = []
    for rule in alerts_config.rules:
        if isinstance(rule, NpsDropRule):
            confidence = rule.confidence or config.nps.confidence
            findings = nps_drop_findings(tables.get("nps_changes", pd.DataFrame()), rule, confidence)
            lines = [_nps_drop_line(f, text, language) for f in findings]
        elif isinstance(rule, NpsBelowRule):
            findings = nps_below_findings(tables.get("nps_summary", pd.DataFrame()), rule)
            lines = [_nps_below_line(f, text, language, config.nps.confidence) for f in findings]
        elif isinstance(rule, EmergingThemeRule):
            confidence = rule.confidence or config.nps.confidence
            findings = emerging_theme_findings(responses, rule, confidence, sentences=tables.get("sentences"))
            lines = [_emerging_line(f, text, language) for f in findings]
        else:  # pragma: no cover - the config's discriminated union allows nothing else
            continue
        if not findings:
            continue
        quotes = top_quotes(responses, findings, rule.quotes)
        subject = text[f"{rule.type}_subject"].format(
            rule=rule.name, threshold=format_number(getattr(rule, "threshold", 0.0), language, 0)
        )
        body = _body(lines, quotes, link, text)
        alerts.append(
            Alert(
                rule=rule.name, kind=rule.type, channels=tuple(rule.channels), language=language, subject=subject,
                body=body, findings=tuple(findings), quotes=tuple(quotes), report=link,
            )
        )
    return alerts


def _wanted_segment(segment: str, wanted: Sequence[str] | None) -> bool:
    return wanted is None or segment in wanted


def nps_drop_findings(changes: pd.DataFrame, rule: NpsDropRule, confidence: float) -> list[dict[str, Any]]:
    """Significant drops in the newest ``rule.lookback_periods`` periods (rows of ``nps_changes``)."""
    if changes.empty:
        return []
    periods = latest_periods(changes["period"].tolist(), rule.lookback_periods)
    findings = []
    for row in changes.itertuples(index=False):
        if str(row.period) not in periods or not _wanted_segment(str(row.segment), rule.segments):
            continue
        change = float(row.change)
        if row.p_value < (1 - confidence) and change < 0 and -change >= rule.min_drop:
            findings.append({
                "segment": str(row.segment), "segment_value": str(row.segment_value), "period": str(row.period),
                "previous_period": str(row.previous_period), "nps": float(row.nps),
                "previous_nps": float(row.previous_nps), "change": change, "p_value": float(row.p_value),
                "responses": int(row.responses),
            })
    findings.sort(key=lambda f: (f["segment"] != ALL, f["period"], f["change"]))
    return findings


def nps_below_findings(summary: pd.DataFrame, rule: NpsBelowRule) -> list[dict[str, Any]]:
    """Segment values whose NPS in one of the newest periods is below ``rule.threshold``."""
    if summary.empty:
        return []
    periods = latest_periods(summary["period"].tolist(), rule.lookback_periods)
    findings = []
    for row in summary.itertuples(index=False):
        if str(row.period) not in periods or not _wanted_segment(str(row.segment), rule.segments):
            continue
        if int(row.responses) >= rule.min_responses and float(row.nps) < rule.threshold:
            findings.append({
                "segment": str(row.segment), "segment_value": str(row.segment_value), "period": str(row.period),
                "nps": float(row.nps), "nps_ci_low": float(row.nps_ci_low), "nps_ci_high": float(row.nps_ci_high),
                "responses": int(row.responses), "threshold": rule.threshold,
            })
    findings.sort(key=lambda f: (f["segment"] != ALL, f["period"], f["nps"]))
    return findings


def emerging_theme_findings(
    responses: pd.DataFrame, rule: EmergingThemeRule, confidence: float, *, sentences: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Themes whose share of detractor comments rose significantly from the previous period.

    The rows of :func:`nps_text.insights.theme_trends` (the report's theme trends, same counting and test)
    with a one-sided test, ``alpha = 1 - confidence`` and ``min_count = rule.min_detractors``, in the newest
    ``rule.lookback_periods`` periods.
    """
    from nps_text.insights import theme_trends

    needed = {"nps_group", "comment_status", "theme_id", "period"}
    if responses.empty or not needed <= set(responses.columns):
        return []
    rows = responses[
        (responses["nps_group"] == DETRACTOR)
        & has_text(responses)
        & responses["theme_id"].notna()
        & responses["period"].notna()
    ]
    periods = latest_periods(rows["period"].astype(str).tolist(), len(set(rows["period"].astype(str))))
    if len(periods) < 2:
        return []
    trends = theme_trends(
        responses, alpha=1 - confidence, min_count=rule.min_detractors, alternative="greater", periods=periods,
        sentences=sentences,
    )
    recent = set(periods[max(1, len(periods) - rule.lookback_periods) :])
    emerging = trends[trends["trend"].eq("emerging").fillna(False) & trends["period"].isin(recent)]
    findings = [
        {
            "theme_id": int(row.theme_id), "theme_label": str(row.theme_label), "period": str(row.period),
            "previous_period": str(row.previous_period), "detractor_count": int(row.count),
            "detractor_comments": int(row.base), "share": float(row.share),
            "previous_count": int(row.previous_count), "previous_comments": int(row.previous_base),
            "previous_share": float(row.previous_share), "z": float(row.z), "p_value": float(row.p_value),
        }
        for row in emerging.itertuples(index=False)
    ]
    findings.sort(key=lambda f: (f["period"], f["p_value"]))
    return findings


def top_quotes(responses: pd.DataFrame, findings: Sequence[Mapping[str, Any]], limit: int) -> list[str]:
    """Distinct redacted detractor comments behind the findings, most negative first, cut to 300 characters."""
    if limit <= 0 or responses.empty or "comment" not in responses.columns:
        return []
    if not {"nps_group", "comment_status"} <= set(responses.columns):
        return []
    base = responses[(responses["nps_group"] == DETRACTOR) & has_text(responses)]
    if base.empty:
        return []
    order = pd.Series(len(findings), index=base.index)
    for position, finding in enumerate(findings):
        part = pd.Series(True, index=base.index)
        if "period" in finding and "period" in base.columns:
            part &= base["period"].astype("string") == finding["period"]
        segment = finding.get("segment")
        if segment not in (None, ALL) and segment in base.columns:
            part &= base[segment].astype("string").fillna(MISSING) == finding["segment_value"]
        if "theme_id" in finding:
            part &= pd.to_numeric(base["theme_id"], errors="coerce") == finding["theme_id"]
        order = order.where(~(part.fillna(False).astype(bool) & (order > position)), position)
    # the first (most important) finding first; within it the most frequent theme, then the most negative
    chosen = base.assign(_order=order)[order < len(findings)]
    theme = chosen["theme_id"] if "theme_id" in chosen.columns else pd.Series(0, index=chosen.index)
    negative = chosen["sentiment"] == "negative" if "sentiment" in chosen.columns else False
    chosen = chosen.assign(
        _theme=theme.fillna(-1).groupby([chosen["_order"], theme.fillna(-1)]).transform("size"),
        _neg=pd.Series(negative, index=chosen.index).fillna(False).astype(int),
        _conf=chosen["sentiment_confidence"] if "sentiment_confidence" in chosen.columns else 0.0,
    ).sort_values(["_order", "_theme", "_neg", "_conf"], ascending=[True, False, False, False], kind="stable")
    quotes = []
    for comment in chosen["comment"].dropna().astype(str).drop_duplicates().head(limit):
        quotes.append(comment if len(comment) <= QUOTE_LENGTH else comment[: QUOTE_LENGTH - 1] + "\u2026")
    return quotes


def _where(finding: Mapping[str, Any], text: Mapping[str, str]) -> str:
    if finding["segment"] == ALL:
        return text["overall"]
    return text["where"].format(segment=finding["segment"], value=finding["segment_value"])


def _p(value: float, language: str) -> str:
    return "< " + format_number(0.001, language, 3) if value < 0.001 else "= " + format_number(value, language, 3)


def _nps_drop_line(f: Mapping[str, Any], text: Mapping[str, str], language: str) -> str:
    return text["nps_drop_line"].format(
        where=_where(f, text), nps=format_number(f["nps"], language), period=f["period"],
        change=format_number(f["change"], language), previous=f["previous_period"],
        previous_nps=format_number(f["previous_nps"], language), p=_p(f["p_value"], language), n=f["responses"],
    )


def _nps_below_line(f: Mapping[str, Any], text: Mapping[str, str], language: str, confidence: float) -> str:
    return text["nps_below_line"].format(
        where=_where(f, text), nps=format_number(f["nps"], language), period=f["period"],
        threshold=format_number(f["threshold"], language, 0), level=f"{100 * confidence:.0f}",
        low=format_number(f["nps_ci_low"], language), high=format_number(f["nps_ci_high"], language),
        n=f["responses"],
    )


def _emerging_line(f: Mapping[str, Any], text: Mapping[str, str], language: str) -> str:
    return text["emerging_theme_line"].format(
        theme=f["theme_label"], period=f["period"], share=format_percent(f["share"], language),
        count=f["detractor_count"], total=f["detractor_comments"],
        previous_share=format_percent(f["previous_share"], language), previous=f["previous_period"],
        p=_p(f["p_value"], language),
    )


def _body(lines: Sequence[str], quotes: Sequence[str], link: str, text: Mapping[str, str]) -> str:
    parts = ["\n".join(f"- {line}" for line in lines)]
    if quotes:
        parts.append(text["quotes"] + "\n" + "\n".join(f"> {quote}" for quote in quotes))
    if link:
        parts.append(text["report"].format(report=link))
    return "\n\n".join(parts)
