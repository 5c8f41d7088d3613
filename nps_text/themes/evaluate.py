"""Theme quality against labelled data: NMI, ARI, outlier share, theme count, NPMI coherence, diversity.

Outliers (-1) count as one cluster of their own in NMI/ARI, so a model cannot look good by refusing
to assign hard comments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from nps_text.schema import OUTLIER_THEME_ID


@dataclass
class ThemeScores:
    """Quality figures of one theme assignment."""

    comments: int
    nmi: float
    ari: float
    outlier_share: float
    themes: int
    coherence_npmi: float
    diversity: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict (for printing and JSON)."""
        return asdict(self)


def npmi_coherence(
    lemma_docs: Sequence[Sequence[str]], keywords: dict[int, list[str]], top_n: int = 10
) -> float:
    """Mean NPMI of keyword pairs per theme, with document co-occurrence in ``lemma_docs`` (-1..1).

    Only single-word keywords count; pairs never seen together score -1 (the usual convention).
    """
    doc_sets = [set(doc) for doc in lemma_docs]
    n_docs = len(doc_sets)
    if n_docs == 0:
        return math.nan
    doc_freq: dict[str, int] = {}
    for words in doc_sets:
        for word in words:
            doc_freq[word] = doc_freq.get(word, 0) + 1
    theme_scores = []
    for theme_id, theme_words in keywords.items():
        if theme_id == OUTLIER_THEME_ID:
            continue
        top = [word for word in theme_words if " " not in word][:top_n]
        pair_scores = []
        for i, first in enumerate(top):
            for second in top[i + 1 :]:
                joint = sum(1 for doc in doc_sets if first in doc and second in doc) / n_docs
                if joint == 0:
                    pair_scores.append(-1.0)
                    continue
                p_first, p_second = doc_freq.get(first, 0) / n_docs, doc_freq.get(second, 0) / n_docs
                if joint >= 1.0:
                    pair_scores.append(1.0)
                    continue
                pair_scores.append(math.log(joint / (p_first * p_second)) / -math.log(joint))
        if pair_scores:
            theme_scores.append(float(np.mean(pair_scores)))
    return float(np.mean(theme_scores)) if theme_scores else math.nan


def topic_diversity(keywords: dict[int, list[str]], top_n: int = 10) -> float:
    """Share of unique words among the top ``top_n`` keywords of all themes (0..1; 1 = no overlap)."""
    tops = [words[:top_n] for theme_id, words in keywords.items() if theme_id != OUTLIER_THEME_ID and words]
    total = sum(len(words) for words in tops)
    return len({word for words in tops for word in words}) / total if total else math.nan


def score_themes(
    labels_true: Sequence[object],
    theme_ids: Sequence[int],
    lemma_docs: Sequence[Sequence[str]],
    keywords: dict[int, list[str]],
) -> ThemeScores:
    """All quality figures for one assignment of ``theme_ids`` against ``labels_true``."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    predicted = np.asarray(theme_ids, dtype=np.int64)
    truth = [str(label) for label in labels_true]
    return ThemeScores(
        comments=len(predicted),
        nmi=float(normalized_mutual_info_score(truth, predicted)),
        ari=float(adjusted_rand_score(truth, predicted)),
        outlier_share=float(np.mean(predicted == OUTLIER_THEME_ID)) if len(predicted) else math.nan,
        themes=len(set(predicted.tolist()) - {OUTLIER_THEME_ID}),
        coherence_npmi=npmi_coherence(lemma_docs, keywords),
        diversity=topic_diversity(keywords),
    )


def _our_keywords(themes: object) -> dict[int, list[str]]:
    import pandas as pd

    assert isinstance(themes, pd.DataFrame)
    keywords: dict[int, list[str]] = {}
    for theme_id, words in zip(themes["theme_id"], themes["keywords"], strict=True):
        keywords.setdefault(int(theme_id), list(words))
    return keywords


def bertopic_defaults(
    texts: Sequence[str], embeddings: np.ndarray, seed: int = 42
) -> tuple[np.ndarray, dict[int, list[str]], list[list[str]]]:
    """BERTopic's defaults (``language="multilingual"``) on precomputed embeddings, UMAP seeded.

    Returns topics per text, keywords per topic and the texts as BERTopic's own vectorizer tokenizes them
    (for a fair coherence figure).
    """
    from bertopic import BERTopic
    from umap import UMAP

    # The default UMAP, only seeded so the comparison is reproducible.
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed, low_memory=False)
    topic_model = BERTopic(language="multilingual", umap_model=umap_model)
    topics, _ = topic_model.fit_transform(list(texts), embeddings=embeddings)
    keywords = {
        int(topic): [word for word, _ in (topic_model.get_topic(topic) or [])]
        for topic in set(topics)
        if topic != OUTLIER_THEME_ID
    }
    analyzer = topic_model.vectorizer_model.build_analyzer()
    return np.asarray(topics, dtype=np.int64), keywords, [analyzer(text) for text in texts]


def evaluate_on_table(
    table: object,
    text_column: str,
    label_column: str,
    config: object,
    *,
    embed: object,
    baseline: bool = False,
) -> dict[str, dict[str, float | int]]:
    """Run :func:`nps_text.themes.assign_themes` on a labelled table and score it (optionally the baseline).

    Rows without text or without label are skipped.

    Returns:
        ``{"nps-text": scores, "bertopic-defaults": scores}`` (the second only with ``baseline``).
    """
    import pandas as pd

    from nps_text.text import clean_for_embedding, lemmatize_texts
    from nps_text.themes import assign_themes
    from nps_text.themes.config import ThemesConfig

    assert isinstance(table, pd.DataFrame) and isinstance(config, ThemesConfig) and callable(embed)
    text = table[text_column].astype("string").str.strip()
    keep = text.notna() & text.ne("") & table[label_column].notna()
    texts = [str(value) for value in text[keep]]
    labels = table.loc[keep, label_column].astype(str).tolist()
    language = table.loc[keep, "language"].tolist() if "language" in table.columns else [None] * len(texts)
    responses = pd.DataFrame(
        {
            "response_id": [str(i) for i in range(len(texts))],
            "nps_group": "passive",
            "comment": texts,
            "comment_status": "text",
            "language": language,
        }
    )
    assigned, themes = assign_themes(responses, config, embed=embed)
    cleaned = [clean_for_embedding(value) if config.clean_text else value for value in texts]
    lemma_docs = lemmatize_texts(cleaned, language)
    results = {
        "nps-text": score_themes(
            labels, assigned["theme_id"].astype("int64").tolist(), lemma_docs, _our_keywords(themes)
        ).as_dict()
    }
    if baseline:
        embeddings = np.asarray(embed(cleaned), dtype=np.float32)
        topics, keywords, tokens = bertopic_defaults(cleaned, embeddings, seed=config.seed)
        results["bertopic-defaults"] = score_themes(labels, topics.tolist(), tokens, keywords).as_dict()
    return results
