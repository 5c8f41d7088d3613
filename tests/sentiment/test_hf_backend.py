"""The Hugging Face loading path, with a tiny BertForSequenceClassification built and saved locally."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nps_text.errors import ModelError
from nps_text.sentiment import get_sentiment_backend
from nps_text.sentiment.config import SentimentConfig

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "gut", "schlecht", "super", "slow", "the", "service", "war", "und"]


def _save_tiny_model(folder: Path, id2label: dict[int, str]) -> Path:
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    vocab = {word: index for index, word in enumerate(WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        model_max_length=16,
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS), hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
        max_position_embeddings=32, num_labels=len(id2label), id2label=id2label,
        label2id={label: index for index, label in id2label.items()},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_loads_a_local_hf_model_and_maps_its_labels(tmp_path: Path) -> None:
    folder = _save_tiny_model(tmp_path / "tiny", {0: "NEG", 1: "NEU", 2: "POS"})
    backend = get_sentiment_backend(str(folder), SentimentConfig(quantize=False, max_tokens=16))
    probabilities = backend.predict_proba(["gut", "schlecht und slow", "the service war super"])
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert backend.name == str(folder)


def test_long_texts_are_chunked_not_truncated(tmp_path: Path) -> None:
    folder = _save_tiny_model(tmp_path / "tiny", {0: "negative", 1: "positive"})
    backend = get_sentiment_backend(str(folder), SentimentConfig(quantize=True, max_tokens=16))
    long_text = " ".join(["gut"] * 40 + ["schlecht"] * 40)
    windows = backend.windowing(long_text)  # type: ignore[attr-defined]
    assert len(windows) == 6 and all(len(window) <= 16 for window in windows)
    assert sum(len(window) - 2 for window in windows) == 80
    probabilities = backend.predict_proba([long_text, "gut"])
    assert probabilities[:, 1].max() == 0.0  # a two-label model never says neutral
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_unmappable_labels_need_a_label_map(tmp_path: Path) -> None:
    folder = _save_tiny_model(tmp_path / "tiny", {0: "sarcasm", 1: "joy"})
    with pytest.raises(ModelError, match="label_map"):
        get_sentiment_backend(str(folder), SentimentConfig(quantize=False))
    backend = get_sentiment_backend(
        str(folder), SentimentConfig(quantize=False, label_map={"sarcasm": "negative", "joy": "positive"})
    )
    assert backend.predict_proba(["gut"])[0, 1] == 0.0


def test_a_missing_local_model_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="could not load"):
        get_sentiment_backend("no-such-org/no-such-model-xyz", SentimentConfig(quantize=False))


def test_missing_default_model_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No folder of the lookup order holds the model (NPS_TEXT_MODELS_DIR, the checkout's and the installed
    copy fall back on each other, so all of them are pointed at an empty folder)."""
    from nps_text.sentiment import base

    monkeypatch.setenv("NPS_TEXT_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(base, "model_dirs", lambda: [tmp_path])
    with pytest.raises(ModelError, match="train sentiment"):
        get_sentiment_backend("default", SentimentConfig(threads=1, batch_size=7))
