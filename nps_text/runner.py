"""Where the model steps run: locally (default) or on a Dask cluster, over chunks of distinct comments.

The model steps (sentiment, and the embeddings that themes cluster) never see the responses table: they
get the distinct redacted comment texts in chunks (``runner.chunk_size``, 2,000 by default), one Prefect
task call per chunk, and the flow joins the results back (:func:`join_sentiment`). Locally the chunks run
one after the other; with ``runner: dask`` the flow runs under Prefect's ``DaskTaskRunner`` (prefect-dask)
and maps the chunk tasks over a ``distributed`` cluster: a ``LocalCluster`` of ``dask_workers`` processes,
or an existing scheduler at ``dask_address``. The chunks are the same either way and every chunk's result depends
only on its texts, but a worker with another thread count computes model outputs that differ in their last bits, so
the tables are reproducible per runner, not bit-identical across runners (README, "Running on a Dask cluster").

Workers load models lazily, once per process (:func:`sentiment_backend`, the encoder registry's own
process cache), from the config and model name the task receives; the result store travels pickled
(without its connection) and each process opens its own (SQLite WAL, safe for concurrent writers).
Encoders or sentiment backends registered by your own code must be registered on the workers too: name
the registering modules in ``runner.plugins``; they are imported in the flow and in every chunk task.

Example:
    >>> chunked(["a", "b", "c"], 2)
    [['a', 'b'], ['c']]
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from nps_text.rules import THREADS_ENV, process_threads
from nps_text.schema import SENTENCES_COLUMNS, empty_frame, null_column

if TYPE_CHECKING:
    from nps_text.cache import ResultStore
    from nps_text.sentiment.base import SentimentBackend
    from nps_text.sentiment.config import SentimentConfig

DEFAULT_CHUNK_SIZE = 2000
T = TypeVar("T")
MODEL_PROCESS_MIN_ROWS = 250_000
"""``runner.model_process: auto`` runs the models in a child process from this many responses on."""


class RunnerConfig(BaseModel):
    """Where the model steps run (the pipeline config's ``runner:`` section)."""

    model_config = ConfigDict(extra="forbid")

    runner: Literal["local", "dask"] = Field(
        default="local", description="local: one process; dask: map the model steps over a Dask cluster"
    )
    dask_address: str | None = Field(
        default=None, description="Scheduler of an existing cluster, e.g. tcp://host:8786; None = a LocalCluster"
    )
    dask_workers: int = Field(default=2, ge=1, description="Worker processes of the LocalCluster (no dask_address)")
    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, ge=1, description="Distinct comments per model task")
    plugins: list[str] = Field(
        default_factory=list,
        description="Modules imported before the model steps, on every worker too (they register encoders or backends)",
    )
    release_models: bool = Field(
        default=True,
        description="Free each model in the flow's process once its last stage is done (sentiment after the sentiment "
        "step, encoders after themes); false keeps them loaded for the next run in the same process",
    )
    model_process: bool | Literal["auto"] = Field(
        default="auto",
        description="Local runs: load and run the models (lingua, sentiment, encoders, spaCy, the theme fit) in child "
        "processes, one per phase, each ending with it and handing back all the memory it took (the flow's process "
        "never loads them). auto: from "
        f"{MODEL_PROCESS_MIN_ROWS:,} responses, where the tables are large and the child's start (a few seconds) "
        "is small against the run",
    )

    def isolates_models(self, rows: int) -> bool:
        """Whether a run of ``rows`` responses runs its models in a child process (:class:`ModelProcess`)."""
        if self.runner != "local":
            return False  # Dask's workers are other processes already
        return rows >= MODEL_PROCESS_MIN_ROWS if self.model_process == "auto" else bool(self.model_process)


# --- the task runner -------------------------------------------------------------------------------------
DISTRIBUTED_LOG_LEVEL_ENV = "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED"
"""Dask's own setting for the level of the ``distributed`` loggers; ``nps-text run --verbose`` sets it to ``info``."""


