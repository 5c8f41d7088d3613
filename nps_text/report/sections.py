"""The report's sections as plain data: pure functions from the run's tables to view models.

Each builder takes the tables it needs and returns a dict for the template, or ``None`` fields where
the data is missing (capability not run, no dates, no segments); nothing here formats HTML, and no
builder mutates the caller's frames. Numbers are formatted here for the chosen language so the
template stays free of logic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nps_text.report.config import ReportConfig
from nps_text.report.i18n import format_number, format_percent
from nps_text.rules import ALL, has_text, nps_score
from nps_text.schema import COMMENT_STATUSES, NPS_GROUPS, category_codes
from nps_text.table_view import TableView

FOLLOW_UP_KINDS: tuple[str, ...] = ("call_back_detractor", "convert_passive", "thank_promoter", "no_comment")


def usable(tables: Mapping[str, pd.DataFrame], name: str, required: Sequence[str] = ()) -> pd.DataFrame | None:
    """The table ``name`` if present, non-empty and carrying ``required`` columns, else ``None``."""
    frame = tables.get(name)
    if frame is None or not isinstance(frame, pd.DataFrame) or frame.empty:
        return None
    if any(column not in frame.columns for column in required):
        return None
    return frame


def confidence_level(manifest: Mapping[str, Any]) -> int:
    """The NPS confidence level in percent, from the manifest's config (95 when unknown)."""
    config = manifest.get("config")
    level = 0.95
    if isinstance(config, Mapping):
        nps = config.get("nps")
        if isinstance(nps, Mapping) and isinstance(nps.get("confidence"), (int, float)):
            level = float(nps["confidence"])
    return round(100 * level)


def shorten(text: Any, limit: int) -> str:
    """``text`` as a string, cut at a word boundary to at most ``limit`` characters (with an ellipsis)."""
    value = "" if _missing(text) else str(text).strip()
    if len(value) <= limit:
        return value
    cut = value[: limit - 1].rsplit(" ", 1)[0] or value[: limit - 1]
    return cut.rstrip() + "\u2026"


def as_list(value: Any) -> list[Any]:
    """List/array cells (Parquet gives numpy arrays) as a plain list; missing as an empty list."""
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [item for item in list(value) if not _missing(item)]
    if _missing(value):
        return []
    return [value]


def _equals(column: pd.Series, value: str) -> np.ndarray:
    """Boolean mask of the cells of a text column equal to ``value`` (missing: False), without converting the
    column to Python strings."""
    return np.asarray(column.astype("string").eq(value).fillna(False), dtype=bool)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _float(value: Any) -> float | None:
    if _missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def nps_from_responses(responses: pd.DataFrame) -> dict[str, Any] | None:
    """NPS and group counts computed directly from ``responses`` (used when ``nps_summary`` is missing)."""
    if "nps_group" not in responses.columns or responses.empty:
        return None
    counts = responses["nps_group"].value_counts()
    total = len(responses)
    promoters, passives, detractors = (int(counts.get(group, 0)) for group in NPS_GROUPS)
    return {
        "responses": total,
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "nps": nps_score(promoters, detractors, total),
        "nps_ci_low": None,
        "nps_ci_high": None,
    }


def _record(row: pd.Series) -> dict[str, Any]:
    return {str(key): value for key, value in row.items()}


def _overall_rows(summary: pd.DataFrame) -> pd.DataFrame:
    mask = summary["segment"].astype(str).eq(ALL)
    if "segment_value" in summary.columns:
        mask &= summary["segment_value"].astype(str).eq(ALL)
    return summary[mask]


