"""A keyword backend registered for the sentiment tests: no model, deterministic, counts its work."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest

from nps_text.sentiment import register_sentiment_backend
from nps_text.sentiment.config import SentimentConfig

POSITIVE_WORDS = re.compile(r"\b(super|great|gut|toll|love|friendly|freundlich|excellent)\b", re.IGNORECASE)
NEGATIVE_WORDS = re.compile(r"\b(slow|ewig|schlecht|bad|never|nie|teuer|broken|worst)\b", re.IGNORECASE)


class KeywordBackend:
    """positive / negative by keyword, else neutral; records every text it was asked about."""

    name = "test-keywords"
    version = "test"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        rows = []
        for text in texts:
            positive, negative = bool(POSITIVE_WORDS.search(text)), bool(NEGATIVE_WORDS.search(text))
            if positive and not negative:
                rows.append([0.8, 0.15, 0.05])
            elif negative and not positive:
                rows.append([0.05, 0.15, 0.8])
            else:
                rows.append([0.2, 0.6, 0.2])
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 3)


@pytest.fixture
def keyword_backend() -> KeywordBackend:
    backend = KeywordBackend()
    register_sentiment_backend("test-keywords", lambda config, embed: backend)
    return backend


@pytest.fixture
def keyword_config(keyword_backend: KeywordBackend) -> SentimentConfig:
    return SentimentConfig(model="test-keywords")
