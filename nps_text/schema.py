"""Table contracts: the columns each output table must carry, written down once.

Other tools (BI dashboards, analysts' notebooks) and our own steps rely on these names. Steps check
their inputs and outputs with :func:`check_columns` at stage boundaries.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from nps_text.errors import SchemaError

# --- values -----------------------------------------------------------------------------------------
PROMOTER, PASSIVE, DETRACTOR = "promoter", "passive", "detractor"
NPS_GROUPS: tuple[str, ...] = (PROMOTER, PASSIVE, DETRACTOR)

STATUS_TEXT, STATUS_EMPTY, STATUS_NON_INFORMATIVE = "text", "empty", "non_informative"
COMMENT_STATUSES: tuple[str, ...] = (STATUS_TEXT, STATUS_EMPTY, STATUS_NON_INFORMATIVE)

POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"
SENTIMENTS: tuple[str, ...] = (POSITIVE, NEUTRAL, NEGATIVE)

OUTLIER_THEME_ID = -1

# --- tables -----------------------------------------------------------------------------------------
RESPONSES_COLUMNS: tuple[str, ...] = (
    "response_id",
    "score",
    "nps_group",
    "comment",
    "comment_status",
    "language",
    "sentiment",
    "sentiment_confidence",
    "theme_id",
    "theme_label",
)
"""Required columns of ``responses``; every passthrough column of the input follows them."""

REJECTED_COLUMNS: tuple[str, ...] = ("row_number", "response_id", "reason")
"""Required columns of ``rejected``; the original values follow as text, one column each."""

SENTENCES_COLUMNS: tuple[str, ...] = ("response_id", "sentence_index", "sentence", "sentiment", "confidence")

THEMES_COLUMNS: tuple[str, ...] = (
    "nps_group",
    "theme_id",
    "theme_label",
    "keywords",
    "size",
    "share_of_group",
    "positive_share",
    "neutral_share",
    "negative_share",
    "representative_comments",
)

IMPROVEMENT_AREAS_COLUMNS: tuple[str, ...] = (
    "rank",
    "theme_id",
    "theme_label",
    "detractor_count",
    "share_of_detractors",
    "nps_impact",
    "example_comments",
)

NPS_SUMMARY_COLUMNS: tuple[str, ...] = (
    "segment",
    "segment_value",
    "period",
    "responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "nps_ci_low",
    "nps_ci_high",
)

FOLLOW_UP_COLUMNS: tuple[str, ...] = ("follow_up", "response_id", "score", "nps_group", "comment_status")

TABLE_CONTRACTS: dict[str, tuple[str, ...]] = {
    "responses": RESPONSES_COLUMNS,
    "rejected": REJECTED_COLUMNS,
    "sentences": SENTENCES_COLUMNS,
    "themes": THEMES_COLUMNS,
    "improvement_areas": IMPROVEMENT_AREAS_COLUMNS,
    "nps_summary": NPS_SUMMARY_COLUMNS,
    "follow_up": FOLLOW_UP_COLUMNS,
}


def check_columns(frame: pd.DataFrame, required: Iterable[str], table: str) -> None:
    """Raise :class:`SchemaError` naming every missing column of ``table``.

    Example:
        >>> check_columns(pd.DataFrame({"a": [1]}), ["a"], "demo")
    """
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise SchemaError(
            f"table '{table}' is missing column(s) {missing}; it has {list(frame.columns)}"
        )


def check_table(frame: pd.DataFrame, table: str) -> None:
    """Check ``frame`` against the named contract in :data:`TABLE_CONTRACTS`."""
    check_columns(frame, TABLE_CONTRACTS[table], table)
