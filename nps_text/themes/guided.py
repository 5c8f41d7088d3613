"""Guided themes: the user's own categories with seed words, matched on lemmas before discovery."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nps_text.runner import offload
from nps_text.text import guess_language, lemmatize_texts
from nps_text.themes.config import GuidedTheme

NO_MATCH = -1


def _seed_lemmas(theme: GuidedTheme) -> tuple[set[str], tuple[str, ...]]:
    """Exact seed lemmas (lower case, in both the seed's form and its lemma) and prefix seeds (``liefer*``)."""
    exact: set[str] = set()
    prefixes: list[str] = []
    for seed in theme.seed_words:
        if seed.endswith("*"):
            prefixes.append(seed[:-1].lower())
            continue
        for part in seed.split():
            exact.add(part.lower())
        for lemmas in lemmatize_texts([seed], [guess_language(seed)], filler_words=()):
            exact.update(lemma.lower() for lemma in lemmas)
        for language in ("de", "en"):
            exact.update(lemma.lower() for lemma in lemmatize_texts([seed], [language], filler_words=())[0])
    return exact, tuple(prefix for prefix in prefixes if prefix)


def _all_seed_lemmas(guided: list[GuidedTheme]) -> list[tuple[set[str], tuple[str, ...]]]:
    return [_seed_lemmas(theme) for theme in guided]


def guided_similarity(
    embed: Callable[[Sequence[str]], np.ndarray],
    comment_vectors: np.ndarray,
    guided: Sequence[GuidedTheme],
) -> np.ndarray:
    """Cosine similarity of each comment to each guided theme, ``(n_comments, n_guided)``.

    A theme is described by its names, its phrases and its keywords as one line ("name: word, word");
    its similarity is the best over these descriptions (zero-shot classification as BERTopic's
    ``zeroshot_topic_list`` does it, with several descriptions per category in both languages). Comments and
    descriptions are centred on the comments' mean vector first, so the scale is the same for every encoder.

    Args:
        embed: The encoder (L2-normalised rows).
        comment_vectors: Raw (uncentred) embeddings of the comments.
        guided: The guided themes.
    """
    descriptions: list[str] = []
    owner: list[int] = []
    for index, theme in enumerate(guided):
        texts = [theme.name, *theme.labels.values(), *theme.phrases, f"{theme.name}: {', '.join(theme.seed_words)}"]
        for text in dict.fromkeys(texts):
            descriptions.append(text)
            owner.append(index)
    mean = comment_vectors.mean(axis=0, keepdims=True) if len(comment_vectors) > 1 else 0.0
    described = np.asarray(embed(descriptions), dtype=np.float32) - mean
    described /= np.maximum(np.linalg.norm(described, axis=1, keepdims=True), 1e-12)
    comments = comment_vectors - mean
    comments = comments / np.maximum(np.linalg.norm(comments, axis=1, keepdims=True), 1e-12)
    sims = comments @ described.T
    owners = np.asarray(owner)
    result = np.full((len(comment_vectors), len(guided)), -1.0, dtype=np.float32)
    for index in range(len(guided)):
        result[:, index] = sims[:, owners == index].max(axis=1)
    return result


def match_guided(
    lemmas: Sequence[Sequence[str]],
    surface_words: Sequence[Sequence[str]],
    guided: Sequence[GuidedTheme],
    *,
    similarity: Callable[[], np.ndarray] | None = None,
    min_similarity: float = 0.5,
    keywords: bool = True,
) -> np.ndarray:
    """Index of the guided theme each comment belongs to, or ``-1`` for comments left to discovery.

    A comment belongs to the guided theme with the most seed hits among its lemmas and words (ties go to
    the theme listed first). With ``similarity`` (a callable returning a ``(n_comments, n_guided)`` cosine
    matrix between comments and seed descriptions), comments without any seed hit also join the most
    similar guided theme when it is at least ``min_similarity``; with ``keywords=False`` only similarity
    decides.

    Example:
        >>> from nps_text.themes.config import GuidedTheme
        >>> themes = [GuidedTheme(name="Lieferung", seed_words=["Lieferung", "delivery"])]
        >>> match_guided([["Lieferung", "spät"], ["Preis"]], [["lieferungen"], ["preis"]], themes).tolist()
        [0, -1]
    """
    matched = np.full(len(lemmas), NO_MATCH, dtype=np.int64)
    if not guided:
        return matched
    seeds = offload(_all_seed_lemmas, list(guided)) if keywords else []  # spaCy: in the model process if models run there
    for row, (row_lemmas, row_words) in enumerate(zip(lemmas, surface_words, strict=True)):
        words = {word.lower() for word in row_lemmas} | {word.lower() for word in row_words}
        best, best_hits = NO_MATCH, 0
        if not seeds:
            break
        for index, (exact, prefixes) in enumerate(seeds):
            hits = len(words & exact) + sum(1 for word in words if prefixes and word.startswith(prefixes))
            if hits > best_hits:
                best, best_hits = index, hits
        matched[row] = best
    if similarity is not None:
        unmatched = np.flatnonzero(matched == NO_MATCH)
        if unmatched.size:
            sims = similarity()[unmatched]
            best_theme = sims.argmax(axis=1)
            good = sims[np.arange(unmatched.size), best_theme] >= min_similarity
            matched[unmatched[good]] = best_theme[good]
    return matched
