"""Model stages over chunks of distinct comments, locally and on a two-worker Dask LocalCluster.

This module is also the ``runner.plugins`` entry of the Dask test: importing it (in the flow and in every
worker process) registers the hashing test encoder and a deterministic test sentiment backend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nps_text.encoders.registry import register_encoder
from nps_text.sentiment import register_sentiment_backend
from tests.conftest import HashingEncoder

PLUGIN = __name__  # "tests.test_runner"


class WordSentiment:
    """Deterministic probabilities from the words of a text (no model); same text, same result."""

    name = "test-words"
    version = "1"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            digest = hashlib.md5(str(text).lower().encode()).digest()
            weights = np.array([digest[0] + 1, digest[1] + 1, digest[2] + 1], dtype=np.float32)
            rows.append(weights / weights.sum())
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 3)


register_encoder(HashingEncoder.name, HashingEncoder)
register_sentiment_backend("test-words", lambda config, embed: WordSentiment())


def _responses() -> pd.DataFrame:
    comments = ["Lieferung zu spät. Aber nett.", "Top!", None, "Lieferung zu spät. Aber nett.", "  Top! ", "-",
                "Preis zu hoch", "App stürzt ab. Support gut. Danke"]
    return pd.DataFrame(
        {
            "response_id": pd.Series([f"r{i}" for i in range(len(comments))], dtype="string"),
            "comment": pd.Series(comments, dtype="string"),
            "comment_status": pd.Series(
                ["text", "text", "empty", "text", "text", "non_informative", "text", "text"], dtype="string"
            ),
        }
    )


def test_chunked_sentiment_equals_the_whole_frame_step() -> None:
    from nps_text.rules import sentiment_texts
    from nps_text.runner import (
        chunked,
        concat_sentiment_chunks,
        distinct_texts,
        join_sentiment,
        score_sentiment_chunk,
    )
    from nps_text.schema import check_table
    from nps_text.sentiment import SentimentConfig, annotate_sentiment

    responses = _responses()
    config = SentimentConfig(model="test-words")
    expected, expected_sentences = annotate_sentiment(responses, config, backend=WordSentiment())

    rows = sentiment_texts(responses)
    codes, distinct = distinct_texts(rows)
    assert len(distinct) == 4  # duplicates (after stripping) are scored once
    parts = [score_sentiment_chunk(chunk, config, "test-hashing", 8, None) for chunk in chunked(distinct, 2)]
    per_text, sentences = concat_sentiment_chunks(parts)
    got, got_sentences = join_sentiment(responses, rows, codes, per_text, sentences)
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(check_table(got_sentences, "sentences"), check_table(expected_sentences, "sentences"))


def test_sentences_join_gathers_each_text_block_as_a_merge_and_sort_did() -> None:
    """``join_sentiment`` gathers each response's sentences by position (no merge and sort of the 2M-row table at
    1M responses): the same table as the merge on the text and the sort by response and sentence, with the
    chunks' sentences in text order or shuffled."""
    from nps_text.runner import join_sentiment
    from nps_text.schema import SENTENCES_COLUMNS

    rng = np.random.default_rng(3)
    n_texts, n_rows = 40, 300
    per_text = pd.DataFrame({"sentiment": pd.Series(["neutral"] * n_texts, dtype="string"),
                             "sentiment_confidence": np.full(n_texts, 0.5)})
    sentence_rows = [(text, index, f"t{text}s{index}", ["positive", "negative"][index % 2], 0.1 * index)
                     for text in range(n_texts) if text % 7 for index in range(int(rng.integers(1, 4)))]
    ordered = pd.DataFrame(sentence_rows, columns=["text", "sentence_index", "sentence", "sentiment", "confidence"])
    codes = rng.integers(0, n_texts, n_rows)
    index = pd.RangeIndex(10, 10 + n_rows)  # not positions: the join must go by position all the same
    responses = pd.DataFrame({"response_id": pd.Series([f"r{i}" for i in range(n_rows)], index=index, dtype="string")})
    rows = pd.Series([f"text {code}" for code in codes], index=responses.index)

    left = pd.DataFrame({"response_id": responses["response_id"].to_numpy(), "text": codes, "_row": np.arange(n_rows)})
    reference = left.merge(ordered, on="text", how="inner", sort=False)
    reference = reference.sort_values(["_row", "sentence_index"], kind="stable").reset_index(drop=True)
    for sentences in (ordered, ordered.sample(frac=1.0, random_state=1)):
        _, table = join_sentiment(responses, rows, codes, per_text, sentences)
        assert list(table.columns) == list(SENTENCES_COLUMNS)
        assert len(table) == len(reference)
        for column in ("response_id", "sentence_index", "sentence", "sentiment", "confidence"):
            assert table[column].tolist() == reference[column].tolist(), column


