"""The Prefect flow: the pipeline's stages wired as tasks. The only module that imports Prefect (besides
:func:`nps_text.runner.dask_task_runner`).

The stages, in order (:data:`STAGES`, and :func:`run_stages`, which reads top to bottom): ingest, validate
(+ privacy), comments, nps, sentiment, themes, insights, write. Each is a pure function of DataFrames and its
own config section (:mod:`nps_text.steps`); file I/O (result store, theme state, pseudonym key) comes in from
the edges (:class:`RunEdges`). Tasks add retries on transient errors only (the error classes carry their
retry policy: :func:`nps_text.errors.is_transient`), a run manifest and Prefect artifacts.

Failures: an exception leaving a stage is tagged with the stage's name (``nps_text_stage``) and, when it leaves
the flow, with its redacted traceback (``nps_text_traceback``), so that the CLI can say where it failed and
write a crash report without a traceback on the terminal.

Model stages (sentiment, the embeddings for themes) run over chunks of *distinct* redacted comments, one
task call per chunk: one after the other locally, mapped over a Dask cluster with ``runner: dask``
(:mod:`nps_text.runner`, :func:`flow_for`).

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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import unmapped
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nps_text import __version__, steps
from nps_text.cache import ResultStore, store_for_run
from nps_text.config import (
    CommentsConfig,
    EmbeddingsConfig,
    InputConfig,
    NpsConfig,
    PipelineConfig,
    load_config,
)
from nps_text.embeddings import CachedEmbedder
from nps_text.errors import (
    TRACEBACK_ATTRIBUTE,
    DeliveryError,
    InputError,
    failing_in,
    retry_transient,
)
from nps_text.errors import is_transient as is_transient  # the retry policy, re-exported for callers
from nps_text.ingest import RawInput, is_sql_url, read_input
from nps_text.privacy import pseudonym_key
from nps_text.runner import (
    ChunkReport,
    PrecomputedEmbed,
    RunnerConfig,
    chunked,
    close_process_stores,
    dask_task_runner,
    distinct_texts,
    embed_chunk,
    join_sentiment,
    load_plugins,
    score_sentiment_chunk,
)
from nps_text.schema import empty_frame
from nps_text.sentiment.config import SentimentConfig
from nps_text.themes.config import ThemesConfig
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
STAGES = ("ingest", "validate", "comments", "nps", "sentiment", "themes", "insights", "write")
"""The stages in the order :func:`run_stages` runs them (privacy is part of validate)."""
STEPS = STAGES  # the older name, used by the CLI's progress display
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
    runner: Literal["local", "dask"] | None = Field(
        default=None, description="Where the model stages run (overrides runner.runner); dask needs flow_for()"
    )
    dask_address: str | None = Field(
        default=None, description="Dask scheduler, e.g. tcp://host:8786 (implies runner dask; overrides runner.dask_address)"
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


# --- the stages as Prefect tasks (thin wrappers; each takes only its own config section) ------------------
# every task: cache_policy=NO_CACHE, persist_result=False (nothing of the survey in Prefect's result storage)


@task(name="ingest", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_transient, cache_policy=NO_CACHE, persist_result=False)
def ingest_task(
    source: str, input_config: Any, password_env: str | None = None, password_secret: str | None = None
) -> RawInput:
    """Read the export (retried on transient errors: network shares and databases fail now and then).

    Never cached: a persisted result would pickle the raw export, personal data included, into Prefect's
    result storage. ``source`` holds no password; it is put back here from the named variable or block.
    """
    return read_input(resolve_source(source, password_env, password_secret), input_config)


@task(name="validate", cache_policy=NO_CACHE, persist_result=False)
def validate_task(raw: RawInput, section: InputConfig) -> steps.ValidatedInput:
    return steps.validate_stage(raw, section)


@task(name="comments", cache_policy=NO_CACHE, persist_result=False)
def comments_task(responses: pd.DataFrame, section: CommentsConfig, cache: ResultStore | None = None) -> pd.DataFrame:
    return steps.comments_stage(responses, section, cache)


@task(name="nps", cache_policy=NO_CACHE, persist_result=False)
def nps_task(
    responses: pd.DataFrame, validated: steps.ValidatedInput, section: NpsConfig, segments: list[str] | None
) -> steps.NpsTables:
    return steps.nps_stage(responses, validated.mapping, section, segments, steps.personal_columns(validated))


@task(name="sentiment-chunk", retries=1, retry_condition_fn=retry_transient, cache_policy=NO_CACHE, persist_result=False)
def sentiment_chunk_task(
    texts: list[str], section: SentimentConfig, encoder: str, batch_size: int, store: ResultStore | None,
    plugins: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, ChunkReport]:
    """Sentiment of one chunk of distinct comments (mapped over a Dask cluster with ``runner: dask``)."""
    return score_sentiment_chunk(texts, section, encoder, batch_size, store, plugins)


@task(name="embed-chunk", retries=1, retry_condition_fn=retry_transient, cache_policy=NO_CACHE, persist_result=False)
def embed_chunk_task(
    texts: list[str], model: str, batch_size: int, store: ResultStore | None, plugins: list[str]
) -> tuple[np.ndarray, ChunkReport]:
    """Embeddings of one chunk of distinct comments (for themes; mapped like the sentiment chunks)."""
    return embed_chunk(texts, model, batch_size, store, plugins)


@task(name="themes", cache_policy=NO_CACHE, persist_result=False)
def themes_task(
    responses: pd.DataFrame, section: ThemesConfig, embed: Callable[[Sequence[str]], np.ndarray], state_dir: Path,
    sentences: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(responses, themes, sentences)``: themes per comment and per sentence (``theme_ids``, sentence ``theme_id``)."""
    from nps_text.themes import assign_themes_and_sentences

    return assign_themes_and_sentences(responses, sentences, section, embed=embed, state_dir=state_dir)


