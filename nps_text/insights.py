"""Improvement areas ("what should we fix first?"), emerging / fading themes, and the follow-up list.

Themes are counted per RESPONDENT: a comment raises every theme in its ``theme_ids`` (one theme per clause or
sentence, the primary ``theme_id`` first; frames without ``theme_ids`` use ``theme_id`` alone). A detractor
who names theme A in two sentences counts once for A; one who names A and B counts for both, so shares of
detractors over all themes can add up to more than 100%.

Definitions (N = all responses with a score, P / D = promoters / detractors among them,
NPS = 100 * (P - D) / N; for a theme t, p_t / d_t / n_t = promoters / detractors / responses who raised it):

* ``detractor_count`` = d_t; ``share_of_detractors`` = d_t / detractors who left a text comment.
* ``nps_impact`` = 100 * d_t / N: NPS points gained if this theme's detractors became passives (impacts of
  several themes overlap where one detractor raised several themes; they are not additive).
* ``nps_without_theme`` = 100 * ((P - p_t) - (D - d_t)) / (N - n_t): NPS of everyone who did not raise t;
  ``nps_gap`` = ``nps_without_theme`` - NPS (how much the theme drags the score down).
* ``lift`` = (d_t / D_text) / (p_t / P_text): how much more often detractors raise t than promoters
  (``inf`` when no promoter raised it), with ``p_value`` from Fisher's exact test on the 2x2 table
  (raised t or not, detractor vs. promoter comments) and ``significant`` = p < 0.05.
* ``trend``: change of share_of_detractors in percentage points from the previous period to the latest;
  ``trend_p_value``: two-sided two-proportion z-test of that change (:func:`nps_text.stats.two_proportion_z_test`);
  ``emerging``: the share rose significantly (p < 0.05) with at least 3 detractors raising t in the latest period.

Theme trends (:func:`theme_trends`, the ``theme_trends`` table): for every period and theme, the share of
DETRACTORS (with a themed comment) who raised the theme, compared with the previous period by the same z-test:
``emerging`` (significant rise), ``fading`` (significant fall) or ``stable``. Detractors, not all responses:
a theme that grows among unhappy customers is what a CX team acts on, and the ``emerging_theme`` alert rule
(:mod:`nps_text.alerts`) uses this same function.

Complaints only: a DETRACTOR counts for a theme (d_t, and every figure built on it: shares, impact, trends,
the ``emerging_theme`` alert) only when what they say about it is negative: the sentences of their comment
assigned to the theme (the ``sentences`` table's ``theme_id``, each with its own ``sentiment``) hold a negative
one; without such a sentence, the comment's ``sentiment`` is negative. A detractor praising the service ("the
staff were lovely, but ...") does not make "Service" an improvement area. Without any sentiment (sentiment
switched off) every detractor mention counts. Promoters and passives count whenever they raise the theme.

Ranking: by ``nps_impact`` (descending), then ``lift``. Theme -1 ("Other") and themes without a subject
("No specific topic": fillers, "because you asked", insults; see :func:`nps_text.themes.keywords.is_specific_topic`)
are not ranked; :func:`no_specific_topic` counts the detractors behind them for the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from nps_text.rules import has_text, known_periods, nps_score
from nps_text.schema import (
    DETRACTOR,
    FOLLOW_UP_COLUMNS,
    FOLLOW_UP_ORDER,
    IMPROVEMENT_AREAS_COLUMNS,
    IMPROVEMENT_AREAS_EXTRA,
    NEGATIVE,
    NEUTRAL,
    OUTLIER_THEME_ID,
    PASSIVE,
    POSITIVE,
    PROMOTER,
    THEME_TRENDS_COLUMNS,
    check_columns,
    empty_frame,
)
from nps_text.stats import Alternative, two_proportion_z_test
from nps_text.table_view import TableView
from nps_text.themes.keywords import is_specific_topic

SIGNIFICANCE_LEVEL = 0.05
EMERGING_MIN_DETRACTORS = 3
EXAMPLE_COMMENTS = 3

# IMPROVEMENT_AREAS_EXTRA and FOLLOW_UP_ORDER are defined, with their dtypes, in nps_text.schema.


def _fisher_p_value(a: int, b: int, c: int, d: int) -> float:
    from scipy.stats import fisher_exact

    if (a + b) == 0 or (c + d) == 0 or (a + c) == 0 or (b + d) == 0:
        return 1.0
    return float(fisher_exact([[a, b], [c, d]], alternative="two-sided")[1])


def _periods(responses: pd.DataFrame, previous_period: str | None) -> tuple[str | None, str | None]:
    known = known_periods(responses["period"]) if "period" in responses.columns else []
    if not known:
        return None, None
    current = known[-1]
    if previous_period is not None:
        return current, str(previous_period)
    return current, (known[-2] if len(known) > 1 else None)


_INSIGHT_COLUMNS = (
    "response_id", "nps_group", "comment_status", "sentiment", "sentiment_confidence",
    "theme_id", "theme_label", "theme_ids", "theme_labels", "period",
)
"""The columns of the responses the insights read: the themed rows are copied with these only (comments are read
from the responses by position, for the few rows that need them)."""


def _themed_text_rows(responses: pd.DataFrame) -> pd.DataFrame:
    """Text responses with a theme (``theme_id`` as int64), with the columns the insights read."""
    keep = [column for column in responses.columns if column in _INSIGHT_COLUMNS]
    rows = responses.loc[has_text(responses) & responses["theme_id"].notna(), keep]
    rows["theme_id"] = rows["theme_id"].astype("int64")
    return rows


def theme_mentions(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (response, distinct theme it raises): columns ``_row`` (index label of ``rows``),
    ``theme_id`` (int64) and ``theme_label``. Uses ``theme_ids`` / ``theme_labels`` when present (every theme
    of the comment), else ``theme_id`` / ``theme_label`` (the primary theme only)."""
    count = len(rows)
    id_cells = rows["theme_ids"].tolist() if "theme_ids" in rows.columns else [None] * count
    label_cells = rows["theme_labels"].tolist() if "theme_labels" in rows.columns else [None] * count
    primary = rows["theme_id"].tolist()
    primary_labels = rows["theme_label"].tolist() if "theme_label" in rows.columns else [None] * count
    lengths = np.zeros(count, dtype=np.int64)
    flat_ids: list[int] = []
    flat_labels: list[str | None] = []
    parsed: dict[tuple[int, int], tuple[list[int], list[str | None]]] = {}  # list cells are shared: parse each once
    for position, (cell, label_cell) in enumerate(zip(id_cells, label_cells, strict=True)):
        if isinstance(cell, (list, tuple, np.ndarray)) and len(cell) > 0:
            key = (id(cell), id(label_cell))
            found = parsed.get(key)
            if found is None:
                found = parsed[key] = _distinct_mentions(cell, label_cell)
        elif pd.isna(primary[position]):
            continue
        else:
            label = primary_labels[position]
            found = ([int(primary[position])], [None if pd.isna(label) else str(label)])
        lengths[position] = len(found[0])
        flat_ids.extend(found[0])
        flat_labels.extend(found[1])
    return pd.DataFrame(
        {
            "_row": rows.index.to_numpy()[np.repeat(np.arange(count), lengths)],
            "theme_id": np.asarray(flat_ids, dtype=np.int64),
            "theme_label": flat_labels,
        }
    )


