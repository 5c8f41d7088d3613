"""Text preprocessing for themes: cleaning before embedding, and spaCy lemmas for topic keywords.

Two jobs, both offline:

* :func:`clean_for_embedding` strips what dominates the embedding of a short comment without saying
  what it is about: ``@mentions``, URLs, e-mail addresses, leading greetings and trailing sign-offs.
* :func:`lemmatize_texts` turns comments into lists of clean lemmas (spaCy tokenizer plus the lookup
  lemmatizer of ``spacy-lookups-data``, German and English) with stop words, survey filler
  ("Danke", "alles", "gut", "thanks", ...) and noise removed. Umlauts stay intact ("Kündigung"), German
  nouns keep their capital letter, everything else is lower case. These lemmas feed BERTopic's
  vectorizer, so theme keywords are readable words.

Example:
    >>> clean_for_embedding("@DB_Bahn Hallo, der Zug war 40 Minuten zu spät https://t.co/x Viele Grüße")
    'der Zug war 40 Minuten zu spät'
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

SUPPORTED_LANGUAGES: tuple[str, ...] = ("de", "en")

DEFAULT_FILLER_WORDS: frozenset[str] = frozenset(
    {
        # German survey filler: praise/thanks/intensifiers that say nothing about a topic.
        "danke", "dank", "vielen", "bitte", "alles", "gut", "super", "toll", "prima", "klasse", "top",
        "sehr", "immer", "einfach", "mal", "ganz", "echt", "wirklich", "eigentlich", "bisher", "weiter",
        "so", "ja", "nein", "ok", "okay", "bzw", "usw", "etc", "halt", "eben", "schon", "gerne", "gern",
        "zufrieden", "weiterso", "perfekt", "insgesamt", "generell", "leider", "mega", "hallo", "liebe",
        "lieber", "grüße", "gruß", "mfg", "lg", "vg",
        # English survey filler.
        "thanks", "thank", "thx", "please", "everything", "good", "great", "nice", "fine", "excellent",
        "awesome", "amazing", "love", "really", "very", "always", "just", "also", "overall", "well",
        "pretty", "quite", "lot", "lots", "yes", "no", "hi", "hello", "dear",
        "regards", "cheers", "happy", "satisfied", "perfect", "keep",
    }
)
"""Survey filler removed from theme keywords on top of spaCy's stop words (lower case)."""

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_MENTION = re.compile(r"(?<!\w)@\w+")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_RETWEET = re.compile(r"^\s*RT\b:?", re.IGNORECASE)
_GREETING = re.compile(
    r"^\s*(?:(?:hallo|hello|hi|hey|moin|servus|guten\s+(?:tag|morgen|abend)|good\s+(?:morning|afternoon|evening)"
    r"|sehr\s+geehrte[rs]?(?:\s+damen\s+und\s+herren)?|liebe[rs]?(?:\s+\w+)?|dear(?:\s+\w+)?)"
    r"(?:\s+(?:team|zusammen|all|everyone|there))?\s*[,!.:;-]+\s*)+",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"(?:[,.!;]\s*|\s+)(?:viele\s+grüße|liebe\s+grüße|beste\s+grüße|freundliche\s+grüße|mit\s+freundlichen\s+grüßen"
    r"|mfg|lg|vg|best\s+regards|kind\s+regards|regards|cheers|best\s+wishes)\b.*$",
    re.IGNORECASE | re.DOTALL,
)
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*\]|<[A-Z][A-Z_]*>|\$[A-Z][A-Z_]*\$")
_SYMBOLS = frozenset("$[]<>{}|\\/=+*^~_%&§")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = frozenset({".", "!", "?", "\n", ":"})

# Small closed-class word lists to guess de/en where the language column is empty.
_DE_HINTS = frozenset(
    ["der", "die", "das", "und", "ist", "nicht", "ich", "sie", "wir", "mit", "für", "auf", "ein", "eine", "zu", "war", "sehr", "auch", "es", "bei", "von", "den", "dem", "im"]
)
_EN_HINTS = frozenset(["the", "and", "is", "not", "i", "you", "we", "with", "for", "on", "a", "an", "to", "was", "very", "also", "it", "at", "of", "in", "my", "this"])


def clean_for_embedding(text: str) -> str:
    """Strip mentions, URLs, e-mail addresses, greetings and sign-offs before embedding.

    The comment's own words are kept; if nothing is left the stripped original is returned, so an embedding
    is never computed for an empty string.

    Args:
        text: One (already redacted) comment.

    Returns:
        The cleaned comment with single spaces.
    """
    cleaned = _RETWEET.sub(" ", text)
    cleaned = _URL.sub(" ", cleaned)
    cleaned = _EMAIL.sub(" ", cleaned)
    cleaned = _MENTION.sub(" ", cleaned)
    cleaned = _HASHTAG.sub(r"\1", cleaned)
    cleaned = _SPACES.sub(" ", cleaned).strip()
    cleaned = _GREETING.sub("", cleaned)
    cleaned = _SIGN_OFF.sub("", cleaned).strip(" ,;:-")
    cleaned = _SPACES.sub(" ", cleaned).strip()
    return cleaned if cleaned else _SPACES.sub(" ", text).strip()


def guess_language(text: str) -> str:
    """Guess ``"de"`` or ``"en"`` from closed-class words (only for rows whose language is unknown).

    Example:
        >>> guess_language("Der Zug war zu spät")
        'de'
    """
    words = re.findall(r"\w+", text.lower())
    german = sum(word in _DE_HINTS for word in words) + 2 * sum(ch in "äöüß" for ch in text.lower())
    english = sum(word in _EN_HINTS for word in words)
    return "en" if english > german else "de"


