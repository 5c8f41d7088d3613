"""Theme keywords (BERTopic's class-based TF-IDF over spaCy lemmas) and short readable labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nps_text.schema import OUTLIER_THEME_ID

OUTLIER_LABEL = "Other"
NO_TOPIC_LABELS = {"de": "Kein bestimmtes Thema", "en": "No specific topic"}
"""Label of a theme without a subject (fillers, "because you asked", "no reason", insults, generic short
comments): no word names what a good share of its comments are about. Such a theme is shown, but never
ranked as an improvement area (:mod:`nps_text.insights`)."""


def is_specific_topic(label: object) -> bool:
    """Whether a theme label names a subject (not "Other", not "No specific topic" in any language).

    Example:
        >>> is_specific_topic("Lieferung"), is_specific_topic("Kein bestimmtes Thema"), is_specific_topic("Other")
        (True, False, False)
    """
    return isinstance(label, str) and label not in {OUTLIER_LABEL, *NO_TOPIC_LABELS.values()}


def class_tfidf(counts: Any) -> np.ndarray:
    """BERTopic's class-based TF-IDF (``ClassTfidfTransformer(reduce_frequent_words=True)``) of a classes x
    terms count matrix: the square root of each class's l1-normalised term frequencies, times
    ``log(1 + average words per class / frequency of the term over all classes)``.

    Written out, with the same figures (a test compares them), because BERTopic's transformer fails on a
    vocabulary of one term (its idf becomes a 0-d array that ``scipy.sparse.diags`` rejects: a survey of
    "Kommentar 1".."Kommentar 4"), and importing ``bertopic`` costs seconds a small survey need not pay.

    Example:
        >>> class_tfidf(np.array([[2, 0], [1, 1]])).round(3).tolist()
        [[0.511, 0.0], [0.361, 0.777]]
    """
    from scipy import sparse
    from sklearn.preprocessing import normalize

    matrix = sparse.csr_matrix(counts, dtype=np.float64)
    frequency = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()
    average = int(np.asarray(matrix.sum(axis=1)).mean()) if matrix.shape[0] else 0
    idf = np.log(average / np.maximum(frequency, 1e-12) + 1.0)
    frequencies = normalize(matrix, norm="l1", axis=1)
    frequencies.data = np.sqrt(frequencies.data)
    return np.asarray(frequencies.multiply(idf[None, :]).todense(), dtype=np.float64)


def theme_keywords(lemma_docs: Sequence[str], labels: np.ndarray, top_n: int = 8) -> dict[int, list[str]]:
    """Top ``top_n`` keywords per label by class-based TF-IDF (unigrams and bigrams of lemmas).

    Args:
        lemma_docs: Space-joined lemmas per document.
        labels: Theme id per document (-1 is treated as its own class, so it does not bias the others).
        top_n: Keywords per theme.

    Returns:
        Theme id -> keywords, best first (empty list when a theme has no usable words).
    """
    from sklearn.feature_extraction.text import CountVectorizer

    ids = sorted({int(label) for label in labels})
    if not ids:
        return {}
    if not any(doc.strip() for doc in lemma_docs):
        return {i: [] for i in ids}
    from scipy import sparse

    vectorizer = CountVectorizer(tokenizer=str.split, lowercase=False, token_pattern=None, ngram_range=(1, 2))
    doc_counts = vectorizer.fit_transform(lemma_docs)
    vocabulary = np.array(vectorizer.get_feature_names_out())
    rows = {theme_id: row for row, theme_id in enumerate(ids)}
    membership = sparse.csr_matrix(
        (np.ones(len(labels)), ([rows[int(label)] for label in labels], np.arange(len(labels)))),
        shape=(len(ids), len(labels)),
    )
    counts = membership @ doc_counts  # classes x terms: what c-TF-IDF weighs
    doc_frequency = (membership @ (doc_counts > 0).astype(np.float64)).toarray()
    weights = class_tfidf(counts)
    # A keyword must occur in at least two comments of its theme (or in every one of a tiny theme),
    # otherwise one unusual comment decides the label.
    theme_sizes = np.asarray(membership.sum(axis=1)).ravel()
    needed = np.minimum(2, theme_sizes)[:, None]
    weights[doc_frequency < needed] = 0.0
    result: dict[int, list[str]] = {}
    for theme_id, row in rows.items():
        order = np.argsort(-weights[row], kind="stable")[:top_n]
        result[theme_id] = [str(vocabulary[j]) for j in order if weights[row, j] > 0]
    return result


def label_from_keywords(keywords: Sequence[str], max_words: int = 3) -> str:
    """A short label from the top keywords: up to three distinct words, a bigram kept together.

    Example:
        >>> label_from_keywords(["Kündigung", "Vertrag", "Kündigung Vertrag", "Frist"])
        'Kündigung / Vertrag / Frist'
    """
    chosen: list[str] = []
    words_used: set[str] = set()
    for keyword in keywords:
        parts = keyword.split()
        if any(part.lower() in words_used for part in parts):
            continue
        chosen.append(keyword)
        words_used.update(part.lower() for part in parts)
        if sum(len(item.split()) for item in chosen) >= max_words:
            break
    return " / ".join(chosen) if chosen else OUTLIER_LABEL


NUMBERED_LABEL = {"de": "Thema {theme_id}", "en": "Theme {theme_id}"}
"""Label of a theme with neither keywords nor a short typical comment, in the theme's language."""


def default_label(theme_id: int, keywords: Sequence[str], language: str = "en") -> str:
    """``Other`` for outliers, otherwise :func:`label_from_keywords` (or ``Theme N`` / ``Thema N`` without
    keywords).

    Example:
        >>> default_label(3, [], "de")
        'Thema 3'
    """
    if theme_id == OUTLIER_THEME_ID:
        return OUTLIER_LABEL
    label = label_from_keywords(keywords)
    if label != OUTLIER_LABEL:
        return label
    return NUMBERED_LABEL.get(language, NUMBERED_LABEL["en"]).format(theme_id=theme_id)
