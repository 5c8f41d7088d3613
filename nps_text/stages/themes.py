"""Themes: the distinct comments are embedded in chunks first (:func:`embed`, mapped like sentiment), then
BERTopic fits on those vectors in this process (:func:`run`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nps_text.config import EmbeddingsConfig
from nps_text.encoders.registry import CachedEmbedder
from nps_text.rules import theme_texts
from nps_text.runner import ChunkReport, PrecomputedEmbed, ProcessEmbedder, embed_chunk, offloading
from nps_text.schema import null_column
from nps_text.stages.edges import RunEdges
from nps_text.themes.config import ThemesConfig


@dataclass
class ThemesInputs:
    """The responses, the ``sentences`` table (``None``: none) and the comments' embeddings (:func:`embed`)."""

    responses: pd.DataFrame
    sentences: pd.DataFrame | None
    embed: PrecomputedEmbed


def embed(
    responses: pd.DataFrame, section: ThemesConfig, edges: RunEdges, *, embeddings: EmbeddingsConfig
) -> PrecomputedEmbed:
    """The embeddings of the distinct texts the themes stage clusters (:func:`nps_text.rules.theme_texts`),
    computed in chunks; other texts (e.g. guided theme descriptions) are embedded when asked for."""
    encoder = section.encoder or embeddings.model
    texts = [str(text) for text in pd.unique(theme_texts(responses, section.clean_text).to_numpy(dtype=object))]
    results = edges.map_chunks(embed_chunk, texts, model=encoder, batch_size=embeddings.batch_size)
    for _, report in results:
        edges.chunks.merge(report)
    parts = [part for part, _ in results]
    del results  # the chunks live in ``parts`` only, which stack_chunks empties as it copies
    vectors = stack_chunks(parts)
    edges.models["themes"] = {"name": "bertopic", "encoder": encoder, "seed": section.seed}
    fallback = (ProcessEmbedder(encoder, embeddings.batch_size, edges.store, edges.runner.plugins)
                if offloading() else CachedEmbedder(encoder, edges.store, embeddings.batch_size))
    return PrecomputedEmbed(texts, vectors, fallback)


def stack_chunks(parts: list[np.ndarray]) -> np.ndarray:
    """The chunks' vectors as one float32 matrix, each chunk dropped from ``parts`` once copied: the matrix fills
    pages as it is written, so memory holds about one copy of the vectors, not two (a cold million-row run's
    716k x 512 USE vectors are 1.4 GiB a copy)."""
    if not parts:
        return np.zeros((0, 1), dtype=np.float32)
    matrix = np.empty((sum(len(part) for part in parts), parts[0].shape[1]), dtype=np.float32)
    offset = 0
    for index, part in enumerate(parts):
        matrix[offset : offset + len(part)] = part
        offset += len(part)
        parts[index] = None  # type: ignore[call-overload]
    return matrix


def run(inputs: ThemesInputs, section: ThemesConfig, edges: RunEdges) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(responses, themes, sentences)``: themes per comment and per sentence (``theme_ids``, sentence
    ``theme_id``); the fit's state is kept in the edges' theme state folder."""
    from nps_text.themes import assign_themes_and_sentences

    themed = assign_themes_and_sentences(
        inputs.responses, inputs.sentences, section, embed=inputs.embed, state_dir=edges.theme_state()
    )
    fallback = inputs.embed.fallback
    if fallback.loaded:
        edges.chunks.merge(ChunkReport(embeddings={fallback.model: fallback.describe()}))
    return themed


def skipped(responses: pd.DataFrame) -> pd.DataFrame:
    """Null theme columns (themes disabled or no comments); no copy of the other columns."""
    return responses.assign(**{column: null_column("responses", column, responses.index)
                                for column in ("theme_id", "theme_label", "theme_ids", "theme_labels")})
