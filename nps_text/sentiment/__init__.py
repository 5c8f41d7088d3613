"""Sentiment per comment and per sentence, behind one small backend protocol.

The pipeline calls :func:`annotate_sentiment`; backends are chosen by name with
:func:`get_sentiment_backend` (``default``, ``baseline``, or a Hugging Face model id / local folder).
Importing this package does not import torch or transformers.
"""

from __future__ import annotations

from nps_text.sentiment.annotate import annotate_sentiment, score_texts
from nps_text.sentiment.base import (
    SentimentBackend,
    get_sentiment_backend,
    models_dir,
    register_sentiment_backend,
    registered_backends,
)
from nps_text.sentiment.config import SentimentConfig
from nps_text.sentiment.segment import split_segments

__all__ = [
    "SentimentBackend",
    "SentimentConfig",
    "annotate_sentiment",
    "get_sentiment_backend",
    "models_dir",
    "register_sentiment_backend",
    "registered_backends",
    "score_texts",
    "split_segments",
]
