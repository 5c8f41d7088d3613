"""The pipeline's stages as plain functions, composed by :mod:`nps_text.flow` (Prefect) and usable without it.

Each stage takes DataFrames (plus small dataclasses) and only its own config section, owns its output columns
(their dtypes are the contracts of :mod:`nps_text.schema`, checked with :func:`check_table` at its boundary)
and touches no files: the cache store, the theme state folder and the pseudonym key come in from the edges.
So every stage can be tested on a five-row frame. The ``*_step(…, config)`` functions are the older
whole-config spellings of the same stages.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nps_text import rules
from nps_text.cache import ResultStore
from nps_text.comments import prepare_comments
from nps_text.config import CommentsConfig, InputConfig, NpsConfig, PipelineConfig, PrivacyConfig
from nps_text.errors import SchemaError
from nps_text.ingest import RawInput
from nps_text.nps import add_nps_columns, choose_segments, nps_summary, period_changes
from nps_text.privacy import KeySource, privacy_record
from nps_text.schema import (
    COMMENT_STATUSES,
    REJECTED_COLUMNS,
    RESPONSES_COLUMNS,
    STATUS_TEXT,
    check_table,
    null_column,
)
from nps_text.schema import check_tables as check_tables
from nps_text.validate import ColumnMapping, ValidationInfo, detect_columns, validate_records


@dataclass
class ValidatedInput:
    """Responses that passed validation, the rejected rows, and how the columns were mapped."""

    responses: pd.DataFrame
    rejected: pd.DataFrame
    mapping: ColumnMapping
    rows_in: int
    privacy: dict[str, dict[str, str]] = field(default_factory=dict)
    """What :func:`privacy_step` did per input column with personal data (the manifest's ``privacy``)."""
    info: ValidationInfo = field(default_factory=ValidationInfo)
    """Dates that could not be read (``dates_unparsed``) and the day/month order chosen."""


@dataclass
class NpsTables:
    """The NPS step's outputs."""

    responses: pd.DataFrame
    summary: pd.DataFrame
    changes: pd.DataFrame
    segments: list[str] = field(default_factory=list)


def validate_step(raw: RawInput, config: PipelineConfig) -> ValidatedInput:
    """:func:`validate_stage` with the whole config."""
    return validate_stage(raw, config.input)


def validate_stage(raw: RawInput, section: InputConfig) -> ValidatedInput:
    """Map columns and split records into responses and rejected rows; checks the row-accounting invariant."""
    mapping = detect_columns(list(raw.frame.columns), section.columns)
    responses, rejected, info = validate_records(
        raw.frame, mapping, raw.unparseable, date_format=section.date_format
    )
    if len(responses) + len(rejected) != raw.rows_in:
        raise SchemaError(
            f"row accounting broken: {raw.rows_in} rows in, {len(responses)} valid + {len(rejected)} rejected"
        )
    responses = check_table(responses, "responses", stage="validate")
    rejected = check_table(rejected, "rejected", stage="validate")
    return ValidatedInput(responses=responses, rejected=rejected, mapping=mapping, rows_in=raw.rows_in, info=info)


def privacy_step(validated: ValidatedInput, config: PipelineConfig, key: KeySource | None = None) -> ValidatedInput:
    """:func:`privacy_stage` with the whole config (``comments.redact_pii`` decides ``redact_text``)."""
    return privacy_stage(validated, config.privacy, redact_text=config.comments.redact_pii, key=key)


def privacy_stage(
    validated: ValidatedInput, section: PrivacyConfig, *, redact_text: bool = True, key: KeySource | None = None
) -> ValidatedInput:
    """Personal data out, right after validation and before any other step sees the data.

    Passthrough columns with personal data get their policy (:mod:`nps_text.privacy`: hash, drop or keep);
    every other text passthrough cell, and every text cell of ``rejected`` (``raw_line`` and ``reason``
    included), is redacted like a comment (when ``redact_text``, the config's ``comments.redact_pii``). ``raw_line`` of an unparseable
    line becomes ``[REDACTED]`` when the input has hashed or dropped columns (the line cannot be split
    reliably). ``key`` is the pseudonym key, or a function returning it (called only if a column is hashed).
    Comments of valid responses are redacted by :func:`comments_step`.
    """
    from dataclasses import replace

    from nps_text.privacy import REDACTED_LINE, apply_policies, content_sample, plan_columns, redact_cells

    mapping = validated.mapping
    found = {source: [validated.responses[target]] for source, target in mapping.passthrough.items()}
    if mapping.id is not None:
        found[mapping.id] = [validated.responses["response_id"]]
    for source, columns in found.items():  # rows that failed validation count too (all of them, when none passed)
        column = source if source not in REJECTED_COLUMNS else f"input_{source}"
        if column in validated.rejected.columns:
            columns.append(validated.rejected[column])
    # detection reads only the first non-empty values of each column: no copy of whole columns
    frame = pd.DataFrame({name: content_sample(columns, section.sample_size) for name, columns in found.items()})
    by_input = plan_columns(frame, list(mapping.passthrough), section, id_column=mapping.id)
    # responses: passthrough columns by their output name, the id column as response_id
    on_responses = {target: by_input[source] for source, target in mapping.passthrough.items() if source in by_input}
    if mapping.id is not None and mapping.id in by_input:
        on_responses["response_id"] = by_input[mapping.id]
    other = [target for target in mapping.passthrough.values() if target not in on_responses] if redact_text else []
    responses = apply_policies(validated.responses, on_responses, key, redact_other=other)
    # rejected: the original values under their input names (prefixed input_ where they clash)
    reserved = set(REJECTED_COLUMNS)
    on_rejected = {(name if name not in reserved else f"input_{name}"): decision for name, decision in by_input.items()}
    if mapping.id is not None and mapping.id in by_input:
        on_rejected["response_id"] = by_input[mapping.id]
    rejected = validated.rejected
    if "raw_line" in rejected.columns and "raw_line" not in on_rejected and redact_text:
        if any(decision.policy in ("hash", "drop") for decision in by_input.values()):
            rejected = rejected.assign(raw_line=rejected["raw_line"].where(rejected["raw_line"].isna(), REDACTED_LINE))
        else:
            rejected = rejected.assign(raw_line=redact_cells(rejected["raw_line"]))
    skip = {"row_number", "response_id", "raw_line"}
    other = [column for column in rejected.columns if column not in skip and column not in on_rejected] if redact_text else []
    rejected = apply_policies(rejected, on_rejected, key, redact_other=other)
    dropped = {source for source, decision in by_input.items() if decision.policy == "drop"}
    if dropped:
        mapping = replace(mapping, passthrough={s: t for s, t in mapping.passthrough.items() if s not in dropped})
    return ValidatedInput(
        responses=check_table(responses, "responses", stage="validate"),
        rejected=check_table(rejected, "rejected", stage="validate"),
        mapping=mapping,
        rows_in=validated.rows_in,
        privacy=privacy_record(by_input),
        info=validated.info,
    )


def personal_columns(validated: ValidatedInput) -> list[str]:
    """Output names of the passthrough columns with personal data (never NPS segments)."""
    return [
        target
        for source, target in validated.mapping.passthrough.items()
        if validated.privacy.get(source, {}).get("policy", "not_personal") != "not_personal"
    ]


def comments_step(responses: pd.DataFrame, config: PipelineConfig, cache: ResultStore | None = None) -> pd.DataFrame:
    """:func:`comments_stage` with the whole config."""
    return comments_stage(responses, config.comments, cache)


def comments_stage(responses: pd.DataFrame, section: CommentsConfig, cache: ResultStore | None = None) -> pd.DataFrame:
    """Comment status, language and PII redaction (languages cached in ``cache``, keyed by the redacted text)."""
    prepared = prepare_comments(
        responses,
        languages=section.languages,
        extra_non_informative=section.non_informative,
        redact=section.redact_pii,
        cache=cache,
        max_chars=section.max_chars,
    )
    return check_table(prepared, "responses", stage="comments")


def nps_step(
    responses: pd.DataFrame, mapping: ColumnMapping, config: PipelineConfig, personal: Collection[str] = ()
) -> NpsTables:
    """:func:`nps_stage` with the whole config (``input.columns.segments`` names the segments)."""
    return nps_stage(responses, mapping, config.nps, config.input.columns.segments, personal)


def nps_stage(
    responses: pd.DataFrame,
    mapping: ColumnMapping,
    section: NpsConfig,
    candidates: list[str] | None = None,
    personal: Collection[str] = (),
) -> NpsTables:
    """NPS groups, periods, the summary per segment x period, and flagged changes between periods.

    ``candidates`` are the configured segment columns (``input.columns.segments``; ``None`` = choose).
    ``personal`` columns (:func:`personal_columns`) are never segments; naming one in the config is an error.
    """
    enriched = add_nps_columns(responses, section.period)
    if candidates is None:
        allowed = [column for column in mapping.passthrough.values() if column not in set(personal)]
        segments = choose_segments(enriched, allowed, section.max_segment_values, section.max_auto_segments)
    else:
        segments = [mapping.passthrough.get(name, name) for name in candidates]
        forbidden = [name for name in segments if name in set(personal)]
        if forbidden:
            from nps_text.errors import ConfigError

            raise ConfigError(
                f"input.columns.segments names {forbidden}, which hold personal data and are never segments; "
                "remove them, or set privacy.columns.<name>: not_personal if detection got them wrong"
            )
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
        confidence=section.confidence,
        min_segment_size=section.min_segment_size,
    )
    changes = period_changes(summary, confidence=section.confidence)
    return NpsTables(
        responses=check_table(enriched, "responses", stage="nps"),
        summary=check_table(summary, "nps_summary", stage="nps"),
        changes=check_table(changes, "nps_changes", stage="nps"),
        segments=segments,
    )


