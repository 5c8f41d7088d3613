"""The real shipped models on clear German and English sentences: the default (the 6-layer student in
models/sentiment-e5-student) and ``accurate`` (the 12-layer teacher in models/sentiment-e5-teacher)."""

from __future__ import annotations

import pandas as pd
import pytest

from nps_text.schema import SENTIMENTS
from nps_text.sentiment import SentimentConfig, annotate_sentiment, get_sentiment_backend, models_dir

CLEAR = [
    ("Super Beratung, ich bin rundum zufrieden!", "positive"),
    ("Tolles Produkt, schnelle Lieferung, gerne wieder.", "positive"),
    ("Das Personal war unglaublich freundlich und hilfsbereit.", "positive"),
    ("Katastrophaler Service, nie wieder!", "negative"),
    ("Die Lieferung kam drei Wochen zu spät und niemand hat sich gemeldet.", "negative"),
    ("Völlig überteuert und die Qualität ist schlecht.", "negative"),
    ("Excellent service, the staff were lovely and very helpful.", "positive"),
    ("I love this dress, it fits perfectly!", "positive"),
    ("Great value for money, highly recommended.", "positive"),
    ("Terrible experience, the food was cold and the waiter was rude.", "negative"),
    ("The app keeps crashing and support never answers.", "negative"),
    ("Worst purchase ever, it broke after two days.", "negative"),
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_backend():
    if not (models_dir() / "sentiment-e5-student").is_dir():
        pytest.skip("default sentiment model not present")
    return get_sentiment_backend("default", SentimentConfig())


def _wrong(backend) -> list[tuple[str, str, str]]:
    probabilities = backend.predict_proba([text for text, _ in CLEAR])
    predicted = [SENTIMENTS[i] for i in probabilities.argmax(axis=1)]
    return [(text, gold, got) for (text, gold), got in zip(CLEAR, predicted, strict=True) if gold != got]


def test_default_model_gets_clear_sentences_right(default_backend) -> None:
    assert default_backend.version.startswith("sentiment-e5-student+")  # on CPU the default is the student
    assert len(_wrong(default_backend)) <= 1, _wrong(default_backend)


def test_accurate_model_gets_clear_sentences_right() -> None:
    if not (models_dir() / "sentiment-e5-teacher").is_dir():
        pytest.skip("the accurate sentiment model is not present")
    backend = get_sentiment_backend("accurate", SentimentConfig())
    assert backend.version.startswith("sentiment-e5-teacher+") and "-int8" not in backend.version  # no int8 layer
    assert len(_wrong(backend)) <= 1, _wrong(backend)


@pytest.mark.parametrize(
    "comment",
    [
        "Die Beratung war super, aber die Lieferung war eine Katastrophe.",
        "Das Personal war sehr freundlich, leider war das Essen kalt und teuer.",
        "Great staff, but the delivery was a disaster.",
        "Beratung super, aber die Lieferung dauerte ewig",  # failed before the distilled student (issue 20)
    ],
)
def test_mixed_comment_gets_per_sentence_sentiment(default_backend, comment: str) -> None:
    frame = pd.DataFrame({"response_id": [1], "comment": [comment], "comment_status": ["text"]})
    _, sentences = annotate_sentiment(frame, SentimentConfig(), backend=default_backend)
    assert sentences["sentiment"].tolist() == ["positive", "negative"]


def test_the_default_models_version_is_known_without_loading_it(default_backend) -> None:
    """The cache key of a lazily loaded default model (no weights read) equals the loaded model's version."""
    from nps_text.sentiment.base import LazyBackend, lazy_sentiment_backend

    lazy = lazy_sentiment_backend("default", SentimentConfig())
    assert isinstance(lazy, LazyBackend) and not lazy.loaded
    assert lazy.version == default_backend.version


def test_loading_the_default_model_does_not_import_onnxruntime() -> None:
    """``runtime: auto`` is torch: importing onnxruntime only to learn that cost a re-run ~1 s."""
    import subprocess
    import sys

    if not (models_dir() / "sentiment-e5-student").is_dir():
        pytest.skip("default sentiment model not present")
    code = ("import sys; from nps_text.sentiment import SentimentConfig, get_sentiment_backend; "
            "get_sentiment_backend('default', SentimentConfig()).predict_proba(['gut']); "
            "print('onnxruntime' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "False"
