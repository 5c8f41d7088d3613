"""The Prefect flow: the pipeline's steps wired as tasks. The only module that imports Prefect.

Tasks are thin wrappers over :mod:`nps_text.steps` and the capability modules; they add retries on
transient I/O errors (never on :class:`~nps_text.errors.NpsTextError`), a run manifest and Prefect artifacts.

Privacy: no task or flow persists its result (nothing of the survey reaches Prefect's result storage), and
the flow's parameters (stored in Prefect's database) never hold a credential: a database password is
named by ``password_env`` (an environment variable) or ``password_secret`` (a Prefect Secret block) and
resolved inside the ingest task at run time.

Crash safety: a run locks its output folder, writes into ``OUT/.staging-<run id>`` and publishes with
renames at the end (manifest last), see :func:`nps_text.writers.output_folder`.

Run locally (no server needed)::

    nps-text run data/sample_reviews_en.csv --out out/sample

Schedule it: see ``flows/prefect.yaml`` and the README ("Scheduling").
"""

from __future__ import annotations

import json
import time
import uuid
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
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nps_text import __version__, steps
from nps_text.cache import ResultStore, store_for_run
from nps_text.config import PipelineConfig, load_config
from nps_text.embeddings import CachedEmbedder
from nps_text.errors import InputError, NpsTextError
from nps_text.ingest import RawInput, is_sql_url, read_input
from nps_text.privacy import pseudonym_key
from nps_text.schema import SENTENCES_COLUMNS, THEMES_COLUMNS
from nps_text.writers import (
    excel_truncations,
    output_folder,
    prepare_state,
    publish,
    write_csv,
    write_duckdb,
    write_excel,
    write_json,
    write_parquet,
    write_text,
)

ProgressHook = Callable[[str, int, int], None]
_progress_hook: ProgressHook | None = None
STEPS = ("ingest", "validate", "comments", "nps", "sentiment", "themes", "insights", "write")
ARTIFACT_PREFIX = "nps-text"


def set_progress_hook(hook: ProgressHook | None) -> None:
    """Let a front end (the CLI's progress display) follow the steps: ``hook(step, index, total)``."""
    global _progress_hook
    _progress_hook = hook


class RunParameters(BaseModel):
    """Parameters of one run, as a deployment or the CLI passes them.

    Prefect stores these in its database: they never hold a credential. A database password is named by
    ``password_env`` or ``password_secret`` and resolved in the ingest task at run time.
    """

    model_config = ConfigDict(hide_input_in_errors=True)  # an error must not echo a URL with its password

    input: str = Field(description="Survey export (CSV, XLSX, Parquet, JSONL) or a SQLAlchemy URL without password")
    out: str = Field(default="out", description="Output folder for tables, report and manifest")
    config: str | None = Field(default=None, description="Pipeline config YAML; None = built-in defaults")
    sql_query: str | None = Field(default=None, description="SQL query when input is a SQLAlchemy URL")
    password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the database password (not the password)"
    )
    password_secret: str | None = Field(
        default=None, description="Name of a Prefect Secret block holding the database password (not the password)"
    )
    database: str | None = Field(
        default=None, description="Write the tables to this SQLAlchemy URL too (overrides output.database; no password)"
    )

    @model_validator(mode="after")
    def _no_credentials(self) -> RunParameters:
        if is_sql_url(self.input) and split_password(self.input)[1] is not None:
            raise ValueError(
                "the database URL holds a password, which would be stored in Prefect's database: remove it from "
                "the URL and name an environment variable (password_env) or a Prefect Secret block (password_secret)"
            )
        if self.database and split_password(self.database)[1] is not None:
            raise ValueError("the --to-db URL holds a password: remove it and set output.database_password_env or PGPASSWORD")
        if self.password_env and self.password_secret:
            raise ValueError("give password_env or password_secret, not both")
        return self


def split_password(url: str) -> tuple[str, str | None]:
    """``(url without password, password or None)`` for a SQLAlchemy URL; other inputs unchanged.

    Example:
        >>> split_password("postgresql://nps:s3cret@db/survey")
        ('postgresql://nps@db/survey', 's3cret')
    """
    if not is_sql_url(url):
        return url, None
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - let ingest report a malformed URL
        return url, None
    if parsed.password is None:
        return url, None
    return parsed._replace(password=None).render_as_string(hide_password=False), str(parsed.password)


