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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nps_text.alerts_config import AlertsConfig, database_url_problem
from nps_text.errors import ConfigError
from nps_text.report.config import ReportConfig
from nps_text.rules import MAX_COMMENT_CHARS
from nps_text.runner import RunnerConfig
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
    passthrough: list[str] | None = Field(
        default=None,
        description="Other columns carried into the outputs; None = all of them, or the first 100 of a wider export.",
    )


class InputConfig(_Section):
    """How to read the input."""

    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    sql_query: str | None = None
    date_format: Literal["auto", "iso", "german", "dayfirst", "monthfirst"] = Field(
        default="auto",
        description="auto: day/month order decided from the whole column (day-first if undecided); "
        "dayfirst (german is an alias) or monthfirst force it; iso reads ISO dates only.",
    )

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
    max_auto_segments: int = Field(
        default=10, ge=0,
        description="When input.columns.segments is not set: at most this many columns become segments.",
    )


class CommentsConfig(_Section):
    """Comment status, language detection and PII redaction."""

    non_informative: list[str] = Field(
        default_factory=list, description="Extra answers (case-insensitive) that count as non-informative."
    )
    languages: list[str] = Field(default_factory=lambda: ["de", "en", "fr", "it", "es", "nl"])
    redact_pii: bool = True
    max_chars: int = Field(
        default=MAX_COMMENT_CHARS,
        ge=200,
        le=50_000,
        description="A longer comment (e.g. the rest of a file after an unclosed quote) is cut at a word boundary "
        "to at most this many characters, ending in ' […]', before language detection, sentiment and themes; "
        "responses.comment_truncated marks it.",
    )


class PrivacyConfig(_Section):
    """Passthrough columns with personal data (see :mod:`nps_text.privacy`)."""

    detect: bool = Field(default=True, description="Detect personal-data columns by header name and content.")
    default_policy: Literal["hash", "drop"] = Field(
        default="hash", description="For detected columns the config does not name: keyed pseudonym or drop."
    )
    columns: dict[str, Literal["hash", "drop", "keep", "not_personal"]] = Field(
        default_factory=dict, description="Policy per input column; keep only here (e.g. for call-back lists)."
    )
    content_threshold: float = Field(default=0.3, gt=0.0, le=1.0)
    sample_size: int = Field(default=500, ge=10)


class EmbeddingsConfig(_Section):
    """The shared encoder: a registered name or a Hugging Face model id / local path."""

    model: str = "e5-small"
    batch_size: int = Field(default=64, ge=1)
    cache_dir: str | None = Field(default=None, description="Older name of cache.dir (used when cache.dir is unset)")


class CacheConfig(_Section):
    """The persistent result store (embeddings, languages, sentiment), shared by all steps and runs."""

    enabled: bool = True
    dir: str | None = Field(default=None, description="Cache folder; None = <out>/.cache (file nps_text.sqlite)")
    max_size_mb: float | None = Field(
        default=2048.0, ge=0, description="Least recently used entries are evicted beyond this; null/0 = no limit"
    )


OutputFormat = Literal["parquet", "csv", "xlsx", "duckdb"]


def _all_formats() -> list[OutputFormat]:
    return ["parquet", "csv", "xlsx", "duckdb"]


class OutputConfig(_Section):
    """What the writers produce."""

    formats: list[OutputFormat] = Field(default_factory=_all_formats)
    csv_delimiter: Literal[",", ";", "\t", "|"] = ","
    csv_bom: bool = True
    database: str | None = Field(
        default=None, description="SQLAlchemy URL to write every table to (no password in it: see password_env)."
    )
    database_schema: str | None = Field(default=None, description="Schema for the tables (PostgreSQL).")
    database_password_env: str | None = Field(
        default=None, description="Environment variable with the database password (PGPASSWORD works too)."
    )
    database_table_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_]*$")
    keep_unchanged: bool = Field(
        default=True,
        description="Keep an output from the last run into the same folder when its content would not change (same "
                    "tables and settings) instead of writing it again; false rewrites every output (as --force does).",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_url(cls, data: Any) -> Any:
        # On the whole section (not the field) so that the error never echoes the URL and its password.
        url = data.get("database") if isinstance(data, dict) else None
        if isinstance(url, str) and (problem := database_url_problem(url)):
            raise ValueError(f"output.database: {problem}")
        return data


class PipelineConfig(_Section):
    """The whole pipeline configuration (``pipeline/default.yaml`` holds the defaults, documented)."""

    input: InputConfig = Field(default_factory=InputConfig)
    nps: NpsConfig = Field(default_factory=NpsConfig)
    comments: CommentsConfig = Field(default_factory=CommentsConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    sentiment: SentimentConfig = Field(default_factory=SentimentConfig)
    themes: ThemesConfig = Field(default_factory=ThemesConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)


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