def empty_sentiment(responses: pd.DataFrame) -> pd.DataFrame:
    """Null sentiment columns (sentiment disabled or no comments); no copy of the other columns."""
    return responses.assign(**{column: null_column("responses", column, responses.index)
                                for column in ("sentiment", "sentiment_confidence")})


def empty_themes(responses: pd.DataFrame) -> pd.DataFrame:
    """Null theme columns (themes disabled or no comments); no copy of the other columns."""
    return responses.assign(**{column: null_column("responses", column, responses.index)
                                for column in ("theme_id", "theme_label", "theme_ids", "theme_labels")})


def sentiment_texts(responses: pd.DataFrame) -> pd.Series:
    """The (stripped, redacted) comment of every row that gets a sentiment, indexed like ``responses``:
    the texts the sentiment stage scores, once per distinct text."""
    return rules.sentiment_texts(responses)


def theme_texts(responses: pd.DataFrame, clean_text: bool = True) -> list[str]:
    """The distinct texts the themes stage embeds (cleaned like :func:`nps_text.themes.assign_themes` does),
    so that their embeddings can be computed ahead, in chunks."""
    cleaned = rules.theme_texts(responses, clean_text)
    return [str(text) for text in pd.unique(cleaned.to_numpy(dtype=object))]


def order_responses(responses: pd.DataFrame) -> pd.DataFrame:
    """Contract columns first, then date/period, then the passthrough columns in input order."""
    responses = check_table(responses, "responses", stage="themes")
    leading = list(RESPONSES_COLUMNS) + [
        column for column in ("comment_truncated", "date", "period") if column in responses.columns
    ]
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
        "dates_unparsed": validated.info.dates_unparsed,
        "comment_status": comment_counts(responses),
        "comments_truncated": int(responses["comment_truncated"].sum()) if "comment_truncated" in responses else 0,
    }