def test_precomputed_embed_falls_back_for_other_texts() -> None:
    from nps_text.runner import PrecomputedEmbed

    calls: list[list[str]] = []

    def fallback(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.full((len(texts), 2), 9.0, dtype=np.float32)

    embed = PrecomputedEmbed(["a", "b"], np.array([[1, 0], [0, 1]], dtype=np.float32), fallback)
    assert embed(["b", "a"]).tolist() == [[0, 1], [1, 0]] and not calls
    assert embed(["a", "z"]).tolist() == [[1, 0], [9, 9]] and calls == [["z"]]


def test_runner_config_and_cli_options(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from nps_text.cli import cli
    from nps_text.config import PipelineConfig, load_config
    from nps_text.flow import flow_for, nps_text_flow
    from nps_text.params import RunParameters, run_config

    assert PipelineConfig().runner.runner == "local" and PipelineConfig().runner.dask_workers == 2
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"runner": {"runner": "dask", "dask_workers": 3}}))
    assert load_config(path).runner.dask_workers == 3
    assert flow_for(RunParameters(input="x.csv")) is nps_text_flow
    params = RunParameters(input="x.csv", config=str(path), dask_address="tcp://10.0.0.1:8786")
    assert run_config(params).runner.dask_address == "tcp://10.0.0.1:8786"
    dask_flow = flow_for(params)
    assert type(dask_flow.task_runner).__name__ == "DaskTaskRunner" and dask_flow.task_runner.address == "tcp://10.0.0.1:8786"
    local = flow_for(RunParameters(input="x.csv", config=str(path)))
    assert local.task_runner.cluster_kwargs["n_workers"] == 3
    assert flow_for(RunParameters(input="x.csv", config=str(path), runner="local")) is nps_text_flow
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert "--runner" in result.output and "--dask-address" in result.output


def test_distributed_logs_warnings_and_above_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """distributed sets its loggers to INFO at import and Prefect's console handler printed them (~35 lines)."""
    import logging

    from nps_text.runner import (
        DISTRIBUTED_LOG_LEVEL_ENV,
        RunnerConfig,
        dask_task_runner,
        distributed_log_level,
    )

    distributed = logging.getLogger("distributed")
    monkeypatch.setattr(distributed, "level", distributed.level)  # restored after the test
    monkeypatch.delenv(DISTRIBUTED_LOG_LEVEL_ENV, raising=False)
    assert distributed_log_level() == logging.WARNING
    distributed.setLevel(logging.INFO)  # what `import distributed` does
    runner = dask_task_runner(RunnerConfig(runner="dask"))
    assert distributed.getEffectiveLevel() == logging.WARNING
    assert runner.cluster_kwargs["silence_logs"] == logging.WARNING
    assert runner.cluster_kwargs["scheduler_kwargs"]["dashboard"] is False  # no fixed port 8787 per run
    dask_task_runner(RunnerConfig(runner="dask", dask_address="tcp://127.0.0.1:8786"))
    assert distributed.getEffectiveLevel() == logging.WARNING
    monkeypatch.setenv(DISTRIBUTED_LOG_LEVEL_ENV, "info")
    assert dask_task_runner(RunnerConfig(runner="dask")).cluster_kwargs["silence_logs"] == logging.INFO
    assert distributed.getEffectiveLevel() == logging.INFO
    monkeypatch.setenv(DISTRIBUTED_LOG_LEVEL_ENV, "loud")
    assert distributed_log_level() == logging.WARNING  # an unknown name: the quiet default


