"""NPS: groups and periods per response, the summary per segment x period, flagged changes between periods."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import pandas as pd

from nps_text.config import NpsConfig
from nps_text.errors import ConfigError
from nps_text.nps import add_nps_columns, choose_segments, nps_summary, period_changes
from nps_text.schema import check_table
from nps_text.stages.edges import RunEdges
from nps_text.validate import ColumnMapping


@dataclass
class NpsInputs:
    """The responses, how their columns were mapped, the configured segment columns (``input.columns.segments``;
    ``None`` = choose) and the columns holding personal data (never segments)."""

    responses: pd.DataFrame
    mapping: ColumnMapping
    segments: list[str] | None = None
    personal: Collection[str] = ()


@dataclass
class NpsTables:
    """The NPS stage's outputs."""

    responses: pd.DataFrame
    summary: pd.DataFrame
    changes: pd.DataFrame
    segments: list[str] = field(default_factory=list)


def run(inputs: NpsInputs, section: NpsConfig, edges: RunEdges | None = None) -> NpsTables:
    """NPS groups, periods, the summary per segment x period, and flagged changes between periods.

    Raises:
        ConfigError: a configured segment holds personal data or is not a column of the input.
    """
    mapping, personal = inputs.mapping, set(inputs.personal)
    enriched = add_nps_columns(inputs.responses, section.period)
    if inputs.segments is None:
        allowed = [column for column in mapping.passthrough.values() if column not in personal]
        segments = choose_segments(enriched, allowed, section.max_segment_values, section.max_auto_segments)
    else:
        segments = [mapping.passthrough.get(name, name) for name in inputs.segments]
        forbidden = [name for name in segments if name in personal]
        if forbidden:
            raise ConfigError(
                f"input.columns.segments names {forbidden}, which hold personal data and are never segments; "
                "remove them, or set privacy.columns.<name>: not_personal if detection got them wrong"
            )
        missing = [name for name in segments if name not in enriched.columns]
        if missing:
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