def headline(
    tables: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any], language: str, t: Mapping[str, str]
) -> dict[str, Any]:
    """The headline: overall NPS, its interval, group split, change vs. the previous period, alerts."""
    level = confidence_level(manifest)
    summary = usable(tables, "nps_summary", ("segment", "period", "nps"))
    overall: dict[str, Any] | None = None
    latest: dict[str, Any] | None = None
    if summary is not None:
        rows = _overall_rows(summary)
        whole = rows[rows["period"].astype(str).eq(ALL)]
        if not whole.empty:
            overall = _record(whole.iloc[0])
        periods = rows[~rows["period"].astype(str).eq(ALL)].sort_values("period")
        if not periods.empty:
            latest = _record(periods.iloc[-1])
    responses = usable(tables, "responses", ("nps_group",))
    if overall is None and responses is not None:
        overall = nps_from_responses(responses)
    if overall is None or _float(overall.get("nps")) is None:
        return {"available": False, "message": t["no_nps"]}

    total = int(_float(overall.get("responses")) or 0)
    groups = []
    for group, key in zip(NPS_GROUPS, ("promoters", "passives", "detractors"), strict=True):
        count = int(_float(overall.get(key)) or 0)
        share = count / total if total else 0.0
        groups.append({"group": group, "label": t[key], "count": count, "share": share,
                       "percent": format_percent(share, language)})

    low, high = _float(overall.get("nps_ci_low")), _float(overall.get("nps_ci_high"))
    interval = None
    if low is not None and high is not None:
        interval = t["ci"].format(level=level, low=format_number(low, language), high=format_number(high, language))

    change_text, change_class = _change_sentence(tables, latest, language, t)
    latest_text = None
    if latest is not None:
        latest_text = t["latest_period"].format(
            period=latest["period"], nps=format_number(float(latest["nps"]), language), n=int(latest["responses"])
        )
    rejected = int(manifest.get("rows_rejected") or 0)
    return {
        "available": True,
        "nps": format_number(float(overall["nps"]), language),
        "nps_value": float(overall["nps"]),
        "interval": interval,
        "responses": t["responses_n"].format(n=f"{total:,}".replace(",", "\u2009")),
        "groups": groups,
        "latest": latest_text,
        "change": change_text,
        "change_class": change_class,
        "alerts": _segment_alerts(tables, language, t),
        "rejected": t["rejected_note"].format(n=rejected) if rejected else None,
    }


