"""The Prefect flow: the pipeline's steps wired as tasks. The only module that imports Prefect.

Tasks are thin wrappers over :mod:`nps_text.steps` and the capability modules; they add retries on I/O,
task caching keyed on the input's content hash, a run manifest and Prefect artifacts.

Run locally (no server needed)::

    nps-text run data/sample_reviews_en.csv --out out/sample

Schedule it: see ``flows/prefect.yaml`` and the README ("Scheduling").
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from nps_text import __version__, steps
from nps_text.config import PipelineConfig, load_config
from nps_text.embeddings import CachedEmbedder
from nps_text.ingest import RawInput, file_hash, is_sql_url, read_input
from nps_text.schema import SENTENCES_COLUMNS, THEMES_COLUMNS
from nps_text.writers import write_csv, write_duckdb, write_excel, write_json, write_parquet, write_text

ProgressHook = Callable[[str, int, int], None]
_progress_hook: ProgressHook | None = None
STEPS = ("ingest", "validate", "comments", "nps", "sentiment", "themes", "insights", "write")
ARTIFACT_PREFIX = "nps-text"


def set_progress_hook(hook: ProgressHook | None) -> None:
    """Let a front end (the CLI's progress display) follow the steps: ``hook(step, index, total)``."""
    global _progress_hook
    _progress_hook = hook


class RunParameters(BaseModel):
    """Parameters of one run, as a deployment or the CLI passes them."""

    input: str = Field(description="Survey export (CSV, XLSX, Parquet, JSONL) or a SQLAlchemy URL")
    out: str = Field(default="out", description="Output folder for tables, report and manifest")
    config: str | None = Field(default=None, description="Pipeline config YAML; None = built-in defaults")
    sql_query: str | None = Field(default=None, description="SQL query when input is a SQLAlchemy URL")


def _input_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    """Cache ingest on the input file's content hash and the input config, never on the path alone."""
    source = parameters["source"]
    if is_sql_url(str(source)) or not Path(source).is_file():
        return None
    config_json = parameters["input_config"].model_dump_json()
    digest = hashlib.sha256(f"{file_hash(Path(source))}\n{config_json}\n{__version__}".encode()).hexdigest()
    return f"nps-text-ingest-{digest}"


@task(name="ingest", retries=2, retry_delay_seconds=5, cache_key_fn=_input_cache_key, persist_result=True)
def ingest_task(source: str, input_config: Any) -> RawInput:
    """Read the export (retried: files on network shares and databases fail transiently)."""
    return read_input(source, input_config)


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(raw: RawInput, config: PipelineConfig) -> steps.ValidatedInput:
    return steps.validate_step(raw, config)


@task(name="comments", cache_policy=NO_CACHE)
def comments_task(responses: pd.DataFrame, config: PipelineConfig) -> pd.DataFrame:
    return steps.comments_step(responses, config)


@task(name="nps", cache_policy=NO_CACHE)
def nps_task(responses: pd.DataFrame, validated: steps.ValidatedInput, config: PipelineConfig) -> steps.NpsTables:
    return steps.nps_step(responses, validated.mapping, config)


@task(name="sentiment", cache_policy=NO_CACHE)
def sentiment_task(
    responses: pd.DataFrame, config: PipelineConfig, embed: Callable[[Sequence[str]], np.ndarray] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from nps_text.sentiment import annotate_sentiment

    return annotate_sentiment(responses, config.sentiment, embed=embed)


@task(name="themes", cache_policy=NO_CACHE)
def themes_task(
    responses: pd.DataFrame, config: PipelineConfig, embed: Callable[[Sequence[str]], np.ndarray], state_dir: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from nps_text.themes import assign_themes

    return assign_themes(responses, config.themes, embed=embed, state_dir=state_dir)


@task(name="insights", cache_policy=NO_CACHE)
def insights_task(responses: pd.DataFrame, themes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    from nps_text.insights import follow_up, improvement_areas

    previous = None
    periods = sorted(p for p in responses.get("period", pd.Series(dtype="string")).dropna().unique())
    if len(periods) >= 2:
        previous = str(periods[-2])
    return {
        "improvement_areas": improvement_areas(responses, themes, previous_period=previous),
        "follow_up": follow_up(responses),
    }


@task(name="write", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def write_task(tables: dict[str, pd.DataFrame], manifest: dict[str, Any], config: PipelineConfig, out: Path) -> list[str]:
    """Write every table (atomically), the report and the manifest."""
    return [str(path) for path in write_outputs(tables, manifest, config, out)]


def write_outputs(tables: dict[str, pd.DataFrame], manifest: dict[str, Any], config: PipelineConfig, out: Path) -> list[Path]:
    """Write tables in the configured formats and the HTML report into ``out`` (the manifest comes last)."""
    out.mkdir(parents=True, exist_ok=True)
    formats = set(config.output.formats)
    written: list[Path] = []
    for name, frame in tables.items():
        if "parquet" in formats or name in ("responses", "rejected"):
            written.append(write_parquet(frame, out / f"{name}.parquet"))
        if "csv" in formats:
            written.append(write_csv(frame, out / f"{name}.csv", delimiter=config.output.csv_delimiter, bom=config.output.csv_bom))
    if "xlsx" in formats:
        written.append(write_excel(tables, out / "nps_text.xlsx"))
    if "duckdb" in formats:
        written.append(write_duckdb(tables, out / "nps_text.duckdb"))
    if config.report.enabled:
        from nps_text.report import render_report

        written.append(write_text(render_report(tables, manifest, config.report), out / "report.html"))
    return written


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    if _progress_hook is not None:
        _progress_hook(name, STEPS.index(name) if name in STEPS else 0, len(STEPS))
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - start, 3)


def _publish_artifacts(tables: dict[str, pd.DataFrame], manifest: dict[str, Any], config: PipelineConfig) -> None:
    """Markdown headline + top improvement areas, and the improvement areas and NPS summary as tables."""
    from nps_text.report import improvement_areas_rows, markdown_summary

    create_markdown_artifact(
        key=f"{ARTIFACT_PREFIX}-headline",
        markdown=markdown_summary(tables, manifest, config.report),
        description="NPS headline and top improvement areas",
    )
    rows = improvement_areas_rows(tables, config.report)
    if rows:
        create_table_artifact(
            key=f"{ARTIFACT_PREFIX}-improvement-areas", table=rows, description="Improvement areas ranked by NPS impact"
        )
    summary = tables["nps_summary"]
    overall = summary.loc[summary["segment"] == "all"].round(2)
    create_table_artifact(
        key=f"{ARTIFACT_PREFIX}-nps-summary",
        table=json.loads(overall.to_json(orient="records")),
        description="NPS with 95% confidence interval, overall and per period",
    )


def run_pipeline(params: RunParameters, *, publish_artifacts: bool = True) -> dict[str, Any]:
    """The whole job; called inside the flow. Returns the manifest."""
    logger = get_run_logger()
    config = load_config(params.config)
    if params.sql_query:
        config.input.sql_query = params.sql_query
    out = Path(params.out)
    timings: dict[str, float] = {}
    started = datetime.now(UTC)

    with _timed(timings, "ingest"):
        raw = ingest_task(params.input, config.input)
    if not is_sql_url(params.input):
        raw.source = params.input  # a cache hit (same content) may come from a file at another path
    logger.info("read %d records from %s (%s)", raw.rows_in, raw.source, raw.format)
    with _timed(timings, "validate"):
        validated = validate_task(raw, config)
    logger.info("%d valid responses, %d rejected", len(validated.responses), len(validated.rejected))
    with _timed(timings, "comments"):
        responses = comments_task(validated.responses, config)
    with _timed(timings, "nps"):
        nps_tables = nps_task(responses, validated, config)
    responses = nps_tables.responses

    has_text = bool(steps.text_rows(responses).any())
    cache_root = Path(config.embeddings.cache_dir) if config.embeddings.cache_dir else out / ".cache" / "embeddings"
    embedders: dict[str, CachedEmbedder] = {}

    def embedder(model: str) -> CachedEmbedder:
        """One lazily loaded, content-hash-cached embedder per encoder name, shared by every step."""
        if model not in embedders:
            embedders[model] = CachedEmbedder(model, cache_root, config.embeddings.batch_size)
        return embedders[model]

    models: dict[str, Any] = {}
    sentences = pd.DataFrame(columns=list(SENTENCES_COLUMNS))
    if has_text and config.sentiment.enabled:
        with _timed(timings, "sentiment"):
            responses, sentences = sentiment_task(responses, config, embedder(config.embeddings.model))
        models["sentiment"] = {"name": config.sentiment.model}
    else:
        responses = steps.empty_sentiment(responses)
    themes = pd.DataFrame(columns=list(THEMES_COLUMNS))
    if has_text and config.themes.enabled:
        themes_encoder = config.themes.encoder or config.embeddings.model
        with _timed(timings, "themes"):
            responses, themes = themes_task(responses, config, embedder(themes_encoder), out / ".state")
        models["themes"] = {"name": "bertopic", "encoder": themes_encoder, "seed": config.themes.seed}
    else:
        responses = steps.empty_themes(responses)
    used = {name: item.describe() for name, item in embedders.items() if item.loaded}
    if used:
        models["embeddings"] = used
        timings["embeddings"] = round(sum(item.seconds for item in embedders.values()), 3)
    with _timed(timings, "insights"):
        insights = insights_task(responses, themes)
    responses = steps.order_responses(responses)

    tables: dict[str, pd.DataFrame] = {
        "responses": responses,
        "rejected": validated.rejected,
        "nps_summary": nps_tables.summary,
        "nps_changes": nps_tables.changes,
        "sentences": sentences,
        "themes": themes,
        **insights,
    }
    manifest: dict[str, Any] = {
        "nps_text_version": __version__,
        "started_at": started.isoformat(),
        "input": {
            "path": raw.source,
            "sha256": raw.source_hash,
            "format": raw.format,
            **raw.details,
        },
        "column_mapping": validated.mapping.as_dict(),
        "segments": nps_tables.segments,
        "config": config.model_dump(mode="json"),
        "models": models,
        **steps.row_counts(validated, responses),
        "timings_s": timings,
    }
    with _timed(timings, "write"):
        written = write_task(tables, manifest, config, out)
    manifest["outputs"] = sorted(Path(path).name for path in written) + ["manifest.json"]
    manifest["finished_at"] = datetime.now(UTC).isoformat()
    write_json(manifest, out / "manifest.json")
    if publish_artifacts:
        _publish_artifacts(tables, manifest, config)
    logger.info("wrote %s", out)
    return manifest


@flow(name="nps-text", log_prints=True, validate_parameters=True)
def nps_text_flow(params: RunParameters) -> dict[str, Any]:
    """NPS survey export -> enriched tables, themes, improvement areas, report and manifest."""
    return run_pipeline(params)
