"""The themes step's orchestration: :func:`assign_themes` and :func:`assign_themes_and_sentences`.

Cleans and embeds each distinct comment once, fits (guided themes first, discovery on the rest, stable ids,
keywords and labels) or reuses the saved fit (:mod:`nps_text.themes.incremental`), assigns clauses
(:mod:`nps_text.themes.sentences`) and builds the ``themes`` table per NPS group (:func:`themes_table`).
The package's face (:mod:`nps_text.themes`) re-exports the public names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nps_text.errors import NpsTextError
from nps_text.rules import text_comments, theme_texts
from nps_text.runner import models_done, offload
from nps_text.schema import (
    NEGATIVE,
    NEUTRAL,
    NPS_GROUPS,
    OUTLIER_THEME_ID,
    POSITIVE,
    THEMES_COLUMNS,
    check_columns,
    empty_frame,
)
from nps_text.text import DEFAULT_FILLER_WORDS, lemmatize_texts
from nps_text.themes import incremental
from nps_text.themes.config import ThemesConfig
from nps_text.themes.guided import NO_MATCH, guided_similarity, match_guided
from nps_text.themes.keywords import (
    NO_TOPIC_LABELS,
    OUTLIER_LABEL,
    default_label,
    is_specific_topic,
    label_from_keywords,
    theme_keywords,
)
from nps_text.themes.labels import readable_labels, theme_language
from nps_text.themes.model import assign_nearest, compute_centroids, discover_themes, fit_sample
from nps_text.themes.sentences import assign_units, segment_chunks
from nps_text.themes.state import FitRecord, ThemeState, load_state, save_state, stable_ids

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("response_id", "nps_group", "comment", "comment_status")
_WORD = re.compile(r"\w+")


class ThemesError(NpsTextError):
    """The themes step cannot run on this input (names the problem and the fix)."""


def _empty_themes() -> pd.DataFrame:
    return empty_frame("themes")  # the contract's columns and dtypes (nps_text.schema)


def _checked_embeddings(embed: Callable[[Sequence[str]], np.ndarray], texts: list[str]) -> np.ndarray:
    vectors = np.asarray(embed(texts), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ThemesError(
            f"embed() returned shape {vectors.shape} for {len(texts)} texts; it must return one row per text"
        )
    return vectors


CENTRE_DECIMALS = 7
"""The centring mean is rounded to this many decimals, as the theme state saves it: a re-run that reuses the
saved fit then centres with exactly the same vector, and its tables are byte-identical."""


def _mean(vectors: np.ndarray) -> np.ndarray:
    """The vector :func:`_centre` subtracts: the mean of several comments (rounded to
    :data:`CENTRE_DECIMALS`), zero for a single one."""
    if len(vectors) < 2:
        return np.zeros(vectors.shape[1], dtype=np.float32)
    return np.round(vectors.mean(axis=0, dtype=np.float64), CENTRE_DECIMALS).astype(np.float32)


def _centre(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Subtract ``mean`` (see :func:`_mean`) and re-normalise: removes the common direction encoders such as e5
    share, so cosine similarities between themes mean the same for every encoder."""
    centred = np.asarray(vectors, dtype=np.float32) - mean[None, :].astype(np.float32)  # the one new matrix
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    return centred


def _merge_groups(theme_ids: np.ndarray, merge: Sequence[Sequence[int]]) -> np.ndarray:
    merged = theme_ids.copy()
    for group in merge:
        target = int(group[0])
        for other in group[1:]:
            merged[merged == int(other)] = target
    return merged


