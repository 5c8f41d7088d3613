"""NPS core: groups, NPS with a confidence interval per segment and period, and flagged changes. Pure.

NPS = 100 * (share of promoters - share of detractors). Its standard error follows from treating each
response as +1 (promoter), 0 (passive) or -1 (detractor):
``Var(NPS/100) = (p_P + p_D - (p_P - p_D)**2) / n``. A change between two periods is tested with a two-sided
z-test on the difference of two independent NPS values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
from scipy import stats

from nps_text.rules import ALL, MISSING, NO_PERIOD, known_periods, nps_group_codes, nps_score
from nps_text.schema import DETRACTOR, NPS_GROUPS, NPS_SUMMARY_COLUMNS, PASSIVE, PROMOTER

PERIOD_NAMES = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}


def nps_group(scores: pd.Series) -> pd.Series:
    """9-10 promoter, 7-8 passive, 0-6 detractor.

    Example:
        >>> nps_group(pd.Series([10, 8, 3])).tolist()
        ['promoter', 'passive', 'detractor']
    """
    codes = pa.array(nps_group_codes(scores.astype("int64").to_numpy()))
    groups = pa.array(list(NPS_GROUPS), type=pa.large_string()).take(codes)  # Arrow text, no Python strings
    return pd.Series(pd.arrays.ArrowStringArray(groups), index=scores.index, name="nps_group")


def period_label(dates: pd.Series, period: str = "W") -> pd.Series:
    """Label each date with its period: ``2026-W09`` (ISO week), ``2026-03``, ``2026-Q1``, ``2026``, or the day.

    Labels sort in time order as plain strings; missing dates give null.
    """
    dates = pd.to_datetime(dates)
    codes, distinct = pd.factorize(dates)  # a label per distinct date (a few hundred), taken for every row
    labels = _period_labels(pd.Series(distinct), period).array.take(codes, allow_fill=True)
    return pd.Series(labels, index=dates.index, dtype="string")


def _period_labels(present: pd.Series, period: str) -> pd.Series:
    """Period labels of known dates (``string`` dtype)."""
    if present.empty:
        return pd.Series([], dtype="string")
    if period == "W":
        iso = present.dt.isocalendar()
        values = iso["year"].astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)
    elif period == "M":
        values = present.dt.strftime("%Y-%m")
    elif period == "Q":
        values = present.dt.year.astype(str) + "-Q" + present.dt.quarter.astype(str)
    elif period == "Y":
        values = present.dt.year.astype(str)
    else:
        values = present.dt.strftime("%Y-%m-%d")
    return values.astype("string")


def nps_with_interval(promoters: int, detractors: int, responses: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """NPS and its confidence interval (clipped to -100..100).

    Example:
        >>> tuple(round(value, 1) for value in nps_with_interval(50, 20, 100))
        (30.0, 14.7, 45.3)
    """
    if responses <= 0:
        return math.nan, math.nan, math.nan
    p_promoter = promoters / responses
    p_detractor = detractors / responses
    score = nps_score(promoters, detractors, responses)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    half_width = 100.0 * z * nps_standard_error(p_promoter, p_detractor, responses)
    return score, max(-100.0, score - half_width), min(100.0, score + half_width)


def nps_standard_error(p_promoter: float, p_detractor: float, responses: int) -> float:
    """Standard error of NPS/100 for shares ``p_promoter``, ``p_detractor`` among ``responses``."""
    if responses <= 0:
        return math.nan
    variance = p_promoter + p_detractor - (p_promoter - p_detractor) ** 2
    return math.sqrt(max(variance, 0.0) / responses)


def _aggregate(groups: pd.DataFrame, keys: list[str], confidence: float) -> pd.DataFrame:
    counts = groups.groupby(keys, dropna=False, observed=True)["nps_group"].value_counts().unstack(fill_value=0)
    for column in (PROMOTER, PASSIVE, DETRACTOR):
        if column not in counts.columns:
            counts[column] = 0
    counts = counts.reset_index()
    counts["responses"] = counts[PROMOTER] + counts[PASSIVE] + counts[DETRACTOR]
    intervals = [
        nps_with_interval(int(p), int(d), int(n), confidence)
        for p, d, n in zip(counts[PROMOTER], counts[DETRACTOR], counts["responses"], strict=True)
    ]
    counts["nps"] = [value[0] for value in intervals]
    counts["nps_ci_low"] = [value[1] for value in intervals]
    counts["nps_ci_high"] = [value[2] for value in intervals]
    return counts.rename(columns={PROMOTER: "promoters", PASSIVE: "passives", DETRACTOR: "detractors"})


def nps_summary(
    responses: pd.DataFrame,
    segments: Sequence[str] = (),
    *,
    period_column: str | None = "period",
    confidence: float = 0.95,
    min_segment_size: int = 1,
) -> pd.DataFrame:
    """NPS with confidence interval overall, per period, per segment value, and per segment value x period.

    Rows have ``segment`` = the segment column's name (``"all"`` overall), ``segment_value`` (``"all"``
    overall), ``period`` (``"all"`` for the whole span).
    """
    has_period = period_column is not None and period_column in responses.columns
    # Arrow-backed text columns (no million Python strings): grouped by their dictionary codes
    frame = pd.DataFrame({"nps_group": responses["nps_group"].astype("string").array})
    frame["period"] = responses[period_column].astype("string").fillna(NO_PERIOD).array if has_period else ALL
    frame["segment_value"] = ALL
    parts = [_aggregate(frame.assign(period=ALL), ["segment_value", "period"], confidence).assign(segment=ALL)]
    if has_period:
        parts.append(_aggregate(frame, ["segment_value", "period"], confidence).assign(segment=ALL))
    for segment in segments:
        values = responses[segment].astype("string").fillna(MISSING).array
        by_segment = frame.assign(segment_value=values)
        parts.append(_aggregate(by_segment.assign(period=ALL), ["segment_value", "period"], confidence).assign(segment=segment))
        if has_period:
            parts.append(_aggregate(by_segment, ["segment_value", "period"], confidence).assign(segment=segment))
    summary = pd.concat(parts, ignore_index=True)
    summary = summary.loc[(summary["responses"] >= min_segment_size) | (summary["segment"] == ALL)]
    summary["_overall"] = summary["period"] != ALL
    summary = summary.sort_values(["segment", "segment_value", "_overall", "period"], kind="stable")
    summary = summary.drop(columns="_overall")
    summary = summary[list(NPS_SUMMARY_COLUMNS)].reset_index(drop=True)
    summary.columns.name = None
    for column in ("segment", "segment_value", "period"):
        summary[column] = summary[column].astype("string")
    for column in ("responses", "promoters", "passives", "detractors"):
        summary[column] = summary[column].astype("int64")
    return summary


def period_changes(summary: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Change of NPS from each period to the previous one, per segment value, with a two-sided z-test.

    ``significant`` is true when ``p_value < 1 - confidence``; ``direction`` is ``"drop"``, ``"rise"`` or
    ``"none"`` (not significant).
    """
    columns = [
        "segment", "segment_value", "period", "previous_period", "responses", "nps", "previous_nps",
        "change", "p_value", "significant", "direction",
    ]
    timed = summary.loc[summary["period"].isin(known_periods(summary["period"]))]
    rows = []
    for (segment, value), group in timed.groupby(["segment", "segment_value"], sort=False):
        group = group.sort_values("period")
        previous = None
        for row in group.itertuples(index=False):
            if previous is not None:
                se_now = nps_standard_error(row.promoters / row.responses, row.detractors / row.responses, row.responses)
                se_before = nps_standard_error(
                    previous.promoters / previous.responses, previous.detractors / previous.responses, previous.responses
                )
                change = float(row.nps - previous.nps)
                spread = 100.0 * math.hypot(se_now, se_before)
                if spread > 0:
                    p_value = float(2 * stats.norm.sf(abs(change) / spread))
                else:
                    p_value = 1.0 if change == 0 else 0.0
                significant = p_value < (1 - confidence)
                direction = ("drop" if change < 0 else "rise") if significant else "none"
                rows.append(
                    [segment, value, row.period, previous.period, row.responses, row.nps, previous.nps,
                     change, p_value, significant, direction]
                )
            previous = row
    changes = pd.DataFrame(rows, columns=columns)
    changes["significant"] = changes["significant"].astype(bool)
    return changes


