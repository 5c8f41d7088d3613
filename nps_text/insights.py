"""Improvement areas ("what should we fix first?") and the follow-up list for a CX team.

Definitions (N = all responses with a score, P / D = promoters / detractors among them,
NPS = 100 * (P - D) / N; for a theme t, p_t / d_t / n_t = its promoters / detractors / responses):

* ``detractor_count`` = d_t; ``share_of_detractors`` = d_t / detractors who left a text comment.
* ``nps_impact`` = 100 * d_t / N: NPS points gained if this theme's detractors became passives.
* ``nps_without_theme`` = 100 * ((P - p_t) - (D - d_t)) / (N - n_t): NPS of everyone who did not raise t;
  ``nps_gap`` = ``nps_without_theme`` - NPS (how much the theme drags the score down).
* ``lift`` = (d_t / D_text) / (p_t / P_text): how much more often detractors raise t than promoters
  (``inf`` when no promoter raised it), with ``p_value`` from Fisher's exact test on the 2x2 table
  (theme vs. other themes, detractor vs. promoter comments) and ``significant`` = p < 0.05.
* ``trend``: change of share_of_detractors in percentage points from the previous period to the latest;
  ``emerging``: a theme whose detractor share at least doubled (or appeared) with at least 3 detractors.

Ranking: by ``nps_impact`` (descending), then ``lift``. Theme -1 ("Other") is not ranked.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nps_text.schema import (
    DETRACTOR,
    FOLLOW_UP_COLUMNS,
    FOLLOW_UP_ORDER,
    IMPROVEMENT_AREAS_COLUMNS,
    IMPROVEMENT_AREAS_EXTRA,
    OUTLIER_THEME_ID,
    PASSIVE,
    PROMOTER,
    STATUS_TEXT,
    check_columns,
    empty_frame,
)

SIGNIFICANCE_LEVEL = 0.05
EMERGING_MIN_DETRACTORS = 3
EXAMPLE_COMMENTS = 3

# IMPROVEMENT_AREAS_EXTRA and FOLLOW_UP_ORDER are defined, with their dtypes, in nps_text.schema.


def nps(promoters: int, detractors: int, total: int) -> float:
    """Net Promoter Score in points (-100..100); NaN without responses.

    Example:
        >>> nps(5, 2, 10)
        30.0
    """
    return 100.0 * (promoters - detractors) / total if total else math.nan


def _fisher_p_value(a: int, b: int, c: int, d: int) -> float:
    from scipy.stats import fisher_exact

    if (a + b) == 0 or (c + d) == 0 or (a + c) == 0 or (b + d) == 0:
        return 1.0
    return float(fisher_exact([[a, b], [c, d]], alternative="two-sided")[1])


def _periods(responses: pd.DataFrame, previous_period: str | None) -> tuple[str | None, str | None]:
    if "period" not in responses.columns:
        return None, None
    known = sorted({str(value) for value in responses["period"].dropna()})
    if not known:
        return None, None
    current = known[-1]
    if previous_period is not None:
        return current, str(previous_period)
    return current, (known[-2] if len(known) > 1 else None)


def _detractor_share_by_theme(text_rows: pd.DataFrame) -> pd.Series:
    detractor_rows = text_rows[text_rows["nps_group"] == DETRACTOR]
    if detractor_rows.empty:
        return pd.Series(dtype="float64")
    return detractor_rows["theme_id"].value_counts(normalize=True)


def improvement_areas(
    responses: pd.DataFrame, themes: pd.DataFrame, *, previous_period: str | None = None
) -> pd.DataFrame:
    """Rank themes by the NPS they cost, with lift vs. promoters, trend and example comments.

    Args:
        responses: Output of :func:`nps_text.themes.assign_themes` (``score``, ``nps_group``,
            ``comment_status``, ``theme_id``, ``theme_label``, ``comment``; ``period``, ``sentiment`` used when
            present). Not modified.
        themes: The themes table (used for representative detractor comments when available).
        previous_period: Period to compare the latest period with; ``None`` = the period before the latest.

    Returns:
        One row per theme raised by at least one detractor, ranked, with
        :data:`nps_text.schema.IMPROVEMENT_AREAS_COLUMNS` and :data:`IMPROVEMENT_AREAS_EXTRA`.
    """
    check_columns(responses, ("nps_group", "comment_status", "theme_id", "theme_label", "comment"), "responses")
    columns = list(IMPROVEMENT_AREAS_COLUMNS) + list(IMPROVEMENT_AREAS_EXTRA)
    total = len(responses)
    promoters = int((responses["nps_group"] == PROMOTER).sum())
    detractors = int((responses["nps_group"] == DETRACTOR).sum())
    overall = nps(promoters, detractors, total)
    text_rows = responses[(responses["comment_status"] == STATUS_TEXT) & responses["theme_id"].notna()].copy()
    text_rows["theme_id"] = text_rows["theme_id"].astype("int64")
    text_detractors = int((text_rows["nps_group"] == DETRACTOR).sum())
    text_promoters = int((text_rows["nps_group"] == PROMOTER).sum())
    current, previous = _periods(responses, previous_period)
    if current is not None:
        current_share = _detractor_share_by_theme(text_rows[text_rows["period"].astype("string") == current])
        previous_share = (
            _detractor_share_by_theme(text_rows[text_rows["period"].astype("string") == previous])
            if previous is not None
            else pd.Series(dtype="float64")
        )
        current_counts = text_rows[
            (text_rows["period"].astype("string") == current) & (text_rows["nps_group"] == DETRACTOR)
        ]["theme_id"].value_counts()
    quotes_by_theme: dict[int, list[str]] = {}
    if {"nps_group", "theme_id", "representative_comments"} <= set(themes.columns):
        for _, theme_row in themes[themes["nps_group"] == DETRACTOR].iterrows():
            quotes_by_theme[int(theme_row["theme_id"])] = list(theme_row["representative_comments"])[:EXAMPLE_COMMENTS]

    rows = []
    for theme_id, members in text_rows.groupby("theme_id", sort=True):
        theme_id = int(theme_id)
        d_t = int((members["nps_group"] == DETRACTOR).sum())
        if theme_id == OUTLIER_THEME_ID or d_t == 0:
            continue
        p_t = int((members["nps_group"] == PROMOTER).sum())
        n_t = len(members)
        share_det = d_t / text_detractors
        share_pro = p_t / text_promoters if text_promoters else 0.0
        lift = share_det / share_pro if share_pro > 0 else math.inf
        p_value = _fisher_p_value(d_t, text_detractors - d_t, p_t, text_promoters - p_t)
        without = nps(promoters - p_t, detractors - d_t, total - n_t)
        examples = quotes_by_theme.get(theme_id) or _example_comments(members)
        row: dict[str, object] = {
            "theme_id": theme_id,
            "theme_label": str(members["theme_label"].iloc[0]),
            "detractor_count": d_t,
            "share_of_detractors": share_det,
            "nps_impact": 100.0 * d_t / total,
            "example_comments": examples,
            "nps": overall,
            "nps_without_theme": without,
            "nps_gap": without - overall if not math.isnan(without) else math.nan,
            "promoter_count": p_t,
            "theme_responses": n_t,
            "lift": lift,
            "p_value": p_value,
            "significant": bool(p_value < SIGNIFICANCE_LEVEL and lift > 1),
            "current_period": current,
            "previous_period": previous,
            "share_of_detractors_current": math.nan,
            "share_of_detractors_previous": math.nan,
            "trend": math.nan,
            "emerging": False,
        }
        if current is not None:
            now = float(current_share.get(theme_id, 0.0))
            row["share_of_detractors_current"] = now
            if previous is not None:
                before = float(previous_share.get(theme_id, 0.0))
                row["share_of_detractors_previous"] = before
                row["trend"] = 100.0 * (now - before)
                row["emerging"] = bool(
                    int(current_counts.get(theme_id, 0)) >= EMERGING_MIN_DETRACTORS and now >= 2 * before and now > 0
                )
        rows.append(row)
    if not rows:
        return empty_frame("improvement_areas")[columns]
    table = pd.DataFrame(rows)
    table = table.sort_values(
        ["nps_impact", "lift", "theme_id"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table[columns]


def _example_comments(members: pd.DataFrame) -> list[str]:
    """Detractor comments of a theme, most negative first (when sentiment is known), distinct."""
    detractor_rows = members[members["nps_group"] == DETRACTOR]
    if "sentiment_confidence" in detractor_rows.columns and "sentiment" in detractor_rows.columns:
        negative_first = detractor_rows.assign(
            _negative=detractor_rows["sentiment"].eq("negative").fillna(False).astype(int)
        ).sort_values(["_negative", "sentiment_confidence"], ascending=[False, False], kind="stable")
        detractor_rows = negative_first
    return [str(text) for text in detractor_rows["comment"].dropna().drop_duplicates().head(EXAMPLE_COMMENTS)]


def follow_up(responses: pd.DataFrame) -> pd.DataFrame:
    """Who to contact, one row per response, most urgent first.

    ``call_back_detractor``: every detractor (with or without comment); ``convert_passive``: passives who
    left a comment; ``thank_promoter``: promoters who left a comment; ``no_comment``: passives and promoters
    without a text comment. Within a list: lowest score first (for passives: highest score, the easiest
    to convert), negative sentiment first.

    Args:
        responses: Output of the themes step (``response_id``, ``score``, ``nps_group``, ``comment_status``;
            ``comment``, ``theme_id``, ``theme_label``, ``sentiment`` and passthrough columns are kept).

    Returns:
        :data:`nps_text.schema.FOLLOW_UP_COLUMNS` followed by every other column of ``responses``.
    """
    check_columns(responses, FOLLOW_UP_COLUMNS[1:], "responses")
    frame = responses.copy()
    has_text = frame["comment_status"] == STATUS_TEXT
    group = frame["nps_group"]
    action = np.select(
        [group == DETRACTOR, ~has_text, group == PASSIVE, group == PROMOTER],
        ["call_back_detractor", "no_comment", "convert_passive", "thank_promoter"],
        default="no_comment",
    )
    frame.insert(0, "follow_up", action)
    order = frame["follow_up"].map({name: index for index, name in enumerate(FOLLOW_UP_ORDER)})
    score = pd.to_numeric(frame["score"], errors="coerce")
    urgency = np.where(frame["follow_up"] == "convert_passive", -score, score)
    negative = (
        (~frame["sentiment"].eq("negative").fillna(False).astype(bool)).astype(int) if "sentiment" in frame.columns else pd.Series(0, index=frame.index)
    )
    frame = frame.assign(_order=order, _urgency=urgency, _negative=negative).sort_values(
        ["_order", "_urgency", "_negative"], kind="stable"
    )
    frame = frame.drop(columns=["_order", "_urgency", "_negative"]).reset_index(drop=True)
    leading = list(FOLLOW_UP_COLUMNS) + [c for c in ("comment", "theme_id", "theme_label", "sentiment") if c in frame.columns]
    return frame[leading + [column for column in frame.columns if column not in leading]]
