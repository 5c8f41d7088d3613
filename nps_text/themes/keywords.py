"""Theme keywords (BERTopic's class-based TF-IDF over spaCy lemmas) and short readable labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nps_text.schema import OUTLIER_THEME_ID

OUTLIER_LABEL = "Other"


def theme_keywords(lemma_docs: Sequence[str], labels: np.ndarray, top_n: int = 8) -> dict[int, list[str]]:
    """Top ``top_n`` keywords per label by class-based TF-IDF (unigrams and bigrams of lemmas).

    Args:
        lemma_docs: Space-joined lemmas per document.
        labels: Theme id per document (-1 is treated as its own class, so it does not bias the others).
        top_n: Keywords per theme.

    Returns:
        Theme id -> keywords, best first (empty list when a theme has no usable words).
    """
    from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    ids = sorted({int(label) for label in labels})
    if not ids:
        return {}
    joined = [" ".join(doc for doc, label in zip(lemma_docs, labels, strict=True) if label == i) for i in ids]
    if not any(text.strip() for text in joined):
        return {i: [] for i in ids}
    vectorizer = CountVectorizer(
        tokenizer=str.split, lowercase=False, token_pattern=None, ngram_range=(1, 2), min_df=1
    )
    # Bigrams must not jump across comments: join each class with a separator token that never appears.
    joined = [" \x00 ".join(doc for doc, label in zip(lemma_docs, labels, strict=True) if label == i) for i in ids]
    counts = vectorizer.fit_transform(joined)
    vocabulary = np.array(vectorizer.get_feature_names_out())
    usable = np.array(["\x00" not in term for term in vocabulary])
    weights = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(counts).toarray()
    weights[:, ~usable] = 0.0
    # A bigram counts only if it occurs at least twice in its class, otherwise it is noise.
    is_bigram = np.array([" " in term for term in vocabulary])
    dense_counts = counts.toarray()
    weights[:, is_bigram] *= dense_counts[:, is_bigram] >= 2
    result: dict[int, list[str]] = {}
    for row, theme_id in enumerate(ids):
        order = np.argsort(-weights[row], kind="stable")
        result[theme_id] = [str(vocabulary[j]) for j in order[: top_n * 2] if weights[row, j] > 0][:top_n]
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


def default_label(theme_id: int, keywords: Sequence[str]) -> str:
    """``Other`` for outliers, otherwise :func:`label_from_keywords` (or ``Theme N`` without keywords)."""
    if theme_id == OUTLIER_THEME_ID:
        return OUTLIER_LABEL
    label = label_from_keywords(keywords)
    return label if label != OUTLIER_LABEL else f"Theme {theme_id}"