@task(name="insights", cache_policy=NO_CACHE, persist_result=False)
def insights_task(
    responses: pd.DataFrame, themes: pd.DataFrame, sentences: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    from nps_text.insights import follow_up, improvement_areas, theme_trends

    previous = None
    periods = sorted(p for p in responses.get("period", pd.Series(dtype="string")).dropna().unique())
    if len(periods) >= 2:
        previous = str(periods[-2])
    return {
        "improvement_areas": improvement_areas(responses, themes, previous_period=previous, sentences=sentences),
        "follow_up": follow_up(responses),
        "theme_trends": theme_trends(responses, sentences=sentences),
    }


@task(name="write", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_transient, cache_policy=NO_CACHE, persist_result=False)
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
        with failing_in(name):
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



# --- the edges: everything a run reads or writes besides the input and the outputs ------------------------
@dataclass
class RunEdges:
    """File I/O handed to the stages: the result store, the theme state folder, the pseudonym key; plus
    the run's timings and what the model stages report for the manifest."""

    out: Path
    staging: Path
    store: ResultStore | None
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    chunks: ChunkReport = field(default_factory=ChunkReport)

    def pseudonym_key(self) -> bytes:
        return pseudonym_key(self.out / ".state")

    def theme_state(self) -> Path:
        """The staging copy of the theme state (published with the outputs)."""
        return prepare_state(self.out, self.staging)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        close_process_stores()

    def stage(self, name: str) -> Any:
        """Time a stage and report it to the progress hook: ``with edges.stage("nps"): ...``."""
        return _timed(self.timings, name)


def map_chunks(task_: Any, chunks: list[list[str]], runner: RunnerConfig, **shared: Any) -> list[Any]:
    """One task call per chunk: mapped (concurrent, on the Dask cluster) with ``runner: dask``, one after the
    other locally. The results come back in chunk order either way."""
    if not chunks:
        return []
    if runner.runner == "dask":
        futures = task_.map(chunks, **{name: unmapped(value) for name, value in shared.items()})
        return [future.result() for future in futures]
    return [task_(chunk, **shared) for chunk in chunks]


# --- the model stages: distinct texts in chunks, results joined back ---------------------------------------
def sentiment_stage(
    responses: pd.DataFrame, section: SentimentConfig, embeddings: EmbeddingsConfig, runner: RunnerConfig,
    edges: RunEdges,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``sentiment`` and ``sentiment_confidence`` per response and the ``sentences`` table, scoring each
    distinct redacted comment once, in chunks of ``runner.chunk_size``."""
    rows = steps.sentiment_texts(responses)
    codes, distinct = distinct_texts(rows)
    results = map_chunks(
        sentiment_chunk_task, chunked(distinct, runner.chunk_size), runner, section=section,
        encoder=embeddings.model, batch_size=embeddings.batch_size, store=edges.store, plugins=runner.plugins,
    )
    for _, _, report in results:
        edges.chunks.merge(report)
    per_text = pd.concat([part for part, _, _ in results], ignore_index=True) if results else pd.DataFrame()
    offsets = np.cumsum([0] + [len(part) for part, _, _ in results])
    sentences = [chunk.assign(text=chunk["text"] + offset) for (_, chunk, _), offset in zip(results, offsets, strict=False)]
    table = pd.concat(sentences, ignore_index=True) if sentences else pd.DataFrame()
    edges.models["sentiment"] = {"name": section.model}
    return join_sentiment(responses, rows, codes, per_text, table)


def themes_stage(
    responses: pd.DataFrame, section: ThemesConfig, embeddings: EmbeddingsConfig, runner: RunnerConfig,
    edges: RunEdges, sentences: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Themes per response and the ``themes`` table: the distinct comments are embedded in chunks first
    (mapped like sentiment), then BERTopic fits on those vectors in this process."""
    encoder = section.encoder or embeddings.model
    texts = steps.theme_texts(responses, section.clean_text)
    results = map_chunks(
        embed_chunk_task, chunked(texts, runner.chunk_size), runner, model=encoder,
        batch_size=embeddings.batch_size, store=edges.store, plugins=runner.plugins,
    )
    for _, report in results:
        edges.chunks.merge(report)
    vectors = np.vstack([part for part, _ in results]) if results else np.zeros((0, 1), dtype=np.float32)
    fallback = CachedEmbedder(encoder, edges.store, embeddings.batch_size)  # e.g. guided theme descriptions
    embed = PrecomputedEmbed(texts, vectors, fallback)
    themed = themes_task(responses, section, embed, edges.theme_state(), sentences)  # sentence units: fallback
    if fallback.loaded:
        edges.chunks.merge(ChunkReport(embeddings={encoder: fallback.describe()}))
    edges.models["themes"] = {"name": "bertopic", "encoder": encoder, "seed": section.seed}
    return themed


# --- the run -------------------------------------------------------------------------------------------------
def run_config(params: RunParameters) -> PipelineConfig:
    """The run's config: the file (or the defaults) with the parameters' overrides."""
    config = load_config(params.config)
    if params.sql_query:
        config.input.sql_query = params.sql_query
    if params.runner:
        config.runner.runner = params.runner  # type: ignore[assignment]
    if params.dask_address:
        config.runner.runner = "dask"
        config.runner.dask_address = params.dask_address
    return config


def flow_for(params: RunParameters) -> Any:
    """The flow to call for ``params``: :func:`nps_text_flow`, under Prefect's ``DaskTaskRunner`` when the
    run's config (or ``params.runner``) says ``runner: dask``. Prefect takes the task runner when the
    flow is built, so it is chosen here, before the run."""
    runner = run_config(params).runner
    if runner.runner != "dask":
        return nps_text_flow
    return nps_text_flow.with_options(task_runner=dask_task_runner(runner))


def run_pipeline(params: RunParameters, *, publish_artifacts: bool = True) -> dict[str, Any]:
    """The whole job; called inside the flow. Returns the manifest.

    Locks ``params.out``, runs every stage into a staging folder inside it, writes the database output (a
    failure there publishes nothing) and publishes the files by renames (manifest last); a killed run leaves
    nothing a reader could take for a result. Then the alerts go out, linking to the published report, and
    the published manifest is updated with their status.

    Raises:
        DeliveryError: an alert channel failed and ``alerts.on_failure`` is ``fail`` (after publishing).
    """
    from nps_text import notify

    logger = get_run_logger()
    with failing_in("setup"):
        config = run_config(params)
        load_plugins(config.runner.plugins)
    out = Path(params.out)
    with output_folder(out, _run_id()) as staging:
        edges = RunEdges(out=out, staging=staging, store=store_for_run(config, out))
        try:
            manifest, tables = run_stages(params, config, edges)
        finally:
            edges.close()
        with edges.stage("write"):
            written = write_task(tables, manifest, config, staging)
        with failing_in("database"):  # before publishing: a database failure must not leave a "successful" manifest
            manifest["database"] = notify.database_output(tables, config, database=params.database)
        with failing_in("alerts"):
            alerts = notify.evaluate(tables, config, out)
        manifest["alerts"] = notify.pending_alerts(alerts, config.alerts)
        names = sorted(Path(path).name for path in written)
        if "xlsx" in set(config.output.formats):
            truncated = excel_truncations(tables)
            if truncated:
                manifest["xlsx_truncated"] = truncated
                logger.warning("nps_text.xlsx holds only the first rows of: %s (see its notes sheet)", ", ".join(truncated))
        manifest["outputs"] = [*names, "manifest.json"]
        manifest["finished_at"] = datetime.now(UTC).isoformat()
        write_json(manifest, staging / "manifest.json")
        with failing_in("publish"):
            publish(staging, out, manifest["outputs"])
        if alerts:  # after publishing: the messages link to the published report
            with failing_in("alerts"):
                manifest["alerts"] = notify.alerts_task(alerts, config.alerts)
                write_json(manifest, out / "manifest.json")  # atomic; still under the output folder's lock
    if publish_artifacts:
        _publish_artifacts(tables, manifest, config)
    logger.info("wrote %s", out)
    failures = notify.delivery_failures(manifest["alerts"])
    if failures and config.alerts.on_failure == "fail":
        raise DeliveryError(
            f"the outputs were published, but {len(failures)} alert channel(s) failed: {'; '.join(failures)}",
            failures,
        )
    return manifest


def run_stages(
    params: RunParameters, config: PipelineConfig, edges: RunEdges
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Every stage, in order, up to the tables and the manifest (without outputs). Each stage gets its own
    config section; files come from ``edges``."""
    logger = get_run_logger()
    started = datetime.now(UTC)
    with edges.stage("ingest"):
        raw = ingest_task(params.input, config.input, params.password_env, params.password_secret)
        if not is_sql_url(params.input):
            raw.source = params.input  # the path as the user gave it
    logger.info("read %d records from %s (%s)", raw.rows_in, raw.source, raw.format)
    with edges.stage("validate"):
        validated = validate_task(raw, config.input)
        validated = steps.privacy_stage(  # issue 9: personal data out before any other stage sees it
            validated, config.privacy, redact_text=config.comments.redact_pii, key=edges.pseudonym_key
        )
    raw_input = {"path": raw.source, "sha256": raw.source_hash, "format": raw.format, **raw.details}
    del raw  # the text frame of the whole export is not needed any more
    logger.info("%d valid responses, %d rejected", len(validated.responses), len(validated.rejected))
    with edges.stage("comments"):
        responses = comments_task(validated.responses, config.comments, edges.store)
    validated.responses = validated.responses.iloc[:0]  # only its mapping, rejected rows and counts are needed
    with edges.stage("nps"):
        nps_tables = nps_task(responses, validated, config.nps, config.input.columns.segments)
    responses = nps_tables.responses
    has_text = bool(steps.text_rows(responses).any())
    sentences = empty_frame("sentences")
    if has_text and config.sentiment.enabled:
        with edges.stage("sentiment"):
            responses, sentences = sentiment_stage(responses, config.sentiment, config.embeddings, config.runner, edges)
    else:
        responses = steps.empty_sentiment(responses)
    themes = empty_frame("themes")
    if has_text and config.themes.enabled:
        with edges.stage("themes"):
            responses, themes, sentences = themes_stage(
                responses, config.themes, config.embeddings, config.runner, edges, sentences
            )
    else:
        responses = steps.empty_themes(responses)
    with edges.stage("insights"):
        insights = insights_task(responses, themes, sentences)
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
        "input": raw_input,
        "column_mapping": validated.mapping.as_dict(),
        "privacy": validated.privacy,
        "segments": nps_tables.segments,
        "config": config.model_dump(mode="json"),
        "models": _models_record(edges),
        **steps.row_counts(validated, responses),
        "timings_s": edges.timings,
    }
    return manifest, tables


def _models_record(edges: RunEdges) -> dict[str, Any]:
    """The manifest's ``models``: sentiment and themes models, the encoders used, the cache's hits/misses."""
    models = dict(edges.models)
    used = {name: info for name, info in edges.chunks.embeddings.items() if info.get("version") is not None}
    if used:
        models["embeddings"] = used
        edges.timings["embeddings"] = round(sum(float(info["seconds"]) for info in used.values()), 3)
    if edges.store is not None:
        counts = edges.chunks.cache
        for kind, stats in edges.store.stats().items():  # the comments stage's languages, in this process
            merged = counts.setdefault(kind, {"hits": 0, "misses": 0})
            merged["hits"] += stats["hits"]
            merged["misses"] += stats["misses"]
        models["cache"] = {"path": str(edges.store.path), **dict(sorted(counts.items()))}
    return models


@flow(name="nps-text", log_prints=True, validate_parameters=True, persist_result=False)
def nps_text_flow(params: RunParameters) -> dict[str, Any]:
    """NPS survey export -> enriched tables, themes, improvement areas, report and manifest.

    Runs its tasks locally; for ``runner: dask`` call :func:`flow_for` ``(params)`` instead (the same flow
    under Prefect's ``DaskTaskRunner``), as ``nps-text run`` does.
    """
    try:
        return run_pipeline(params)
    except Exception as exc:
        raise _redacted(exc) from None


def _redacted(exc: Exception) -> Exception:
    """``exc`` with personal data in its message redacted, carrying its stage and its redacted traceback.

    Prefect writes a failed flow's exception into its result storage whatever ``persist_result`` says
    (``flow_engine.handle_exception(write_result=True)``), so the message must hold nothing personal. The
    traceback (``nps_text_traceback``, redacted text) lets the CLI write a crash report for an unexpected error.
    """
    import traceback

    from nps_text.pii import redact

    details = dict(getattr(exc, "__dict__", {}))
    if TRACEBACK_ATTRIBUTE not in details:
        details[TRACEBACK_ATTRIBUTE] = redact("".join(traceback.format_exception(exc)))
    message = redact(str(exc))
    clean = exc
    if message != str(exc):
        try:
            clean = type(exc)(message)
        except Exception:  # noqa: BLE001 - an exception type that takes other arguments
            clean = RuntimeError(f"{type(exc).__name__}: {message}")
    for name, value in details.items():
        try:
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                value = [redact(item) for item in value]
            setattr(clean, name, redact(value) if isinstance(value, str) else value)
        except (AttributeError, TypeError):  # an exception type without __dict__
            break
    return clean