@lru_cache(maxsize=4)
def _pipeline(language: str) -> tuple[Any, Any, frozenset[str]]:
    """Tokenizer, lemma lookup table and stop words of a blank spaCy pipeline (loaded once per process)."""
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - dependency of the package
        from nps_text.errors import ModelError

        raise ModelError("spaCy is not installed: pip install 'spacy>=3.8' spacy-lookups-data") from exc
    nlp = spacy.blank(language)
    try:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
        lemmatizer: Any = nlp.get_pipe("lemmatizer")
        table = lemmatizer.lookups.get_table("lemma_lookup")
    except Exception as exc:
        from nps_text.errors import ModelError

        raise ModelError(
            f"spaCy lookup lemmas for {language!r} are missing: pip install spacy-lookups-data ({exc})"
        ) from exc
    return nlp.tokenizer, table, frozenset(word.lower() for word in nlp.Defaults.stop_words)


@lru_cache(maxsize=4)
def stop_words(languages: tuple[str, ...] = SUPPORTED_LANGUAGES) -> frozenset[str]:
    """spaCy's stop words of ``languages`` together (lower case): comments mix languages."""
    words: set[str] = set()
    for language in languages:
        words |= _pipeline(language)[2]
    return frozenset(words)


def _lemma(token_text: str, language: str, table: Any) -> str:
    if language == "de":
        lemma = table.get(token_text) or table.get(token_text.lower())
        if lemma is None:
            lemma = token_text
        # German nouns keep their capital; everything else (incl. sentence-initial words) is lower case.
        if lemma[:1].isupper() and not (token_text[:1].isupper() and table.get(token_text.lower())):
            return lemma
        return lemma.lower()
    lowered = token_text.lower()
    return table.get(lowered, lowered).lower()


def _content_lemma(token: Any, language: str, table: Any, drop: frozenset[str], min_length: int) -> str | None:
    """The lemma :func:`lemmatize_texts` keeps for a token, or ``None`` when it is dropped. Depends only on the
    token's text (spaCy's ``is_punct``, ``like_num``, ... are attributes of the lexeme), so it is computed once
    per distinct token."""
    if token.is_punct or token.is_space or token.like_num or token.like_url or token.like_email:
        return None
    raw = token.text
    if raw.startswith(("@", "#")) or not any(ch.isalpha() for ch in raw) or _SYMBOLS.intersection(raw):
        return None
    if any(ch.isdigit() for ch in raw) and len(raw) < 4:
        return None
    if raw.lower() in drop:
        return None
    lemma = _lemma(raw, language, table).strip("-'’.")
    if len(lemma) < min_length or lemma.lower() in drop:
        return None
    return lemma


def lemmatize_texts(
    texts: Sequence[str],
    languages: Sequence[str | None] | None = None,
    *,
    filler_words: Iterable[str] = DEFAULT_FILLER_WORDS,
    min_length: int = 2,
) -> list[list[str]]:
    """Turn texts into lists of content lemmas for topic keywords.

    Removes punctuation, numbers, URLs, e-mail addresses, mentions, redaction placeholders such as
    ``[EMAIL]`` or ``$HOTEL$``, tokens with symbols, spaCy stop words of German and English, and ``filler_words`` (compared in lower case, on
    the lemma and on the surface form).

    Args:
        texts: The comments.
        languages: ISO code per text (``de``/``en``; anything else or ``None`` is guessed).
        filler_words: Extra words to drop (survey filler); pass ``()`` to keep them.
        min_length: Shortest lemma kept, in characters.

    Returns:
        One list of lemmas per text.

    Example:
        >>> lemmatize_texts(["Die Kündigung der Lieferungen war schwierig, danke!"], ["de"])
        [['Kündigung', 'Lieferung', 'schwierig']]
    """
    filler = frozenset(word.lower() for word in filler_words)
    drop = stop_words(SUPPORTED_LANGUAGES) | filler
    resolved = [
        (lang if lang in SUPPORTED_LANGUAGES else guess_language(text))
        for text, lang in zip(texts, languages if languages is not None else [None] * len(texts), strict=True)
    ]
    results: list[list[str]] = [[] for _ in texts]
    # Votes for the casing of German lemmas seen inside sentences: a sentence-initial "Freundlich" becomes
    # "freundlich" and a sentence-initial "kündigung" in lower-case text becomes "Kündigung".
    casing_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for language in SUPPORTED_LANGUAGES:
        positions = [i for i, lang in enumerate(resolved) if lang == language]
        if not positions:
            continue
        tokenizer, table, _ = _pipeline(language)
        stripped = (_PLACEHOLDER.sub(" ", texts[i]) for i in positions)
        lemma_of: dict[str, str | None] = {}  # each distinct token is looked at once
        for position, doc in zip(positions, tokenizer.pipe(stripped), strict=True):
            kept: list[str] = []
            sentence_start = True
            for token in doc:
                raw = token.text
                initial, sentence_start = sentence_start, raw in _SENTENCE_END
                if raw in lemma_of:
                    lemma = lemma_of[raw]
                else:
                    lemma = lemma_of[raw] = _content_lemma(token, language, table, drop, min_length)
                if lemma is None:
                    continue
                if language == "de" and not initial:
                    casing_votes[lemma.lower()][lemma] += 1
                kept.append(lemma)
            results[position] = kept
    if casing_votes:
        canonical = {key: votes.most_common(1)[0][0] for key, votes in casing_votes.items()}
        results = [[canonical.get(lemma.lower(), lemma) for lemma in lemmas] for lemmas in results]
    return results