def test_cli_verbose_shows_the_dask_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from nps_text.cli.pipeline import _quiet_environment
    from nps_text.runner import DISTRIBUTED_LOG_LEVEL_ENV

    for name in (DISTRIBUTED_LOG_LEVEL_ENV, "PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_TO_API_ENABLED",
                 "PREFECT_RESULTS_PERSIST_BY_DEFAULT", "PREFECT_SERVER_ANALYTICS_ENABLED",
                 "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "PREFECT_UI_ENABLED"):
        monkeypatch.delenv(name, raising=False)  # setenv/delenv: monkeypatch restores them after the test
    _quiet_environment(verbose=False)
    assert DISTRIBUTED_LOG_LEVEL_ENV not in os.environ
    _quiet_environment(verbose=True)
    assert os.environ[DISTRIBUTED_LOG_LEVEL_ENV] == "info"


def _survey(path: Path) -> Path:
    phrases = ["Lieferung kam zu spät", "Beratung war super freundlich", "Preis ist zu hoch", "App stürzt ständig ab",
               "Personal sehr nett", "Wartezeit an der Hotline zu lang"]
    lines = ["id;score;comment;channel;date"]
    for i in range(300):
        comment = f"{phrases[i % 6]}. {phrases[(i * 7) % 6]} #{i % 37}" if i % 5 else ("" if i % 2 else "k.A.")
        lines.append(f"{i};{i % 11};{comment};{'AB'[i % 2]};{1 + i % 28:02d}.01.2026")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def _test_models_config(folder: Path, runner: dict[str, object]) -> Path:
    """A config file in ``folder`` for the test models of this module (hashing encoder, word sentiment), Parquet only,
    no report, with ``runner`` as its runner section."""
    settings = {
        "embeddings": {"model": "test-hashing"},
        "sentiment": {"model": "test-words"},
        "themes": {"reduction": "pca", "min_theme_size": 5, "encoder": "test-hashing"},
        "output": {"formats": ["parquet"]},
        "report": {"enabled": False},
        "runner": runner,
    }
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(settings))
    return config


def test_dask_run_gives_the_same_tables_as_a_local_run(tmp_path: Path) -> None:
    from nps_text.flow import flow_for
    from nps_text.params import RunParameters

    source = _survey(tmp_path / "survey.csv")
    config = _test_models_config(tmp_path, {"chunk_size": 20, "plugins": [PLUGIN], "dask_workers": 2})
    manifests = {}
    for runner in ("local", "dask"):
        params = RunParameters(input=str(source), out=str(tmp_path / runner), config=str(config), runner=runner)
        chosen = flow_for(params)
        assert (type(chosen.task_runner).__name__ == "DaskTaskRunner") == (runner == "dask")
        manifests[runner] = chosen(params)
    local = {p.name: pd.read_parquet(p) for p in sorted((tmp_path / "local").glob("*.parquet"))}
    dask = {p.name: pd.read_parquet(p) for p in sorted((tmp_path / "dask").glob("*.parquet"))}
    assert local.keys() == dask.keys() and {"sentences.parquet", "themes.parquet"} <= local.keys()
    assert local["responses.parquet"]["sentiment"].notna().sum() > 100
    assert local["responses.parquet"]["theme_id"].notna().sum() > 100
    for name, frame in local.items():
        pd.testing.assert_frame_equal(frame, dask[name], obj=name)
    assert manifests["dask"]["config"]["runner"]["runner"] == "dask"
    assert manifests["local"]["models"]["embeddings"]["test-hashing"]["version"] == "test"


