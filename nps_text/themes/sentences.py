"""Every complaint counted: themes per clause or sentence, so a comment naming two problems raises both.

The topic model is fit on whole comments (:func:`nps_text.themes.assign_themes`); that comment-level theme is
the response's primary ``theme_id``. Then each comment with more than one unit is looked at unit by unit:

* units: the comment's sentences (the ``sentences`` table of the sentiment step, or
  :func:`nps_text.sentiment.segment.split_segments` when there is none), each split further at ";", at
  "und" / "sowie" / "and" and at commas where both sides have at least ``MIN_CLAUSE_WORDS`` words
  ("Lieferung kam zu spät und der Kundenservice war nicht erreichbar" -> two units);
* a unit matching a guided theme's seed words (keywords) joins it; otherwise it joins the theme whose centroid
  (over the comments of the fit) is most cosine-similar, if at least ``sentence_similarity`` (the vectors are
  centred with the comments' mean, as in the fit) and the unit has at least ``MIN_UNIT_WORDS`` words, so filler
  ("Unfassbar.", "sonst alles wie immer") joins nothing.

Embeddings of the units come from the same (cached) ``embed`` function as the comments, distinct texts only.
``theme_ids`` = the primary theme, then every other theme a unit joined, in order of appearance (theme -1 only
as a primary). A sentence's ``theme_id`` is the theme of its most similar matching unit, -1 when none matched;
in a single-unit comment it is the comment's theme.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nps_text.schema import OUTLIER_THEME_ID
from nps_text.sentiment.segment import split_segments
from nps_text.text import clean_for_embedding

MIN_CLAUSE_WORDS = 3
MIN_UNIT_WORDS = 2
UNIT_CHUNK = 8192
"""Units embedded and compared with the themes at a time (172,000 units of a 100,000-row survey at once: +1.4 GiB)."""
"""A one-word sentence ("Unfassbar.", "Danke!") never adds a theme by similarity (seed words still count)."""
_COORDINATION = re.compile(r"\s*;\s*|\s*,?\s+(?:und|sowie|and|as well as)\s+|\s*,\s+", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)

Embed = Callable[[Sequence[str]], np.ndarray]


def split_theme_clauses(sentence: str, min_words: int = MIN_CLAUSE_WORDS) -> list[str]:
    """Split one sentence at ";", "und"/"sowie"/"and" and commas; parts under ``min_words`` words stay attached.

    Example:
        >>> split_theme_clauses("Lieferung kam zu spät und der Kundenservice war nicht erreichbar")
        ['Lieferung kam zu spät', 'der Kundenservice war nicht erreichbar']
        >>> split_theme_clauses("Schnell, freundlich und kompetent")
        ['Schnell, freundlich und kompetent']
    """
    text = sentence.strip()
    pieces: list[str] = []
    position = 0
    for match in _COORDINATION.finditer(text):
        pieces.append(text[position : match.start()])
        pieces.append(match.group())  # the separator, to glue short parts back as they were written
        position = match.end()
    pieces.append(text[position:])
    parts = pieces[0::2]
    separators = pieces[1::2]
    merged: list[str] = []
    for index, part in enumerate(parts):
        words = len(_WORD.findall(part))
        if merged and (words < min_words or len(_WORD.findall(merged[-1])) < min_words):
            merged[-1] = merged[-1] + separators[index - 1] + part
        else:
            merged.append(part)
    cleaned = [part.strip(" ,;") for part in merged]
    return [part for part in cleaned if part] or [text]


@dataclass(frozen=True)
class SentenceThemes:
    """The result of :func:`assign_units`: per response its theme list, per sentence row its theme."""

    theme_ids: dict[object, list[int]]
    """Response index label -> theme ids (primary first)."""
    sentence_theme: pd.Series
    """Aligned with the sentences table given (or empty): theme id per sentence row."""
    units: int
    """Distinct units embedded."""


def response_segments(
    responses: pd.DataFrame, mask: pd.Series, sentences: pd.DataFrame | None
) -> dict[object, list[tuple[object | None, str]]]:
    """Per text response (index label): its sentences as ``(sentences-table row label or None, text)``, the
    table's sentences in ``sentence_index`` order, else the comment split here. All at once; the themes step
    takes them a chunk at a time (:func:`segment_chunks`)."""
    segments: dict[object, list[tuple[object | None, str]]] = {}
    for chunk in segment_chunks(responses, mask, sentences, chunk=max(int(mask.sum()), 1)):
        segments.update(chunk.segments)
    return segments


RESPONSE_CHUNK = 50_000
"""Text responses whose units are split, embedded and assigned at a time (:func:`segment_chunks`): the
per-response Python lists of sentences and clauses exist for one chunk only, so memory stays flat in the rows."""


class SentenceLookup:
    """Where each text response's sentences are in the ``sentences`` table, as integer arrays (no Python object
    per sentence): the sentences of a response in ``sentence_index`` order, rows without text skipped."""

    def __init__(self, sentences: pd.DataFrame | None) -> None:
        self.sentences = sentences
        usable = (
            sentences is not None and not sentences.empty and {"response_id", "sentence"} <= set(sentences.columns)
        )
        if not usable or sentences is None:
            self.keys = pd.Index([], dtype=object)
            self.order = self.starts = self.ends = np.zeros(0, dtype=np.int64)
            return
        codes, keys = pd.factorize(sentences["response_id"].astype(str), sort=False)
        position = (
            sentences["sentence_index"].to_numpy(dtype=np.int64, na_value=0)
            if "sentence_index" in sentences.columns else np.zeros(len(sentences), dtype=np.int64)
        )
        order = np.lexsort((position, codes))  # by response, then sentence_index; ties keep the table's order
        order = order[sentences["sentence"].notna().to_numpy()[order]]
        grouped = codes[order]
        self.keys = pd.Index(keys)
        self.order = order
        self.starts = np.searchsorted(grouped, np.arange(len(keys)), side="left")
        self.ends = np.searchsorted(grouped, np.arange(len(keys)), side="right")

    def positions(self, response_ids: Sequence[str | None]) -> list[np.ndarray]:
        """Per response id: positions of its sentences in the table (empty: none)."""
        found = self.keys.get_indexer(list(response_ids)) if len(self.keys) else np.full(len(response_ids), -1)
        empty = np.zeros(0, dtype=np.int64)
        return [self.order[self.starts[key] : self.ends[key]] if key >= 0 else empty for key in found.tolist()]


@dataclass(frozen=True)
class SegmentChunk:
    """One chunk of :func:`segment_chunks`."""

    rows: np.ndarray
    """Positions of the chunk's responses in the responses table."""
    segments: dict[object, list[tuple[object | None, str]]]
    """As :func:`response_segments`, for the chunk's responses."""
    sentence_positions: np.ndarray
    """Positions in the sentences table of the sentences in ``segments`` (their labels, in order)."""


