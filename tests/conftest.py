"""Shared test fixtures: offline environment, a hashing encoder that needs no model, the Prefect harness."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent


class HashingEncoder:
    """A deterministic bag-of-words hashing encoder: similar words give similar vectors; no model needed."""

    name = "test-hashing"
    dim = 64
    version = "test"

    def __init__(self, batch_size: int = 64) -> None:
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in str(text).lower().split():
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim
                matrix[row, bucket] += 1.0
            matrix[row, row % self.dim] += 0.01
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)


@pytest.fixture(autouse=True, scope="session")
def _register_test_encoder() -> None:
    from nps_text.encoders.registry import register_encoder

    register_encoder(HashingEncoder.name, HashingEncoder)


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Each test leaves ``os.environ`` as it found it: the CLI sets variables in its own process on purpose
    (``nps-text run --verbose`` turns on Dask's INFO logs), and a test calling it in-process must not change what
    later tests, or the commands they start, see."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server for the whole session (flow and CLI tests only)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def prefect_console() -> None:
    """Point Prefect's console log handlers at this test's stderr: they keep the stream that was current when
    logging was set up, which an earlier test's capsys has closed since (a log line written there from inside
    a flow run recurses through Prefect's ``log_prints``)."""
    import logging
    import sys

    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(item for item in logging.Logger.manager.loggerDict.values()
                                      if isinstance(item, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.stream = sys.stderr  # not setStream(): it flushes the closed stream
                handler.console.file = sys.stderr


@pytest.fixture
def repo_root() -> Path:
    return REPO