def _latest_change(tables: Mapping[str, pd.DataFrame], latest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    changes = usable(tables, "nps_changes", ("segment", "period", "change"))
    if changes is None:
        return None
    rows = _overall_rows(changes).sort_values("period")
    if latest is not None:
        rows = rows[rows["period"].astype(str).eq(str(latest["period"]))]
    return None if rows.empty else _record(rows.iloc[-1])


def _change_sentence(
    tables: Mapping[str, pd.DataFrame], latest: Mapping[str, Any] | None, language: str, t: Mapping[str, str]
) -> tuple[str | None, str]:
    row = _latest_change(tables, latest)
    if row is None:
        return (t["no_change"] if latest is not None else None), "neutral"
    change = _float(row.get("change")) or 0.0
    previous = str(row.get("previous_period", ""))
    p_text = _p_text(_float(row.get("p_value")), language, t)
    points = format_number(abs(change), language)
    significant = bool(row.get("significant")) if not _missing(row.get("significant")) else False
    if significant and change < 0:
        return t["change_drop_sig"].format(points=points, previous=previous, p=p_text), "bad"
    if significant and change > 0:
        return t["change_rise_sig"].format(points=points, previous=previous, p=p_text), "good"
    if round(change, 1) == 0:
        return t["change_flat"].format(previous=previous), "neutral"
    sign = "+" if change > 0 else "\u2212"
    return t["change_not_sig"].format(sign=sign, points=points, previous=previous, p=p_text), "neutral"


def _segment_alerts(tables: Mapping[str, pd.DataFrame], language: str, t: Mapping[str, str]) -> list[str]:
    changes = usable(tables, "nps_changes", ("segment", "segment_value", "period", "change", "significant"))
    if changes is None:
        return []
    segments = changes[~changes["segment"].astype(str).eq(ALL)]
    if segments.empty:
        return []
    last_period = changes["period"].astype(str).max()
    drops = segments[
        segments["period"].astype(str).eq(last_period)
        & segments["significant"].fillna(False).astype(bool)
        & (segments["change"].astype(float) < 0)
    ].sort_values("change")
    return [
        t["segment_alert"].format(
            segment=row["segment"],
            value=row["segment_value"],
            nps=format_number(float(row["nps"]), language),
            change=format_number(float(row["change"]), language),
            previous=row.get("previous_period", ""),
        )
        for _, row in drops.head(8).iterrows()
    ]


def trend_frame(tables: Mapping[str, pd.DataFrame], max_periods: int) -> tuple[pd.DataFrame | None, int]:
    """Overall NPS per period (last ``max_periods``) with a ``significant_drop`` flag; and the total count."""
    summary = usable(tables, "nps_summary", ("segment", "period", "nps", "nps_ci_low", "nps_ci_high"))
    if summary is None:
        return None, 0
    rows = _overall_rows(summary)
    rows = rows[
        ~rows["period"].astype(str).eq(ALL) & rows["period"].notna() & pd.to_numeric(rows["nps"], errors="coerce").notna()
    ].copy()
    rows["period"] = rows["period"].astype(str)
    rows = rows.sort_values("period")
    total = len(rows)
    if total < 2:
        return None, total
    rows = rows.tail(max_periods)
    drops: set[str] = set()
    changes = usable(tables, "nps_changes", ("segment", "period", "significant", "change"))
    if changes is not None:
        overall = _overall_rows(changes)
        flagged = overall[overall["significant"].fillna(False).astype(bool) & (overall["change"].astype(float) < 0)]
        drops = set(flagged["period"].astype(str))
    rows["significant_drop"] = rows["period"].isin(drops)
    columns = ["period", "nps", "nps_ci_low", "nps_ci_high", "responses", "significant_drop"]
    return rows[[column for column in columns if column in rows.columns]].reset_index(drop=True), total


def segment_frames(tables: Mapping[str, pd.DataFrame], max_values: int) -> list[tuple[str, pd.DataFrame, int]]:
    """Per segment column: its values' whole-span NPS (largest ``max_values`` by responses) and the count."""
    summary = usable(tables, "nps_summary", ("segment", "segment_value", "period", "nps", "responses"))
    if summary is None:
        return []
    rows = summary[~summary["segment"].astype(str).eq(ALL) & summary["period"].astype(str).eq(ALL)]
    result = []
    for segment in dict.fromkeys(rows["segment"].astype(str)):
        values = rows[rows["segment"].astype(str).eq(segment) & pd.to_numeric(rows["nps"], errors="coerce").notna()]
        total = len(values)
        if values.empty:
            continue
        values = values.sort_values("responses", ascending=False).head(max_values).sort_values("nps")
        result.append((segment, values.reset_index(drop=True), total))
    return result


def too_few_for_themes(tables: Mapping[str, pd.DataFrame], group: str, t: Mapping[str, str]) -> str | None:
    """Why a group has no themes although themes ran: every one of its text comments is in the outlier
    theme (a small survey in which no two customers said the same thing). ``None`` otherwise."""
    from nps_text.schema import OUTLIER_THEME_ID

    responses = usable(tables, "responses", ("nps_group", "comment_status", "theme_id"))
    if responses is None:
        return None
    rows = _equals(responses["nps_group"], group) & has_text(responses).to_numpy(dtype=bool)
    theme_ids = pd.to_numeric(responses["theme_id"][rows], errors="coerce")
    if not rows.any() or theme_ids.isna().any() or not theme_ids.eq(OUTLIER_THEME_ID).all():
        return None
    return t["themes_too_few"].format(n=int(rows.sum()))


def improvement_areas(
    tables: Mapping[str, pd.DataFrame], config: ReportConfig, language: str, t: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The top improvement areas with impact, share of detractors, trend, significance and quotes."""
    areas = usable(tables, "improvement_areas", ("theme_label", "nps_impact"))
    if areas is None:
        return []
    order = "rank" if "rank" in areas.columns else "nps_impact"
    areas = areas.sort_values(order, ascending=order == "rank").head(config.top_improvement_areas)
    result: list[dict[str, Any]] = []
    for position, (_, row) in enumerate(areas.iterrows(), start=1):
        impact = _float(row.get("nps_impact")) or 0.0
        share = _float(row.get("share_of_detractors"))
        trend_text, trend_class = _trend(row, language, t)
        trend_test = (
            _test_badge(row.get("trend_p_value"), None, ("trend_test_sig", "trend_test_not_sig"), language, t)
            if trend_text
            else None
        )
        # "emerging" is a significant rise by the same test: never shown beside a badge saying otherwise.
        emerging = (not _missing(row.get("emerging")) and bool(row.get("emerging"))) and (
            trend_test is None or bool(trend_test["significant"])
        )
        quotes = [shorten(quote, config.quote_length) for quote in as_list(row.get("example_comments"))]
        result.append(
            {
                "rank": int(row["rank"]) if "rank" in row and not _missing(row["rank"]) else position,
                "label": theme_label(row, t),
                "impact": t["points"].format(value=format_number(impact, language)),
                "impact_value": impact,
                "share": format_percent(share, language) if share is not None else None,
                "share_value": share or 0.0,
                "count": (
                    t["detractor_count"].format(n=int(row["detractor_count"]))
                    if not _missing(row.get("detractor_count"))
                    else None
                ),
                "trend": trend_text,
                "trend_class": trend_class,
                "emerging": emerging,
                "trend_test": trend_test,
                "lift_test": _test_badge(row.get("p_value"), row.get("significant"), ("lift_sig", "lift_not_sig"), language, t),
                "quotes": [quote for quote in quotes if quote][: config.quotes_per_area],
            }
        )
    max_impact = max((area["impact_value"] for area in result), default=0.0) or 1.0
    for area in result:
        area["bar"] = round(100 * area["impact_value"] / max_impact, 1)
    return result


def no_specific_topic(tables: Mapping[str, pd.DataFrame], config: ReportConfig, language: str, t: Mapping[str, str]) -> str | None:
    """The line under the improvement areas naming the detractors without a specific topic (never ranked), or
    ``None`` when there are none (:func:`nps_text.insights.no_specific_topic`)."""
    from nps_text.insights import no_specific_topic as bucket

    responses = usable(tables, "responses", ("nps_group", "comment_status", "theme_id", "theme_label"))
    if responses is None:
        return None
    found = bucket(responses)
    count = int(found["detractor_count"])  # type: ignore[call-overload]
    if count == 0:
        return None
    quotes = [shorten(str(quote), min(config.quote_length, 80)) for quote in as_list(found["examples"])][:2]
    return t["no_topic_note"].format(
        n=count, share=format_percent(float(found["share_of_detractors"]), language),  # type: ignore[arg-type]
        examples=", ".join(f"“{quote}”" for quote in quotes),
    )


def _test_badge(
    p_value: Any, significant: Any, keys: tuple[str, str], language: str, t: Mapping[str, str]
) -> dict[str, Any] | None:
    """A badge for one statistical test: its verdict and the p-value it rests on (``None`` without a p-value).

    The verdict is ``p < SIGNIFICANCE_LEVEL`` of :mod:`nps_text.insights`, the level that test used; a
    ``significant`` flag from the table (which may add conditions, such as lift > 1) can only withdraw it,
    so a badge never calls a p-value above the level significant.
    """
    from nps_text.insights import SIGNIFICANCE_LEVEL

    value = _float(p_value)
    if value is None:
        return None
    verdict = value < SIGNIFICANCE_LEVEL and (_missing(significant) or bool(significant))
    return {
        "significant": verdict,
        "text": t[keys[0] if verdict else keys[1]].format(p=_p_text(value, language, t)),
    }


def theme_label(row: Mapping[str, Any] | pd.Series, t: Mapping[str, str]) -> str:
    """A row's theme label for the page: the outlier theme (-1, "Other" in the tables) in the report's language."""
    from nps_text.schema import OUTLIER_THEME_ID
    from nps_text.themes.keywords import OUTLIER_LABEL

    theme_id = _float(row.get("theme_id"))
    label = row.get("theme_label")
    if (theme_id is not None and int(theme_id) == OUTLIER_THEME_ID) or (theme_id is None and label == OUTLIER_LABEL):
        return t["theme_other"]
    return "" if _missing(label) else str(label)


def _trend(row: pd.Series, language: str, t: Mapping[str, str]) -> tuple[str | None, str]:
    """The area's trend in words and a CSS class (``rising`` is bad news: more detractors raise it).

    ``trend`` is the change of the theme's share of detractors in percentage points, latest period vs.
    the previous one (a word such as ``rising`` is accepted too).
    """
    trend = row.get("trend")
    if isinstance(trend, str):
        key = f"trend_{trend}"
        return t.get(key, trend), trend
    points = _float(trend)
    if points is None:
        return None, ""
    trend_class = "rising" if points >= 0.5 else "falling" if points <= -0.5 else "stable"
    value = format_number(points, language)
    if points > 0:
        value = "+" + value
    previous = row.get("previous_period")
    if _missing(previous):
        return t["trend_points_only"].format(value=value), trend_class
    return t["trend_points"].format(value=value, previous=previous), trend_class


THEME_TREND_ROWS = 8


def _p_text(value: float | None, language: str, t: Mapping[str, str]) -> str:
    """A p-value as the report prints it: three decimals, ``< 0.001`` below, the language's "n/a" when unknown."""
    if value is None:
        return t["not_available"]
    text = f"{value:.3f}" if value >= 0.001 else "< 0.001"
    return text.replace(".", ",") if language == "de" else text


def theme_trends(tables: Mapping[str, pd.DataFrame], language: str, t: Mapping[str, str]) -> dict[str, Any] | None:
    """Emerging and fading themes in the latest period (``theme_trends`` table): every theme flagged, then the
    largest stable ones, up to ``THEME_TREND_ROWS`` rows. ``None`` without the table or a previous period."""
    frame = usable(tables, "theme_trends", ("theme_label", "period", "previous_period", "share", "trend"))
    if frame is None:
        return None
    periods = frame["period"].dropna().astype(str)
    if periods.empty:
        return None
    latest = periods.max()
    rows = frame[frame["period"].astype(str).eq(latest) & frame["previous_period"].notna()]
    if rows.empty:
        return None
    order = {"emerging": 0, "fading": 1, "stable": 2}
    rows = rows.assign(
        _order=rows["trend"].astype(str).map(order).fillna(2),
        _p=pd.to_numeric(rows.get("p_value"), errors="coerce").fillna(1.0),
        _count=pd.to_numeric(rows.get("count"), errors="coerce").fillna(0),
    )
    flagged = rows[rows["_order"] < 2].sort_values(["_order", "_p"], kind="stable")
    stable = rows[rows["_order"] >= 2].sort_values("_count", ascending=False, kind="stable")
    shown = pd.concat([flagged, stable.head(max(0, THEME_TREND_ROWS - len(flagged)))])
    items = []
    for _, row in shown.iterrows():
        trend = str(row["trend"])
        share, before = _float(row.get("share")), _float(row.get("previous_share"))
        change = _float(row.get("change_vs_previous"))
        change_text = None
        if change is not None:
            change_text = ("+" if change > 0 else "") + format_number(change, language)
        items.append(
            {
                "label": theme_label(row, t),
                "trend": t.get(f"trend_{trend}", trend),
                "trend_class": {"emerging": "rising", "fading": "falling"}.get(trend, "stable"),
                "share": format_percent(share, language) if share is not None else "",
                "previous_share": format_percent(before, language) if before is not None else "",
                "count": t["of_detractors"].format(
                    count=int(_float(row.get("count")) or 0), base=int(_float(row.get("base")) or 0)
                ) if "base" in row and not _missing(row.get("base")) else None,
                "change": change_text,
                "p": _p_text(_float(row.get("p_value")), language, t),
            }
        )
    counts = rows["trend"].astype(str).value_counts()
    return {
        "period": latest,
        "previous": str(rows["previous_period"].iloc[0]),
        "rows": items,
        "emerging": int(counts.get("emerging", 0)),
        "fading": int(counts.get("fading", 0)),
    }


def praise(
    tables: Mapping[str, pd.DataFrame], config: ReportConfig, language: str, t: Mapping[str, str]
) -> dict[str, Any]:
    """What promoters praise: their largest themes, or a few promoter comments when themes are missing."""
    themes = usable(tables, "themes", ("nps_group", "theme_label", "size"))
    if themes is not None:
        promoter = themes[themes["nps_group"].astype(str).eq("promoter")]
        if "theme_id" in promoter.columns:
            promoter = promoter[promoter["theme_id"].fillna(0).astype(int) >= 0]
        promoter = promoter.sort_values("size", ascending=False).head(config.praise_themes)
        if not promoter.empty:
            items = []
            for _, row in promoter.iterrows():
                share = _float(row.get("share_of_group"))
                quotes = [shorten(quote, config.quote_length) for quote in as_list(row.get("representative_comments"))]
                items.append(
                    {
                        "label": theme_label(row, t),
                        "share": t["share_of_promoters"].format(share=format_percent(share, language))
                        if share is not None
                        else None,
                        "keywords": ", ".join(str(word) for word in as_list(row.get("keywords"))[:6]),
                        "polarity": _polarity(row, language, t),
                        "quotes": [quote for quote in quotes if quote][:2],
                    }
                )
            return {"themes": items, "comments": [], "note": None}
    responses = usable(tables, "responses", ("nps_group", "comment", "comment_status", "score"))
    if responses is not None:
        rows = np.flatnonzero(_equals(responses["nps_group"], "promoter") & has_text(responses).to_numpy(dtype=bool))
        texts = responses["comment"].astype("string")  # read by position: no copy of the promoters' comments
        scores = pd.to_numeric(responses["score"], errors="coerce").to_numpy(dtype="float64")[rows]
        lengths = texts.str.len().to_numpy(dtype="float64", na_value=3.0)[rows]  # (a missing comment reads "nan")
        comments: list[str] = []
        for position in rows[np.lexsort((-lengths, -scores))]:  # highest score, then longest; ties in input order
            quote = shorten(texts.iat[position], config.quote_length)  # only the comments shown are read
            if quote not in comments:
                comments.append(quote)
            if len(comments) >= config.praise_themes:
                break
        if comments:
            note = too_few_for_themes(tables, "promoter", t) if themes is not None else None
            return {"themes": [], "comments": comments, "note": note or t["praise_fallback"]}
        return {"themes": [], "comments": [], "note": t["praise_none"]}
    return {"themes": [], "comments": [], "note": t["praise_missing"]}


def _polarity(row: Mapping[str, Any] | pd.Series, language: str, t: Mapping[str, str]) -> str | None:
    """The group's sentiment beside a theme's label (the label names the topic; this says how it is judged)."""
    positive, negative = _float(row.get("positive_share")), _float(row.get("negative_share"))
    if positive is None or negative is None:
        return None
    return t["polarity_mix"].format(positive=format_percent(positive, language), negative=format_percent(negative, language))


def coverage(tables: Mapping[str, pd.DataFrame], language: str, t: Mapping[str, str]) -> dict[str, Any] | None:
    """Comment status counts and shares per NPS group, plus an all-groups row."""
    responses = usable(tables, "responses", ("nps_group", "comment_status"))
    if responses is None:
        return None
    # counted on category codes (other values: -1, left out as the reindex to NPS_GROUPS x COMMENT_STATUSES did)
    groups = category_codes(responses["nps_group"], NPS_GROUPS)
    statuses = category_codes(responses["comment_status"], COMMENT_STATUSES)
    known = (groups >= 0) & (statuses >= 0)
    per_cell = np.bincount(groups[known].astype(np.int64) * len(COMMENT_STATUSES) + statuses[known],
                           minlength=len(NPS_GROUPS) * len(COMMENT_STATUSES))
    counts = pd.DataFrame(per_cell.reshape(len(NPS_GROUPS), len(COMMENT_STATUSES)), index=list(NPS_GROUPS),
                          columns=list(COMMENT_STATUSES))
    counts.loc["total"] = counts.sum()
    labels = {"promoter": t["promoters"], "passive": t["passives"], "detractor": t["detractors"], "total": t["total"]}
    rows = []
    for group, row in counts.iterrows():
        total = int(row.sum())
        cells = []
        for status in COMMENT_STATUSES:
            share = int(row[status]) / total if total else 0.0
            cells.append({"status": status, "count": int(row[status]), "share": share,
                          "percent": format_percent(share, language), "width": round(100 * share, 1)})
        rows.append({"group": str(group), "label": labels[str(group)], "responses": total, "cells": cells})
    headers = [t[f"status_{status}"] for status in COMMENT_STATUSES]
    return {"rows": rows, "headers": headers}


def follow_ups(
    tables: Mapping[str, pd.DataFrame], config: ReportConfig, t: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Per follow-up kind: its count and the first ``config.follow_up_rows`` rows (comment shortened)."""
    table = tables.get("follow_up")
    view = table if isinstance(table, TableView) and not table.empty else None
    frame = usable(tables, "follow_up", ("follow_up", "response_id"))
    if view is not None and {"follow_up", "response_id"} <= set(view.columns):
        lists, columns = view.own["follow_up"], set(view.columns)
    elif frame is not None:
        lists, columns = frame["follow_up"], set(frame.columns)
    else:
        return []
    found = {str(kind) for kind in lists.dropna().unique()}
    kinds = [kind for kind in FOLLOW_UP_KINDS if kind in found]
    kinds += sorted(found - set(FOLLOW_UP_KINDS))
    extra = [column for column in segment_columns(tables) if column in columns][:3]
    if "theme_label" not in columns:
        show_theme = False
    elif view is not None:
        labels = view.source["theme_label"] if "theme_label" in view.source.columns else view.own["theme_label"]
        show_theme = bool(labels.notna().any())
    else:
        show_theme = bool(frame is not None and frame["theme_label"].notna().any())
    result = []
    for kind in kinds:
        positions = np.flatnonzero(_equals(lists, kind))  # the list's rows, most urgent first
        first = positions[: config.follow_up_rows]
        shown = view.rows(first) if view is not None else frame.iloc[first]  # type: ignore[union-attr]
        rows = []
        for _, row in shown.iterrows():
            rows.append(
                {
                    "response_id": str(row["response_id"]),
                    "score": "" if _missing(row.get("score")) else str(int(row["score"])),
                    "comment": shorten(row.get("comment"), config.quote_length) or None,
                    "theme": None if _missing(row.get("theme_label")) else theme_label(row, t),
                    "extra": ["" if _missing(row.get(column)) else str(row.get(column)) for column in extra],
                }
            )
        result.append(
            {
                "kind": kind,
                "label": t.get(f"follow_up_{kind}", kind),
                "count": len(positions),
                "shown": t["follow_up_first"].format(shown=len(shown), total=len(positions)),
                "rows": rows,
                "extra_columns": extra,
                "show_theme": show_theme,
            }
        )
    return result


def segment_columns(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """The run's segment columns (branch, channel, ...), as named in ``nps_summary``."""
    summary = usable(tables, "nps_summary", ("segment",))
    if summary is None:
        return []
    return [str(name) for name in dict.fromkeys(summary["segment"].astype(str)) if name != ALL]


def period_span(tables: Mapping[str, pd.DataFrame]) -> tuple[str, str] | None:
    """The first and last period label of the run, if it has periods."""
    responses = usable(tables, "responses", ("period",))
    if responses is None:
        return None
    periods = responses["period"].dropna().astype("string")
    if periods.empty:
        return None
    return str(periods.min()), str(periods.max())


def about(manifest: Mapping[str, Any], t: Mapping[str, str]) -> list[tuple[str, str]]:
    """Key facts of the run from the manifest, as (label, value) pairs."""
    facts: list[tuple[str, str]] = []
    source = manifest.get("input")
    if isinstance(source, Mapping) and source.get("path"):
        facts.append((t["input"], str(source["path"])))
    elif isinstance(source, str):
        facts.append((t["input"], source))
    if "rows_in" in manifest:
        facts.append(
            (
                "",
                t["rows"].format(
                    rows_in=manifest.get("rows_in", "?"),
                    rows_valid=manifest.get("rows_valid", "?"),
                    rows_rejected=manifest.get("rows_rejected", "?"),
                ),
            )
        )
    models = manifest.get("models")
    if isinstance(models, Mapping) and models:
        described = [
            f"{t.get(f'model_{kind}', str(kind))}: {text}"
            for kind, value in models.items()
            if kind != "cache" and (text := _model_text(kind, value, t))
        ]
        if described:
            facts.append((t["models"], " · ".join(described)))
        cache = _cache_counts(models.get("cache"))
        if cache is not None:
            facts.append((t["cache"], t["cache_counts"].format(hits=cache[0], misses=cache[1])))
    if manifest.get("started_at"):
        facts.append((t["started"], format_moment(manifest["started_at"])))
    return facts


def format_moment(value: Any) -> str:
    """An ISO timestamp from the manifest as ``2026-12-03 09:44:54 UTC`` (to the second; text kept as it is
    when it is not a timestamp).

    Example:
        >>> format_moment("2026-12-03T10:44:54.860728+01:00")
        '2026-12-03 09:44:54 UTC'
    """
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _model_text(kind: str, value: Any, t: Mapping[str, str]) -> str:
    """One model entry of the manifest in words: ``e5-small (e5-small-q4 1.2)``, ``bertopic (encoder use)``."""
    if not isinstance(value, Mapping):
        return "" if _missing(value) else str(value)
    if kind == "embeddings":  # encoder name -> {name, version, texts, seconds}
        return ", ".join(_model_text("", entry, t) for entry in value.values() if isinstance(entry, Mapping))
    name = str(value.get("name") or value.get("model") or "")
    details = [str(value["version"])] if value.get("version") else []
    if value.get("encoder"):
        details.append(t["model_encoder"].format(name=value["encoder"]))
    return f"{name} ({', '.join(details)})" if details and name else name or ", ".join(details)


def _cache_counts(cache: Any) -> tuple[int, int] | None:
    """Results taken from the cache and computed anew, over every kind (embedding, language, sentiment...)."""
    if not isinstance(cache, Mapping):
        return None
    counts = [entry for entry in cache.values() if isinstance(entry, Mapping)]
    if not counts:
        return None
    hits = sum(int(_float(entry.get("hits")) or 0) for entry in counts)
    misses = sum(int(_float(entry.get("misses")) or 0) for entry in counts)
    return hits, misses
