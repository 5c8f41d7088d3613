from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nps_text.errors import InputError, ModelError
from nps_text.sentiment.baseline import LogisticHeadBackend, train_baseline_head
from nps_text.sentiment.evaluate import evaluate_sentiment, normalise_gold_labels, scores_from_labels


def _embed(texts):
    """Two informative dimensions: 'good' words and 'bad' words."""
    rows = [[t.count("good") + t.count("gut"), t.count("bad") + t.count("schlecht"), 1.0] for t in texts]
    return np.asarray(rows, dtype=np.float32)


def test_baseline_head_trains_saves_and_predicts(tmp_path: Path) -> None:
    texts = ["good", "good good", "bad", "bad bad", "ok", "meh", "gut", "schlecht"] * 5
    labels = ["positive", "positive", "negative", "negative", "neutral", "neutral", "positive", "negative"] * 5
    folder = train_baseline_head(texts, labels, _embed, tmp_path / "baseline", encoder="fake")
    backend = LogisticHeadBackend(folder, embed=_embed)
    probabilities = backend.predict_proba(["good", "bad", "ok"])
    assert probabilities.shape == (3, 3)
    assert probabilities.argmax(axis=1).tolist() == [0, 2, 1]  # positive, negative, neutral
    assert "fake" in backend.version


def test_baseline_checks_the_embedding_dimension(tmp_path: Path) -> None:
    folder = train_baseline_head(["good", "bad", "ok"] * 4, ["positive", "negative", "neutral"] * 4, _embed,
                                 tmp_path / "b", encoder="fake")
    backend = LogisticHeadBackend(folder, embed=lambda texts: np.ones((len(texts), 5), dtype=np.float32))
    with pytest.raises(ModelError, match="embeddings.model"):
        backend.predict_proba(["good"])
    with pytest.raises(ModelError, match="train sentiment --baseline"):
        LogisticHeadBackend(tmp_path / "missing")


def test_scores_from_labels() -> None:
    gold = ["positive", "positive", "negative", "neutral"]
    predicted = ["positive", "neutral", "negative", "neutral"]
    scores = scores_from_labels(gold, predicted)
    assert scores.accuracy == pytest.approx(0.75)
    assert scores.micro_f1 == pytest.approx(0.75)
    assert scores.per_class_f1["negative"] == pytest.approx(1.0)
    assert scores.per_class_f1["positive"] == pytest.approx(2 / 3)
    assert scores.macro_f1 == pytest.approx((2 / 3 + 1.0 + 2 / 3) / 3)
    assert scores.confusion.loc["positive", "neutral"] == 1
    assert "macro-F1" in scores.format()


def test_gold_labels_are_normalised() -> None:
    assert normalise_gold_labels(pd.Series(["pos", "Negativ", "-1", "0", "1"])).tolist() == [
        "positive", "negative", "negative", "neutral", "positive"
    ]
    with pytest.raises(InputError, match="not a sentiment"):
        normalise_gold_labels(pd.Series(["maybe"]))


def test_evaluate_sentiment_with_the_keyword_backend(keyword_backend) -> None:
    frame = pd.DataFrame({"text": ["great", "bad", "okay", "great", None], "label": ["pos", "neg", "neu", "neg", "pos"]})
    scores = evaluate_sentiment(frame, keyword_backend, text_column="text", label_column="label")
    assert scores.rows == 4 and scores.accuracy == pytest.approx(0.75)
    assert keyword_backend.seen.count("great") == 1  # distinct texts once
    with pytest.raises(InputError, match="not found"):
        evaluate_sentiment(frame, keyword_backend, text_column="comment", label_column="label")


def test_evaluate_scores_each_comment_once_like_the_pipeline(keyword_backend) -> None:
    frame = pd.DataFrame({"text": ["Beratung super, aber die Lieferung dauerte ewig"], "label": ["neg"]})
    evaluate_sentiment(frame, keyword_backend, text_column="text", label_column="label")
    assert keyword_backend.seen == ["Beratung super, aber die Lieferung dauerte ewig"]  # no sentence pass needed