def _distinct_mentions(cell: object, label_cell: object) -> tuple[list[int], list[str | None]]:
    """A ``theme_ids`` cell's distinct ids (first occurrence) and their labels (``None`` when the labels cell
    does not match)."""
    ids = [int(value) for value in cell]  # type: ignore[attr-defined]
    labels: list[str | None] = [None] * len(ids)
    if isinstance(label_cell, (list, tuple, np.ndarray)) and len(label_cell) == len(ids):
        labels = [str(value) for value in label_cell]
    first = {theme: position for position, theme in reversed(list(enumerate(ids)))}  # first occurrence of each
    kept = sorted(first.values())
    return [ids[position] for position in kept], [labels[position] for position in kept]


SAID_ORDER = (NEGATIVE, POSITIVE, NEUTRAL)
"""Ties between sentiments of a theme's sentences in one comment: negative always wins (a complaint), then the
most frequent, then this order."""


def _mention_sentiments(rows: pd.DataFrame, mentions: pd.DataFrame, sentences: pd.DataFrame | None) -> pd.Series:
    """Per mention (aligned with ``mentions``): the sentiment of what the comment says about the theme.

    ``"negative"`` when a sentence of the comment assigned to the theme is negative, else the most frequent
    sentiment of those sentences (ties: :data:`SAID_ORDER`); without such a sentence the comment's
    ``sentiment``; null when unknown. Grouped in pandas: no Python object per sentence.
    """
    positions = rows.index.get_indexer(mentions["_row"])
    said = pd.Series(None, index=mentions.index, dtype=object)
    if "sentiment" in rows.columns:
        comment = rows["sentiment"].astype(object).to_numpy()[positions]
        usable = np.fromiter((isinstance(value, str) for value in comment), dtype=bool, count=len(comment))
        said[usable] = comment[usable]
    if (
        sentences is not None and not sentences.empty and "response_id" in rows.columns
        and {"response_id", "theme_id", "sentiment"} <= set(sentences.columns) and len(mentions)
    ):
        known = (sentences["theme_id"].notna() & sentences["sentiment"].notna()).to_numpy(dtype=bool)
        if known.any():
            # Response ids as integer codes (one factorisation over both tables): grouping and joining on
            # integers, no string per sentence or mention.
            row_ids = rows["response_id"].astype("string")
            sentence_ids = sentences["response_id"].astype("string")[known]
            codes, _ = pd.factorize(pd.concat([row_ids, sentence_ids], ignore_index=True), sort=False)
            sentiment_codes, labels = pd.factorize(sentences["sentiment"].astype("string")[known], sort=False)
            names = [str(label) for label in labels]
            # Per (response, theme): negative first, then the most sentences, then SAID_ORDER, then the name;
            # numpy on one int64 key per sentence (pandas' groupby and sort kept several copies of 2M rows).
            rank = {label: position for position, label in enumerate(SAID_ORDER)}
            by_name = np.argsort(np.argsort(np.asarray(names, dtype=object)))
            negative = np.asarray([name == NEGATIVE for name in names], dtype=bool)
            label_rank = np.asarray([rank.get(name, len(rank)) for name in names], dtype=np.int64)
            sentence_themes = sentences["theme_id"].to_numpy(dtype=np.int64, na_value=0)[known]
            mention_themes = mentions["theme_id"].to_numpy(dtype=np.int64)
            themes = np.unique(np.concatenate([sentence_themes, mention_themes]))
            pair = codes[len(row_ids):].astype(np.int64) * len(themes) + np.searchsorted(themes, sentence_themes)
            cells, counts = np.unique(pair * len(names) + sentiment_codes, return_counts=True)
            cell_pair, cell_label = cells // len(names), cells % len(names)
            order = np.lexsort((by_name[cell_label], label_rank[cell_label], -counts, ~negative[cell_label], cell_pair))
            first = order[np.r_[True, cell_pair[order][1:] != cell_pair[order][:-1]]]
            chosen_pair, chosen_label = cell_pair[first], cell_label[first]  # sorted by pair
            wanted = codes[: len(row_ids)][positions].astype(np.int64) * len(themes) + np.searchsorted(
                themes, mention_themes
            )
            slot = np.minimum(np.searchsorted(chosen_pair, wanted), max(len(chosen_pair) - 1, 0))
            hit = chosen_pair[slot] == wanted if len(chosen_pair) else np.zeros(len(wanted), dtype=bool)
            said[hit] = np.asarray(names, dtype=object)[chosen_label[slot[hit]]]
    return said


