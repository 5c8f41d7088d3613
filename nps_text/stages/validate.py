"""Validate: map the columns, split the records into responses and rejected rows, then take personal data
out (:func:`privacy`) before any other stage sees the data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from nps_text.config import InputConfig, PrivacyConfig
from nps_text.errors import SchemaError
from nps_text.ingest import RawInput
from nps_text.privacy import KeySource, privacy_record
from nps_text.rules import input_name
from nps_text.schema import REJECTED_COLUMNS, check_table
from nps_text.stages.edges import RunEdges
from nps_text.validate import ColumnMapping, ValidationInfo, detect_columns, validate_records


@dataclass
class ValidatedInput:
    """Responses that passed validation, the rejected rows, and how the columns were mapped."""

    responses: pd.DataFrame
    rejected: pd.DataFrame
    mapping: ColumnMapping
    rows_in: int
    privacy: dict[str, dict[str, str]] = field(default_factory=dict)
    """What :func:`privacy` did per input column with personal data (the manifest's ``privacy``)."""
    info: ValidationInfo = field(default_factory=ValidationInfo)
    """Dates that could not be read (``dates_unparsed``) and the day/month order chosen."""


def run(inputs: RawInput, section: InputConfig, edges: RunEdges | None = None) -> ValidatedInput:
    """Map columns and split records into responses and rejected rows; checks the row-accounting invariant."""
    mapping = detect_columns(list(inputs.frame.columns), section.columns)
    responses, rejected, info = validate_records(
        inputs.frame, mapping, inputs.unparseable, date_format=section.date_format
    )
    if len(responses) + len(rejected) != inputs.rows_in:
        raise SchemaError(
            f"row accounting broken: {inputs.rows_in} rows in, {len(responses)} valid + {len(rejected)} rejected"
        )
    responses = check_table(responses, "responses", stage="validate")
    rejected = check_table(rejected, "rejected", stage="validate")
    return ValidatedInput(responses=responses, rejected=rejected, mapping=mapping, rows_in=inputs.rows_in, info=info)


def privacy(
    validated: ValidatedInput, section: PrivacyConfig, *, redact_text: bool = True, key: KeySource | None = None
) -> ValidatedInput:
    """Personal data out, right after validation and before any other stage sees the data.

    Passthrough columns with personal data get their policy (:mod:`nps_text.privacy`: hash, drop or keep);
    every other text passthrough cell, and every text cell of ``rejected`` (``raw_line`` and ``reason``
    included), is redacted like a comment (when ``redact_text``, the config's ``comments.redact_pii``).
    ``raw_line`` of an unparseable line becomes ``[REDACTED]`` when the input has hashed or dropped columns
    (the line cannot be split reliably). ``key`` is the pseudonym key, or a function returning it (called
    only if a column is hashed). Comments of valid responses are redacted by the comments stage.
    """
    from nps_text.privacy import REDACTED_LINE, apply_policies, content_sample, plan_columns, redact_cells

    mapping = validated.mapping
    found = {source: [validated.responses[target]] for source, target in mapping.passthrough.items()}
    if mapping.id is not None:
        found[mapping.id] = [validated.responses["response_id"]]
    for source, columns in found.items():  # rows that failed validation count too (all of them, when none passed)
        column = input_name(source, REJECTED_COLUMNS)
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
    on_rejected = {input_name(name, REJECTED_COLUMNS): decision for name, decision in by_input.items()}
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
