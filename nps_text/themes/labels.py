"""Readable theme labels: a short phrase (2-5 words) from the theme's own comments, in their language.

Keywords (c-TF-IDF over lemmas, :mod:`nps_text.themes.keywords`) say which words are typical; a label
says what the comments are about and, for a detractor theme, what is wrong: "Lieferung zu spät",
"Flight cancelled", "App stürzt ab". Built like this:

1. Each distinct comment is tagged once with HanTa (German or English model, loaded lazily, cached per
   process; tags cached per text). Noun chunks are the candidate *heads*; what the comments say about a
   head is its *completion*: an attributive adjective ("freundliches Personal"), a predicative
   adjective or participle with its negation or "zu"/"too" ("Lieferung zu spät", "flight cancelled"),
   or a verb with its particle or negation ("App stürzt ab", "App funktioniert nicht").
2. Heads are ranked per theme by class-based TF-IDF (BERTopic's weighting, on documents), counted by lemma
   and shown in their most frequent surface form, so every word of a label occurs in the theme's comments.
3. The best completions of the top heads form candidate phrases; a theme whose comments are mostly from
   detractors (or negative) prefers completions with a problem word. Candidates are re-ranked by
   embedding similarity to the theme centroid, as BERTopic's ``KeyBERTInspired`` does for keywords.

A label is true in every NPS group it stands over (one label per theme serves all groups):

* a completion with a problem word ("zu spät", "poor") is used only when no group of the theme (with at least
  :data:`MIN_GROUP_COMMENTS` comments) is mostly positive, and a completion without one ("freundliches",
  "good") only when no group is mostly negative; otherwise the label is the topic alone ("Service"), and the
  polarity is shown beside it per group (the themes table's sentiment shares);
* "A & B" only when A and B occur together in at least :data:`MIN_LABEL_COOCCURRENCE` of the comments;
* a theme whose best subject occurs in fewer than :data:`MIN_SUBJECT_SHARE` of its comments has no subject
  (fillers, "because you asked", insults): :func:`label_themes` marks it not ``specific``.

:class:`nps_text.themes.representation.PhraseRepresentation` wraps this as a BERTopic representation model.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from nps_text.schema import OUTLIER_THEME_ID

MAX_TAGGED_PER_THEME = 150
"""Comments tagged per theme (a seeded sample of larger themes): labels stay fast for any input size."""
MAX_TOKENS = 60
MIN_SUBJECT_SHARE = 0.15
"""A theme names a subject when its top head noun occurs in at least this share of its comments."""
MIN_LABEL_COOCCURRENCE = 0.15
""""A & B" is a label only when A and B occur together in at least this share of the theme's comments."""
MIN_GROUP_COMMENTS = 3
"""A group's majority sentiment restricts the label's polarity from this many comments of the theme on."""
_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")
_TAG_CACHE: dict[tuple[str, str], tuple[tuple[str, str, str], ...]] = {}
_TAG_CACHE_LIMIT = 200_000