def counted_mentions(
    rows: pd.DataFrame, sentences: pd.DataFrame | None = None, *, ranked_only: bool = True
) -> pd.DataFrame:
    """:func:`theme_mentions` as the insights count them: a detractor's mention only when it is a complaint
    (see the module docstring), and (``ranked_only``) no mention of "Other" or of a theme without a subject.

    Adds the column ``said`` (the mention's sentiment, null when unknown).

    Example:
        >>> rows = pd.DataFrame({"response_id": ["1", "2"], "nps_group": ["detractor", "detractor"],
        ...     "theme_id": [0, 0], "theme_label": ["Service", "Service"], "sentiment": ["negative", "positive"]})
        >>> counted_mentions(rows)["_row"].tolist()  # the detractor praising the service does not count
        [0]
    """
    mentions = theme_mentions(rows)
    mentions["said"] = _mention_sentiments(rows, mentions, sentences)
    detractor = rows.loc[mentions["_row"], "nps_group"].to_numpy() == DETRACTOR
    known = mentions["said"].notna().to_numpy()
    complaint = mentions["said"].eq("negative").to_numpy()
    keep = ~detractor | complaint | ~known
    if ranked_only:
        labels = _theme_labels(mentions)
        keep &= mentions["theme_id"].ne(OUTLIER_THEME_ID).to_numpy()
        themes = mentions["theme_id"].to_numpy(dtype=np.int64)
        distinct = np.unique(themes)  # a label test per theme, not per mention
        ranked = np.array([is_specific_topic(labels.get(int(theme), "")) or int(theme) not in labels
                           for theme in distinct], dtype=bool)
        keep &= ranked[np.searchsorted(distinct, themes)] if len(themes) else np.zeros(0, dtype=bool)
    return mentions[keep].reset_index(drop=True)


