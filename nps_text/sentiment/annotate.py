"""The pipeline step: sentiment per comment and per sentence, as pure functions on DataFrames."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from nps_text.cache import ResultStore, cached_results, settings_digest
from nps_text.rules import sentiment_texts
from nps_text.schema import SENTENCES_COLUMNS, SENTIMENTS, empty_frame, null_column
from nps_text.sentiment.base import (
    EmbedFunction,
    SentimentBackend,
    check_probabilities,
    get_sentiment_backend,
)
from nps_text.sentiment.config import SentimentConfig
from nps_text.sentiment.segment import _WORD, split_segments


def cache_version(backend: SentimentBackend, config: SentimentConfig | None = None) -> str:
    """The backend's version plus the settings that change its outputs: the sentiment cache key's version."""
    settings = config or SentimentConfig()
    derived = settings.comment_from if settings.per_sentence else "document"
    digest = settings_digest(
        {
            "max_tokens": settings.max_tokens,
            "label_map": settings.label_map,
            "quantize": settings.quantize,
            "comment_from": derived,
        }
    )
    return f"{backend.version}|{digest}"


def _weight(text: str) -> float:
    """Weight of a sentence in its comment's label: its length in words (a proxy for its tokens)."""
    return float(max(len(_WORD.findall(text)), 1))