def segment_chunks(
    responses: pd.DataFrame, mask: pd.Series, sentences: pd.DataFrame | None, chunk: int | None = None
) -> Iterator[SegmentChunk]:
    """:func:`response_segments` for ``chunk`` (default :data:`RESPONSE_CHUNK`) text responses at a time: the
    same segments, in the same order."""
    chunk = chunk or RESPONSE_CHUNK
    lookup = SentenceLookup(sentences)
    text_rows = np.flatnonzero(mask.to_numpy(dtype=bool))
    has_ids = "response_id" in responses.columns
    for start in range(0, len(text_rows), chunk):
        rows = text_rows[start : start + chunk]
        frame = responses.iloc[rows]
        ids: list[str | None] = frame["response_id"].astype(str).tolist() if has_ids else [None] * len(rows)
        found = lookup.positions(ids) if has_ids else [np.zeros(0, dtype=np.int64)] * len(rows)
        taken = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        texts: list[str] = []
        labels: list[object] = []
        if taken.size and lookup.sentences is not None:
            texts = [str(text) for text in lookup.sentences["sentence"].iloc[taken].tolist()]
            labels = lookup.sentences.index[taken].tolist()
        segments: dict[object, list[tuple[object | None, str]]] = {}
        offset = 0
        for index, comment, positions in zip(frame.index, frame["comment"].tolist(), found, strict=True):
            if positions.size:
                end = offset + positions.size
                segments[index] = list(zip(labels[offset:end], texts[offset:end], strict=True))
                offset = end
            else:
                segments[index] = [(None, part) for part in split_segments(str(comment))]
        yield SegmentChunk(rows=rows, segments=segments, sentence_positions=taken)


