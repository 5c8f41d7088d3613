"""Theme discovery: BERTopic on precomputed embeddings, seeded, with outlier and near-duplicate handling.

The steps, each deterministic for a given input and seed:

1. Fit on a seeded sample of at most ``max_fit_comments`` distinct comments (memory stays flat for any
   input size), UMAP to a few dimensions and HDBSCAN, inside ``BERTopic.fit_transform``.
2. Merge themes whose centroids (in the original embedding space) are near-duplicates, then, if a target
   count is set, keep merging the closest pair until it is reached.
3. Outliers (-1) join their nearest theme (``BERTopic.reduce_outliers(strategy="embeddings")``, themes merged
   with ``merge_topics`` first), except the least similar ``max_outlier_share`` of comments.
4. Comments outside the fit sample, in chunks, take the most common theme among their nearest fitted comments
   (:func:`nearest_fitted`): no UMAP over more than ``max_fit_comments`` points.

Keywords come from BERTopic's class-based TF-IDF over spaCy lemmas (see :mod:`nps_text.text`).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nps_text.runner import models_done, offload
from nps_text.schema import OUTLIER_THEME_ID
from nps_text.themes.config import ThemesConfig

MIN_DISCOVERY_COMMENTS = 10
"""Below this many distinct comments no model is fitted: comments that share a word form the themes
(:func:`shared_word_groups`)."""
MIN_THEME_RESPONSES = 2
"""Without a fitted model, a theme needs a word that at least this many customers used."""

ASSIGN_CHUNK = 8192


@dataclass
class DiscoveredThemes:
    """Result of :func:`discover_themes` for the distinct comments it was given.

    Attributes:
        labels: Cluster id per comment (0..k-1, or -1 for outliers).
        centroids: Unit-length centroid per cluster id, in the embedding space.
        outlier_cutoff: Cosine similarity below which a comment stays an outlier.
    """

    labels: np.ndarray
    centroids: dict[int, np.ndarray] = field(default_factory=dict)
    outlier_cutoff: float = -1.0


def default_min_theme_size(n_comments: int) -> int:
    """About 1% of the distinct comments, at most 100; at least 10 from 200 comments on, and 5% below that
    (at least 3), so that a small survey with few distinct answers is not forced into two or three themes.
    """
    floor = min(10, max(3, n_comments // 20))
    return int(min(100, max(floor, round(n_comments / 100)), max(2, n_comments // 3)))


def exact_cosine_knn(embeddings: np.ndarray, k: int, block: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours by cosine distance (each row first, at distance 0), in row blocks so
    memory stays at ``block x n`` similarities. Returns ``(indices int64, distances float32)`` for UMAP.

    A block's similarities, their negation and ``argpartition``'s int64 positions are 16 bytes per pair: at
    20,000 comments 512-row blocks took +270 MiB, 128-row blocks ~+45 MiB and were no slower (6.7 s against
    7.4 s; same neighbours)."""
    unit = _unit(np.asarray(embeddings, dtype=np.float32))
    n = len(unit)
    k = min(k, n)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        sims = unit[start : start + block] @ unit.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = np.inf  # each row is its own nearest neighbour
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part_sims = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_sims, axis=1, kind="stable")
        indices[start : start + block] = np.take_along_axis(part, order, axis=1)
        best = np.take_along_axis(part_sims, order, axis=1)
        best[:, 0] = 1.0
        distances[start : start + block] = np.clip(1.0 - best, 0.0, 2.0)
    return indices, distances


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def compute_centroids(embeddings: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """Unit-length mean vector of each non-outlier label."""
    return {
        int(label): _unit(embeddings[labels == label].mean(axis=0))
        for label in np.unique(labels)
        if label != OUTLIER_THEME_ID
    }


def merge_near_duplicates(
    embeddings: np.ndarray, labels: np.ndarray, *, similarity: float, target: int | None = None
) -> np.ndarray:
    """Merge the two most similar clusters while their centroids are >= ``similarity`` or above ``target``.

    Returns new labels renumbered 0..k-1 by decreasing size (ties by first appearance), outliers kept.
    """
    labels = labels.copy()
    while True:
        centroids = compute_centroids(embeddings, labels)
        ids = sorted(centroids)
        if len(ids) < 2:
            break
        matrix = np.vstack([centroids[i] for i in ids])
        sims = matrix @ matrix.T
        np.fill_diagonal(sims, -np.inf)
        first, second = np.unravel_index(int(np.argmax(sims)), sims.shape)
        too_many = target is not None and len(ids) > target
        if sims[first, second] < similarity and not too_many:
            break
        keep, drop = sorted((ids[first], ids[second]))
        labels[labels == drop] = keep
    return renumber_by_size(labels)


def renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber non-outlier labels 0..k-1 by decreasing size; ties broken by smallest old id."""
    ids, counts = np.unique(labels[labels != OUTLIER_THEME_ID], return_counts=True)
    order = sorted(zip(ids.tolist(), counts.tolist(), strict=True), key=lambda pair: (-pair[1], pair[0]))
    mapping = {old: new for new, (old, _) in enumerate(order)}
    return np.array([mapping.get(int(label), OUTLIER_THEME_ID) for label in labels], dtype=np.int64)


def assign_nearest(
    embeddings: np.ndarray, centroids: dict[int, np.ndarray], *, cutoff: float = -1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid per row (chunked); rows below ``cutoff`` similarity get -1. Returns labels and sims."""
    if not centroids:
        return np.full(len(embeddings), OUTLIER_THEME_ID, dtype=np.int64), np.zeros(len(embeddings))
    ids = np.array(sorted(centroids), dtype=np.int64)
    matrix = np.vstack([centroids[int(i)] for i in ids])
    labels = np.empty(len(embeddings), dtype=np.int64)
    best = np.empty(len(embeddings), dtype=np.float64)
    for start in range(0, len(embeddings), ASSIGN_CHUNK):
        sims = embeddings[start : start + ASSIGN_CHUNK] @ matrix.T
        labels[start : start + ASSIGN_CHUNK] = ids[np.argmax(sims, axis=1)]
        best[start : start + ASSIGN_CHUNK] = sims.max(axis=1)
    labels[best < cutoff] = OUTLIER_THEME_ID
    return labels, best


def outlier_cutoff(embeddings: np.ndarray, labels: np.ndarray, *, max_share: float) -> float:
    """Cosine similarity (to the nearest theme centroid) below which outliers stay -1, so that at most the least
    similar ``max_share`` of all comments remain outliers (-1.0 when none need to stay)."""
    centroids = compute_centroids(embeddings, labels)
    outliers = np.flatnonzero(labels == OUTLIER_THEME_ID)
    if not centroids or outliers.size == 0:
        return -1.0
    _, sims = assign_nearest(embeddings[outliers], centroids)
    keep_as_outliers = int(np.floor(max_share * len(labels)))
    if keep_as_outliers >= outliers.size:
        return float(sims.max()) + 1e-6
    return float(np.sort(sims, kind="stable")[keep_as_outliers])


class _Smoothed:
    """BERTopic ``hdbscan_model``: HDBSCAN, then :func:`smooth_labels` (so BERTopic's topics are the smoothed ones)."""

    def __init__(self, clusterer: Any, neighbors: int) -> None:
        self.clusterer = clusterer
        self.neighbors = neighbors
        self.labels_: np.ndarray = np.zeros(0, dtype=np.int64)

    def fit(self, reduced: np.ndarray, y: Any = None) -> _Smoothed:
        labels = np.asarray(self.clusterer.fit(reduced).labels_, dtype=np.int64)
        if self.neighbors and (labels != OUTLIER_THEME_ID).any():
            labels = smooth_labels(reduced, labels, self.neighbors)
        self.labels_ = labels
        return self


class _Reduced:
    """BERTopic ``umap_model`` that hands back vectors reduced beforehand (once, for the EOM/leaf check)."""

    def __init__(self, reduced: np.ndarray) -> None:
        self.reduced = reduced

    def fit(self, embeddings: np.ndarray, y: Any = None) -> _Reduced:
        return self

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        return self.reduced if len(embeddings) == len(self.reduced) else embeddings


def _cache_umap_kernels() -> None:
    """Let numba keep umap-learn's fuzzy-graph kernels in its on-disk cache, like umap's and pynndescent's other
    kernels (``cache=True``); these two are declared without it, so every process compiled them again (about
    10 s on 2 busy cores at any size, a fifth of the themes fit at 20,000 comments). The first process on a
    machine still compiles them; where no cache folder is writable they stay uncached."""
    from umap import umap_

    for kernel in (umap_.smooth_knn_dist, umap_.compute_membership_strengths):
        try:
            kernel.enable_caching()  # numba's Dispatcher API (what cache=True does at declaration)
        except RuntimeError:  # no writable cache folder
            return


_OPTIONAL_HEAVY_MODULES = ("torch", "transformers", "sentence_transformers", "spacy")
"""What importing BERTopic loads for features the fit never uses (its text-generation, zero-shot and
part-of-speech representations, sentence-transformers and image backends, saving in PyTorch format), each
imported by BERTopic inside ``try: ... except ImportError``."""


@contextmanager
def _without_optional_modules() -> Iterator[None]:
    """Import BERTopic without :data:`_OPTIONAL_HEAVY_MODULES` (those not loaded yet): while it imports, each is
    marked absent in ``sys.modules`` (Python's own way to make an import fail), then unmarked, so a later
    ``import torch`` works as usual. In the fit's model process, where nothing had loaded torch, this took
    +680 MiB and 5.3 s of imports to +356 MiB and 2.0 s. Its numerical dependencies (scipy, scikit-learn, UMAP,
    HDBSCAN) are imported first: scipy looks ``torch`` up in ``sys.modules`` when it is imported."""
    import hdbscan  # noqa: F401
    import scipy.stats  # noqa: F401
    import sklearn  # noqa: F401
    import umap  # noqa: F401

    absent = [name for name in _OPTIONAL_HEAVY_MODULES if name not in sys.modules]
    sys.modules.update(dict.fromkeys(absent))  # type: ignore[arg-type]
    try:
        yield
    finally:
        for name in absent:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _cluster(
    lemma_docs: Sequence[str], embeddings: np.ndarray, config: ThemesConfig, min_size: int
) -> tuple[Any, np.ndarray]:
    """UMAP + HDBSCAN through BERTopic on precomputed embeddings: the fitted model (its topic embeddings in
    the embedding space) and the raw topic per document."""
    with _without_optional_modules():
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer

    n_docs = len(embeddings)
    n_components = max(2, min(config.umap_components, n_docs - 2, embeddings.shape[1]))
    reducer: Any
    if config.reduction == "pca":
        from sklearn.decomposition import PCA

        reducer = PCA(n_components=n_components, random_state=config.seed)
    else:
        from umap import UMAP

        _cache_umap_kernels()
        # umap-learn's own neighbour search is slow here: below 4,096 rows it computes every pairwise distance
        # with a numba metric called once per pair from Python (~20 s for 3,000 comments on 2 cores), above
        # it pynndescent compiles its numba kernels in every process (~40 s). Exact cosine neighbours from
        # blocked matrix products take seconds and are what both approximate.
        n_neighbors = max(2, min(config.umap_neighbors, n_docs - 1))
        reducer = UMAP(
            n_neighbors=n_neighbors,
            n_components=n_components,
            min_dist=0.0,
            metric="cosine",
            init="spectral" if n_docs > 200 else "random",
            random_state=config.seed,
            low_memory=True,
            precomputed_knn=exact_cosine_knn(embeddings, n_neighbors),
        )
    with warnings.catch_warnings():  # "transform will be unavailable": we never call it
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        fitted = reducer.fit_transform(embeddings)
    reduced = np.nan_to_num(np.asarray(fitted, dtype=np.float32))
    selection = "eom"
    # core_dist_n_jobs=1: the default (4) starts joblib worker processes for a second's work, which then idle for
    # 5 minutes (loky's timeout), hold memory and kept the model process from exiting for that long; same labels
    if under_segmented(HDBSCAN(min_cluster_size=min_size, core_dist_n_jobs=1).fit(reduced).labels_):
        selection = "leaf"  # EOM lumped most comments together: take the finer leaf clusters instead
    clusterer = HDBSCAN(min_cluster_size=min_size, cluster_selection_method=selection, core_dist_n_jobs=1)
    topic_model = BERTopic(
        umap_model=_Reduced(reduced),  # reduced above, once
        hdbscan_model=_Smoothed(clusterer, config.smoothing_neighbors) if config.smoothing_neighbors else clusterer,
        vectorizer_model=CountVectorizer(tokenizer=str.split, lowercase=False, token_pattern=None),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        calculate_probabilities=False,
        verbose=False,
    )
    topics, _ = topic_model.fit_transform(list(lemma_docs), embeddings=embeddings)
    return topic_model, np.asarray(topics, dtype=np.int64)


def under_segmented(labels: np.ndarray, max_largest_share: float = 0.5, min_themes: int = 3) -> bool:
    """True when HDBSCAN put most clustered comments into one theme, or found fewer than ``min_themes``."""
    clustered = labels[labels != OUTLIER_THEME_ID]
    if clustered.size == 0:
        return False
    sizes = np.bincount(clustered)
    sizes = sizes[sizes > 0]
    return bool(sizes.size < min_themes or sizes.max() > max_largest_share * clustered.size)


def smooth_labels(reduced: np.ndarray, labels: np.ndarray, neighbors: int) -> np.ndarray:
    """Each comment takes the most common theme among its nearest neighbours in the reduced space.

    Outliers vote for nobody; a comment whose neighbours are all outliers keeps its label. This cleans
    the ragged borders HDBSCAN leaves between dense regions.
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(neighbors + 1, len(reduced))
    _, index = NearestNeighbors(n_neighbors=k).fit(reduced).kneighbors(reduced)
    neighbour_labels = labels[index]
    smoothed = labels.copy()
    n_labels = int(labels.max()) + 1 if (labels >= 0).any() else 0
    if n_labels == 0:
        return smoothed
    votes = np.zeros((len(labels), n_labels), dtype=np.int32)
    for column in range(neighbour_labels.shape[1]):
        valid = neighbour_labels[:, column] >= 0
        np.add.at(votes, (np.flatnonzero(valid), neighbour_labels[valid, column]), 1)
    has_votes = votes.sum(axis=1) > 0
    smoothed[has_votes] = votes[has_votes].argmax(axis=1)
    return smoothed


def _merge_and_reduce_outliers(
    topic_model: Any, docs: list[str], embeddings: np.ndarray, topics: np.ndarray, config: ThemesConfig
) -> tuple[np.ndarray, float]:
    """Steps 2-3 with BERTopic's own ``merge_topics`` and ``reduce_outliers(strategy="embeddings")``.

    Which themes merge is decided by :func:`merge_near_duplicates` (centroid similarity, ``target_themes``);
    BERTopic's ``reduce_topics`` measured worse (benchmarks/README.md). The outlier threshold is the cut-off
    that keeps ``max_outlier_share`` of the comments in -1.
    """
    merged = merge_near_duplicates(embeddings, topics, similarity=config.merge_similarity, target=config.target_themes)
    groups: dict[int, set[int]] = {}
    for old, new in zip(topics.tolist(), merged.tolist(), strict=True):
        if old != OUTLIER_THEME_ID:
            groups.setdefault(new, set()).add(old)
    to_merge = [sorted(group) for group in groups.values() if len(group) > 1]
    if to_merge:
        topic_model.merge_topics(docs, to_merge)
    topics = np.asarray(topic_model.topics_, dtype=np.int64)
    cutoff = outlier_cutoff(embeddings, topics, max_share=config.max_outlier_share)
    if (topics == OUTLIER_THEME_ID).any() and len(set(topics.tolist())) > 1:
        reassigned = topic_model.reduce_outliers(
            docs, topics.tolist(), strategy="embeddings", embeddings=embeddings, threshold=cutoff
        )
        topics = np.asarray(reassigned, dtype=np.int64)
    return renumber_by_size(topics), cutoff


def shared_word_groups(
    lemma_docs: Sequence[str], weights: np.ndarray | None = None, min_responses: int = MIN_THEME_RESPONSES
) -> np.ndarray:
    """Themes of a handful of comments, too few for a topic model: comments that share a word.

    Greedily, the word (lemma) used by the most customers, and by at least ``min_responses`` of them,
    gathers every comment not yet in a theme that contains it; then the next. A comment without content
    words ("Alles gut") counts as one word of its own with the other such comments, so identical answers
    form a theme too. A comment that shares nothing with another stays an outlier (-1): one customer's
    remark is not a theme.

    Args:
        lemma_docs: Space-joined lemmas per distinct comment.
        weights: Customers (responses) per distinct comment; ``None`` = one each.
        min_responses: Customers a word needs to make a theme.

    Returns:
        Labels 0..k-1 (by decreasing size) or -1 per comment.

    Example:
        >>> shared_word_groups(["Lieferung spät", "Lieferung", "Preis", "Preis hoch", "Hotline"]).tolist()
        [0, 0, 1, 1, -1]
        >>> shared_word_groups(["teuer"], weights=np.array([3])).tolist()
        [0]
    """
    counts = np.ones(len(lemma_docs)) if weights is None else np.asarray(weights, dtype=np.float64)
    words = [frozenset(doc.split()) or frozenset({""}) for doc in lemma_docs]
    labels = np.full(len(lemma_docs), OUTLIER_THEME_ID, dtype=np.int64)
    for label in range(len(lemma_docs)):
        open_rows = np.flatnonzero(labels == OUTLIER_THEME_ID)
        users: dict[str, float] = {}
        for row in open_rows.tolist():
            for word in words[row]:
                users[word] = users.get(word, 0.0) + counts[row]
        if not users:
            break
        word, used_by = min(users.items(), key=lambda item: (-item[1], item[0]))
        if used_by < min_responses:
            break
        labels[[row for row in open_rows.tolist() if word in words[row]]] = label
    return renumber_by_size(labels)


def _vocabulary_size(lemma_docs: Sequence[str], at_least: int = 2) -> int:
    """Distinct words in ``lemma_docs``, counted up to ``at_least``."""
    seen: set[str] = set()
    for doc in lemma_docs:
        seen.update(doc.split())
        if len(seen) >= at_least:
            break
    return len(seen)


def fit_sample(n_comments: int, config: ThemesConfig) -> np.ndarray:
    """Row positions of the comments a fit sees: all of them up to ``max_fit_comments``, else a seeded sample.

    Example:
        >>> fit_sample(5, ThemesConfig(max_fit_comments=100)).tolist()
        [0, 1, 2, 3, 4]
    """
    if n_comments <= config.max_fit_comments:
        return np.arange(n_comments)
    rng = np.random.default_rng(config.seed)
    return np.sort(rng.choice(n_comments, size=config.max_fit_comments, replace=False))


def discover_themes(
    lemma_rows: Callable[[np.ndarray], list[str]],
    embed_rows: Callable[[np.ndarray], np.ndarray],
    n_comments: int,
    config: ThemesConfig,
    weights: np.ndarray | None = None,
) -> DiscoveredThemes:
    """Discover themes among ``n_comments`` distinct comments.

    Below :data:`MIN_DISCOVERY_COMMENTS` distinct comments, or when the comments use fewer than two
    distinct words (BERTopic's vectorizer needs two), no model is fitted: :func:`shared_word_groups`.

    Args:
        lemma_rows: Returns the space-joined lemmas (BERTopic's documents) of the given row positions; only the
            fit sample's are asked for above ``max_fit_comments``.
        embed_rows: Returns the unit-length embeddings of the given row positions (so large inputs can be
            embedded chunk by chunk).
        n_comments: Number of comments.
        config: Themes configuration (seed, sizes, outlier share, merging).
        weights: Customers (responses) per comment, for the small-survey path; ``None`` = one each.

    Returns:
        Labels 0..k-1 or -1 per comment, centroids and the outlier cut-off.
    """
    if n_comments == 0:
        return DiscoveredThemes(labels=np.zeros(0, dtype=np.int64))

    fit_rows = fit_sample(n_comments, config)
    fit_docs = lemma_rows(fit_rows)
    if n_comments < MIN_DISCOVERY_COMMENTS or _vocabulary_size(fit_docs) < 2:
        labels = shared_word_groups(lemma_rows(np.arange(n_comments)), weights)
        centroids = compute_centroids(_unit(embed_rows(np.arange(n_comments))), labels) if (labels >= 0).any() else {}
        # Comments that share no word stay outliers: the cut-off keeps them out of a theme in re-runs too.
        return DiscoveredThemes(labels=labels, centroids=centroids, outlier_cutoff=1.0 if (labels < 0).any() else -1.0)
    fit_embeddings = _unit(embed_rows(fit_rows))
    min_size = config.min_theme_size or default_min_theme_size(len(fit_rows))
    min_size = max(2, min(min_size, len(fit_rows) // 2))
    labels, cutoff = offload(fit_sample_themes, fit_docs, fit_embeddings, config, min_size)
    models_done()  # the fit's libraries leave the model process before the rest is assigned here
    centroids = compute_centroids(fit_embeddings, labels)

    all_labels = np.full(n_comments, OUTLIER_THEME_ID, dtype=np.int64)
    all_labels[fit_rows] = labels
    rest = np.setdiff1d(np.arange(n_comments), fit_rows, assume_unique=True)
    if rest.size:
        voter = nearest_fitted(fit_embeddings, labels, config.umap_neighbors)
        for start in range(0, rest.size, ASSIGN_CHUNK * 4):
            chunk = rest[start : start + ASSIGN_CHUNK * 4]
            all_labels[chunk] = voter.predict(_unit(embed_rows(chunk)))
    return DiscoveredThemes(labels=all_labels, centroids=centroids, outlier_cutoff=cutoff)


def fit_sample_themes(
    fit_docs: Sequence[str], fit_embeddings: np.ndarray, config: ThemesConfig, min_size: int
) -> tuple[np.ndarray, float]:
    """UMAP, HDBSCAN and the merging of :func:`discover_themes` on the fit sample: ``(labels, outlier cut-off)``.
    Arrays and strings in and out, so it can run in the model process (:func:`nps_text.runner.offload`)."""
    topic_model, raw = _cluster(fit_docs, fit_embeddings, config, min_size)
    if not (raw != OUTLIER_THEME_ID).any():
        return np.zeros_like(raw), -1.0  # nothing dense enough: one theme, so every comment still has a home
    labels, cutoff = _merge_and_reduce_outliers(topic_model, list(fit_docs), fit_embeddings, raw, config)
    return labels, float(cutoff)


def nearest_fitted(fit_embeddings: np.ndarray, fit_labels: np.ndarray, neighbors: int) -> Any:
    """A classifier giving a comment outside the fit sample the most common theme of its ``neighbors`` nearest
    fitted comments (scikit-learn's ``KNeighborsClassifier``; Euclidean distance on unit vectors ranks as cosine
    does; ties go to the smaller theme id). The fit's own neighbourhood: UMAP's graph, and so HDBSCAN's clusters,
    were built on these neighbours, and a theme that is not a ball around its centroid keeps its shape. Outliers
    (-1) vote too, so "Other" keeps about the fit's share.

    Example:
        >>> fitted = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
        >>> nearest_fitted(fitted, np.array([0, 0, 1, 1]), 2).predict(np.array([[0.8, 0.2], [0.2, 0.8]])).tolist()
        [0, 1]
    """
    from sklearn.neighbors import KNeighborsClassifier

    voter = KNeighborsClassifier(n_neighbors=max(1, min(neighbors, len(fit_labels))), algorithm="brute")
    return voter.fit(fit_embeddings, fit_labels)