def resolve_source(source: str, password_env: str | None = None, password_secret: str | None = None) -> str:
    """The input with the password put back from ``password_env`` / ``password_secret`` (run time only).

    Raises:
        InputError: the named variable is not set, or the Secret block cannot be loaded.
    """
    if not (password_env or password_secret) or not is_sql_url(source):
        return source
    import os

    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise InputError(f"environment variable {password_env} (the database password) is not set")
    else:
        try:
            from prefect.blocks.system import Secret

            block: Any = Secret.load(str(password_secret))
            password = str(block.get())
        except Exception as exc:  # noqa: BLE001 - a missing block, a server error...: one clear message
            raise InputError(f"cannot load the Prefect Secret block {password_secret!r}: {type(exc).__name__}") from None
    from sqlalchemy.engine import make_url

    return make_url(source).set(password=password).render_as_string(hide_password=False)


PERMANENT_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
TRANSIENT_DB_ERRORS = ("OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError")


def is_transient(exc: BaseException | None) -> bool:
    """Whether retrying can help: OS and connection errors yes, our own errors (bad input, config...) never.

    Example:
        >>> is_transient(InputError("input file is empty"))
        False
        >>> is_transient(ConnectionResetError())
        True
    """
    if exc is None or isinstance(exc, NpsTextError):
        return False
    if isinstance(exc, OSError):
        return not isinstance(exc, PERMANENT_OS_ERRORS)
    if type(exc).__module__.startswith("sqlalchemy") and type(exc).__name__ in TRANSIENT_DB_ERRORS:
        return True
    return bool(getattr(exc, "connection_invalidated", False))


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only :func:`is_transient` errors."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as error:  # noqa: BLE001 - the failed state's exception itself
        exc = error
    return is_transient(exc if isinstance(exc, BaseException) else None)


@task(name="ingest", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, persist_result=False)
def ingest_task(
    source: str, input_config: Any, password_env: str | None = None, password_secret: str | None = None
) -> RawInput:
    """Read the export (retried on transient errors: network shares and databases fail now and then).

    Never cached: a persisted result would pickle the raw export, personal data included, into Prefect's
    result storage. ``source`` holds no password; it is put back here from the named variable or block.
    """
    return read_input(resolve_source(source, password_env, password_secret), input_config)


@task(name="validate", cache_policy=NO_CACHE, persist_result=False)
def validate_task(raw: RawInput, config: PipelineConfig) -> steps.ValidatedInput:
    return steps.validate_step(raw, config)


@task(name="comments", cache_policy=NO_CACHE, persist_result=False)
def comments_task(responses: pd.DataFrame, config: PipelineConfig, cache: ResultStore | None = None) -> pd.DataFrame:
    return steps.comments_step(responses, config, cache)


@task(name="nps", cache_policy=NO_CACHE, persist_result=False)
def nps_task(responses: pd.DataFrame, validated: steps.ValidatedInput, config: PipelineConfig) -> steps.NpsTables:
    return steps.nps_step(responses, validated.mapping, config, steps.personal_columns(validated))


