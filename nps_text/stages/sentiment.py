"""Sentiment: label and confidence per comment, and the ``sentences`` table; each distinct redacted comment
is scored once, in chunks (:meth:`nps_text.stages.edges.RunEdges.map_chunks`)."""

from __future__ import annotations

import pandas as pd

from nps_text.config import EmbeddingsConfig
from nps_text.rules import sentiment_texts
from nps_text.runner import concat_sentiment_chunks, distinct_texts, join_sentiment, score_sentiment_chunk
from nps_text.schema import null_column
from nps_text.sentiment.config import SentimentConfig
from nps_text.stages.edges import RunEdges


def run(
    inputs: pd.DataFrame, section: SentimentConfig, edges: RunEdges, *, embeddings: EmbeddingsConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(responses, sentences)``: ``sentiment`` and ``sentiment_confidence`` per response of ``inputs``, and
    a row per sentence. ``embeddings`` names the shared encoder (used by the ``baseline`` backend)."""
    rows = sentiment_texts(inputs)
    codes, distinct = distinct_texts(rows)
    results = edges.map_chunks(
        score_sentiment_chunk, distinct, section=section, encoder=embeddings.model, batch_size=embeddings.batch_size
    )
    for _, _, report in results:
        edges.chunks.merge(report)
    per_text, sentences = concat_sentiment_chunks(results)
    edges.models["sentiment"] = {"name": section.model, **edges.chunks.sentiment}
    return join_sentiment(inputs, rows, codes, per_text, sentences)


def skipped(responses: pd.DataFrame) -> pd.DataFrame:
    """Null sentiment columns (sentiment disabled or no comments); no copy of the other columns."""
    return responses.assign(**{column: null_column("responses", column, responses.index)
                                for column in ("sentiment", "sentiment_confidence")})