def assign_themes(
    responses: pd.DataFrame,
    config: ThemesConfig,
    *,
    embed: Callable[[Sequence[str]], np.ndarray],
    state_dir: Path | None = None,
    sentences: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign a theme to every text comment and summarise themes per NPS group.

    Args:
        responses: One row per response with at least ``response_id``, ``nps_group``, ``comment`` and
            ``comment_status`` (``language`` and ``sentiment`` are used when present). Not modified.
        config: Themes configuration.
        embed: Returns L2-normalised embeddings aligned with the texts it is given (the shared cached encoder).
        state_dir: Folder where stable theme ids persist between runs; ``None`` = no persistence.
        sentences: The sentiment step's ``sentences`` table: its sentences are the units of the per-sentence
            themes (``None`` or no rows for a response = the comment is split here).

    Returns:
        ``(responses_with_themes, themes)``: a copy of ``responses`` with ``theme_id`` (nullable Int64; null
        without text, -1 for "Other"), ``theme_label``, ``theme_ids`` / ``theme_labels`` (every theme of the
        comment, the primary first; null without text), and the themes table
        (:data:`nps_text.schema.THEMES_COLUMNS`, one row per (primary) theme within each NPS group).

    Raises:
        SchemaError: a required column is missing.
        ThemesError: ``embed`` returned the wrong shape.
    """
    result, themes, _ = assign_themes_and_sentences(
        responses, sentences, config, embed=embed, state_dir=state_dir
    )
    return result, themes


def _merge_map(merge: Sequence[Sequence[int]]) -> Callable[[int], int]:
    def mapped(theme_id: int) -> int:
        return int(_merge_groups(np.asarray([theme_id], dtype=np.int64), merge)[0])

    return mapped


def assign_themes_and_sentences(
    responses: pd.DataFrame,
    sentences: pd.DataFrame | None,
    config: ThemesConfig,
    *,
    embed: Callable[[Sequence[str]], np.ndarray],
    state_dir: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`assign_themes`, and the ``sentences`` table with each sentence's ``theme_id``.

    Returns:
        ``(responses_with_themes, themes, sentences_with_theme_id)``; the sentences table is returned with a
        null ``theme_id`` when themes do not run (and is empty when ``sentences`` is ``None``).
    """
    check_columns(responses, REQUIRED_COLUMNS, "responses (themes input)")
    result = responses.copy(deep=False)  # new columns only: the input's columns are shared, not copied
    result["theme_id"] = pd.Series(pd.NA, index=result.index, dtype="Int64")
    result["theme_label"] = pd.Series(pd.NA, index=result.index, dtype="string")
    result["theme_ids"] = pd.Series([None] * len(result), index=result.index, dtype=object)
    result["theme_labels"] = pd.Series([None] * len(result), index=result.index, dtype=object)
    # shares the input's columns (copy-on-write): only theme_id is new (a deep copy was 2M rows of text at 1M rows)
    sentences_out = (sentences if sentences is not None else empty_frame("sentences")).copy(deep=False)
    sentences_out["theme_id"] = pd.Series(pd.NA, index=sentences_out.index, dtype="Int64")
    mask = text_comments(responses)
    if not config.enabled or not mask.any():
        return result, _empty_themes(), sentences_out

    cleaned = theme_texts(responses, config.clean_text)
    codes, distinct_index = pd.factorize(cleaned, sort=False)
    distinct = [str(text) for text in distinct_index]
    if "language" in responses.columns:
        first_language = responses.loc[mask, "language"].groupby(codes).first()
        languages: list[str | None] = [
            None if pd.isna(value) else str(value) for value in first_language.reindex(range(len(distinct)))
        ]
    else:
        languages = [None] * len(distinct)
    filler = (set(DEFAULT_FILLER_WORDS) if config.default_filler else set()) | set(config.filler_words)
    raw_comment_vectors = _checked_embeddings(embed, distinct)
    guided_names = [theme.name for theme in config.guided]
    state = load_state(state_dir)
    reuse = incremental.plan(state, state_dir, config, distinct, raw_comment_vectors.shape[1])
    # Re-runs centre with the fit's mean, so new comments compare with the saved centroids.
    mean = _mean(raw_comment_vectors) if reuse is None or state.fit is None else np.asarray(state.fit.centre, np.float32)
    vectors = _centre(raw_comment_vectors, mean)
    comments = DistinctComments(distinct, languages, codes, raw_comment_vectors, vectors, mean)
    if reuse is not None:  # a re-run: seen comments keep their theme, new ones join the saved themes
        theme_ids, keywords, labels, guided_ids = _reuse_fit(comments, embed, config, state, reuse, filler)
        incremental.remember(state, state_dir, reuse, theme_ids)
        save_state(state, state_dir)
        logger.info("themes: reused the saved fit; %d new distinct comments assigned", reuse.new_rows.size)
    else:
        # the labels need each text response's group and sentiment only: not a copy of every column (the comments
        # too: +200 MiB of Arrow buffers at 1M rows, held through the fit)
        label_columns = [column for column in ("nps_group", "sentiment") if column in responses.columns]
        theme_ids, keywords, labels, guided_ids = _fit(
            comments, responses.loc[mask, label_columns], embed, config, state, state_dir, filler
        )
    models_done()  # spaCy and the fit's libraries leave the model process before the clauses load the encoder there

    row_theme = theme_ids[codes]
    result.loc[mask, "theme_id"] = row_theme
    result.loc[mask, "theme_label"] = [labels[int(theme)] for theme in row_theme]
    themes = themes_table(result, vectors, codes, keywords, labels, config.representative_comments)

    # 5. Every complaint counted: themes per clause/sentence of multi-sentence comments, a chunk of responses
    # at a time (the per-response lists of sentences and clauses exist for one chunk only).
    text_positions = np.flatnonzero(mask.to_numpy(dtype=bool))
    row_lists: np.ndarray = np.empty(len(result), dtype=object)  # None without text
    lists = _InternedLists(labels)
    if config.sentence_themes:
        merged = _merge_map(config.merge)
        guided_match = None
        if config.guided:
            guided_match = _guided_units(
                responses, config, [merged(guided_ids[name]) for name in guided_names], set(labels)
            )
        # A clause joins only a theme with a subject: a catch-all ("no specific topic") gathers none.
        specific_centroids = {
            theme: centroid for theme, centroid in compute_centroids(vectors, theme_ids).items()
            if is_specific_topic(labels.get(theme))
        }
        sentence_values = np.zeros(len(sentences_out), dtype=np.int64)
        sentence_known = np.zeros(len(sentences_out), dtype=bool)
        primary_of_row = np.zeros(len(result), dtype=np.int64)  # by row position: no dict over every response
        primary_of_row[text_positions] = row_theme
        for chunk in segment_chunks(responses, mask, sentences):
            labels_of_rows = result.index[chunk.rows]
            units = assign_units(
                chunk.segments,
                dict(zip(labels_of_rows, primary_of_row[chunk.rows].tolist(), strict=True)),
                embed=lambda texts: _checked_embeddings(embed, list(texts)),
                mean=mean,
                centroids=specific_centroids,
                min_similarity=config.sentence_similarity,
                clean_text=config.clean_text,
                guided=guided_match,
                sentence_index=sentences_out.index[chunk.sentence_positions],
            )
            for row, label in zip(chunk.rows.tolist(), labels_of_rows, strict=True):
                row_lists[row] = lists.ids(units.theme_ids[label])
            found = units.sentence_theme
            sentence_values[chunk.sentence_positions] = found.fillna(0).to_numpy(dtype=np.int64)
            sentence_known[chunk.sentence_positions] = found.notna().to_numpy()
        sentences_out["theme_id"] = pd.arrays.IntegerArray(sentence_values, ~sentence_known)
    else:
        for row, theme in zip(text_positions.tolist(), row_theme.tolist(), strict=True):
            row_lists[row] = lists.ids([theme])
        if not sentences_out.empty:
            by_id = dict(zip(result.loc[mask, "response_id"].astype(str), row_theme.tolist(), strict=True))
            sentences_out["theme_id"] = pd.array(
                [by_id.get(str(response_id), pd.NA) for response_id in sentences_out["response_id"]], dtype="Int64"
            )
    result["theme_ids"] = pd.Series(row_lists, index=result.index, dtype=object)
    result["theme_labels"] = pd.Series(
        [None if ids is None else lists.labels(ids) for ids in row_lists], index=result.index, dtype=object
    )
    return result, themes, sentences_out


class _InternedLists:
    """One list object per distinct theme-id list (and its labels), shared by every response with it: a million
    responses hold a few thousand lists, not two million. The cells are read, never changed in place."""

    def __init__(self, labels: dict[int, str]) -> None:
        self._labels = labels
        self._ids: dict[tuple[int, ...], list[int]] = {}
        self._names: dict[int, list[str]] = {}

    def ids(self, theme_ids: Sequence[int]) -> list[int]:
        key = tuple(int(theme) for theme in theme_ids)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = list(key)
        return found

    def labels(self, interned: list[int]) -> list[str]:
        found = self._names.get(id(interned))
        if found is None:
            found = self._names[id(interned)] = [self._labels[theme] for theme in interned]
        return found


@dataclass(frozen=True)
class DistinctComments:
    """The run's distinct cleaned comments and what the fit needs of them, computed once."""

    texts: list[str]
    languages: list[str | None]
    codes: np.ndarray
    """Index into ``texts`` per text response."""
    raw_vectors: np.ndarray
    """Their embeddings as the encoder returns them."""
    vectors: np.ndarray
    """The same, centred with ``mean`` and unit length (what the clustering sees)."""
    mean: np.ndarray


def _fit(
    comments: DistinctComments,
    text_responses: pd.DataFrame,
    embed: Callable[[Sequence[str]], np.ndarray],
    config: ThemesConfig,
    state: ThemeState,
    state_dir: Path | None,
    filler: set[str],
) -> tuple[np.ndarray, dict[int, list[str]], dict[int, str], dict[str, int]]:
    """Fit the themes on the distinct comments: guided first, discovery on the rest, stable ids, keywords and
    labels. Saves the theme state and the fit (for :mod:`nps_text.themes.incremental`).

    Returns ``(theme id per distinct comment, keywords, labels, guided name -> id)``.
    """
    distinct, languages, codes = comments.texts, comments.languages, comments.codes
    raw_comment_vectors, vectors, mean = comments.raw_vectors, comments.vectors, comments.mean
    # Lemmas feed the guided seed words (every comment) and the fit and keywords (the fit sample): without
    # guided seed words, above max_fit_comments only the sample is lemmatised.
    seed_words = bool(config.guided) and config.guided_method != "similarity"
    lemmas = _Lemmas(distinct, languages, filler)
    lemmas.words(np.arange(len(distinct)) if seed_words else fit_sample(len(distinct), config))
    models_done()  # spaCy (with torch) leaves the model process before UMAP and HDBSCAN come in

    # 1. Guided themes (the user's taxonomy) first; the rest is discovered.
    guided_names = [theme.name for theme in config.guided]
    guided_index = np.full(len(distinct), NO_MATCH, dtype=np.int64)
    if config.guided:
        similarity = None
        if config.guided_method != "keywords":
            similarity = lambda: guided_similarity(embed, raw_comment_vectors, config.guided)  # noqa: E731
        every_row = np.arange(len(distinct))
        guided_index = match_guided(
            lemmas.words(every_row) if seed_words else [[] for _ in distinct],
            [_WORD.findall(text.lower()) for text in distinct] if seed_words else [[] for _ in distinct],
            config.guided,
            similarity=similarity,
            min_similarity=config.guided_similarity,
            keywords=seed_words,
        )

    # 2. Discovery on the comments no guided theme claimed.
    open_rows = np.flatnonzero(guided_index == NO_MATCH)
    responses_per_comment = np.bincount(codes, minlength=len(distinct))
    discovered = discover_themes(
        lambda rows: lemmas.docs(open_rows[rows]),
        lambda rows: vectors[open_rows[rows]],
        len(open_rows),
        config,
        weights=responses_per_comment[open_rows],
    )
    discovered_centroids = compute_centroids(vectors[open_rows], discovered.labels)

    # 3. Stable ids: guided by name, discovered by centroid against the last run's themes.
    guided_ids, cluster_ids = stable_ids(state, guided_names, discovered_centroids, vectors.shape[1])
    theme_ids = np.full(len(distinct), OUTLIER_THEME_ID, dtype=np.int64)
    guided_rows = np.flatnonzero(guided_index != NO_MATCH)
    theme_ids[guided_rows] = [guided_ids[guided_names[i]] for i in guided_index[guided_rows]]
    theme_ids[open_rows] = [cluster_ids.get(int(label), OUTLIER_THEME_ID) for label in discovered.labels]
    theme_ids = _merge_groups(theme_ids, config.merge)

    # 4. Keywords (class-based TF-IDF over lemmas) and labels.
    keyword_rows = fit_sample(len(distinct), config)
    keywords = theme_keywords(lemmas.docs(keyword_rows), theme_ids[keyword_rows], config.keywords)
    guided_by_id = {theme_id: name for name, theme_id in guided_ids.items()}
    phrases = readable_labels(
        distinct, languages, theme_ids, text_responses, codes, embed, raw_comment_vectors, config,
        skip=set(config.rename) | set(guided_by_id),
    )
    guided_labels = {theme.name: theme.labels for theme in config.guided}
    labels: dict[int, str] = {}
    own_labels: dict[str, str] = {}  # before renames: what a re-run shows once a rename is removed
    for theme_id in sorted(set(theme_ids.tolist())):
        words = keywords.get(theme_id, [])
        if theme_id in guided_by_id:
            name = guided_by_id[theme_id]
            language = theme_language(languages, distinct, theme_ids, theme_id)
            own = guided_labels.get(name, {}).get(language, name)
        elif theme_id == OUTLIER_THEME_ID:
            own = OUTLIER_LABEL
        else:
            phrase = phrases.get(theme_id)
            if phrase is not None and phrase.specific and phrase.text:
                own = phrase.text
            elif words and _keyword_share(lemmas, theme_ids, theme_id, words[0]) >= MIN_KEYWORD_SHARE:
                # No noun names it, but one word does ("zu teuer", "überteuert", "teuer"): a topic still.
                own = (
                    _short_comment_label(distinct, theme_ids, responses_per_comment, theme_id)
                    or label_from_keywords(words[:1]).capitalize()
                )
            else:  # fillers, "because you asked", insults: shown, never ranked (nps_text.insights)
                language = theme_language(languages, distinct, theme_ids, theme_id)
                own = _repeated_comment_label(distinct, theme_ids, responses_per_comment, theme_id) or (
                    NO_TOPIC_LABELS.get(language, NO_TOPIC_LABELS["en"])
                )
        own_labels[str(theme_id)] = own
        labels[theme_id] = config.rename.get(theme_id, own)
        if theme_id in state.themes:
            state.themes[theme_id].label = labels[theme_id]
            state.themes[theme_id].keywords = words
    state.fit = FitRecord(
        fingerprint=incremental.fingerprint(config, vectors.shape[1]),
        centre=[round(float(value), CENTRE_DECIMALS) for value in mean],
        cutoff=float(discovered.outlier_cutoff),
        fitted=len(distinct),
        outlier_keywords=list(keywords.get(OUTLIER_THEME_ID, [])),
        labels=own_labels,
    )
    incremental.save_texts(state_dir, incremental.text_keys(distinct), theme_ids)
    save_state(state, state_dir)
    return theme_ids, keywords, labels, guided_ids


SHORT_LABEL_WORDS = 4
MIN_KEYWORD_SHARE = 0.4
"""A theme without a head noun in :data:`nps_text.themes.labels.MIN_SUBJECT_SHARE` of its comments still has a
subject when its top keyword occurs in at least this share of them ("teuer"); else it has no specific topic."""


def _keyword_share(lemmas: _Lemmas, theme_ids: np.ndarray, theme_id: int, keyword: str) -> float:
    """Share of a theme's distinct comments (those lemmatised) whose lemmas hold every word of ``keyword``."""
    rows = lemmas.known(np.flatnonzero(theme_ids == theme_id))
    if rows.size == 0:
        return 0.0
    words = set(keyword.split())
    return sum(1 for doc in lemmas.docs(rows) if words <= set(doc.split())) / rows.size


class _Lemmas:
    """The lemmas (:func:`nps_text.text.lemmatize_texts`) of the run's distinct comments, computed for the rows
    asked for, each row once."""

    def __init__(self, texts: Sequence[str], languages: Sequence[str | None], filler: set[str]) -> None:
        self._texts, self._languages, self._filler = texts, languages, filler
        self._words: dict[int, list[str]] = {}

    def words(self, rows: np.ndarray) -> list[list[str]]:
        """Lemmas of each of ``rows`` (positions in the distinct comments)."""
        missing = [row for row in dict.fromkeys(rows.tolist()) if row not in self._words]
        if missing:
            found = offload(  # spaCy (and the torch it imports) in the model process when the models run there
                lemmatize_texts, [self._texts[row] for row in missing], [self._languages[row] for row in missing],
                filler_words=self._filler,
            )
            self._words.update(zip(missing, found, strict=True))
        return [self._words[row] for row in rows.tolist()]

    def docs(self, rows: np.ndarray) -> list[str]:
        """Space-joined lemmas of each of ``rows`` (BERTopic's documents)."""
        return [" ".join(words) for words in self.words(rows)]

    def known(self, rows: np.ndarray) -> np.ndarray:
        """Those of ``rows`` already lemmatised."""
        return np.asarray([row for row in rows.tolist() if row in self._words], dtype=np.int64)


REPRESENTATIVE_DECIMALS = 4
"""Similarities to the theme centroid are compared at this precision when choosing representative comments."""


def _short_comment_label(
    distinct: Sequence[str], theme_ids: np.ndarray, responses_per_comment: np.ndarray, theme_id: int
) -> str:
    """A theme without keywords ("Alles gut", "Super!") named by its most frequent comment, when that is at
    most :data:`SHORT_LABEL_WORDS` words; "" otherwise (and for the outlier theme)."""
    rows = np.flatnonzero(theme_ids == theme_id)
    if theme_id == OUTLIER_THEME_ID or rows.size == 0:
        return ""
    best = rows[np.argmax(responses_per_comment[rows])]  # first of the most frequent: deterministic
    text = " ".join(distinct[int(best)].split())
    if not text or len(_WORD.findall(text)) > SHORT_LABEL_WORDS or len(text) > 40:
        return ""
    return text[:1].upper() + text[1:]


def _repeated_comment_label(
    distinct: Sequence[str], theme_ids: np.ndarray, responses_per_comment: np.ndarray, theme_id: int
) -> str:
    """:func:`_short_comment_label` when that one comment is at least half of the theme's responses (several
    customers wrote the same "Alles gut": the label is true for the theme); "" otherwise."""
    rows = np.flatnonzero(theme_ids == theme_id)
    if rows.size == 0 or responses_per_comment[rows].max() * 2 < responses_per_comment[rows].sum():
        return ""
    return _short_comment_label(distinct, theme_ids, responses_per_comment, theme_id)


def _reuse_fit(
    comments: DistinctComments,
    embed: Callable[[Sequence[str]], np.ndarray],
    config: ThemesConfig,
    state: ThemeState,
    reuse: incremental.Plan,
    filler: set[str],
) -> tuple[np.ndarray, dict[int, list[str]], dict[int, str], dict[str, int]]:
    """The saved fit applied to this run: seen comments keep their theme; a new one gets a guided theme
    when it matches one, else the nearest saved theme centroid (outlier below the fit's cut-off).
    Keywords and labels are the fit's (``rename`` still applies). Same return as :func:`_fit`."""
    distinct, languages = comments.texts, comments.languages
    raw_comment_vectors, vectors = comments.raw_vectors, comments.vectors
    assert state.fit is not None
    theme_ids = reuse.theme_ids.copy()
    guided_names = [theme.name for theme in config.guided]
    guided_ids = {record.name: key for key, record in state.themes.items() if record.kind == "guided" and record.name}
    new_rows = reuse.new_rows
    if new_rows.size:
        new_texts = [distinct[i] for i in new_rows]
        lemmas = offload(lemmatize_texts, new_texts, [languages[i] for i in new_rows], filler_words=filler)
        similarity = None
        if config.guided and config.guided_method != "keywords":
            new_vectors = raw_comment_vectors[new_rows]
            similarity = lambda: guided_similarity(embed, new_vectors, config.guided)  # noqa: E731
        guided_index = match_guided(
            lemmas,
            [_WORD.findall(text.lower()) for text in new_texts],
            config.guided,
            similarity=similarity,
            min_similarity=config.guided_similarity,
            keywords=config.guided_method != "similarity",
        )
        is_guided = guided_index != NO_MATCH
        theme_ids[new_rows[is_guided]] = [guided_ids[guided_names[i]] for i in guided_index[is_guided]]
        open_rows = new_rows[~is_guided]
        centroids = {
            key: np.asarray(record.centroid, dtype=np.float32)
            for key, record in state.themes.items()
            if record.kind == "discovered"
        }
        theme_ids[open_rows], _ = assign_nearest(vectors[open_rows], centroids, cutoff=state.fit.cutoff)
        theme_ids = _merge_groups(theme_ids, config.merge)
    keywords = {key: list(record.keywords) for key, record in state.themes.items()}
    keywords[OUTLIER_THEME_ID] = list(state.fit.outlier_keywords)
    labels: dict[int, str] = {}
    for theme_id in sorted(set(theme_ids.tolist())):
        own = state.fit.labels.get(str(theme_id)) or default_label(
            theme_id, keywords.get(theme_id, []), theme_language(languages, distinct, theme_ids, theme_id)
        )
        labels[theme_id] = config.rename.get(theme_id, own)
    return theme_ids, keywords, labels, guided_ids


def _guided_units(
    responses: pd.DataFrame, config: ThemesConfig, guided_theme_ids: list[int], known: set[int]
) -> Callable[[list[str], list[object]], dict[str, int]]:
    """Seed-word matching of clauses (keywords only): ``(units, owner rows) -> {unit: theme id}``."""
    filler = (set(DEFAULT_FILLER_WORDS) if config.default_filler else set()) | set(config.filler_words)

    def match(units: list[str], owners: list[object]) -> dict[str, int]:
        languages: list[str | None] = [None] * len(units)
        if "language" in responses.columns:
            languages = [
                None if pd.isna(value) else str(value) for value in responses.loc[owners, "language"].tolist()
            ]
        lemmas = offload(lemmatize_texts, units, languages, filler_words=filler)
        surface = [_WORD.findall(unit.lower()) for unit in units]
        index = match_guided(lemmas, surface, config.guided)
        return {
            unit: guided_theme_ids[int(found)]
            for unit, found in zip(units, index, strict=True)
            if found != NO_MATCH and guided_theme_ids[int(found)] in known
        }

    return match


def _sentiment_mix(frame: pd.DataFrame) -> tuple[float, float, float]:
    if "sentiment" not in frame.columns:
        return (np.nan, np.nan, np.nan)
    known = frame["sentiment"].dropna()
    if known.empty:
        return (np.nan, np.nan, np.nan)
    shares = known.value_counts(normalize=True)
    return tuple(float(shares.get(label, 0.0)) for label in (POSITIVE, NEUTRAL, NEGATIVE))  # type: ignore[return-value]


def themes_table(
    responses: pd.DataFrame,
    vectors: np.ndarray,
    codes: np.ndarray,
    keywords: dict[int, list[str]],
    labels: dict[int, str],
    n_representative: int = 3,
) -> pd.DataFrame:
    """One row per theme within each NPS group: size, share, sentiment mix and typical comments.

    ``share_of_group`` is the theme's share of the group's text comments. Representative comments are the
    group's distinct comments nearest to the theme's centroid (over all groups), so they are typical.

    Args:
        responses: Output rows of :func:`assign_themes` (``theme_id`` set on text rows).
        vectors: Centred embeddings of the distinct comments.
        codes: Distinct-comment index of each text row, in the order of the text rows.
        keywords: Theme id -> keywords.
        labels: Theme id -> label.
        n_representative: Comments per theme and group (3-5).
    """
    needed = [column for column in ("nps_group", "theme_id", "sentiment") if column in responses.columns]
    themed = responses["theme_id"].notna().to_numpy()
    # No copy of the comments: a theme's representative texts are read by position, the few chosen only.
    text_rows = responses.loc[themed, needed].assign(_code=codes, _position=np.flatnonzero(themed))
    distinct_theme = pd.Series(text_rows["theme_id"].to_numpy(dtype=np.int64), index=text_rows["_code"].to_numpy())
    distinct_theme = distinct_theme[~distinct_theme.index.duplicated()]
    centroids = compute_centroids(vectors[distinct_theme.index.to_numpy()], distinct_theme.to_numpy())
    if (distinct_theme == OUTLIER_THEME_ID).any():
        outlier_codes = distinct_theme.index[distinct_theme == OUTLIER_THEME_ID].to_numpy()
        mean = vectors[outlier_codes].mean(axis=0)
        centroids[OUTLIER_THEME_ID] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    rows = []
    for group in NPS_GROUPS:
        group_rows = text_rows[text_rows["nps_group"] == group]
        if group_rows.empty:
            continue
        for theme_id, members in group_rows.groupby("theme_id", sort=False):
            theme_id = int(theme_id)
            first_by_code = members.drop_duplicates("_code")
            member_codes = first_by_code["_code"].to_numpy()
            sims = np.round(vectors[member_codes] @ centroids[theme_id], REPRESENTATIVE_DECIMALS)
            candidates = np.arange(len(member_codes))
            if 0 < n_representative < len(member_codes):  # the n most similar and their ties: no string per member
                nth = np.partition(-sims, n_representative - 1)[n_representative - 1]
                candidates = np.flatnonzero(-sims <= nth)
            chosen_rows = first_by_code["_position"].to_numpy()[candidates]
            texts = responses["comment"].iloc[chosen_rows].astype(str).tolist()
            # Most typical first; the rounding and the text as tie-break make the choice and its order the
            # same in a re-run, whose centring mean is the saved (rounded) one.
            order = sorted(
                range(len(texts)), key=lambda i: (-float(sims[candidates[i]]), texts[i])
            )[:n_representative]
            positive, neutral, negative = _sentiment_mix(members)
            rows.append(
                {
                    "nps_group": group,
                    "theme_id": theme_id,
                    "theme_label": labels.get(theme_id, OUTLIER_LABEL),
                    "keywords": list(keywords.get(theme_id, [])),
                    "size": len(members),
                    "share_of_group": len(members) / len(group_rows),
                    "positive_share": positive,
                    "neutral_share": neutral,
                    "negative_share": negative,
                    "representative_comments": [texts[i] for i in order],
                }
            )
    if not rows:
        return _empty_themes()
    table = pd.DataFrame(rows, columns=list(THEMES_COLUMNS))
    table["theme_id"] = table["theme_id"].astype("Int64")
    group_order = {group: index for index, group in enumerate(NPS_GROUPS)}
    table = table.sort_values(
        ["nps_group", "size", "theme_id"],
        key=lambda column: column.map(group_order) if column.name == "nps_group" else column,
        ascending=[True, False, True],
        kind="stable",
    )
    return table.reset_index(drop=True)
