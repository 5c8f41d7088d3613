"""Pipeline configuration: validated objects loaded from ``pipeline/*.yaml``.

Every section is a pydantic model that forbids unknown keys, so a typo in a YAML file fails with the
key, the bad value and what is allowed instead of being silently ignored.

Example:
    >>> cfg = PipelineConfig.model_validate({"nps": {"period": "M"}})
    >>> cfg.nps.period
    'M'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nps_text.errors import ConfigError
from nps_text.report.config import ReportConfig
from nps_text.sentiment.config import SentimentConfig
from nps_text.themes.config import ThemesConfig

CSV_DELIMITERS = (",", ";", "\t", "|")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnsConfig(_Section):
    """Which input columns hold what. ``None`` means: detect from common German and English names."""

    id: str | None = None
    score: str | None = None
    comment: str | None = None
    date: str | None = None
    segments: list[str] | None = Field(
        default=None,
        description="Columns to break NPS down by; None = every passthrough column with few distinct values.",
    )


class InputConfig(_Section):
    """How to read the input."""

    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    sql_query: str | None = None
    date_format: Literal["auto", "iso", "german"] = "auto"

    @field_validator("delimiter")
    @classmethod
    def _known_delimiter(cls, value: str | None) -> str | None:
        if value is not None and value not in CSV_DELIMITERS:
            raise ValueError(f"delimiter {value!r} is not one of {list(CSV_DELIMITERS)}")
        return value


class NpsConfig(_Section):
    """NPS aggregation: the period for trends and the significance level for flagged changes."""

    period: Literal["D", "W", "M", "Q", "Y"] = "W"
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    min_segment_size: int = Field(default=1, ge=1)
    max_segment_values: int = Field(default=50, ge=1)


class CommentsConfig(_Section):
    """Comment status, language detection and PII redaction."""

    non_informative: list[str] = Field(
        default_factory=list, description="Extra answers (case-insensitive) that count as non-informative."
    )
    languages: list[str] = Field(default_factory=lambda: ["de", "en", "fr", "it", "es", "nl"])
    redact_pii: bool = True


class EmbeddingsConfig(_Section):
    """The shared encoder: a registered name or a Hugging Face model id / local path."""

    model: str = "e5-small"
    batch_size: int = Field(default=64, ge=1)
    cache_dir: str | None = Field(default=None, description="Embedding cache; None = <out>/.cache")


OutputFormat = Literal["parquet", "csv", "xlsx", "duckdb"]


def _all_formats() -> list[OutputFormat]:
    return ["parquet", "csv", "xlsx", "duckdb"]


class OutputConfig(_Section):
    """What the writers produce."""

    formats: list[OutputFormat] = Field(default_factory=_all_formats)
    csv_delimiter: Literal[",", ";", "\t", "|"] = ","
    csv_bom: bool = True


class PipelineConfig(_Section):
    """The whole pipeline configuration (``pipeline/default.yaml`` holds the defaults, documented)."""

    input: InputConfig = Field(default_factory=InputConfig)
    nps: NpsConfig = Field(default_factory=NpsConfig)
    comments: CommentsConfig = Field(default_factory=CommentsConfig)
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)
    sentiment: SentimentConfig = Field(default_factory=SentimentConfig)
    themes: ThemesConfig = Field(default_factory=ThemesConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)


def _format_validation_error(exc: ValidationError, source: str) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        value = error.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        problems.append(f"{key}: {error['msg']}{shown}")
    return f"invalid configuration in {source}: " + "; ".join(problems)


def config_from_dict(data: dict[str, Any] | None, source: str = "config") -> PipelineConfig:
    """Validate a plain dict into a :class:`PipelineConfig`, raising :class:`ConfigError` on problems."""
    try:
        return PipelineConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from exc


def load_config(path: str | Path | None) -> PipelineConfig:
    """Load and validate a YAML config file; ``None`` gives the defaults."""
    if path is None:
        return PipelineConfig()
    config_path = Path(path)
    if not config_path.is_file():
        raise ConfigError(f"config file not found: {config_path}")
    try:
        data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {config_path} is not valid YAML: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"config file {config_path} must hold a mapping at the top level")
    return config_from_dict(data, str(config_path))