NEGATIONS = frozenset({"nicht", "kein", "keine", "keinen", "nie", "niemals", "not", "no", "never", "n't", "nobody", "niemand"})
DEGREE = frozenset({"zu", "too", "viel", "much", "way", "gar", "überhaupt", "extrem", "total"})
PROBLEM_WORDS = frozenset(
    ["spät", "verspätet", "verspätung", "kaputt", "defekt", "beschädigt", "ausgefallen", "ausfall", "falsch", "teuer", "überteuert", "langsam", "unfreundlich", "schlecht", "schlechte", "schlechter", "mangelhaft", "unzuverlässig", "unverschämt", "abgestürzt", "stürzt", "fehlt", "fehlen", "fehlerhaft", "dreckig", "schmutzig", "laut", "kalt", "überfüllt", "voll", "unerreichbar", "gekündigt", "verloren", "umständlich", "kompliziert", "unklar", "unübersichtlich", "enttäuscht", "enttäuschend", "ärgerlich", "lang", "lange", "ewig", "gestrichen", "storniert", "abgesagt", "eng", "klein", "dünn", "billig", "unbequem", "nervig", "unmöglich", "unhöflich", "inkompetent", "late", "delayed", "delay", "cancelled", "canceled", "broken", "damaged", "lost", "missing", "wrong", "rude", "slow", "expensive", "overpriced", "poor", "bad", "terrible", "awful", "horrible", "dirty", "noisy", "crowded", "cold", "crashes", "crashed", "crashing", "unhelpful", "small", "tight", "thin", "cheap", "disappointing", "disappointed", "unreliable", "useless", "confusing", "complicated", "long", "worst", "stuck", "failed", "fails", "unfriendly", "incompetent", "uncomfortable", "faulty", "defective", "scratchy", "itchy", "sheer", "huge", "short"]
)
GENERIC_HEADS = frozenset(
    ["sache", "ding", "mal", "zeit", "jahr", "jahre", "tag", "tage", "woche", "wochen", "monat", "monate", "prozent", "euro", "leute", "mensch", "menschen", "thing", "things", "lot", "time", "times", "year", "years", "day", "days", "week", "weeks", "month", "months", "way", "bit", "one", "ones", "people", "person", "kind", "sort"]
)

_GERMAN_NOUN = ("NN", "NE")
_GERMAN_ADJ_ATTR = ("ADJ(A)", "ADJA")
_GERMAN_ADJ_PRED = ("ADJ(D)", "ADJD")
_GERMAN_BREAK = ("$.", "$,", "$(", "KON", "KOUS", "PRELS", "PWAV")
_ENGLISH_BREAK = ("PUN", "CJC", "CJS", "PNQ", "DTQ", "AVQ")
_GERMAN_LIGHT_VERBS = frozenset({"kommen", "bleiben", "scheinen", "wirken", "gehen"})
_ENGLISH_BE = frozenset({"be", "get", "seem", "feel", "look", "arrive", "come", "remain", "stay", "become"})


@lru_cache(maxsize=2)
def _tagger(language: str) -> Any:
    """HanTa's German or English tagger, loaded once per process (about a second)."""
    from HanTa import HanoverTagger as ht

    return ht.HanoverTagger("morphmodel_ger.pgz" if language == "de" else "morphmodel_en.pgz")


@lru_cache(maxsize=_TAG_CACHE_LIMIT)
def _lemma(language: str, word: str, tag: str) -> str:
    """HanTa's lemma of a lower-case ``word`` tagged ``tag``: what ``tag_sent(..., taglevel=1)`` gives for it
    (its morphological analysis depends on nothing else), computed once per distinct (word, tag)."""
    return str(_tagger(language).analyze(word, pos=tag, taglevel=1)[0])


def tag_text(text: str, language: str) -> tuple[tuple[str, str, str], ...]:
    """(surface, lemma, tag) per token, from HanTa; cached per (language, text) within the process."""
    key = (language, text)
    cached = _TAG_CACHE.get(key)
    if cached is not None:
        return cached
    tokens = _TOKEN.findall(text)[:MAX_TOKENS]
    tagged: tuple[tuple[str, str, str], ...] = ()
    if tokens:
        tags = [str(tag) for tag in _tagger(language).tag_sent(tokens, taglevel=0)]
        tagged = tuple((str(w), _lemma(language, str(w).lower(), tag), tag) for w, tag in zip(tokens, tags, strict=True))
    if len(_TAG_CACHE) >= _TAG_CACHE_LIMIT:
        _TAG_CACHE.clear()
    _TAG_CACHE[key] = tagged
    return tagged


