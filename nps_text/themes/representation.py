"""A BERTopic representation model giving each topic one readable phrase (:func:`nps_text.themes.labels.theme_phrases`).

Its own module because importing BERTopic is heavy (torch, sentence-transformers, UMAP): nothing in the
pipeline imports it; it is for users composing their own BERTopic model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from bertopic.representation import BaseRepresentation

from nps_text.schema import OUTLIER_THEME_ID
from nps_text.themes.labels import theme_phrases
from nps_text.themes.model import compute_centroids


class PhraseRepresentation(BaseRepresentation):  # type: ignore[misc]
    """BERTopic representation model giving each topic one readable phrase (see :func:`theme_phrases`).

    Use as ``BERTopic(representation_model=PhraseRepresentation())``, or next to keywords:
    ``BERTopic(representation_model={"Main": KeyBERTInspired(), "Label": PhraseRepresentation()})``;
    ``topic_model.topic_aspects_["Label"][topic]`` is then ``[(phrase, 1.0)]``. The documents must be the
    comments themselves (not lemmas). With ``embed`` (or an ``embedding_model`` on the BERTopic model) the
    candidates are re-ranked by similarity to the topic centroid, as in the themes step. Topic -1 keeps
    its c-TF-IDF words.
    """

    def __init__(
        self,
        language: str | None = None,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        filler_words: Sequence[str] = (),
        seed: int = 42,
    ) -> None:
        self.language = language
        self.embed = embed
        self.filler_words = filler_words
        self.seed = seed

    def extract_topics(self, topic_model: Any, documents: Any, c_tf_idf: Any, topics: Any) -> Any:
        """BERTopic's hook: ``documents`` has ``Document`` and ``Topic`` columns (one row per document)."""
        texts = documents["Document"].astype(str).tolist()
        ids = np.asarray(documents["Topic"], dtype=np.int64)
        embed = self.embed
        backend = getattr(topic_model, "embedding_model", None)
        if embed is None and backend is not None and hasattr(backend, "embed_documents"):
            embed = backend.embed_documents
        centroids: dict[int, np.ndarray] | None = None
        if embed is not None:
            vectors = np.asarray(embed(texts), dtype=np.float32)
            centroids = compute_centroids(vectors, ids)
        labels = theme_phrases(
            texts, [self.language] * len(texts), ids, embed=embed, centroids=centroids,
            filler_words=frozenset(word.lower() for word in self.filler_words), seed=self.seed,
        )
        return {
            topic: words if topic == OUTLIER_THEME_ID or not labels.get(topic) else [(labels[topic], 1.0)]
            for topic, words in topics.items()
        }