def add_nps_columns(responses: pd.DataFrame, period: str = "W") -> pd.DataFrame:
    """``responses`` with ``nps_group`` and (when there is a ``date``) ``period`` (a new frame; the other columns
    are not copied)."""
    added = {"nps_group": nps_group(responses["score"])}
    if "date" in responses.columns:
        added["period"] = period_label(responses["date"], period)
    return responses.assign(**added)


SEGMENT_NAME_HINTS = (
    "segment", "branch", "filiale", "standort", "store", "shop", "channel", "kanal", "region", "land", "country",
    "market", "markt", "product", "produkt", "tarif", "plan", "type", "typ", "kundengruppe", "customer_type",
    "abteilung", "department", "team", "brand", "marke", "sprache", "language",
)
"""Words in a column's name that make it a likely segment (chosen first when there are too many candidates)."""


def choose_segments(
    responses: pd.DataFrame, candidates: Sequence[str], max_values: int = 50, max_segments: int | None = None
) -> list[str]:
    """Passthrough columns worth breaking NPS down by: 2..max_values distinct values, short labels.

    At most ``max_segments`` columns: survey exports with one column per question would otherwise make every
    answer column a segment. Columns whose name looks like a segment (:data:`SEGMENT_NAME_HINTS`) come first,
    then the others in input order.

    Example:
        >>> frame = pd.DataFrame({"q1": ["a", "b"], "Filiale": ["x", "y"], "q2": ["c", "d"]})
        >>> choose_segments(frame, ["q1", "Filiale", "q2"], max_segments=2)
        ['Filiale', 'q1']
    """
    chosen = []
    for column in candidates:
        if column not in responses.columns:
            continue
        values = responses[column].dropna().astype(str)
        distinct = values.nunique()
        if 2 <= distinct <= max_values and values.str.len().mean() <= 40:
            chosen.append(column)
    if max_segments is None or len(chosen) <= max_segments:
        return chosen

    def hinted(column: str) -> bool:
        name = str(column).lower()
        return any(hint in name for hint in SEGMENT_NAME_HINTS)

    return sorted(chosen, key=lambda column: not hinted(column))[:max_segments]