def no_specific_topic(responses: pd.DataFrame) -> dict[str, object]:
    """The detractors whose comment has no specific topic (its primary theme is "No specific topic"): shown
    beside the improvement areas, never ranked. ``{"detractor_count", "share_of_detractors", "examples"}``."""
    empty: dict[str, object] = {"detractor_count": 0, "share_of_detractors": 0.0, "examples": []}
    if responses.empty or not {"nps_group", "comment_status", "theme_id", "theme_label"} <= set(responses.columns):
        return empty
    rows = _themed_text_rows(responses)
    detractors = rows[rows["nps_group"] == DETRACTOR]
    if detractors.empty:
        return empty
    unspecific = detractors[
        detractors["theme_id"].ne(OUTLIER_THEME_ID)
        & ~detractors["theme_label"].map(is_specific_topic).astype(bool)
    ]
    comments = responses.loc[unspecific.index, "comment"]
    examples = [str(text) for text in comments.dropna().drop_duplicates().head(EXAMPLE_COMMENTS)]
    return {
        "detractor_count": len(unspecific),
        "share_of_detractors": len(unspecific) / len(detractors),
        "examples": examples,
    }


def _theme_labels(mentions: pd.DataFrame) -> dict[int, str]:
    known = mentions.dropna(subset=["theme_label"]).drop_duplicates("theme_id")
    return {int(theme): str(label) for theme, label in zip(known["theme_id"], known["theme_label"], strict=True)}


def _detractor_counts(
    rows: pd.DataFrame, mentions: pd.DataFrame, period: str | None
) -> tuple[pd.Series, int]:
    """Detractors raising each theme in ``period`` (all periods for ``None``), and the detractors with a themed
    comment there (the base of the shares)."""
    chosen = (rows["nps_group"] == DETRACTOR).to_numpy(dtype=bool, na_value=False)
    if period is not None:
        chosen = chosen & rows["period"].astype("string").eq(period).to_numpy(dtype=bool, na_value=False)
    counts = mentions.loc[chosen[rows.index.get_indexer(mentions["_row"])], "theme_id"].value_counts()
    return counts, int(chosen.sum())


def trend_test(
    count: int,
    base: int,
    previous_count: int,
    previous_base: int,
    *,
    alpha: float = SIGNIFICANCE_LEVEL,
    min_count: int = EMERGING_MIN_DETRACTORS,
    alternative: Alternative = "two-sided",
) -> tuple[float, float, str]:
    """``(z, p_value, trend)`` for a theme's share ``count / base`` now vs. ``previous_count / previous_base``.

    ``trend`` is ``emerging`` (rose, p < alpha, at least ``min_count`` now), ``fading`` (fell, p < alpha, at
    least ``min_count`` before) or ``stable``. ``alternative="greater"`` tests only for a rise (the alert rule).
    """
    z, p_value = two_proportion_z_test(count, base, previous_count, previous_base, alternative)
    trend = "stable"
    if p_value < alpha and z > 0 and count >= min_count:
        trend = "emerging"
    elif p_value < alpha and z < 0 and previous_count >= min_count:
        trend = "fading"
    return z, p_value, trend


