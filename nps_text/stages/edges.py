"""What a run's stages get from the outside: :class:`RunEdges`."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nps_text.cache import ResultStore
from nps_text.errors import failing_in
from nps_text.privacy import pseudonym_key
from nps_text.runner import (
    MODEL_PROCESS,
    ChunkReport,
    RunnerConfig,
    chunked,
    close_process_stores,
    map_locally,
)
from nps_text.stages import STAGES
from nps_text.writers import prepare_state

ProgressHook = Callable[[str, int, int], None]
"""``hook(stage, index, total)``: a front end (the CLI's progress display) following the stages."""
ChunkMapper = Callable[..., list[Any]]
"""``mapper(function, chunks, **shared)``: ``function(chunk, **shared)`` per chunk, results in chunk order."""


@dataclass
class RunEdges:
    """File I/O handed to the stages (the result store, the theme state folder, the pseudonym key) and where
    chunked model work runs (:meth:`map_chunks`); plus the run's timings and what the model stages report for
    the manifest (:mod:`nps_text.manifest`)."""

    out: Path
    staging: Path
    store: ResultStore | None
    run_id: str = ""
    """The run's id (the manifest's ``run_id``; names the staging folder)."""
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    mapper: ChunkMapper = map_locally
    """Runs the chunks: one after the other by default; the flow's maps them as Prefect tasks (Dask)."""
    progress: ProgressHook | None = None
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    chunks: ChunkReport = field(default_factory=ChunkReport)

    def pseudonym_key(self) -> bytes:
        return pseudonym_key(self.out / ".state")

    def theme_state(self) -> Path:
        """The staging copy of the theme state (published with the outputs)."""
        return prepare_state(self.out, self.staging)

    def map_chunks(self, function: Callable[..., Any], items: Sequence[Any], **shared: Any) -> list[Any]:
        """``function(chunk, **shared, store=..., plugins=...)`` for each chunk of ``runner.chunk_size``
        items, through :attr:`mapper`; the results in chunk order."""
        chunks = chunked(items, self.runner.chunk_size)
        if not chunks:
            return []
        return self.mapper(function, chunks, store=self.store, plugins=self.runner.plugins, **shared)

    def close(self) -> None:
        MODEL_PROCESS.close()
        if self.store is not None:
            self.store.close()
        close_process_stores()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage, tag its errors with its name, report it to the progress hook and afterwards hand the
        memory it freed back to the system (:func:`release_memory`): ``with edges.stage("nps"): ...``."""
        if self.progress is not None:
            self.progress(name, STAGES.index(name) if name in STAGES else 0, len(STAGES))
        start = time.perf_counter()
        try:
            with failing_in(name):
                yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 3)
            release_memory()


@contextmanager
def earlier_objects_frozen(enabled: bool) -> Iterator[None]:
    """Within (when ``enabled``): the Python objects that existed before, the libraries' and the models a process
    kept loaded from an earlier run, are left out of the garbage collector's full collections (``gc.freeze``), so the
    collection :func:`release_memory` runs after every stage scans only what this run made. In a process that
    keeps its models (``runner.release_models: false``, ``flows/serve.py --warm``) about 960,000 objects were
    scanned after each of 8 stages: 0.49 s a collection, 3.9 s of a 20.9 s re-run. Afterwards everything is
    collectable again (``gc.unfreeze``)."""
    if not enabled:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def release_memory() -> None:
    """Hand the memory a finished stage freed back to the operating system: Arrow's pool keeps freed blocks
    for reuse and glibc's malloc keeps freed pages inside its heaps, so without this a run's resident size
    ratchets up to the sum of its stages' leftovers (about 150 MB at a million rows). Linux/glibc only
    (``malloc_trim``); elsewhere only Arrow's pool is released."""
    gc.collect()
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)