@dataclass(frozen=True)
class Mention:
    """One head noun chunk in a comment, with what the comment says about it (possibly nothing)."""

    head_key: tuple[str, ...]
    head_surface: str
    completion_key: tuple[str, ...]
    completion_surface: str
    before: bool  # completion precedes the head ("freundliches Personal")

    @property
    def problem(self) -> bool:
        words = {word.lower() for word in self.completion_key} | {w.lower() for w in self.completion_surface.split()}
        return bool(words & (PROBLEM_WORDS | NEGATIONS | {"zu", "too"}))


def _is_noun(tag: str, language: str) -> bool:
    return tag in _GERMAN_NOUN if language == "de" else tag.startswith("NN")


def _is_break(tag: str, language: str) -> bool:
    return tag in _GERMAN_BREAK if language == "de" else tag in _ENGLISH_BREAK


def _noun_chunks(tagged: Sequence[tuple[str, str, str]], language: str) -> list[tuple[int, int]]:
    """Maximal runs of nouns (``customer service``), as (start, end) token spans."""
    if language == "de":  # German writes compounds as one word: each noun is its own chunk
        return [
            (index, index + 1)
            for index, (word, _, tag) in enumerate(tagged)
            if tag in _GERMAN_NOUN and len(word) > 1 and not word.isdigit()
        ]
    spans, start = [], None
    for index, (word, _, tag) in enumerate(tagged):
        noun = _is_noun(tag, language) and len(word) > 1 and not word.isdigit()
        if noun and start is None:
            start = index
        elif not noun and start is not None:
            spans.append((start, index))
            start = None
    if start is not None:
        spans.append((start, len(tagged)))
    return spans


def _completion_after(tagged: Sequence[tuple[str, str, str]], end: int, language: str) -> list[int]:
    """Token positions of a predicate about the noun ending at ``end``, within its clause (or [])."""
    kept: list[int] = []
    for index in range(end, min(end + 6, len(tagged))):
        word, lemma, tag = tagged[index]
        low = word.lower()
        if _is_break(tag, language) or _is_noun(tag, language):
            break
        if language == "de":
            following = tagged[index + 1][2] if index + 1 < len(tagged) else ""
            if low in NEGATIONS or tag == "PTKNEG" or (low == "zu" and following in _GERMAN_ADJ_PRED) or low in {"viel", "gar", "total"} and tagged[index + 1 : index + 2] and tagged[index + 1][0].lower() in {"zu", "nicht"}:
                kept.append(index)
            elif tag == "VV(FIN)" and lemma.lower() in _GERMAN_LIGHT_VERBS:
                continue
            elif tag in _GERMAN_ADJ_PRED or tag == "VV(PP)":
                return [*kept, index]
            elif tag == "VV(FIN)":
                rest = [
                    j for j in range(index + 1, min(index + 5, len(tagged)))
                    if tagged[j][2] in ("PTKVZ", "PTKNEG") or tagged[j][0].lower() in NEGATIONS
                ]
                particle = [j for j in rest if tagged[j][2] == "PTKVZ"]
                negation = [j for j in rest if j not in particle]
                if particle or negation:
                    return [index, *negation[:1], *particle[:1]]
                return [index] if lemma.lower() in PROBLEM_WORDS or low in PROBLEM_WORDS else []
        else:
            if low in NEGATIONS or tag == "XX0" or (low in {"too", "way"}):
                kept.append(index)
            elif tag.startswith("AJ") or tag == "VVN":
                return [*kept, index]
            elif tag.startswith("VV") and tag != "VVG":
                particle = [j for j in range(index + 1, min(index + 3, len(tagged))) if tagged[j][2] == "AVP"]
                if lemma.lower() in _ENGLISH_BE:
                    continue
                if particle or kept or low in PROBLEM_WORDS:
                    return [*kept, index, *particle[:1]]
                return []
    return []


