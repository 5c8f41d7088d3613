"""The sentiment backend protocol and the registry that picks a backend by name.

A backend turns texts into class probabilities in :data:`nps_text.schema.SENTIMENTS` order
(positive, neutral, negative). Registered names:

    ``default``   our fine-tuned e5 model in ``models/sentiment-e5-small`` (torch + transformers)
    ``baseline``  a logistic head on frozen e5 embeddings (``models/sentiment-baseline``)
    ``commercial`` the same kind of head trained only on commercially usable data (``models/sentiment-commercial``)
anything else     a Hugging Face text-classification model: a local folder, or a hub id (the only path
                  that may go online, and only because the user named it)

Tests register a fake backend with :func:`register_sentiment_backend`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from nps_text.errors import ModelError
from nps_text.sentiment.config import SentimentConfig

EmbedFunction = Callable[[Sequence[str]], np.ndarray]


@runtime_checkable
class SentimentBackend(Protocol):
    """Anything that scores texts as positive / neutral / negative."""

    name: str
    version: str

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return a ``(len(texts), 3)`` float array of probabilities (positive, neutral, negative)."""
        ...


BackendFactory = Callable[[SentimentConfig, EmbedFunction | None], SentimentBackend]

DEFAULT_MODEL_NAME = "sentiment-e5-small"
BASELINE_MODEL_NAME = "sentiment-baseline"
COMMERCIAL_MODEL_NAME = "sentiment-commercial"


def models_dir() -> Path:
    """Where shipped models live: ``$NPS_TEXT_MODELS_DIR`` or the repository's ``models/``."""
    configured = os.environ.get("NPS_TEXT_MODELS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "models"


def _default_factory(config: SentimentConfig, embed: EmbedFunction | None) -> SentimentBackend:
    from nps_text.sentiment.transformer import load_transformer_backend

    return load_transformer_backend(str(models_dir() / DEFAULT_MODEL_NAME), config, name="default")


def _baseline_factory(config: SentimentConfig, embed: EmbedFunction | None) -> SentimentBackend:
    from nps_text.sentiment.baseline import LogisticHeadBackend

    return LogisticHeadBackend(models_dir() / BASELINE_MODEL_NAME, embed=embed)


def _commercial_factory(config: SentimentConfig, embed: EmbedFunction | None) -> SentimentBackend:
    from nps_text.sentiment.baseline import LogisticHeadBackend

    backend = LogisticHeadBackend(models_dir() / COMMERCIAL_MODEL_NAME, embed=embed)
    backend.name = "commercial"
    return backend


_BACKENDS: dict[str, BackendFactory] = {
    "default": _default_factory,
    "baseline": _baseline_factory,
    "commercial": _commercial_factory,
}


def register_sentiment_backend(name: str, factory: BackendFactory) -> None:
    """Register ``factory(config, embed) -> SentimentBackend`` under ``name`` (plugins and tests)."""
    _BACKENDS[name] = factory


def registered_backends() -> list[str]:
    """Names that :func:`get_sentiment_backend` resolves without treating them as model ids."""
    return sorted(_BACKENDS)


def get_sentiment_backend(
    name_or_path: str,
    config: SentimentConfig | None = None,
    embed: EmbedFunction | None = None,
) -> SentimentBackend:
    """Resolve a backend: a registered name, a local model folder, or a Hugging Face hub id.

    Example:
        >>> backend = get_sentiment_backend("default")  # doctest: +SKIP
        >>> backend.predict_proba(["Super Service!"]).round(2)  # doctest: +SKIP
        array([[0.97, 0.02, 0.01]], dtype=float32)
    """
    settings = (config or SentimentConfig()).model_copy(update={"model": name_or_path})
    factory = _BACKENDS.get(name_or_path)
    if factory is not None:
        return factory(settings, embed)
    from nps_text.sentiment.transformer import load_transformer_backend

    return load_transformer_backend(name_or_path, settings)


def check_probabilities(probabilities: np.ndarray, n_texts: int, backend: str) -> np.ndarray:
    """Validate a backend's output shape and values (a buggy plugin fails loudly, not silently)."""
    array = np.asarray(probabilities, dtype=np.float32)
    if array.shape != (n_texts, 3) or not np.all(np.isfinite(array)):
        raise ModelError(
            f"sentiment backend {backend!r} returned shape {array.shape} (or non-finite values); "
            f"expected ({n_texts}, 3) probabilities in order positive, neutral, negative"
        )
    return array