@task(name="sentiment", cache_policy=NO_CACHE, persist_result=False)
def sentiment_task(
    responses: pd.DataFrame,
    config: PipelineConfig,
    embed: Callable[[Sequence[str]], np.ndarray] | None,
    cache: ResultStore | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from nps_text.sentiment import annotate_sentiment

    return annotate_sentiment(responses, config.sentiment, embed=embed, cache=cache)


@task(name="themes", cache_policy=NO_CACHE, persist_result=False)
def themes_task(
    responses: pd.DataFrame, config: PipelineConfig, embed: Callable[[Sequence[str]], np.ndarray], state_dir: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from nps_text.themes import assign_themes

    return assign_themes(responses, config.themes, embed=embed, state_dir=state_dir)


@task(name="insights", cache_policy=NO_CACHE, persist_result=False)
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


@task(name="write", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_transient,
      cache_policy=NO_CACHE, persist_result=False)
def write_task(tables: dict[str, pd.DataFrame], manifest: dict[str, Any], config: PipelineConfig, out: Path) -> list[str]:
    """Write every table, the report (not the manifest) into the run's staging folder ``out``."""
    return [str(path) for path in write_outputs(tables, manifest, config, out)]


def write_outputs(tables: dict[str, pd.DataFrame], manifest: dict[str, Any], config: PipelineConfig, out: Path) -> list[Path]:
    """Write tables in the configured formats and the HTML report into ``out`` (the manifest comes last).

    In a run ``out`` is the staging folder; :func:`nps_text.writers.publish` moves the files into place.
    """
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


def _run_id() -> str:
    """The flow run's id inside Prefect, else a random one: names the staging folder."""
    try:
        from prefect.runtime import flow_run

        run_id = str(flow_run.get_id() or "")
    except Exception:  # noqa: BLE001 - outside a flow run
        run_id = ""
    return run_id or uuid.uuid4().hex


def run_pipeline(params: RunParameters, *, publish_artifacts: bool = True) -> dict[str, Any]:
    """The whole job; called inside the flow. Returns the manifest.

    Locks ``params.out``, runs every step into a staging folder inside it and publishes the outputs by
    renames (manifest last); a killed run leaves nothing a reader could take for a result.
    """
    logger = get_run_logger()
    config = load_config(params.config)
    if params.sql_query:
        config.input.sql_query = params.sql_query
    out = Path(params.out)
    with output_folder(out, _run_id()) as staging:
        manifest, tables = _run_steps(params, config, out, staging)
        with _timed(manifest["timings_s"], "write"):
            written = write_task(tables, manifest, config, staging)
        from nps_text.notify import deliver

        manifest.update(deliver(tables, config, out, database=params.database))  # issue 13: database, alerts
        names = sorted(Path(path).name for path in written)
        if "xlsx" in set(config.output.formats):
            truncated = excel_truncations(tables)
            if truncated:
                manifest["xlsx_truncated"] = truncated
                logger.warning("nps_text.xlsx holds only the first rows of: %s (see its notes sheet)", ", ".join(truncated))
        manifest["outputs"] = [*names, "manifest.json"]
        manifest["finished_at"] = datetime.now(UTC).isoformat()
        write_json(manifest, staging / "manifest.json")
        publish(staging, out, manifest["outputs"])
    if publish_artifacts:
        _publish_artifacts(tables, manifest, config)
    logger.info("wrote %s", out)
    return manifest


def _run_steps(
    params: RunParameters, config: PipelineConfig, out: Path, staging: Path
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Every step up to the tables and the manifest (without outputs); theme state is read from and
    written to the staging copy."""
    logger = get_run_logger()
    timings: dict[str, float] = {}
    started = datetime.now(UTC)

    with _timed(timings, "ingest"):
        raw = ingest_task(params.input, config.input, params.password_env, params.password_secret)
    if not is_sql_url(params.input):
        raw.source = params.input  # the path as the user gave it
    logger.info("read %d records from %s (%s)", raw.rows_in, raw.source, raw.format)
    with _timed(timings, "validate"):
        validated = validate_task(raw, config)
        validated = steps.privacy_step(validated, config, key=lambda: pseudonym_key(out / ".state"))  # issue 9
    logger.info("%d valid responses, %d rejected", len(validated.responses), len(validated.rejected))
    with _timed(timings, "comments"):
        store = store_for_run(config, out)  # the result cache (languages, embeddings, sentiment)
        responses = comments_task(validated.responses, config, store)
    with _timed(timings, "nps"):
        nps_tables = nps_task(responses, validated, config)
    responses = nps_tables.responses

    has_text = bool(steps.text_rows(responses).any())
    embedders: dict[str, CachedEmbedder] = {}

    def embedder(model: str) -> CachedEmbedder:
        """One lazily loaded, content-hash-cached embedder per encoder name, shared by every step."""
        if model not in embedders:
            embedders[model] = CachedEmbedder(model, store, config.embeddings.batch_size)
        return embedders[model]

    models: dict[str, Any] = {}
    sentences = pd.DataFrame(columns=list(SENTENCES_COLUMNS))
    if has_text and config.sentiment.enabled:
        with _timed(timings, "sentiment"):
            responses, sentences = sentiment_task(responses, config, embedder(config.embeddings.model), store)
        models["sentiment"] = {"name": config.sentiment.model}
    else:
        responses = steps.empty_sentiment(responses)
    themes = pd.DataFrame(columns=list(THEMES_COLUMNS))
    if has_text and config.themes.enabled:
        themes_encoder = config.themes.encoder or config.embeddings.model
        with _timed(timings, "themes"):
            responses, themes = themes_task(responses, config, embedder(themes_encoder), prepare_state(out, staging))
        models["themes"] = {"name": "bertopic", "encoder": themes_encoder, "seed": config.themes.seed}
    else:
        responses = steps.empty_themes(responses)
    used = {name: item.describe() for name, item in embedders.items() if item.loaded}
    if used:
        models["embeddings"] = used
        timings["embeddings"] = round(sum(item.seconds for item in embedders.values()), 3)
    if store is not None:
        models["cache"] = {"path": str(store.path), **store.stats()}  # hits / misses per kind
        store.close()
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
    tables = steps.check_tables(tables)  # contract dtypes and values (nps_text.schema), every problem listed
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
        "privacy": validated.privacy,
        "segments": nps_tables.segments,
        "config": config.model_dump(mode="json"),
        "models": models,
        **steps.row_counts(validated, responses),
        "timings_s": timings,
    }
    return manifest, tables


@flow(name="nps-text", log_prints=True, validate_parameters=True, persist_result=False)
def nps_text_flow(params: RunParameters) -> dict[str, Any]:
    """NPS survey export -> enriched tables, themes, improvement areas, report and manifest."""
    return run_pipeline(params)
