"""The business rules that more than one stage needs, each defined once.

The values these rules speak of (group names, comment statuses, the sentiment labels and their order:
:data:`nps_text.schema.SENTIMENTS`) are the table contracts' and live in :mod:`nps_text.schema`; what the
pipeline *does* with them lives here:

* NPS: the group thresholds (:func:`nps_groups`) and the score (:func:`nps_score`);
* which rows have a comment to work on (:func:`has_text`, :func:`text_comments`), the texts sentiment scores
  (:func:`sentiment_texts`) and the texts themes embed (:func:`theme_texts`);
* periods and fill values: :data:`ALL`, :data:`NO_PERIOD`, :data:`MISSING`, :func:`known_periods`;
* an input column's name where it clashes with an output column (:func:`input_name`);
* size limits: :data:`MAX_COMMENT_CHARS`.

Example:
    >>> nps_groups([10, 8, 3]).tolist()
    ['promoter', 'passive', 'detractor']
    >>> nps_score(5, 2, 10)
    30.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterable

import numpy as np
import pandas as pd

from nps_text.errors import SchemaError
from nps_text.schema import NPS_GROUPS, STATUS_TEXT

# --- NPS ----------------------------------------------------------------------------------------------------
PROMOTER_MIN_SCORE = 9
"""Scores from here up (9-10) are promoters."""
PASSIVE_MIN_SCORE = 7
"""Scores from here up to below :data:`PROMOTER_MIN_SCORE` (7-8) are passives; lower ones (0-6) detractors."""


def nps_group_codes(scores: Iterable[float] | np.ndarray | pd.Series) -> np.ndarray:
    """The NPS group of each score as its position in :data:`nps_text.schema.NPS_GROUPS` (``int8``): 9-10 promoter
    (0), 7-8 passive (1), anything else detractor (2)."""
    values = np.asarray(scores)
    return np.where(values >= PROMOTER_MIN_SCORE, 0, np.where(values >= PASSIVE_MIN_SCORE, 1, 2)).astype(np.int8)


def nps_groups(scores: Iterable[float] | np.ndarray | pd.Series) -> np.ndarray:
    """The NPS group of each score: 9-10 promoter, 7-8 passive, anything else detractor."""
    return np.asarray(NPS_GROUPS)[nps_group_codes(scores)]


def nps_score(promoters: int, detractors: int, responses: int) -> float:
    """Net Promoter Score in points (-100..100): ``100 * (promoters - detractors) / responses``; NaN without
    responses.

    Example:
        >>> nps_score(50, 20, 100), nps_score(0, 0, 0)
        (30.0, nan)
    """
    return 100.0 * (promoters - detractors) / responses if responses else math.nan


# --- comments with text -----------------------------------------------------------------------------------
def has_text(rows: pd.DataFrame | pd.Series, status_column: str = "comment_status") -> pd.Series:
    """Boolean mask of the rows whose comment is informative text (comment status ``text``); ``rows`` is a
    table with ``status_column`` or a series of statuses. Missing statuses count as no text."""
    statuses = rows[status_column] if isinstance(rows, pd.DataFrame) else rows
    return statuses.astype("string").eq(STATUS_TEXT).fillna(False).astype(bool)


def text_comments(
    responses: pd.DataFrame, text_column: str = "comment", status_column: str | None = "comment_status"
) -> pd.Series:
    """Boolean mask of the rows with a comment to analyse: :func:`has_text` (with ``status_column=None``, any
    row) and a comment that is not blank."""
    text = responses[text_column]
    usable = text.notna()
    if status_column is not None:
        usable &= has_text(responses, status_column)
    return usable & text.astype("string").str.strip().fillna("").ne("")


def sentiment_texts(
    responses: pd.DataFrame, text_column: str = "comment", status_column: str | None = "comment_status"
) -> pd.Series:
    """The stripped comment of every row that gets a sentiment (:func:`text_comments`), indexed like
    ``responses``; other rows are missing from the result.

    Raises:
        SchemaError: ``responses`` lacks ``text_column`` or ``status_column``.
    """
    for column, what in ((text_column, "a text column"), (status_column, "the status column")):
        if column is not None and column not in responses.columns:
            hint = " (or status_column=None)" if column == status_column else ""
            raise SchemaError(f"sentiment needs {what} {column!r}{hint}; the table has {list(responses.columns)}")
    return responses.loc[text_comments(responses, text_column, status_column), text_column].astype(str).str.strip()


def theme_texts(responses: pd.DataFrame, clean_text: bool = True) -> pd.Series:
    """The text the themes stage embeds for each comment with text (:func:`text_comments`), indexed like
    ``responses``: cleaned for embedding (:func:`nps_text.text.clean_for_embedding`) or just stripped."""
    from nps_text.text import clean_for_embedding

    comments = responses.loc[text_comments(responses), "comment"]
    codes, distinct = pd.factorize(comments, sort=False)  # each distinct comment cleaned once, one string each
    prepare = clean_for_embedding if clean_text else str.strip
    cleaned = np.asarray([prepare(str(text)) for text in distinct], dtype=object)
    return pd.Series(cleaned[codes], index=comments.index, dtype=object)


# --- periods and fill values --------------------------------------------------------------------------------
ALL = "all"
"""``segment``, ``segment_value`` and ``period`` of summary rows over all segments / the whole span."""
NO_PERIOD = "unknown"
"""``nps_summary.period`` of responses without a date."""
MISSING = "(missing)"
"""``nps_summary.segment_value`` of responses without a value in the segment column."""


def known_periods(periods: Iterable[object]) -> list[str]:
    """The distinct period labels in time order (labels sort as strings), without :data:`ALL`,
    :data:`NO_PERIOD` and nulls.

    Example:
        >>> known_periods(["2026-W02", "all", None, "2026-W01", "unknown", "2026-W02"])
        ['2026-W01', '2026-W02']
    """
    column = periods if isinstance(periods, pd.Series) else pd.Series(list(periods), dtype=object)
    distinct = column.dropna().unique()  # a few labels, not a Python string per row
    return sorted({str(period) for period in distinct if not pd.isna(period)} - {ALL, NO_PERIOD})


# --- names -------------------------------------------------------------------------------------------------
INPUT_PREFIX = "input_"


def input_name(column: str, reserved: Collection[str]) -> str:
    """An input column's name in an output table: prefixed :data:`INPUT_PREFIX` where it clashes with one of
    the table's own (``reserved``) columns.

    Example:
        >>> input_name("reason", {"row_number", "reason"}), input_name("Filiale", {"reason"})
        ('input_reason', 'Filiale')
    """
    return column if column not in reserved else f"{INPUT_PREFIX}{column}"


# --- size limits (EXCEL_MAX_ROWS: nps_text.writers) ----------------------------------------------------------
MAX_COMMENT_CHARS = 5_000
"""Default of ``comments.max_chars``: a longer comment is cut at a word boundary (:mod:`nps_text.comments`)."""


THREADS_ENV = "NPS_TEXT_THREADS"
"""Environment variable: the CPU threads each model may use in this process (a Dask LocalCluster sets it on its
workers so that its processes share the cores instead of each taking all of them)."""


def process_threads() -> int:
    """CPU threads a model may use in this process: ``$NPS_TEXT_THREADS`` when set to a positive integer, else every
    core this process may run on.

    Example:
        >>> os.environ[THREADS_ENV] = "3"; process_threads()
        3
        >>> del os.environ[THREADS_ENV]
    """
    configured = os.environ.get(THREADS_ENV, "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