def test_local_cluster_workers_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of 2 workers took every core for torch and USE: on 2 cores the sentiment step ran over 3x slower."""
    from nps_text.rules import THREADS_ENV, process_threads
    from nps_text.runner import RunnerConfig, dask_task_runner
    from nps_text.sentiment.transformer import _threads

    monkeypatch.setenv(THREADS_ENV, "8")
    env = dask_task_runner(RunnerConfig(runner="dask", dask_workers=2)).cluster_kwargs["env"]
    assert env[THREADS_ENV] == env["OMP_NUM_THREADS"] == "4"
    assert dask_task_runner(RunnerConfig(runner="dask", dask_workers=16)).cluster_kwargs["env"][THREADS_ENV] == "1"
    assert process_threads() == 8 and _threads(None) == 8 and _threads(3) == 3  # a worker's models read it
    monkeypatch.setenv(THREADS_ENV, "zero")
    assert process_threads() >= 1


@pytest.mark.parametrize("release", [True, False])
def test_a_local_run_frees_its_models_after_their_last_step(tmp_path: Path, release: bool) -> None:
    """``runner.release_models`` (default true): the flow's process holds no sentiment backend once the sentiment
    step is done and no encoder once themes are; false keeps both for the next run in the same process."""
    from nps_text import runner
    from nps_text.encoders import registry
    from nps_text.flow import nps_text_flow
    from nps_text.params import RunParameters

    config = _test_models_config(tmp_path, {"plugins": [PLUGIN], "release_models": release})
    seen: dict[str, int] = {}
    original = registry.get_encoder

    def watched(name: str, batch_size: int = 64) -> object:
        seen["backends during themes"] = len(runner._BACKENDS)  # the themes step asks for its encoder
        return original(name, batch_size)

    registry.get_encoder = watched  # type: ignore[assignment]
    try:
        manifest = nps_text_flow(RunParameters(input=str(_survey(tmp_path / "survey.csv")), out=str(tmp_path / "out"),
                                               config=str(config)))
    finally:
        registry.get_encoder = original  # type: ignore[assignment]
    assert manifest["models"]["sentiment"]["loaded"] is True
    loaded_encoders = [key for key in registry._LOADED if key[0] == "test-hashing"]
    if release:
        assert seen["backends during themes"] == 0 and not runner._BACKENDS and not loaded_encoders
    else:
        assert runner._BACKENDS and loaded_encoders
        runner.release_models(sentiment=True, encoders=True)
        assert not runner._BACKENDS and not [key for key in registry._LOADED if key[0] == "test-hashing"]


def test_chunk_vectors_are_stacked_in_order_and_dropped_as_copied() -> None:
    from nps_text.stages.themes import stack_chunks

    parts = [np.arange(6, dtype=np.float32).reshape(3, 2), np.full((1, 2), 9, dtype=np.float32)]
    expected = np.vstack(parts)
    matrix = stack_chunks(parts)
    assert matrix.dtype == np.float32 and np.array_equal(matrix, expected)
    assert parts == [None, None]  # each chunk released once copied
    assert stack_chunks([]).shape == (0, 1)


def test_models_run_in_a_child_process_from_the_row_threshold_on_local_runs() -> None:
    from nps_text.runner import MODEL_PROCESS_MIN_ROWS, RunnerConfig

    auto = RunnerConfig()
    assert auto.model_process == "auto"
    assert not auto.isolates_models(MODEL_PROCESS_MIN_ROWS - 1) and auto.isolates_models(MODEL_PROCESS_MIN_ROWS)
    assert RunnerConfig(model_process=True).isolates_models(10) and not RunnerConfig(model_process=False).isolates_models(10**7)
    assert not RunnerConfig(runner="dask", model_process=True).isolates_models(10**7)  # Dask's workers are processes


def _pid_and_threads() -> tuple[int, str | None]:
    import os

    return os.getpid(), os.environ.get("NPS_TEXT_TEST_MARK")


def test_the_model_process_is_a_child_that_ends_when_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from nps_text.runner import ModelProcess

    monkeypatch.setenv("NPS_TEXT_TEST_MARK", "inherited")
    process = ModelProcess()
    first, mark = process.run(_pid_and_threads)
    assert first != os.getpid() and mark == "inherited"
    assert process.run(_pid_and_threads)[0] == first  # one child for the step's chunks
    process.close()
    assert len(process.peaks_mib) == 1 and process.peaks_mib[0] > 0
    second, _ = process.run(_pid_and_threads)
    assert second != first and process.started == 2
    process.close()
    process.close()  # idempotent


def test_a_model_process_that_dies_is_a_one_line_error_and_the_next_chunk_starts_a_new_one() -> None:
    import os

    from nps_text.runner import ModelProcess, ModelProcessError

    process = ModelProcess()
    with pytest.raises(ModelProcessError, match="model process ended while it ran _exit .*runner.model_process: false"):
        process.run(os._exit, 3)
    assert process.run(_pid_and_threads)[0] != os.getpid()
    process.close()


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_run_with_its_models_in_a_child_process_gives_the_same_tables_and_never_loads_them_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``runner.model_process: true``: lingua, the sentiment chunks, the comments' and the clause units' embeddings
    run in a child process (one per model step); the flow's process loads no model, the tables are those of a run
    that loads them itself."""
    from nps_text import runner
    from nps_text.encoders import registry
    from nps_text.flow import nps_text_flow
    from nps_text.params import RunParameters

    source = _survey(tmp_path / "survey.csv")
    encoders: list[HashingEncoder] = []
    backends: list[object] = []
    get_encoder, sentiment_backend = registry.get_encoder, runner.sentiment_backend

    def watched_encoder(name: str, batch_size: int = 64) -> object:
        encoder = get_encoder(name, batch_size)
        encoders.append(encoder)  # type: ignore[arg-type]
        return encoder

    def watched_backend(*args: object, **kwargs: object) -> object:
        backends.append(args)
        return sentiment_backend(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(registry, "get_encoder", watched_encoder)
    monkeypatch.setattr(runner, "sentiment_backend", watched_backend)
    tables, manifests = {}, {}
    for mode in (False, True):
        folder = tmp_path / str(mode)
        folder.mkdir()
        config = _test_models_config(folder, {"plugins": [PLUGIN], "model_process": mode, "chunk_size": 40})
        runner.release_models(sentiment=True, encoders=True, languages=True)
        encoders.clear()
        backends.clear()
        started = runner.MODEL_PROCESS.started
        manifests[mode] = nps_text_flow(RunParameters(input=str(source), out=str(folder / "out"), config=str(config)))
        tables[mode] = {p.name: pd.read_parquet(p) for p in sorted((folder / "out").glob("*.parquet"))}
        encoded = sum(encoder.texts_encoded for encoder in encoders if isinstance(encoder, HashingEncoder))
        if mode:
            # a child per phase, none holding two libraries at once: lingua; sentiment; the comments' embeddings;
            # spaCy's lemmas; UMAP and HDBSCAN; the labels' candidate phrases; the clauses' embeddings
            assert runner.MODEL_PROCESS.started_for[started:] == [
                "_detect_distinct", "score_sentiment_chunk", "embed_chunk", "lemmatize_texts", "fit_sample_themes",
                "embed_chunk", "embed_chunk"]
            from nps_text.comments import _detector

            assert _detector.cache_info().currsize == 0  # lingua ran in the child only
            assert runner.MODEL_PROCESS._executor is None  # each ended with its step
            assert not backends and encoded == 0  # here only the encoder's name and version (ProcessEmbedder)
        else:
            assert runner.MODEL_PROCESS.started == started and backends and encoded > 0
    assert tables[True].keys() == tables[False].keys() and "sentences.parquet" in tables[True]
    for name, frame in tables[False].items():
        pd.testing.assert_frame_equal(tables[True][name], frame, obj=name)
    assert manifests[True]["models"]["sentiment"]["loaded"] is True
    assert manifests[True]["models"]["embeddings"] == manifests[False]["models"]["embeddings"] | {
        name: {**info, "seconds": manifests[True]["models"]["embeddings"][name]["seconds"]}
        for name, info in manifests[False]["models"]["embeddings"].items()
    }


def test_offload_runs_in_the_model_process_only_inside_models_in_child_process() -> None:
    import os

    from nps_text.runner import MODEL_PROCESS, models_in_child_process, offload

    assert offload(os.getpid) == os.getpid()
    with models_in_child_process(True):
        child = offload(os.getpid)
        with models_in_child_process(False):
            assert offload(os.getpid) == os.getpid()
        assert offload(os.getpid) == child != os.getpid()
    assert offload(os.getpid) == os.getpid()
    MODEL_PROCESS.close()
