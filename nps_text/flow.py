"""The Prefect flow: the stages of :mod:`nps_text.stages` wired as tasks, in the order :func:`run_stages` shows.

Parameters and credentials: :mod:`nps_text.params`; retries (transient errors only): :mod:`nps_text.retries`;
the manifest: :mod:`nps_text.manifest`. Model stages map their chunks of distinct comments as tasks, over a
Dask cluster with ``runner: dask`` (:func:`flow_for`). No task or flow persists its result. A run writes into
``OUT/.staging-<run id>`` and publishes by renames, manifest last (:func:`nps_text.writers.output_folder`). A run
whose ``OUT`` already holds its results does nothing (:mod:`nps_text.freshness`).

Run locally (no server needed)::

    nps-text run data/sample_reviews_en.csv --out out/sample
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import unmapped

from nps_text import artifacts, freshness
from nps_text import manifest as run_manifest
from nps_text.cache import store_for_run
from nps_text.config import PipelineConfig
from nps_text.errors import DeliveryError, failing_in
from nps_text.ingest import RawInput, is_sql_url
from nps_text.params import RunParameters, resolve_source, run_config, run_id
from nps_text.retries import retry_options
from nps_text.rules import has_text
from nps_text.runner import (
    dask_task_runner,
    embed_chunk,
    in_model_process,
    load_plugins,
    models_done,
    models_in_child_process,
    offloading,
    release_models,
    score_sentiment_chunk,
)
from nps_text.schema import check_tables, empty_frame
from nps_text.stages import comments, ingest, insights, nps, sentiment, themes, validate, write
from nps_text.stages.edges import ProgressHook, RunEdges, earlier_objects_frozen
from nps_text.table_view import without_rows
from nps_text.writers import output_folder, publish

_progress_hook: ProgressHook | None = None


def set_progress_hook(hook: ProgressHook | None) -> None:
    """Let a front end (the CLI's progress display) follow the stages: ``hook(stage, index, total)``."""
    global _progress_hook
    _progress_hook = hook


def _task(name: str) -> Any:
    """A stage as a Prefect task: never cached or persisted, retried as :mod:`nps_text.retries` says."""
    return task(name=name, cache_policy=NO_CACHE, persist_result=False, **retry_options(name))


@_task("ingest")
def ingest_task(params: RunParameters, config: PipelineConfig) -> RawInput:
    """Read the export; the database password is put back here, at run time, from the named variable or block."""
    raw = ingest.run(resolve_source(params.input, params.password_env, params.password_secret), config.input)
    if not is_sql_url(params.input):
        raw.source = params.input  # the path as the user gave it
    return raw


validate_task = _task("validate")(validate.run)
comments_task = _task("comments")(comments.run)
nps_task = _task("nps")(nps.run)
themes_task = _task("themes")(themes.run)
insights_task = _task("insights")(insights.run)
write_task = _task("write")(write.run)
_CHUNK_TASKS: dict[Any, Any] = {score_sentiment_chunk: _task("sentiment-chunk")(score_sentiment_chunk),
                                 embed_chunk: _task("embed-chunk")(embed_chunk)}
_ISOLATED_CHUNK_TASKS = {function: _task(chunk_task.name)(in_model_process(function))
                         for function, chunk_task in _CHUNK_TASKS.items()}


def map_chunks(runner: str) -> Any:
    """The edges' chunk mapper: each chunk function's task, mapped (concurrent, on the Dask cluster) with
    ``runner: dask``, called one chunk after the other locally; results in chunk order either way."""

    def mapper(function: Any, chunks: list[list[str]], **shared: Any) -> list[Any]:
        chunk_task = (_ISOLATED_CHUNK_TASKS if offloading() and runner != "dask" else _CHUNK_TASKS)[function]
        logger = get_run_logger()
        total, started, results = len(chunks), time.perf_counter(), []
        if runner == "dask":
            futures = chunk_task.map(chunks, **{name: unmapped(value) for name, value in shared.items()})
            chunk_results = (future.result() for future in futures)
        else:
            chunk_results = (chunk_task(chunk, **shared) for chunk in chunks)
        for index, (chunk, result) in enumerate(zip(chunks, chunk_results, strict=True), start=1):
            results.append(result)
            logger.info("%s %d/%d: %d texts, %.1f s since the first chunk started", chunk_task.name, index, total,
                        len(chunk), time.perf_counter() - started)
        return results

    return mapper


def run_stages(params: RunParameters, config: PipelineConfig, edges: RunEdges) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Every stage, in order, up to the tables and the manifest (without outputs)."""
    logger, started = get_run_logger(), datetime.now(UTC)
    with edges.stage("ingest"):
        raw = ingest_task(params, config)
    logger.info("read %d records from %s (%s)", raw.rows_in, raw.source, raw.format)
    fingerprint = freshness.fingerprint(params, config, raw.source_hash)
    if is_sql_url(params.input) and (verdict := freshness.check_run(params, config, raw.source_hash)).up_to_date:
        raise freshness.UpToDate(verdict.manifest or {})  # a query's data is known only now
    freshness.mark_attempt(edges.out, edges.run_id)  # before the first change to the output folder
    with edges.stage("validate"):
        validated = validate.privacy(  # issue 9: personal data out before any other stage sees it
            validate_task(raw, config.input), config.privacy, redact_text=config.comments.redact_pii,
            key=edges.pseudonym_key,
        )
    raw_input = {"path": raw.source, "sha256": raw.source_hash, "format": raw.format, **raw.details}
    del raw  # the text frame of the whole export is not needed any more
    logger.info("%d valid responses, %d rejected", len(validated.responses), len(validated.rejected))
    isolate = config.runner.isolates_models(len(validated.responses))
    if isolate:
        logger.info("the models run in a child process (runner.model_process: %s)", config.runner.model_process)
    release = config.runner.release_models or isolate
    with edges.stage("comments"), models_in_child_process(isolate):  # lingua there too
        responses = comments_task(validated.responses, config.comments, edges)
        if release:
            release_models(languages=True)
    validated.responses = without_rows(validated.responses)  # only its mapping, rejected rows and counts are needed
    with edges.stage("nps"):
        nps_tables = nps_task(nps.NpsInputs(responses, validated.mapping, config.input.columns.segments,
                                            validate.personal_columns(validated)), config.nps)
    responses = nps_tables.responses
    any_text = bool(has_text(responses).any())
    sentences, themes_table = empty_frame("sentences"), empty_frame("themes")
    with models_in_child_process(isolate):  # nps_text.runner.offload: spaCy, UMAP, HDBSCAN there too
        if any_text and config.sentiment.enabled:
            with edges.stage("sentiment"):
                responses, sentences = sentiment.run(responses, config.sentiment, edges, embeddings=config.embeddings)
                if release:
                    release_models(sentiment=True)  # freed before the stage ends: the themes step starts without it
        else:
            responses = sentiment.skipped(responses)
        if any_text and config.themes.enabled:
            with edges.stage("themes"):
                embed = themes.embed(responses, config.themes, edges, embeddings=config.embeddings)
                models_done()  # the model process's encoder goes before the fit loads spaCy and UMAP there
                responses, themes_table, sentences = themes_task(themes.ThemesInputs(responses, sentences, embed),
                                                                 config.themes, edges)
                del embed
                if release:
                    release_models(encoders=True)
        else:
            responses = themes.skipped(responses)
    with edges.stage("insights"):
        found = insights_task(insights.InsightsInputs(responses, themes_table, sentences))
    responses = write.order_responses(responses)
    tables = check_tables({"responses": responses, "rejected": validated.rejected, "nps_summary": nps_tables.summary,
                           "nps_changes": nps_tables.changes, "sentences": sentences, "themes": themes_table, **found})
    return run_manifest.build(raw_input, validated, nps_tables, responses, config, edges, started, fingerprint), tables


def run_pipeline(params: RunParameters, *, publish_artifacts: bool = True) -> dict[str, Any]:
    """The whole job; called inside the flow. Returns the manifest.

    Locks ``params.out``; returns its published manifest when it is up to date (:mod:`nps_text.freshness`; not
    with ``params.force``). Else runs every stage into a staging folder inside it, writes the database output (a
    failure there publishes nothing) and publishes the files by renames (manifest last). Then the alerts go
    out, linking to the published report, and the published manifest is updated with their status.

    Raises:
        DeliveryError: an alert channel failed and ``alerts.on_failure`` is ``fail`` (after publishing).
    """
    from nps_text import notify

    logger = get_run_logger()
    with failing_in("setup"):
        config = run_config(params)
        load_plugins(config.runner.plugins)
    out, current = Path(params.out), run_id()
    # a process that keeps its models between runs: the collections after each stage skip what earlier runs left
    with earlier_objects_frozen(not config.runner.release_models), output_folder(out, current) as staging:
        edges = RunEdges(out=out, staging=staging, store=store_for_run(config, out), run_id=current,
                         runner=config.runner, mapper=map_chunks(config.runner.runner), progress=_progress_hook)
        try:
            if (verdict := freshness.check_run(params, config)).up_to_date:  # a file's hash is known before reading it
                raise freshness.UpToDate(verdict.manifest or {})
            logger.info("running: %s", verdict.reason)
            manifest, tables = run_stages(params, config, edges)
        except freshness.UpToDate as up_to_date:  # nothing runs, nothing is sent again
            logger.info(freshness.up_to_date_line(up_to_date.manifest, out))
            freshness.published_alert_failures(up_to_date.manifest, config.alerts.on_failure)
            return up_to_date.manifest
        finally:
            edges.close()
        with edges.stage("write"):
            written = write_task(write.WriteInputs(tables, manifest, keep_unchanged=not params.force), config, edges)
        with failing_in("database"):  # before publishing: a database failure must not leave a "successful" manifest
            manifest["database"] = notify.database_output(tables, config, database=params.database)
        with failing_in("alerts"):
            alerts = notify.evaluate(tables, config, out)
        manifest["alerts"] = notify.pending_alerts(alerts, config.alerts)
        run_manifest.finish(manifest, written, tables, config, freshness.state_records(out, staging))
        if manifest.get("xlsx_truncated"):
            logger.warning("nps_text.xlsx holds only the first rows of: %s (see its notes sheet)",
                           ", ".join(manifest["xlsx_truncated"]))
        run_manifest.write(manifest, staging)
        with failing_in("publish"):
            publish(staging, out, manifest["outputs"])
        if alerts:  # after publishing: the messages link to the published report
            with failing_in("alerts"):
                manifest["alerts"] = notify.alerts_task(alerts, config.alerts)
                run_manifest.write(manifest, out)  # atomic; still under the output folder's lock
    if publish_artifacts:
        artifacts.publish_artifacts(tables, manifest, config)
    logger.info("wrote %s", out)
    failures = notify.delivery_failures(manifest["alerts"])
    if failures and config.alerts.on_failure == "fail":
        raise DeliveryError(
            f"the outputs were published, but {len(failures)} alert channel(s) failed: {'; '.join(failures)}", failures
        )
    return manifest


def flow_for(params: RunParameters) -> Any:
    """:func:`nps_text_flow`, under Prefect's ``DaskTaskRunner`` when the run's config (or ``params.runner``)
    says ``runner: dask`` (Prefect takes the task runner when the flow is built, so it is chosen here)."""
    runner = run_config(params).runner
    return nps_text_flow if runner.runner != "dask" else nps_text_flow.with_options(task_runner=dask_task_runner(runner))


@flow(name="nps-text", log_prints=True, validate_parameters=True, persist_result=False)
def nps_text_flow(params: RunParameters) -> dict[str, Any]:
    """NPS survey export -> enriched tables, themes, improvement areas, report and manifest. Runs its tasks
    locally; for ``runner: dask`` call :func:`flow_for` ``(params)`` instead, as ``nps-text run`` does. A failure
    leaves it with its stage and redacted traceback (:func:`nps_text.pii.redacted_exception`) for the CLI."""
    from nps_text.pii import redacted_exception

    try:
        return run_pipeline(params)
    except Exception as exc:
        raise redacted_exception(exc) from None