def _probabilities(
    backend: SentimentBackend,
    texts: Sequence[str],
    cache: ResultStore | None,
    kind: str,
    version: str,
    predict: Callable[[list[str]], np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Probabilities per distinct text from ``predict`` (default: the backend's, checked), cached under ``kind``
    when a store is given."""
    distinct = list(dict.fromkeys(texts))
    if not distinct:
        return {}
    if predict is None:

        def predict(missing: list[str]) -> np.ndarray:
            return check_probabilities(backend.predict_proba(missing), len(missing), backend.name)

    if cache is None:
        return dict(zip(distinct, predict(distinct), strict=True))
    found = cached_results(cache, kind, backend.name, version, distinct, predict, codec="vector")
    return {text: np.asarray(found[text], dtype=np.float32) for text in distinct}


def score_comments(
    backend: SentimentBackend,
    texts: Sequence[str],
    config: SentimentConfig | None = None,
    cache: ResultStore | None = None,
    *,
    sentences: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, list[str]], dict[str, np.ndarray]]:
    """Comment and sentence probabilities with one model pass over each comment's tokens.

    A comment with one segment is scored once and that result is both its comment and its sentence
    sentiment. A comment with several segments has each segment scored, and its comment probabilities
    come from scoring the whole comment once (``comment_from="document"``, the default: ~1.5 passes over
    the tokens of typical NPS comments) or are the word-weighted mean of its segments'
    (``"sentences"``: one pass, but 0.035 micro-F1 lower on the held-out splits, so not the default).
    Cached per text under kind ``sentiment`` (comments) and ``sentence_sentiment`` (segments).
    ``sentences=False`` (evaluation) skips the sentence results where the comment labels do not need them.

    Returns:
        ``(comment_probabilities, segments, segment_probabilities)``, the first two keyed by distinct text.
    """
    settings = config or SentimentConfig()
    version = cache_version(backend, settings)
    distinct = list(dict.fromkeys(texts))
    segments = {text: split_segments(text) if settings.per_sentence else [] for text in distinct}
    segments = {text: parts if len(parts) > 1 else [text] for text, parts in segments.items()}
    multi = [text for text in distinct if len(segments[text]) > 1]
    if not sentences and settings.comment_from == "document":
        multi = []
    # Sentence results do not depend on how comment labels are derived: one cache entry for either setting.
    sentence_version = cache_version(backend, settings.model_copy(update={"comment_from": "document"}))
    segment_probabilities = _probabilities(
        backend, [seg for text in multi for seg in segments[text]], cache, "sentence_sentiment", sentence_version
    )

    def predict_comments(missing: list[str]) -> np.ndarray:
        rows = []
        direct = [text for text in missing if len(segments[text]) == 1 or settings.comment_from == "document"]
        scored = {}
        if direct:
            probabilities = check_probabilities(backend.predict_proba(direct), len(direct), backend.name)
            scored = dict(zip(direct, probabilities, strict=True))
        for text in missing:
            if text in scored:
                rows.append(scored[text])
                continue
            parts = segments[text]
            weights = np.asarray([_weight(part) for part in parts])
            stacked = np.vstack([segment_probabilities[part] for part in parts])
            rows.append(weights @ stacked / weights.sum())
        return np.asarray(rows, dtype=np.float32).reshape(len(missing), 3)

    comment_probabilities = _probabilities(backend, distinct, cache, "sentiment", version, predict_comments)
    for text in distinct:  # a one-segment comment's sentence is the comment itself
        if len(segments[text]) == 1:
            segment_probabilities[text] = comment_probabilities[text]
    return comment_probabilities, segments, segment_probabilities


def _label(probabilities: np.ndarray) -> tuple[str, float]:
    best = int(np.argmax(probabilities))
    return SENTIMENTS[best], float(probabilities[best])


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
    found = _probabilities(backend, texts, cache, kind, version or cache_version(backend))
    probabilities = np.vstack([found[text] for text in texts]).astype(np.float32, copy=False)
    best = probabilities.argmax(axis=1)
    return [SENTIMENTS[i] for i in best], probabilities[np.arange(len(texts)), best]


def score_distinct_texts(
    texts: Sequence[str], config: SentimentConfig, backend: SentimentBackend, cache: ResultStore | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sentiment of *distinct*, stripped, non-blank texts, as :func:`annotate_sentiment` scores them:
    ``(per_text, sentences)``.

    ``per_text`` has ``sentiment`` and ``sentiment_confidence``, one row per text in order; ``sentences`` has
    ``text`` (the position of its text in ``texts``) and the sentence columns but ``response_id``.
    """
    comment_probabilities, segments, segment_probabilities = score_comments(backend, list(texts), config, cache)
    labels = [_label(comment_probabilities[text]) for text in texts]
    per_text = pd.DataFrame({
        "sentiment": pd.Series([label for label, _ in labels], dtype="string"),
        "sentiment_confidence": pd.Series([confidence for _, confidence in labels], dtype="float64"),
    })
    rows = [
        (position, index, part, *_label(segment_probabilities[part]))
        for position, text in enumerate(texts)
        for index, part in enumerate(segments[text])
    ]
    sentences = pd.DataFrame(rows, columns=["text", *SENTENCES_COLUMNS[1:5]])
    sentences["theme_id"] = null_column("sentences", "theme_id", sentences.index)  # set by the themes stage
    sentences = sentences.astype({"text": "int64", "sentence_index": "int64", "sentiment": "string", "confidence": "float64"})
    return per_text, sentences


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
    nulls, never "neutral". One model pass per comment (:func:`score_comments`): each distinct
    single-sentence comment is scored once and its result is also its sentence's; a multi-sentence
    comment's sentences are scored and its label derived from them (``config.comment_from``).

    Args:
        responses: the responses table (not modified).
        config: the sentiment section of the pipeline config (``model`` picks the backend).
        text_column: column holding the (redacted) comment.
        status_column: column holding the comment status, or ``None`` to decide from the text alone.
        embed: the flow's shared cached embedding function (used by the ``baseline`` backend).
        backend: an already loaded backend (overrides ``config.model``; for tests and callers that reuse one).
        cache: the run's result store: comment and sentence probabilities are cached per model version and
            text hash (kinds ``sentiment`` and ``sentence_sentiment``), so a re-run scores only new texts.
            Comments and sentences go to the model in one call each, length-bucketed by the backend.

    Returns:
        ``(responses_with_sentiment, sentences)``; ``sentences`` has :data:`SENTENCES_COLUMNS`.

    Example:
        >>> frame = pd.DataFrame({"response_id": ["r1"], "comment": ["Top!"], "comment_status": ["text"]})
        >>> annotated, sentences = annotate_sentiment(frame, SentimentConfig())  # doctest: +SKIP
    """
    result = responses.copy()
    texts = sentiment_texts(responses, text_column, status_column)
    sentiment = null_column("responses", "sentiment", result.index)  # contract dtypes: nps_text.schema
    confidence = null_column("responses", "sentiment_confidence", result.index)
    empty_sentences = empty_frame("sentences")
    if not config.enabled or texts.empty:
        result["sentiment"], result["sentiment_confidence"] = sentiment, confidence
        return result, empty_sentences
    backend = backend or get_sentiment_backend(config.model, config, embed)

    comment_probabilities, segments, segment_probabilities = score_comments(backend, texts.tolist(), config, cache)
    by_text = {text: _label(probabilities) for text, probabilities in comment_probabilities.items()}
    sentiment.loc[texts.index] = [by_text[text][0] for text in texts]
    confidence.loc[texts.index] = [by_text[text][1] for text in texts]
    result["sentiment"], result["sentiment_confidence"] = sentiment, confidence

    ids = result["response_id"] if "response_id" in result.columns else pd.Series(result.index, index=result.index)
    rows = []
    for index, text in texts.items():
        for position, part in enumerate(segments[text]):
            label, conf = _label(segment_probabilities[part])
            rows.append((ids.loc[index], position, part, label, conf))
    sentences = pd.DataFrame(rows, columns=list(SENTENCES_COLUMNS[:5]))
    sentences["theme_id"] = null_column("sentences", "theme_id", sentences.index)  # set by the themes step
    sentences["sentence_index"] = sentences["sentence_index"].astype("int64")
    sentences["sentiment"] = sentences["sentiment"].astype("string")
    sentences["confidence"] = sentences["confidence"].astype("float64")
    return result, sentences