def theme_trends(
    responses: pd.DataFrame,
    *,
    alpha: float = SIGNIFICANCE_LEVEL,
    min_count: int = EMERGING_MIN_DETRACTORS,
    alternative: Alternative = "two-sided",
    periods: Sequence[str] | None = None,
    sentences: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Emerging and fading themes: per period and theme, the share of detractors raising it vs. the period before.

    ``count`` = detractors in the period whose comment complains about the theme (any of ``theme_ids``; a
    complaint as in the module docstring, with ``sentences`` when given), ``base`` =
    detractors in the period with a themed comment, ``share`` = count / base; ``change_vs_previous`` in
    percentage points; ``previous_count`` / ``previous_base`` the same figures one period earlier; ``z`` / ``p_value`` from the two-proportion z-test (:func:`trend_test`). The first
    period has no previous one (``trend`` stable, ``p_value`` null). Themes absent from a period and the one
    before it get no row; theme -1 ("Other") never does.

    Args:
        responses: Output of the themes step (``nps_group``, ``comment_status``, ``theme_id``, ``theme_label``,
            ``theme_ids`` / ``theme_labels`` when present, ``period``). Not modified.
        alpha: Significance level of ``emerging`` / ``fading``.
        min_count: Detractors needed (now for emerging, before for fading) to flag a theme.
        alternative: ``"two-sided"`` (the table), or ``"greater"`` to test for rises only (the alert rule).
        periods: Period labels in time order; default: those of ``responses``.
        sentences: The ``sentences`` table (with ``theme_id`` and ``sentiment``), for what each sentence says.

    Returns:
        :data:`nps_text.schema.THEME_TRENDS_COLUMNS`, by period then ``count`` (descending).
    """
    needed = ("nps_group", "comment_status", "theme_id", "period")
    if responses.empty or any(column not in responses.columns for column in needed):
        return empty_frame("theme_trends")
    rows = _themed_text_rows(responses)
    ordered = list(periods) if periods is not None else known_periods(responses["period"])
    if rows.empty or not ordered:
        return empty_frame("theme_trends")
    mentions = counted_mentions(rows, sentences)
    labels = _theme_labels(mentions)
    records = []
    previous_counts, previous_base = pd.Series(dtype="int64"), 0
    for position, period in enumerate(ordered):
        counts, base = _detractor_counts(rows, mentions, period)
        previous = ordered[position - 1] if position > 0 else None
        themes = sorted(set(counts.index.tolist()) | set(previous_counts.index.tolist()))
        for theme in themes:
            count, before = int(counts.get(theme, 0)), int(previous_counts.get(theme, 0))
            if count == 0 and before == 0:
                continue
            share = count / base if base else 0.0
            record: dict[str, object] = {
                "theme_id": int(theme), "theme_label": labels.get(int(theme), str(theme)), "period": period,
                "previous_period": previous, "count": count, "base": base, "share": share,
                "previous_count": before, "previous_base": previous_base, "previous_share": math.nan, "change_vs_previous": math.nan,
                "z": math.nan, "p_value": math.nan, "trend": "stable",
            }
            if previous is not None and previous_base > 0 and base > 0:
                before_share = before / previous_base
                z, p_value, trend = trend_test(
                    count, base, before, previous_base, alpha=alpha, min_count=min_count, alternative=alternative
                )
                record.update(
                    previous_share=before_share, change_vs_previous=100.0 * (share - before_share),
                    z=z, p_value=p_value, trend=trend,
                )
            records.append(record)
        previous_counts, previous_base = counts, base
    if not records:
        return empty_frame("theme_trends")
    table = pd.DataFrame(records, columns=list(THEME_TRENDS_COLUMNS))
    table = table.sort_values(["period", "count", "theme_id"], ascending=[True, False, True], kind="stable")
    table = table.reset_index(drop=True)
    table["theme_id"] = table["theme_id"].astype("Int64")
    for column in ("theme_label", "period", "previous_period", "trend"):
        table[column] = table[column].astype("string")
    return table


def improvement_areas(
    responses: pd.DataFrame,
    themes: pd.DataFrame,
    *,
    previous_period: str | None = None,
    sentences: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rank themes by the NPS they cost, with lift vs. promoters, trend and example comments.

    Every theme a comment raises counts (``theme_ids``), once per respondent; a detractor only when the
    mention is a complaint (see the module docstring).

    Args:
        responses: Output of :func:`nps_text.themes.assign_themes` (``score``, ``nps_group``,
            ``comment_status``, ``theme_id``, ``theme_label``, ``comment``; ``theme_ids``, ``theme_labels``,
            ``period``, ``sentiment`` used when present). Not modified.
        themes: The themes table (used for representative detractor comments when available).
        previous_period: Period to compare the latest period with; ``None`` = the period before the latest.
        sentences: The ``sentences`` table (``response_id``, ``theme_id``, ``sentiment``): what each sentence
            says about its theme; ``None`` = the comment's sentiment stands for all its themes.

    Returns:
        One row per theme a detractor complains about, ranked, with
        :data:`nps_text.schema.IMPROVEMENT_AREAS_COLUMNS` and :data:`IMPROVEMENT_AREAS_EXTRA`.
    """
    check_columns(responses, ("nps_group", "comment_status", "theme_id", "theme_label", "comment"), "responses")
    columns = list(IMPROVEMENT_AREAS_COLUMNS) + list(IMPROVEMENT_AREAS_EXTRA)
    total = len(responses)
    promoters = int((responses["nps_group"] == PROMOTER).sum())
    detractors = int((responses["nps_group"] == DETRACTOR).sum())
    overall = nps_score(promoters, detractors, total)
    text_rows = _themed_text_rows(responses)
    text_detractors = int((text_rows["nps_group"] == DETRACTOR).sum())
    text_promoters = int((text_rows["nps_group"] == PROMOTER).sum())
    mentions = counted_mentions(text_rows, sentences)
    labels = _theme_labels(mentions)
    current, previous = _periods(responses, previous_period)
    if current is not None:
        current_counts, current_base = _detractor_counts(text_rows, mentions, current)
        previous_counts, previous_base = (
            _detractor_counts(text_rows, mentions, previous) if previous is not None else (pd.Series(dtype="int64"), 0)
        )
    quotes_by_theme: dict[int, list[str]] = {}
    if {"nps_group", "theme_id", "representative_comments"} <= set(themes.columns):
        for _, theme_row in themes[themes["nps_group"] == DETRACTOR].iterrows():
            quotes_by_theme[int(theme_row["theme_id"])] = list(theme_row["representative_comments"])[:EXAMPLE_COMMENTS]

    # Per themed row, as arrays by position (no copy of the rows per theme): group, and the order complaints are
    # quoted in (negative first, then the most confident); comments are read from ``responses`` by position.
    detractor = (text_rows["nps_group"] == DETRACTOR).to_numpy(dtype=bool, na_value=False)
    promoter = (text_rows["nps_group"] == PROMOTER).to_numpy(dtype=bool, na_value=False)
    quoting = _quoting_keys(text_rows)
    comment_positions = responses.index.get_indexer(text_rows.index)
    mention_rows = text_rows.index.get_indexer(mentions["_row"])
    rows = []
    for theme_id, at in sorted(mentions.groupby("theme_id").indices.items()):  # positions of each theme's mentions
        theme_id = int(theme_id)
        members = mention_rows[at]
        d_t = int(detractor[members].sum())
        if theme_id == OUTLIER_THEME_ID or d_t == 0:
            continue
        p_t = int(promoter[members].sum())
        n_t = len(members)
        share_det = d_t / text_detractors
        share_pro = p_t / text_promoters if text_promoters else 0.0
        lift = share_det / share_pro if share_pro > 0 else math.inf
        p_value = _fisher_p_value(d_t, text_detractors - d_t, p_t, text_promoters - p_t)
        without = nps_score(promoters - p_t, detractors - d_t, total - n_t)
        complaints = comment_positions[_complaint_order(members[detractor[members]], quoting)]
        quotes = quotes_by_theme.get(theme_id, [])
        said = _said(responses["comment"], complaints, quotes)
        typical = [quote for quote in quotes if quote in said]
        # the theme's typical complaints, else any (a string for the few shown, not for every complaint)
        examples = (typical or _first_distinct(responses["comment"], complaints, EXAMPLE_COMMENTS))[:EXAMPLE_COMMENTS]
        row: dict[str, object] = {
            "theme_id": theme_id,
            "theme_label": labels.get(theme_id, str(theme_id)),
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
            "trend_p_value": math.nan,
            "emerging": False,
        }
        if current is not None:
            count_now = int(current_counts.get(theme_id, 0))
            now = count_now / current_base if current_base else 0.0
            row["share_of_detractors_current"] = now
            if previous is not None:
                count_before = int(previous_counts.get(theme_id, 0))
                before = count_before / previous_base if previous_base else 0.0
                row["share_of_detractors_previous"] = before
                row["trend"] = 100.0 * (now - before)
                if current_base and previous_base:
                    _, trend_p, trend = trend_test(count_now, current_base, count_before, previous_base)
                    row["trend_p_value"] = trend_p
                    row["emerging"] = trend == "emerging"
        rows.append(row)
    if not rows:
        return empty_frame("improvement_areas")[columns]
    table = pd.DataFrame(rows)
    table = table.sort_values(
        ["nps_impact", "lift", "theme_id"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table[columns]


def _quoting_keys(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Per row of ``rows``: whether its sentiment is negative and its ``sentiment_confidence`` (NaN for none), the
    keys complaints are quoted by (:func:`_complaint_order`); ``None`` when the rows have no sentiment."""
    if "sentiment_confidence" not in rows.columns or "sentiment" not in rows.columns:
        return None
    negative = rows["sentiment"].eq("negative").to_numpy(dtype=bool, na_value=False)
    return negative, rows["sentiment_confidence"].to_numpy(dtype=np.float64, na_value=np.nan)


def _complaint_order(positions: np.ndarray, keys: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """``positions`` (a theme's detractor rows, in row order) most negative first: negative sentiment first, then
    the highest confidence (none last), ties in row order; unchanged without sentiment."""
    if keys is None or not len(positions):
        return positions
    negative, confidence = keys[0][positions], keys[1][positions]
    by_confidence = np.where(np.isnan(confidence), np.inf, -confidence)
    return positions[np.lexsort((by_confidence, ~negative))]


def _said(comments: pd.Series, positions: np.ndarray, quotes: Sequence[str]) -> set[str]:
    """The ``quotes`` that are among the comments at ``positions`` (Arrow's set lookup: no string per comment)."""
    if not quotes or not len(positions):
        return set()
    chosen = comments.iloc[positions]
    return {str(text) for text in chosen[chosen.isin(list(quotes))].drop_duplicates()}


def _first_distinct(comments: pd.Series, positions: np.ndarray, count: int) -> list[str]:
    """The first ``count`` distinct non-null comments at ``positions``, in their order (read a block at a time)."""
    found: list[str] = []
    block = max(count * 8, 64)
    for start in range(0, len(positions), block):
        for text in comments.iloc[positions[start : start + block]].dropna():
            if str(text) not in found:
                found.append(str(text))
                if len(found) == count:
                    return found
    return found


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
        :data:`nps_text.schema.FOLLOW_UP_COLUMNS` followed by every other column of ``responses``; the same
        table as :func:`follow_up_view`, as one frame.
    """
    return follow_up_view(responses).to_frame()


def follow_up_view(responses: pd.DataFrame) -> TableView:
    """:func:`follow_up` as a :class:`~nps_text.table_view.TableView` of ``responses``: the urgency order and the
    ``follow_up`` column, no copy of the responses (the writers stream it)."""
    check_columns(responses, FOLLOW_UP_COLUMNS[1:], "responses")
    group = responses["nps_group"].astype("string")
    with_text = has_text(responses).to_numpy(dtype=bool)
    # the position of each row's list in FOLLOW_UP_ORDER: call_back_detractor, convert_passive, thank_promoter, no_comment
    action = np.select(
        [group.eq(DETRACTOR).fillna(False).to_numpy(dtype=bool), ~with_text,
         group.eq(PASSIVE).fillna(False).to_numpy(dtype=bool), group.eq(PROMOTER).fillna(False).to_numpy(dtype=bool)],
        [0, 3, 1, 2],
        default=3,
    ).astype(np.int8)
    score = pd.to_numeric(responses["score"], errors="coerce").to_numpy(dtype="float64")
    urgency = np.where(action == 1, -score, score)
    if "sentiment" in responses.columns:
        not_negative = ~responses["sentiment"].eq("negative").fillna(False).to_numpy(dtype=bool)
    else:
        not_negative = np.zeros(len(responses), dtype=bool)
    order = np.lexsort((not_negative, urgency, action))  # stable: ties keep the input order
    labels = pa.array(list(FOLLOW_UP_ORDER), type=pa.large_string()).take(pa.array(action[order]))
    own = pd.DataFrame({"follow_up": pd.arrays.ArrowStringArray(labels)})
    leading = list(FOLLOW_UP_COLUMNS) + [
        column for column in ("comment", "theme_id", "theme_label", "sentiment") if column in responses.columns
    ]
    rest = [column for column in responses.columns if column not in leading]
    return TableView(responses, order, own, tuple(leading + rest))
