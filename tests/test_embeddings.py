"""The embedding cache, the lazy embedder, and loading a user's own sentence-transformers folder offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nps_text.cache import ResultStore
from nps_text.encoders.registry import CachedEmbedder, embed_texts, get_encoder
from nps_text.errors import ModelError
from tests.conftest import HashingEncoder


def test_each_distinct_text_is_embedded_once_and_cached_on_disk(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    cache = ResultStore(tmp_path / "cache.sqlite")
    first = embed_texts(["a b", "c", "a b"], encoder, cache)
    assert encoder.texts_encoded == 2
    np.testing.assert_array_equal(first[0], first[2])
    again = embed_texts(["c", "new text"], encoder, ResultStore(tmp_path / "cache.sqlite"))  # a later run
    assert encoder.texts_encoded == 3  # only "new text" was computed
    np.testing.assert_allclose(again[0], first[1])


def test_cached_embedder_loads_lazily_and_reports_cost(tmp_path: Path) -> None:
    embed = CachedEmbedder(HashingEncoder.name, tmp_path)
    assert not embed.loaded
    vectors = embed(["x y", "z"])
    assert embed.loaded and vectors.shape == (2, HashingEncoder.dim)
    assert embed.describe()["texts"] == 2


def test_a_local_sentence_transformers_folder_loads_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sentence_transformers import SentenceTransformer, models

    from tests.sentiment.test_hf_backend import _save_tiny_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    bert = _save_tiny_model(tmp_path / "bert", {0: "negative", 1: "positive"})
    word = models.Transformer(str(bert), max_seq_length=16)
    pooling = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(tmp_path / "st"))
    encoder = get_encoder(str(tmp_path / "st"))
    vectors = encoder.encode(["service war gut", "slow"])
    assert vectors.shape == (2, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_a_hub_id_offline_fails_fast_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE=0"):
        get_encoder("someone/not-a-local-model-xyz")