def _mentions(tagged: Sequence[tuple[str, str, str]], language: str, skip: frozenset[str]) -> list[Mention]:
    mentions = []
    for start, end in _noun_chunks(tagged, language):
        head = tagged[start:end]
        head_key = tuple(lemma.lower() for _, lemma, _ in head)
        if head_key[-1] in skip or head[-1][0].lower() in skip:
            continue
        head_surface = " ".join(word for word, _, _ in head)
        attributes: list[int] = []
        index = start - 1
        while index >= 0 and len(attributes) < 2:
            word, lemma, tag = tagged[index]
            attributive = tag in _GERMAN_ADJ_ATTR if language == "de" else tag.startswith("AJ")
            if not attributive:
                break
            attributes.insert(0, index)
            index -= 1
        mentions.append(Mention(head_key, head_surface, (), "", False))
        if attributes:
            key = tuple(tagged[i][1].lower() for i in attributes)
            mentions.append(Mention(head_key, head_surface, key, " ".join(tagged[i][0] for i in attributes), True))
        after = _completion_after(tagged, end, language)
        if after:
            key = tuple(tagged[i][1].lower() for i in after)
            mentions.append(Mention(head_key, head_surface, key, " ".join(tagged[i][0] for i in after), False))
    return mentions


def _capitalise(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:] if phrase else phrase


@dataclass(frozen=True)
class ThemeLabel:
    """A theme's readable label and whether the theme has a subject at all."""

    text: str
    """The phrase ("" when none was found)."""
    specific: bool
    """False: no head noun occurs in :data:`MIN_SUBJECT_SHARE` of the comments (a catch-all without a subject)."""
    subject_share: float
    """Share of the theme's (sampled) comments that name its top head noun."""


def theme_phrases(
    texts: Sequence[str], languages: Sequence[str | None], theme_ids: np.ndarray, **options: Any
) -> dict[int, str]:
    """A readable label per theme id (not for -1), from the comments' own words; "" when none was found.

    The texts of :func:`label_themes` (same arguments; ``options`` are its keyword arguments).
    """
    return {theme_id: label.text for theme_id, label in label_themes(texts, languages, theme_ids, **options).items()}


