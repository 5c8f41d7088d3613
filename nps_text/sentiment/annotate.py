"""The pipeline step: sentiment per comment and per sentence, as pure functions on DataFrames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nps_text.cache import ResultStore, cached_results, settings_digest
from nps_text.errors import SchemaError
from nps_text.schema import SENTENCES_COLUMNS, SENTIMENTS, STATUS_TEXT, empty_frame, null_column
from nps_text.sentiment.base import (
    EmbedFunction,
    SentimentBackend,
    check_probabilities,
    get_sentiment_backend,
)
from nps_text.sentiment.config import SentimentConfig
from nps_text.sentiment.segment import split_segments


def _texts_to_score(responses: pd.DataFrame, text_column: str, status_column: str | None) -> pd.Series:
    """The stripped text of every row that gets a sentiment; other rows are missing from the result."""
    if text_column not in responses.columns:
        raise SchemaError(
            f"sentiment needs a text column {text_column!r}; the table has {list(responses.columns)}"
        )
    text = responses[text_column]
    usable = text.notna()
    if status_column is not None:
        if status_column not in responses.columns:
            raise SchemaError(
                f"sentiment needs the status column {status_column!r} (or status_column=None); "
                f"the table has {list(responses.columns)}"
            )
        usable &= responses[status_column].astype("string").eq(STATUS_TEXT).fillna(False).astype(bool)
    stripped = text[usable].astype(str).str.strip()
    return stripped[stripped != ""]


def cache_version(backend: SentimentBackend, config: SentimentConfig | None = None) -> str:
    """The backend's version plus the settings that change its outputs: the sentiment cache key's version."""
    settings = config or SentimentConfig()
    return f"{backend.version}|{settings_digest({'max_tokens': settings.max_tokens, 'label_map': settings.label_map, 'quantize': settings.quantize})}"


def score_texts(
    backend: SentimentBackend,
    texts: Sequence[str],
    cache: ResultStore | None = None,
    *,
    kind: str = "sentiment",
    version: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """Label and confidence (probability of the label) for each *distinct* text, in input order.

    With a ``cache``, probabilities are looked up under ``(kind, backend.name, version, sha256(text))``
    and only the missing texts reach the model (``version`` defaults to :func:`cache_version`).
    """
    if len(texts) == 0:
        return [], np.zeros(0, dtype=np.float32)

    def predict(missing: list[str]) -> np.ndarray:
        return check_probabilities(backend.predict_proba(missing), len(missing), backend.name)

    if cache is None:
        probabilities = predict(list(texts))
    else:
        found = cached_results(cache, kind, backend.name, version or cache_version(backend), texts, predict, codec="vector")
        probabilities = np.vstack([found[text] for text in texts]).astype(np.float32, copy=False)
    best = probabilities.argmax(axis=1)
    return [SENTIMENTS[i] for i in best], probabilities[np.arange(len(texts)), best]


def annotate_sentiment(
    responses: pd.DataFrame,
    config: SentimentConfig,
    *,
    text_column: str = "comment",
    status_column: str | None = "comment_status",
    embed: EmbedFunction | None = None,
    backend: SentimentBackend | None = None,
    cache: ResultStore | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add ``sentiment`` and ``sentiment_confidence`` to ``responses``; build the ``sentences`` table.

    Rows whose status is not ``"text"`` (or, with ``status_column=None``, whose text is null or blank) get
    nulls, never "neutral". Each distinct text, and each distinct sentence, is scored once. A comment with
    a single segment reuses the comment's result for its one sentence.

    Args:
        responses: the responses table (not modified).
        config: the sentiment section of the pipeline config (``model`` picks the backend).
        text_column: column holding the (redacted) comment.
        status_column: column holding the comment status, or ``None`` to decide from the text alone.
        embed: the flow's shared cached embedding function (used by the ``baseline`` backend).
        backend: an already loaded backend (overrides ``config.model``; for tests and callers that reuse one).
        cache: the run's result store: comment and sentence probabilities are cached per model version and
            text hash (kinds ``sentiment`` and ``sentence_sentiment``), so a re-run scores only new texts.

    Returns:
        ``(responses_with_sentiment, sentences)``; ``sentences`` has :data:`SENTENCES_COLUMNS`.

    Example:
        >>> frame = pd.DataFrame({"response_id": ["r1"], "comment": ["Top!"], "comment_status": ["text"]})
        >>> annotated, sentences = annotate_sentiment(frame, SentimentConfig())  # doctest: +SKIP
    """
    result = responses.copy()
    texts = _texts_to_score(responses, text_column, status_column)
    sentiment = null_column("responses", "sentiment", result.index)  # contract dtypes: nps_text.schema
    confidence = null_column("responses", "sentiment_confidence", result.index)
    empty_sentences = empty_frame("sentences")
    if not config.enabled or texts.empty:
        result["sentiment"], result["sentiment_confidence"] = sentiment, confidence
        return result, empty_sentences
    backend = backend or get_sentiment_backend(config.model, config, embed)

    distinct = list(dict.fromkeys(texts.tolist()))
    version = cache_version(backend, config)
    labels, confidences = score_texts(backend, distinct, cache, kind="sentiment", version=version)
    by_text = {text: (label, float(conf)) for text, label, conf in zip(distinct, labels, confidences, strict=True)}
    sentiment.loc[texts.index] = [by_text[text][0] for text in texts]
    confidence.loc[texts.index] = [by_text[text][1] for text in texts]
    result["sentiment"], result["sentiment_confidence"] = sentiment, confidence

    segments = {text: split_segments(text) if config.per_sentence else [text] for text in distinct}
    multi = list(dict.fromkeys(seg for parts in segments.values() if len(parts) > 1 for seg in parts))
    segment_labels, segment_confidences = score_texts(
        backend, multi, cache, kind="sentence_sentiment", version=version
    )
    by_segment = {
        seg: (label, float(conf)) for seg, label, conf in zip(multi, segment_labels, segment_confidences, strict=True)
    }
    ids = result["response_id"] if "response_id" in result.columns else pd.Series(result.index, index=result.index)
    rows = []
    for index, text in texts.items():
        parts = segments[text]
        for position, part in enumerate(parts):
            label, conf = by_segment[part] if len(parts) > 1 else by_text[text]
            rows.append((ids.loc[index], position, part if len(parts) > 1 else text, label, conf))
    sentences = pd.DataFrame(rows, columns=list(SENTENCES_COLUMNS[:5]))
    sentences["theme_id"] = null_column("sentences", "theme_id", sentences.index)  # set by the themes step
    sentences["sentence_index"] = sentences["sentence_index"].astype("int64")
    sentences["sentiment"] = sentences["sentiment"].astype("string")
    sentences["confidence"] = sentences["confidence"].astype("float64")
    return result, sentences
