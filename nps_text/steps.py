"""The pipeline's steps as plain functions, composed by :mod:`nps_text.flow` (Prefect) and usable without it.

Each function takes and returns DataFrames (plus small dataclasses) and touches no files, so every step can
be tested on a five-row frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nps_text.comments import prepare_comments
from nps_text.config import PipelineConfig
from nps_text.errors import SchemaError
from nps_text.ingest import RawInput
from nps_text.nps import add_nps_columns, choose_segments, nps_summary, period_changes
from nps_text.schema import COMMENT_STATUSES, RESPONSES_COLUMNS, STATUS_TEXT, check_table
from nps_text.validate import ColumnMapping, detect_columns, validate


@dataclass
class ValidatedInput:
    """Responses that passed validation, the rejected rows, and how the columns were mapped."""

    responses: pd.DataFrame
    rejected: pd.DataFrame
    mapping: ColumnMapping
    rows_in: int


@dataclass
class NpsTables:
    """The NPS step's outputs."""

    responses: pd.DataFrame
    summary: pd.DataFrame
    changes: pd.DataFrame
    segments: list[str] = field(default_factory=list)


def validate_step(raw: RawInput, config: PipelineConfig) -> ValidatedInput:
    """Map columns and split records into responses and rejected rows; checks the row-accounting invariant."""
    mapping = detect_columns(list(raw.frame.columns), config.input.columns)
    responses, rejected = validate(raw.frame, mapping, raw.unparseable, date_format=config.input.date_format)
    if len(responses) + len(rejected) != raw.rows_in:
        raise SchemaError(
            f"row accounting broken: {raw.rows_in} rows in, {len(responses)} valid + {len(rejected)} rejected"
        )
    return ValidatedInput(responses=responses, rejected=rejected, mapping=mapping, rows_in=raw.rows_in)


def comments_step(responses: pd.DataFrame, config: PipelineConfig) -> pd.DataFrame:
    """Comment status, language and PII redaction."""
    return prepare_comments(
        responses,
        languages=config.comments.languages,
        extra_non_informative=config.comments.non_informative,
        redact=config.comments.redact_pii,
    )


def nps_step(responses: pd.DataFrame, mapping: ColumnMapping, config: PipelineConfig) -> NpsTables:
    """NPS groups, periods, the summary per segment x period, and flagged changes between periods."""
    enriched = add_nps_columns(responses, config.nps.period)
    candidates = config.input.columns.segments
    if candidates is None:
        segments = choose_segments(enriched, list(mapping.passthrough.values()), config.nps.max_segment_values)
    else:
        segments = [mapping.passthrough.get(name, name) for name in candidates]
        missing = [name for name in segments if name not in enriched.columns]
        if missing:
            from nps_text.errors import ConfigError

            raise ConfigError(
                f"input.columns.segments names {missing}, which the input does not have; "
                f"passthrough columns are {list(mapping.passthrough.values())}"
            )
    summary = nps_summary(
        enriched,
        segments,
        period_column="period" if "period" in enriched.columns else None,
        confidence=config.nps.confidence,
        min_segment_size=config.nps.min_segment_size,
    )
    changes = period_changes(summary, confidence=config.nps.confidence)
    return NpsTables(responses=enriched, summary=summary, changes=changes, segments=segments)


def empty_sentiment(responses: pd.DataFrame) -> pd.DataFrame:
    """Null sentiment columns (sentiment disabled or no comments)."""
    enriched = responses.copy()
    enriched["sentiment"] = pd.Series(None, index=enriched.index, dtype=object)
    enriched["sentiment_confidence"] = pd.Series(np.nan, index=enriched.index, dtype="float64")
    return enriched


def empty_themes(responses: pd.DataFrame) -> pd.DataFrame:
    """Null theme columns (themes disabled or no comments)."""
    enriched = responses.copy()
    enriched["theme_id"] = pd.Series(pd.NA, index=enriched.index, dtype="Int64")
    enriched["theme_label"] = pd.Series(None, index=enriched.index, dtype=object)
    return enriched


def order_responses(responses: pd.DataFrame) -> pd.DataFrame:
    """Contract columns first, then date/period, then the passthrough columns in input order."""
    check_table(responses, "responses")
    leading = list(RESPONSES_COLUMNS) + [column for column in ("date", "period") if column in responses.columns]
    rest = [column for column in responses.columns if column not in leading]
    return responses[leading + rest]


def comment_counts(responses: pd.DataFrame) -> dict[str, int]:
    """Responses per comment status (every status present, zero if none)."""
    counts = responses["comment_status"].value_counts()
    return {status: int(counts.get(status, 0)) for status in COMMENT_STATUSES}


def text_rows(responses: pd.DataFrame) -> pd.Series:
    """Boolean mask of responses whose comment has informative text."""
    return responses["comment_status"] == STATUS_TEXT


def row_counts(validated: ValidatedInput, responses: pd.DataFrame) -> dict[str, Any]:
    """The manifest's row counts."""
    return {
        "rows_in": validated.rows_in,
        "rows_valid": len(responses),
        "rows_rejected": len(validated.rejected),
        "comment_status": comment_counts(responses),
    }