def assign_units(
    segments: dict[object, list[tuple[object | None, str]]],
    primary: dict[object, int],
    *,
    embed: Embed,
    mean: np.ndarray,
    centroids: dict[int, np.ndarray],
    min_similarity: float,
    clean_text: bool = True,
    guided: Callable[[list[str], list[object]], dict[str, int]] | None = None,
    sentence_index: pd.Index | None = None,
) -> SentenceThemes:
    """Themes of the units of multi-unit comments (see the module docstring).

    Args:
        segments: :func:`response_segments`.
        primary: Response index label -> its comment-level theme id.
        embed: The themes step's embed function (L2-normalised vectors, one per text).
        mean: Mean raw embedding of the fitted comments (the centring of the fit).
        centroids: Theme id -> unit-length centroid in the centred space (no -1).
        min_similarity: A unit joins a theme only at this cosine similarity or above.
        clean_text: Clean units like comments before embedding.
        guided: ``(unit texts, response labels) -> {unit text: theme id}`` for units matching guided seed words.
        sentence_index: Index of the sentences table (the result's ``sentence_theme`` is aligned with it).
    """
    units_by_response: dict[object, list[list[str]]] = {}
    for response, parts in segments.items():
        units_by_response[response] = [split_theme_clauses(text) for _, text in parts]
    multi = [response for response, units in units_by_response.items() if sum(len(u) for u in units) > 1]
    is_multi = set(multi)
    cleaned: dict[str, str] = {}
    owners: dict[str, object] = {}
    for response in multi:
        for units in units_by_response[response]:
            for unit in units:
                if unit not in cleaned:
                    cleaned[unit] = (clean_for_embedding(unit) if clean_text else unit).strip()
                    owners.setdefault(unit, response)
    distinct = list(dict.fromkeys(text for text in cleaned.values() if text))
    unit_theme: dict[str, tuple[int, float]] = {}
    if distinct and centroids:
        ids = sorted(centroids)
        matrix = np.vstack([centroids[i] for i in ids]).T
        by_clean: dict[str, tuple[int, float]] = {}
        for start in range(0, len(distinct), UNIT_CHUNK):  # memory flat in the number of units
            chunk = distinct[start : start + UNIT_CHUNK]
            centred = np.asarray(embed(chunk), dtype=np.float32) - mean[None, :]
            centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
            sims = centred @ matrix
            best = sims.argmax(axis=1)
            best_sims = sims[np.arange(len(chunk)), best]
            by_clean.update(
                (text, (ids[int(column)], float(sim))) for text, column, sim in zip(chunk, best, best_sims, strict=True)
            )
        for unit, text in cleaned.items():
            words = len(_WORD.findall(text))
            if text in by_clean and by_clean[text][1] >= min_similarity and words >= MIN_UNIT_WORDS:
                unit_theme[unit] = by_clean[text]
    if guided is not None and cleaned:
        units = list(cleaned)
        for unit, theme in guided(units, [owners[unit] for unit in units]).items():
            unit_theme[unit] = (theme, 1.0)  # a seed-word match wins over similarity

    theme_ids: dict[object, list[int]] = {}
    sentence_theme: dict[object, int] = {}
    for response, parts in segments.items():
        main = int(primary[response])
        if response not in is_multi:
            theme_ids[response] = [main]
            for label, _ in parts:
                if label is not None:
                    sentence_theme[label] = main
            continue
        found = [main]
        for (label, _), units in zip(parts, units_by_response[response], strict=True):
            matches = [unit_theme[unit] for unit in units if unit in unit_theme]
            for theme, _ in matches:
                if theme != OUTLIER_THEME_ID and theme not in found:
                    found.append(theme)
            if label is not None:
                sentence_theme[label] = max(matches, key=lambda item: item[1])[0] if matches else OUTLIER_THEME_ID
        theme_ids[response] = found
    index = sentence_index if sentence_index is not None else pd.Index([])
    series = pd.Series([sentence_theme.get(label, pd.NA) for label in index], index=index, dtype="Int64")
    return SentenceThemes(theme_ids=theme_ids, sentence_theme=series, units=len(distinct))