def label_themes(
    texts: Sequence[str],
    languages: Sequence[str | None],
    theme_ids: np.ndarray,
    *,
    negative: np.ndarray | None = None,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
    centroids: dict[int, np.ndarray] | None = None,
    filler_words: frozenset[str] = frozenset(),
    seed: int = 42,
    group_polarity: dict[int, set[str]] | None = None,
) -> dict[int, ThemeLabel]:
    """A readable label per theme id (not for -1), from the comments' own words, and whether it has a subject.

    Args:
        texts: Distinct comments (cleaned), one per row.
        languages: ``"de"``/``"en"``/``None`` per row (``None`` = guessed).
        theme_ids: Theme id per row.
        negative: Per row, whether it comes from a detractor (or is negative): such themes prefer a problem.
        embed: Optional encoder for the re-ranking by similarity to the theme centroid.
        centroids: Theme id -> unit centroid in ``embed``'s space (raw, uncentred).
        filler_words: Lower-case words never used as heads.
        seed: Seed for sampling large themes.
        group_polarity: Theme id -> the majority sentiments (``"positive"``, ``"negative"``, ...) of the NPS
            groups the label will stand over (see :func:`group_polarities`); ``None`` = no restriction.
    """
    from nps_text.text import guess_language

    skip = GENERIC_HEADS | {word.lower() for word in filler_words}
    rng = np.random.default_rng(seed)
    rows_by_theme: dict[int, np.ndarray] = {}
    for theme_id in sorted(set(theme_ids.tolist()) - {OUTLIER_THEME_ID}):
        rows = np.flatnonzero(theme_ids == theme_id)
        if rows.size > MAX_TAGGED_PER_THEME:
            rows = np.sort(rng.choice(rows, size=MAX_TAGGED_PER_THEME, replace=False))
        rows_by_theme[theme_id] = rows
    language_of: dict[int, str] = {}
    for rows in rows_by_theme.values():
        for row in rows.tolist():
            language = languages[row] or guess_language(texts[row])
            language_of[row] = "de" if language == "de" else "en"
    theme_language = {
        theme_id: Counter(language_of[int(row)] for row in rows).most_common(1)[0][0]
        for theme_id, rows in rows_by_theme.items()
        if rows.size
    }
    # Mentions per comment (only comments in their theme's language give candidates).
    mentions: dict[int, list[Mention]] = {}
    for theme_id, rows in rows_by_theme.items():
        for position in rows.tolist():
            if language_of[position] == theme_language[theme_id]:
                tagged = tag_text(texts[position], language_of[position])
                mentions[position] = _mentions(tagged, language_of[position], skip)
    # Head document frequency per theme and over all sampled comments (class-based TF-IDF on documents).
    head_df: dict[int, Counter[tuple[str, ...]]] = {theme_id: Counter() for theme_id in rows_by_theme}
    total_df: Counter[tuple[str, ...]] = Counter()
    for theme_id, rows in rows_by_theme.items():
        for row in rows.tolist():
            heads = {mention.head_key for mention in mentions.get(int(row), [])}
            head_df[theme_id].update(heads)
            total_df.update(heads)
    average = np.mean([rows.size for rows in rows_by_theme.values()]) if rows_by_theme else 1.0
    labels: dict[int, str] = {}
    subject_share: dict[int, float] = {}
    candidates: dict[int, list[tuple[str, float]]] = {}
    for theme_id, rows in rows_by_theme.items():
        size = max(rows.size, 1)
        needed = 2 if size >= 4 else 1
        weights = {
            head: (count / size) * np.log1p(average / total_df[head])
            for head, count in head_df[theme_id].items()
            if count >= needed
        }
        if not weights:
            labels[theme_id] = ""
            subject_share[theme_id] = 0.0
            continue
        row_heads = [{mention.head_key for mention in mentions.get(int(row), [])} for row in rows.tolist()]

        def together(first: tuple[str, ...], second: tuple[str, ...], heads: list[set[tuple[str, ...]]] = row_heads,
                     size: int = size) -> float:
            return sum(1 for found in heads if first in found and second in found) / size

        polarities = group_polarity.get(theme_id) if group_polarity is not None else None
        negative_share = float(np.mean(negative[rows])) if negative is not None and rows.size else 0.0
        surface: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        completions: dict[tuple[str, ...], Counter[tuple[tuple[str, ...], bool]]] = defaultdict(Counter)
        completion_surface: dict[tuple[tuple[str, ...], tuple[str, ...], bool], Counter[str]] = defaultdict(Counter)
        problem_of: dict[tuple[tuple[str, ...], bool], bool] = {}
        for row in rows.tolist():
            seen = set()
            for mention in mentions.get(int(row), []):
                surface[mention.head_key][mention.head_surface] += 1
                if mention.completion_key and (mention.head_key, mention.completion_key, mention.before) not in seen:
                    seen.add((mention.head_key, mention.completion_key, mention.before))
                    completions[mention.head_key][(mention.completion_key, mention.before)] += 1
                    completion_surface[(mention.head_key, mention.completion_key, mention.before)][
                        mention.completion_surface
                    ] += 1
                    problem_of[(mention.completion_key, mention.before)] = mention.problem
        top_heads = sorted(weights, key=lambda head: (-weights[head], head))[:4]
        subject_share[theme_id] = max(head_df[theme_id][head] for head in top_heads) / size
        phrases = _phrases(top_heads, weights, head_df[theme_id], surface, completions, completion_surface,
                           problem_of, negative_share, needed, together, polarities)
        if not any(len(phrase.split()) >= 2 for phrase, _ in phrases):
            phrases = _phrases(top_heads, weights, head_df[theme_id], surface, completions, completion_surface,
                               problem_of, negative_share, 1, together, polarities) or phrases
        candidates[theme_id] = sorted(phrases, key=lambda item: -item[1])[:6]

    if embed is not None and centroids and candidates:
        flat = [phrase for items in candidates.values() for phrase, _ in items]
        vectors = np.asarray(embed(flat), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        position = 0
        for theme_id, items in candidates.items():
            block = vectors[position : position + len(items)]
            position += len(items)
            if theme_id not in centroids:
                continue
            sims = block @ centroids[theme_id]
            top = max(score for _, score in items)
            # KeyBERTInspired-like: mix the (normalised) phrase score with its similarity to the centroid.
            rescored = [(phrase, score / top + float(sim)) for (phrase, score), sim in zip(items, sims, strict=True)]
            candidates[theme_id] = sorted(rescored, key=lambda item: -item[1])
    for theme_id, items in candidates.items():
        labels[theme_id] = items[0][0]
    return {
        theme_id: ThemeLabel(text, subject_share.get(theme_id, 0.0) >= MIN_SUBJECT_SHARE, subject_share.get(theme_id, 0.0))
        for theme_id, text in labels.items()
    }


def group_polarities(
    theme_of_row: np.ndarray, groups: Sequence[object], sentiments: Sequence[object] | None,
    min_comments: int = MIN_GROUP_COMMENTS,
) -> dict[int, set[str]]:
    """Theme id -> the majority sentiment of each NPS group with at least ``min_comments`` of its comments.

    ``"positive"`` / ``"negative"`` when that share is larger than the other, else ``"mixed"``. Without
    sentiment, promoters count as positive and detractors as negative (passives as mixed).

    Example:
        >>> group_polarities(np.array([0, 0, 0, 0]), ["promoter"] * 3 + ["detractor"],
        ...                  ["positive", "positive", "neutral", "negative"])
        {0: {'positive'}}
    """
    tallies: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    for index, theme_id in enumerate(theme_of_row.tolist()):
        group = str(groups[index])
        sentiment = sentiments[index] if sentiments is not None else None
        if not isinstance(sentiment, str):
            sentiment = {"promoter": "positive", "detractor": "negative"}.get(group, "neutral")
        tallies[(int(theme_id), group)][sentiment] += 1
    result: dict[int, set[str]] = defaultdict(set)
    for (theme_id, _), counts in tallies.items():
        if sum(counts.values()) < min_comments:
            continue
        positive, negative = counts.get("positive", 0), counts.get("negative", 0)
        result[theme_id].add("positive" if positive > negative else "negative" if negative > positive else "mixed")
    return dict(result)


def _phrases(
    top_heads: list[tuple[str, ...]],
    weights: dict[tuple[str, ...], float],
    head_df: Counter[tuple[str, ...]],
    surface: dict[tuple[str, ...], Counter[str]],
    completions: dict[tuple[str, ...], Counter[tuple[tuple[str, ...], bool]]],
    completion_surface: dict[tuple[tuple[str, ...], tuple[str, ...], bool], Counter[str]],
    problem_of: dict[tuple[tuple[str, ...], bool], bool],
    negative_share: float,
    needed: int,
    together: Callable[[tuple[str, ...], tuple[str, ...]], float] | None = None,
    polarities: set[str] | None = None,
) -> list[tuple[str, float]]:
    """Candidate phrases (with scores) from the theme's top heads and their completions.

    ``polarities``: the majority sentiments of the groups the label stands over; a problem completion needs
    none of them positive, another completion none of them negative. ``together(a, b)``: share of the
    comments naming both heads (an "a & b" label needs :data:`MIN_LABEL_COOCCURRENCE`).
    """
    phrases: list[tuple[str, float]] = []
    # Subject first: the label names the theme's main subject (its top head), then what is said about it;
    # a problem completion of a lesser subject must not outrank the subject most comments are about.
    for head in top_heads[:1]:
        head_text = surface[head].most_common(1)[0][0]
        head_count = head_df[head]
        for (key, before), count in completions[head].most_common(6):
            if count < needed:
                continue
            if polarities is not None and ("positive" if problem_of[(key, before)] else "negative") in polarities:
                continue  # the phrase would contradict a group it stands over: the topic alone names it
            bonus = 1.0 + (1.5 * negative_share if problem_of[(key, before)] else 0.0)
            share = count / head_count
            words = completion_surface[(head, key, before)].most_common(1)[0][0]
            phrase = f"{words} {head_text}" if before else f"{head_text} {words}"
            if len(phrase.split()) <= 5:
                phrases.append((_capitalise(phrase), weights[head] * (0.5 + share) * bonus))
        others = [h for h in top_heads if h != head and not set(h) & set(head)]
        if together is not None:
            others = [other for other in others if together(head, other) >= MIN_LABEL_COOCCURRENCE]
        if others:
            other_text = surface[others[0]].most_common(1)[0][0]
            phrase = f"{head_text} & {other_text}"
            if len(phrase.split()) <= 5:
                phrases.append((_capitalise(phrase), weights[head] * 0.5 * (1.0 - 0.5 * negative_share)))
        elif len(head_text.split()) >= 2:
            phrases.append((_capitalise(head_text), weights[head] * 0.6))
    if not phrases:
        head = top_heads[0]
        phrases.append((_capitalise(surface[head].most_common(1)[0][0]), weights[head]))
    return phrases


def theme_language(languages: Sequence[str | None], texts: Sequence[str], theme_ids: np.ndarray, theme_id: int) -> str:
    """Majority language (``"de"`` or ``"en"``) of one theme's comments (unknown ones guessed)."""
    from nps_text.text import guess_language

    rows = np.flatnonzero(theme_ids == theme_id)[:MAX_TAGGED_PER_THEME]
    votes = Counter("de" if (languages[row] or guess_language(texts[row])) == "de" else "en" for row in rows)
    return votes.most_common(1)[0][0] if votes else "en"


def readable_labels(
    distinct: Sequence[str],
    languages: Sequence[str | None],
    theme_ids: np.ndarray,
    text_rows: Any,
    codes: np.ndarray,
    embed: Callable[[Sequence[str]], np.ndarray],
    raw_vectors: np.ndarray,
    config: Any,
    *,
    skip: set[int],
) -> dict[int, ThemeLabel]:
    """:func:`label_themes` for the themes step: detractor/negative share per distinct comment and each NPS
    group's majority sentiment per theme from ``text_rows`` (the text rows, aligned with ``codes``), centroids
    in the raw embedding space."""
    from nps_text.text import DEFAULT_FILLER_WORDS

    ids = theme_ids.copy()
    ids[np.isin(ids, list(skip))] = OUTLIER_THEME_ID  # named by the user or a taxonomy: no phrase needed
    if not (ids != OUTLIER_THEME_ID).any():
        return {}
    flags = np.array(text_rows["nps_group"].astype("string").eq("detractor").fillna(False), dtype=bool)
    sentiments = None
    if "sentiment" in text_rows.columns:
        flags |= np.array(text_rows["sentiment"].astype("string").eq("negative").fillna(False), dtype=bool)
        sentiments = [value if isinstance(value, str) else None for value in text_rows["sentiment"].tolist()]
    negative = np.zeros(len(distinct), dtype=bool)
    np.logical_or.at(negative, codes, flags)
    polarity = group_polarities(ids[codes], text_rows["nps_group"].astype(str).tolist(), sentiments)
    centroids = {}
    for theme_id in set(ids.tolist()) - {OUTLIER_THEME_ID}:
        mean = raw_vectors[ids == theme_id].mean(axis=0)
        centroids[int(theme_id)] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    filler = (set(DEFAULT_FILLER_WORDS) if config.default_filler else set()) | set(config.filler_words)
    return label_themes(
        distinct, languages, ids, negative=negative, embed=embed, centroids=centroids,
        filler_words=frozenset(word.lower() for word in filler), seed=config.seed,
        group_polarity={theme_id: polarity.get(theme_id, set()) for theme_id in set(ids.tolist())},
    )