def distributed_log_level() -> int:
    """The level for ``distributed``'s loggers: ``$DASK_DISTRIBUTED__LOGGING__DISTRIBUTED``, else WARNING.

    distributed sets its loggers to INFO when imported and only silences its own console handlers; under
    Prefect its records reach Prefect's console handler instead, so a run printed ~35 INFO lines (scheduler
    start, every worker and connection, teardown) unless the level is set on the logger itself.
    """
    configured = os.environ.get(DISTRIBUTED_LOG_LEVEL_ENV, "").strip().upper()
    level = logging.getLevelName(configured) if configured else logging.WARNING
    return level if isinstance(level, int) else logging.WARNING


def dask_task_runner(config: RunnerConfig) -> Any:
    """Prefect's ``DaskTaskRunner`` for ``config``: the scheduler at ``dask_address``, else a temporary
    ``LocalCluster`` of ``dask_workers`` single-threaded worker processes (torn down after the run), whose models
    share this machine's cores (:data:`nps_text.rules.THREADS_ENV`: cores // workers each; with every core each,
    2 workers on 2 cores ran the sentiment step over 3x slower than one process).

    ``distributed``'s logs show warnings and above (:func:`distributed_log_level`); the LocalCluster's
    scheduler gets no dashboard and a free port for its HTTP endpoints (not 8787, which two runs would share).
    """
    from prefect_dask import DaskTaskRunner

    level = distributed_log_level()
    logging.getLogger("distributed").setLevel(level)
    if config.dask_address:
        return DaskTaskRunner(address=config.dask_address)
    threads = str(max(1, process_threads() // config.dask_workers))
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": config.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            # the workers share this machine's cores: each model (torch, USE, BLAS) gets its share, not all of them
            "env": {THREADS_ENV: threads, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
                    "MKL_NUM_THREADS": threads},
            "dashboard_address": None,
            "silence_logs": level,  # the worker processes' console handlers
            "scheduler_kwargs": {"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        },
    )


def load_plugins(names: Sequence[str]) -> None:
    """Import the ``runner.plugins`` modules (idempotent: Python imports a module once per process)."""
    for name in names:
        importlib.import_module(name)


# --- chunks of distinct texts ----------------------------------------------------------------------------
def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` in consecutive chunks of at most ``size``."""
    return [list(items[start : start + size]) for start in range(0, len(items), max(1, size))]


def distinct_texts(texts: pd.Series) -> tuple[np.ndarray, list[str]]:
    """``(codes, distinct)``: each row's position in ``distinct`` (first-seen order)."""
    codes, uniques = pd.factorize(texts, sort=False)
    return codes, [str(text) for text in uniques]


# --- per-process model caches (each Dask worker loads a model once) ---------------------------------------
_LOCK = threading.Lock()
_STORES: dict[str, ResultStore] = {}
_BACKENDS: dict[tuple[str, str, str], SentimentBackend] = {}


def process_store(store: ResultStore | None) -> ResultStore | None:
    """This process's store for ``store``'s file (one connection per process; counters start at zero)."""
    if store is None:
        return None
    from nps_text.cache import ResultStore

    key = str(store.path)
    with _LOCK:
        if key not in _STORES:
            _STORES[key] = ResultStore(store.path, max_size_mb=(store.max_bytes or 0) / (1024 * 1024) or None,
                                       busy_timeout_s=store.busy_timeout_s)
        return _STORES[key]


def release_models(*, sentiment: bool = False, encoders: bool = False, languages: bool = False) -> None:
    """Drop this process's loaded sentiment backends, encoders and/or lingua detectors (and the loaders' own caches),
    so their memory can go back to the system (:func:`nps_text.stages.edges.release_memory` runs after every stage),
    and end the model process (:data:`MODEL_PROCESS`) if one runs. A later call loads them again. In a 1M-row run
    the sentiment model's ~330 MB and USE's ~400 MB would otherwise stay resident through the themes, insights and
    write steps, where the run's memory peaks."""
    if sentiment or encoders or languages:
        MODEL_PROCESS.close()  # a child holding them ends: all of its memory goes back
    if languages:
        from nps_text.comments import release_detectors

        release_detectors()
    with _LOCK:
        if sentiment:
            _BACKENDS.clear()
            from nps_text.sentiment.transformer import release_loaded

            release_loaded()
        if encoders:
            from nps_text.encoders.registry import release_encoders

            release_encoders()


class ModelProcessError(RuntimeError):
    """The model process ended while it ran a chunk (killed, out of memory, crashed)."""


class ModelProcess:
    """A child process (spawned, not forked: torch and Prefect's threads do not survive a fork) that runs the
    model steps' chunk functions, started on first use and ended by :meth:`close`.

    Whatever a model takes (weights, tokenizer, torch's and transformers' state, the heap fragments of scoring)
    lives and dies with the child: the flow's process never loads a model, so a large run's tables do not share
    its memory with what the models leave behind after they are freed (~500 MiB at 1M rows). The child dies with
    its parent (Linux) and is replaced after a crash; the chunk's results come back pickled.
    """

    def __init__(self) -> None:
        self._executor: Any = None
        self._lock = threading.Lock()
        self.started = 0
        """How many children were started."""
        self.started_for: list[str] = []
        """The function each child was started for (its first call), in order."""
        self.peaks_mib: list[float] = []
        """Each ended child's peak resident memory (MiB), in the order they ended (``benchmarks/stage_memory.py``)."""

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` in the child (a module-level function; arguments and result pickled)."""
        from concurrent.futures.process import BrokenProcessPool

        with self._lock:
            if self._executor is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                from nps_text.stages.edges import release_memory

                # what this process freed goes back to the system before the child takes its share (at 1M rows the
                # themes step's embedding left ~400 MB of freed heap here while the fit's child ran)
                release_memory()

                self._executor = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_model_process_started, initargs=(os.getpid(),),
                )
                self.started += 1
                self.started_for.append(getattr(function, "__name__", repr(function)))
            executor = self._executor
        try:
            return executor.submit(function, *args, **kwargs).result()
        except BrokenProcessPool:
            self.close()
            raise ModelProcessError(
                f"the model process ended while it ran {getattr(function, '__name__', 'a chunk')} (killed, or out of "
                "memory?); set runner.model_process: false to run the models in this process"
            ) from None

    def close(self) -> None:
        """End the child (if one runs); the next :meth:`run` starts a new one."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        with contextlib.suppress(Exception):
            self.peaks_mib.append(executor.submit(_peak_rss_mib).result(timeout=60))
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            # Its work is done and every result is back (the result store commits per write). A child whose libraries
            # left a thread running does not exit by itself: after UMAP and HDBSCAN one waited for minutes.
            process.join(timeout=2)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _peak_rss_mib() -> float:
    """The child's own peak resident memory: ``VmHWM`` of its address space. Not ``getrusage``'s ``ru_maxrss``,
    which for a spawned (fork and exec) child also counts the parent's resident memory at the fork: a child
    that never held 120 MiB reported the 1.1 GiB its parent held."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model_process_started(parent: int) -> None:
    """The child's initializer: end with the parent (Linux), whatever ends the parent."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent ended before prctl
            os._exit(1)


MODEL_PROCESS = ModelProcess()
"""The flow process's model process (local runs with ``runner.model_process``)."""

_OFFLOADING = False


@contextlib.contextmanager
def models_in_child_process(enabled: bool) -> Iterator[None]:
    """Within: :func:`offload` runs its functions in :data:`MODEL_PROCESS` (when ``enabled``)."""
    global _OFFLOADING
    previous, _OFFLOADING = _OFFLOADING, enabled
    try:
        yield
    finally:
        _OFFLOADING = previous


def offloading() -> bool:
    """Whether this is inside :func:`models_in_child_process` (enabled): the models run in :data:`MODEL_PROCESS`."""
    return _OFFLOADING


def models_done() -> None:
    """Inside :func:`models_in_child_process`: end the model process now (what it loaded is not needed any more;
    the next :func:`offload` starts a fresh one), so that libraries used one after the other (the encoder, then
    spaCy and UMAP, then the encoder again) never sit in one child together. Elsewhere: nothing."""
    if _OFFLOADING:
        MODEL_PROCESS.close()


def offload(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``: in :data:`MODEL_PROCESS` inside :func:`models_in_child_process`, else here.

    For the heavy libraries the themes step loads besides its encoder (spaCy's lemmas, which import torch: +400 MiB;
    UMAP, HDBSCAN and BERTopic's fit: +290 MiB), so that with ``runner.model_process`` they too live and die with the
    child. ``function`` must be importable by name and its arguments and result picklable."""
    if _OFFLOADING:
        return cast("T", MODEL_PROCESS.run(function, *args, **kwargs))
    return function(*args, **kwargs)


def in_model_process(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` run in :data:`MODEL_PROCESS` (its name and docstring kept, for the Prefect task wrapping it)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        return MODEL_PROCESS.run(function, *args, **kwargs)

    return run


class ProcessEmbedder:
    """The themes step's ``embed`` fallback (texts the embed step did not precompute: per-sentence clause units,
    guided theme descriptions) when the models run in :data:`MODEL_PROCESS`: cached vectors are read here, only
    the texts the store lacks go to the child (:func:`embed_chunk`), so a re-run whose units are all cached starts
    no child. Same interface as :class:`nps_text.encoders.registry.CachedEmbedder`."""

    def __init__(self, model: str, batch_size: int, store: ResultStore | None, plugins: Sequence[str] = ()) -> None:
        self.model, self.batch_size, self.store, self.plugins = model, batch_size, store, list(plugins)
        self.report = ChunkReport()

    @property
    def loaded(self) -> bool:
        return bool(self.report.embeddings)

    def describe(self) -> dict[str, Any]:
        return dict(self.report.embeddings.get(self.model, {"name": self.model, "version": None, "texts": 0,
                                                             "seconds": 0.0}))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        from nps_text.cache import text_hash
        from nps_text.encoders.registry import encoder_version, get_encoder

        distinct = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        local = process_store(self.store)
        if local is not None and distinct:
            encoder = get_encoder(self.model, self.batch_size)  # its name and version only: weights load on encode
            keys = {text: text_hash(text) for text in distinct}
            cached = local.get_vectors("embedding", encoder.name, encoder_version(encoder), list(keys.values()))
            found = {text: cached[key] for text, key in keys.items() if key in cached}
        missing = [text for text in distinct if text not in found]
        if missing:
            vectors, report = MODEL_PROCESS.run(embed_chunk, missing, model=self.model, batch_size=self.batch_size,
                                                store=self.store, plugins=self.plugins)
            self.report.merge(report)
            found.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.vstack([found[text] for text in texts]).astype(np.float32, copy=False)


def close_process_stores() -> None:
    """Close this process's stores (end of a local run)."""
    with _LOCK:
        for store in _STORES.values():
            store.close()
        _STORES.clear()


def _embedder(model: str, batch_size: int, store: ResultStore | None) -> Any:
    from nps_text.encoders.registry import CachedEmbedder

    return CachedEmbedder(model, store, batch_size)


def sentiment_backend(
    section: SentimentConfig, encoder: str, batch_size: int, store: ResultStore | None
) -> tuple[SentimentBackend, Any]:
    """The sentiment backend for ``section``, once per process, and the embedder it uses; the model itself loads
    only when a text misses the cache (:func:`nps_text.sentiment.base.lazy_sentiment_backend`)."""
    from nps_text.sentiment.base import lazy_sentiment_backend

    embed = _embedder(encoder, batch_size, store)
    key = (section.model_dump_json(), encoder, str(store.path) if store is not None else "")
    with _LOCK:
        if key not in _BACKENDS:
            _BACKENDS[key] = lazy_sentiment_backend(section.model, section, embed)
    return _BACKENDS[key], embed


@dataclass
class ChunkReport:
    """What a chunk task cost: embedder descriptions and cache hits/misses (merged into the manifest)."""

    embeddings: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache: dict[str, dict[str, int]] = field(default_factory=dict)
    sentiment: dict[str, Any] = field(default_factory=dict)
    """The sentiment model's ``cache_key`` (its version in the result store) and whether a chunk ``loaded`` it
    (every text cached: never loaded)."""

    def merge(self, other: ChunkReport) -> None:
        if other.sentiment:
            loaded = bool(self.sentiment.get("loaded")) or bool(other.sentiment.get("loaded"))
            self.sentiment = {**other.sentiment, "loaded": loaded}
        for name, info in other.embeddings.items():
            mine = self.embeddings.setdefault(name, {**info, "texts": 0, "seconds": 0.0})
            if mine.get("version") is None:
                mine["version"] = info.get("version")
            mine["texts"] = int(mine["texts"]) + int(info.get("texts") or 0)
            mine["seconds"] = round(float(mine["seconds"]) + float(info.get("seconds") or 0.0), 3)
        for kind, counts in other.cache.items():
            mine_counts = self.cache.setdefault(kind, {"hits": 0, "misses": 0})
            for name in ("hits", "misses"):
                mine_counts[name] += int(counts.get(name, 0))


def _stats_delta(store: ResultStore | None, before: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    if store is None:
        return {}
    after = store.stats()
    return {
        kind: {name: counts[name] - before.get(kind, {}).get(name, 0) for name in ("hits", "misses")}
        for kind, counts in after.items()
    }


def _describe(embedder: Any) -> dict[str, dict[str, Any]]:
    return {embedder.model: embedder.describe()} if embedder.loaded else {}


# --- the chunk functions (Prefect tasks in nps_text.flow wrap them) ---------------------------------------
def score_sentiment_chunk(
    texts: list[str],
    section: SentimentConfig,
    encoder: str,
    batch_size: int,
    store: ResultStore | None,
    plugins: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, ChunkReport]:
    """Sentiment of distinct texts: ``(per_text, sentences, report)``
    (:func:`nps_text.sentiment.annotate.score_distinct_texts`, with this process's backend and store)."""
    from nps_text.sentiment.annotate import score_distinct_texts

    load_plugins(plugins)
    local = process_store(store)
    before = local.stats() if local is not None else {}
    backend, embed = sentiment_backend(section, encoder, batch_size, local)
    per_text, sentences = score_distinct_texts(texts, section, backend, local)
    model = {"cache_key": backend.version, "loaded": bool(getattr(backend, "loaded", True))}
    return per_text, sentences, ChunkReport(embeddings=_describe(embed), cache=_stats_delta(local, before), sentiment=model)


def embed_chunk(
    texts: list[str], model: str, batch_size: int, store: ResultStore | None, plugins: Sequence[str] = ()
) -> tuple[np.ndarray, ChunkReport]:
    """Embeddings of distinct texts (cached in the store by content hash) and what they cost."""
    load_plugins(plugins)
    local = process_store(store)
    before = local.stats() if local is not None else {}
    embedder = _embedder(model, batch_size, local)
    vectors = np.asarray(embedder(texts), dtype=np.float32)
    return vectors, ChunkReport(embeddings=_describe(embedder), cache=_stats_delta(local, before))


# --- mapping chunks and joining their results back -----------------------------------------------------------
def map_locally(function: Callable[..., Any], chunks: list[list[Any]], **shared: Any) -> list[Any]:
    """``function(chunk, **shared)`` for each chunk, one after the other (the flow maps them as Prefect tasks);
    in :data:`MODEL_PROCESS` inside :func:`models_in_child_process`."""
    run = in_model_process(function) if offloading() else function
    return [run(chunk, **shared) for chunk in chunks]


def concat_sentiment_chunks(
    results: Sequence[tuple[pd.DataFrame, pd.DataFrame, ChunkReport]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(per_text, sentences)`` of all chunks, in chunk order: each chunk's sentence ``text`` positions
    shifted by the texts of the chunks before it."""
    per_text = pd.concat([part for part, _, _ in results], ignore_index=True) if results else pd.DataFrame()
    offsets = np.cumsum([0] + [len(part) for part, _, _ in results])
    sentences = [chunk.assign(text=chunk["text"] + offset) for (_, chunk, _), offset in zip(results, offsets, strict=False)]
    return per_text, pd.concat(sentences, ignore_index=True) if sentences else pd.DataFrame()


def join_sentiment(
    responses: pd.DataFrame,
    rows: pd.Series,
    codes: np.ndarray,
    per_text: pd.DataFrame,
    sentences: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sentiment columns on ``responses`` and the ``sentences`` table, from per-distinct-text results.

    ``rows`` are the texts scored (indexed like ``responses``), ``codes`` their positions in the distinct
    texts; ``per_text`` and ``sentences`` (column ``text`` = distinct position) come from the chunks, in order.
    """
    sentiment = null_column("responses", "sentiment", responses.index)
    confidence = null_column("responses", "sentiment_confidence", responses.index)
    if len(rows):
        sentiment.loc[rows.index] = per_text["sentiment"].to_numpy()[codes]
        confidence.loc[rows.index] = per_text["sentiment_confidence"].to_numpy(dtype="float64")[codes]
    enriched = responses.assign(sentiment=sentiment, sentiment_confidence=confidence)
    if not len(rows) or sentences.empty:
        return enriched, empty_frame("sentences")
    ids = responses.loc[rows.index, "response_id"] if "response_id" in responses.columns else pd.Series(rows.index)
    # Each text's sentences are one block of ``sentences`` (in text, then sentence order, as the chunks give them):
    # a response's sentences are its text's block, gathered by position in response order. (A merge on the text
    # and a sort made two more copies of the table: 2M rows at 1M responses.)
    text_of = sentences["text"].to_numpy(dtype=np.int64)
    order = np.lexsort((sentences["sentence_index"].to_numpy(dtype=np.int64), text_of))
    if (order != np.arange(len(order))).any():  # not in blocks yet (not as the chunks give them)
        sentences, text_of = sentences.iloc[order], text_of[order]
    per_text_count = np.bincount(text_of, minlength=len(per_text))
    block_start = np.cumsum(per_text_count) - per_text_count
    per_row = per_text_count[codes]
    first_of_row = np.repeat(np.cumsum(per_row) - per_row, per_row)
    positions = np.repeat(block_start[codes], per_row) + (np.arange(int(per_row.sum())) - first_of_row)
    joined = sentences.iloc[positions].reset_index(drop=True)
    joined["response_id"] = ids.to_numpy()[np.repeat(np.arange(len(codes)), per_row)]
    for column in SENTENCES_COLUMNS:
        if column not in joined.columns:  # e.g. theme_id, set later by the themes stage
            joined[column] = null_column("sentences", column, joined.index)
    table = joined[list(SENTENCES_COLUMNS)]
    table["response_id"] = table["response_id"].astype("string")
    table["sentence_index"] = table["sentence_index"].astype("int64")
    table["sentiment"] = table["sentiment"].astype("string")
    table["confidence"] = table["confidence"].astype("float64")
    return enriched, table


class PrecomputedEmbed:
    """An ``embed(texts)`` callable answering from precomputed vectors; other texts go to ``fallback``."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray, fallback: Any) -> None:
        self._texts = list(texts)
        self._rows = {text: row for row, text in enumerate(self._texts)}
        self._vectors = vectors
        self.fallback = fallback
        self.seconds = 0.0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        start = time.perf_counter()
        if len(texts) == len(self._texts) and len(texts) > 1 and list(texts) == self._texts:
            # Every precomputed text in its order (the themes step asks for them so): the vectors themselves,
            # read-only, not a copy (716k x 512 fp32 is 1.4 GiB).
            shared = self._vectors.view()
            shared.flags.writeable = False
            self.seconds += time.perf_counter() - start
            return shared
        rows = [self._rows.get(text) for text in texts]
        if all(row is not None for row in rows):
            result = self._vectors[np.asarray(rows, dtype=np.int64)] if rows else self._vectors[:0]
        else:
            missing = [text for text, row in zip(texts, rows, strict=True) if row is None]
            extra = np.asarray(self.fallback(missing), dtype=np.float32)
            lookup = dict(zip(missing, extra, strict=True))
            result = np.vstack([self._vectors[row] if row is not None else lookup[text]
                                for text, row in zip(texts, rows, strict=True)])
        self.seconds += time.perf_counter() - start
        return result
