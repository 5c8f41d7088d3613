"""A re-run whose texts are all cached never loads the sentiment model (issue 21)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from nps_text.cache import open_store
from nps_text.errors import ModelError
from nps_text.sentiment import SentimentConfig
from nps_text.sentiment.annotate import score_distinct_texts
from nps_text.sentiment.base import LazyBackend, lazy_sentiment_backend, register_sentiment_backend


class Counting:
    name, version = "fake", "v1"

    def __init__(self) -> None:
        self.calls = 0

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.tile(np.array([[0.7, 0.2, 0.1]], dtype=np.float32), (len(texts), 1))


def test_all_cached_texts_never_load_the_model(tmp_path: Path) -> None:
    loads: list[Counting] = []

    def load() -> Counting:
        loads.append(Counting())
        return loads[-1]

    texts = ["Super Service.", "Die Lieferung kam zu spät. Sonst gut."]
    store = open_store(tmp_path / "cache")
    first, _ = score_distinct_texts(texts, SentimentConfig(), LazyBackend("fake", "v1", load), store)
    assert len(loads) == 1 and loads[0].calls > 0
    again, sentences = score_distinct_texts(texts, SentimentConfig(), LazyBackend("fake", "v1", load), store)
    assert len(loads) == 1, "a re-run with every text cached loaded the model"
    assert again.equals(first) and len(sentences) == 3
    score_distinct_texts([*texts, "Neu hier."], SentimentConfig(), lazy := LazyBackend("fake", "v1", load), store)
    assert len(loads) == 2 and lazy.loaded  # one new text: the model loads


def test_a_version_that_differs_after_loading_is_refused() -> None:
    lazy = LazyBackend("fake", "v0", Counting)
    with pytest.raises(ModelError, match="version probe"):
        lazy.predict_proba(["x"])


def test_backends_without_a_version_probe_load_at_once() -> None:
    register_sentiment_backend("counting-test", lambda config, embed: Counting())
    assert isinstance(lazy_sentiment_backend("counting-test"), Counting)
    register_sentiment_backend("default", lambda config, embed: Counting())  # a plugin replacing "default"
    try:
        assert isinstance(lazy_sentiment_backend("default"), Counting)
    finally:
        from nps_text.sentiment import base

        register_sentiment_backend("default", base._REGISTERED["default"])


def test_default_is_the_student_on_cpu_and_the_teacher_on_a_gpu(monkeypatch) -> None:
    """The GPU path without a GPU: ``default`` names the teacher's folder when torch would see CUDA, and the
    version probe (the result cache's key) follows the same folder, so a GPU run never reuses CPU results."""
    from nps_text.sentiment import base, transformer
    from nps_text.sentiment.config import SentimentConfig

    config = SentimentConfig()
    assert base.default_model_folder(config).name == base.DEFAULT_MODEL_NAME == "sentiment-e5-student"
    cpu_version = base._default_version(config)
    monkeypatch.setattr(transformer, "select_device", lambda device=None: "cuda")
    assert base.default_model_folder(config).name == base.ACCURATE_MODEL_NAME == "sentiment-e5-teacher"
    gpu_version = base._default_version(config)
    assert gpu_version.startswith("sentiment-e5-teacher+") and gpu_version.endswith("+cuda")
    assert gpu_version != cpu_version and base._accurate_version(config) == gpu_version
