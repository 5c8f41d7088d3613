"""Comments: status (text / empty / non_informative), language, and PII redaction. Pure.

Redaction runs before anything else sees the text, so every later table, the report and the exports
hold the redacted comment only. Replaced (see :mod:`nps_text.pii`): e-mail addresses, IBANs, payment card
numbers (Luhn-checked), phone numbers (international and German/Austrian/Swiss formats), IP addresses, and
URLs that carry query strings (they often hold tokens or personal identifiers).

A comment longer than ``comments.max_chars`` (:data:`nps_text.rules.MAX_COMMENT_CHARS` by default; typically the rest of a file
swallowed by an unclosed quote) is cut at a word boundary and ends in :data:`TRUNCATION_MARK`; the models (language,
sentiment, themes) and every output see only that part, and ``comment_truncated`` marks the row. Redaction reads a
window just beyond the cut, never the whole field, so a 5 MB comment costs about what a 5,000-character one does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa

from nps_text.cache import ResultStore, cached_results
from nps_text.ingest.table import single_chunk
from nps_text.pii import redact
from nps_text.rules import MAX_COMMENT_CHARS, has_text
from nps_text.runner import offload
from nps_text.schema import STATUS_EMPTY, STATUS_NON_INFORMATIVE, STATUS_TEXT

NON_INFORMATIVE = frozenset(
    {
        # German
        "ka", "k a", "keine angabe", "keine angaben", "keine", "kein", "keiner", "nichts", "nix", "nein",
        "kein kommentar", "keine kommentare", "keine anmerkung", "keine anmerkungen", "keine meinung",
        "weiss nicht", "weiß nicht", "keine ahnung", "nichts weiter", "nichts hinzuzufügen", "nichts zu sagen",
        "entfällt", "ohne", "ohne kommentar", "nichts besonderes", "-", "—", "/", "?", "...", "xxx", "test",
        # English
        "n a", "na", "n/a", "none", "nothing", "no", "nope", "no comment", "no comments", "nothing to add",
        "nothing else", "nothing to say", "no idea", "dont know", "don't know", "not applicable", "nil", "null", "nan", "none given",
        "none at this time", "no thanks", "idk", "x", "0",
    }
)

_WORD = re.compile(r"[^\W_]", re.UNICODE)
_SPACE = re.compile(r"\s+")

TRUNCATION_MARK = " […]"
"""Ends a comment that was cut (an editorial omission mark: no words, so no theme or sentiment of its own)."""
REDACTION_CONTEXT = 1_000
"""Redaction of a long comment reads this many characters beyond the cut and twice as many beyond the limit
(the longest personal-data item assumed), so that nothing kept is personal data cut in half."""

def redact_pii(text: str) -> str:
    """Replace personal data in ``text`` with placeholders like ``[EMAIL]``, ``[PHONE]``, ``[IBAN]``.

    See :mod:`nps_text.pii` for what is detected and how.

    Example:
        >>> redact_pii("Bitte an max@example.de oder 0176 1234567, IBAN DE89 3704 0044 0532 0130 00")
        'Bitte an [EMAIL] oder [PHONE], IBAN [IBAN]'
    """
    return redact(text)


def cut_comment(text: str, max_chars: int = MAX_COMMENT_CHARS) -> str:
    """``text`` cut to at most ``max_chars`` characters, ending in :data:`TRUNCATION_MARK`.

    The cut falls on the last whitespace within the last fifth of the allowed length (so no word is cut in
    half), else exactly at the limit (a text without spaces). Call it only for texts longer than ``max_chars``.

    Example:
        >>> cut_comment("Die Lieferung kam viel zu spät und der Kundenservice half nicht", 30)
        'Die Lieferung kam viel zu […]'
    """
    limit = max(max_chars - len(TRUNCATION_MARK), 1)
    floor = limit * 4 // 5
    position = next((index for index in range(limit, floor, -1) if text[index : index + 1].isspace()), limit)
    return text[:position].rstrip() + TRUNCATION_MARK


def shorten_comment(text: str, max_chars: int = MAX_COMMENT_CHARS, redact: bool = True) -> tuple[str, bool]:
    """``(the comment as kept, whether it was cut)``: redacted (when ``redact``) and at most ``max_chars`` long.

    Only a window of ``max_chars`` + 2 x :data:`REDACTION_CONTEXT` characters is redacted (widened while
    redaction shrinks it below ``max_chars`` + :data:`REDACTION_CONTEXT`), so the cost does not grow with a giant
    field, and a phone number or e-mail address that the window cuts in half lies beyond the cut.

    Example:
        >>> shorten_comment("Ruf an: 0176 1234567. " + "Lieferung zu spät. " * 500, 40)
        ('Ruf an: [PHONE]. Lieferung zu spät. […]', True)
    """
    window = max_chars + 2 * REDACTION_CONTEXT
    while True:
        part = text[:window]
        kept = redact_pii(part) if redact else part
        if window >= len(text):
            return (kept, False) if len(kept) <= max_chars else (cut_comment(kept, max_chars), True)
        if len(kept) >= max_chars + REDACTION_CONTEXT:  # whatever the window's edge split lies beyond the cut
            return cut_comment(kept, max_chars), True
        window *= 4


def _normalise_answer(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower().strip()
    folded = re.sub(r"[.!,;:]+$", "", folded).strip()
    return _SPACE.sub(" ", folded.replace(".", " ").replace("/", " ") if folded not in NON_INFORMATIVE else folded)


def comment_status(comment: object, extra_non_informative: Iterable[str] = ()) -> str:
    """``empty`` for null/whitespace, ``non_informative`` for fillers and emoji/punctuation only, else ``text``.

    Example:
        >>> [comment_status(c) for c in [None, "  ", "k.A.", "🙂👍", "Lieferung zu spät"]]
        ['empty', 'empty', 'non_informative', 'non_informative', 'text']
    """
    if comment is None or (isinstance(comment, float) and pd.isna(comment)) or comment is pd.NA:
        return STATUS_EMPTY
    text = str(comment).strip()
    if not text:
        return STATUS_EMPTY
    if not _WORD.search(text):
        return STATUS_NON_INFORMATIVE  # punctuation, symbols and emoji only
    normalised = _normalise_answer(text)
    extra = {_normalise_answer(item) for item in extra_non_informative}
    if normalised in NON_INFORMATIVE or normalised in extra or text.lower() in NON_INFORMATIVE:
        return STATUS_NON_INFORMATIVE
    return STATUS_TEXT


LONG_TEXT_CHARS = 120
"""From this length on, lingua's low-accuracy mode is as good as the full one and 3x faster."""


@lru_cache(maxsize=8)
def _detector(languages: tuple[str, ...], low_accuracy: bool = False):  # type: ignore[no-untyped-def]
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    chosen = []
    for code in languages:
        try:
            chosen.append(Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())))
        except (AttributeError, ValueError):
            continue
    builder = (
        LanguageDetectorBuilder.from_all_languages()
        if len(chosen) < 2
        else LanguageDetectorBuilder.from_languages(*chosen)
    )
    return (builder.with_low_accuracy_mode() if low_accuracy else builder).build()


def language_cache_version(languages: Sequence[str]) -> str:
    """lingua's version, the candidate languages and the long-text cut-off: the language cache key's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        lingua_version = version("lingua-language-detector")
    except PackageNotFoundError:  # pragma: no cover - a dependency of the package
        lingua_version = "unknown"
    return f"{lingua_version}|{','.join(sorted({code.lower() for code in languages}))}|long>={LONG_TEXT_CHARS}"


def detect_languages(
    texts: Sequence[str], languages: Sequence[str] = ("de", "en"), cache: ResultStore | None = None
) -> list[str | None]:
    """ISO 639-1 code per text (lingua, offline), ``None`` where it cannot tell.

    Each distinct text is detected once; short texts use lingua's full-accuracy mode, long ones its
    faster low-accuracy mode. With a ``cache`` (the run's result store), codes are kept per lingua
    version, language set and text hash, so a re-run detects only new texts. Pass redacted texts.
    """
    if not texts:
        return []

    def detect(distinct: list[str]) -> list[str | None]:
        # lingua's models in the model process when the run's models run there (nps_text.runner.offload)
        return offload(_detect_distinct, distinct, tuple(languages))

    codes = cached_results(cache, "language", "lingua", language_cache_version(languages), texts, detect)
    return [codes[text] for text in texts]


def _detect_distinct(distinct: list[str], languages: tuple[str, ...]) -> list[str | None]:
    """The language of each of ``distinct``: short texts in lingua's full-accuracy mode, long ones in its low one."""
    short = [text for text in distinct if len(text) < LONG_TEXT_CHARS]
    long = [text for text in distinct if len(text) >= LONG_TEXT_CHARS]
    codes: dict[str, str | None] = {}
    for group, low_accuracy in ((short, False), (long, True)):
        if not group:
            continue
        found = _detector(languages, low_accuracy).detect_languages_in_parallel_of(group)
        for text, language in zip(group, found, strict=True):
            codes[text] = language.iso_code_639_1.name.lower() if language is not None else None
    return [codes[text] for text in distinct]


def release_detectors() -> None:
    """Drop this process's lingua detectors (about 100 MiB for German and English; rebuilt when next asked for)."""
    _detector.cache_clear()


CHUNK_ROWS = 50_000
"""Comments are prepared this many rows at a time (flat memory); within a chunk, once per distinct text."""
_STATUSES = np.array([STATUS_EMPTY, STATUS_NON_INFORMATIVE, STATUS_TEXT], dtype=object)
_STATUS_CODES = {STATUS_EMPTY: 0, STATUS_NON_INFORMATIVE: 1, STATUS_TEXT: 2}


def prepare_comments(
    responses: pd.DataFrame,
    *,
    languages: Sequence[str] = ("de", "en"),
    extra_non_informative: Iterable[str] = (),
    redact: bool = True,
    cache: ResultStore | None = None,
    max_chars: int = MAX_COMMENT_CHARS,
) -> pd.DataFrame:
    """A copy of ``responses`` with ``comment`` redacted and trimmed, ``comment_status``, ``language`` and
    ``comment_truncated``.

    Empty comments become null; ``language`` is set for ``text`` comments only. A comment longer than
    ``max_chars`` is cut (:func:`shorten_comment`) before its language is detected, and marked in
    ``comment_truncated`` (bool); the status is decided on the whole comment. The rows are prepared
    :data:`CHUNK_ROWS` at a time, and within a chunk status, redaction and language once per distinct comment
    (languages across chunks come from ``cache``); the new columns are compact (Arrow-backed ``string``).
    """
    extra = tuple(extra_non_informative)
    index = responses.index
    if "comment" not in responses.columns or len(responses) == 0:
        comments = pd.Series(None, index=index, dtype=object)
    else:
        comments = responses["comment"]
    cleaned_parts: list[pa.Array] = []
    language_parts: list[pa.Array] = []
    status_parts: list[np.ndarray] = []
    truncated_parts: list[np.ndarray] = []
    for start in range(0, len(comments), CHUNK_ROWS):
        cleaned, language, status, truncated = _prepare_chunk(
            comments.iloc[start : start + CHUNK_ROWS], extra, redact, languages, cache, max_chars
        )
        cleaned_parts.append(cleaned)
        language_parts.append(language)
        status_parts.append(status)
        truncated_parts.append(truncated)
    statuses = np.concatenate(status_parts) if status_parts else np.zeros(0, dtype="int8")
    truncated_rows = np.concatenate(truncated_parts) if truncated_parts else np.zeros(0, dtype=bool)
    return responses.assign(
        comment=_text_series(cleaned_parts, index),
        comment_status=pd.Series(_STATUSES[statuses], index=index, dtype=pd.StringDtype()),
        language=_text_series(language_parts, index),
        comment_truncated=pd.Series(truncated_rows, index=index, dtype=bool),
    )


def _prepare_chunk(
    comments: pd.Series,
    extra: tuple[str, ...],
    redact: bool,
    languages: Sequence[str],
    cache: ResultStore | None,
    max_chars: int = MAX_COMMENT_CHARS,
) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
    """``(cleaned comment, language, status code, truncated)`` per row of one chunk, computed per distinct comment."""
    codes, uniques = pd.factorize(comments)
    values: list[object] = list(uniques)
    statuses = [comment_status(value, extra) for value in values]
    cleaned: list[str | None] = []
    truncated = np.zeros(len(values) + 1, dtype=bool)  # the last entry: rows without a comment
    for position, (value, status) in enumerate(zip(values, statuses, strict=True)):
        if status == STATUS_EMPTY:
            cleaned.append(None)
            continue
        text, truncated[position] = shorten_comment(str(value).strip(), max_chars, redact)
        cleaned.append(text)
    del values
    text_rows = np.flatnonzero(has_text(pd.Series(statuses, dtype=object))).tolist()
    detected = detect_languages([str(cleaned[index]) for index in text_rows], languages, cache)  # redacted text
    language: list[str | None] = [None] * len(cleaned)
    for index, code in zip(text_rows, detected, strict=True):
        language[index] = code
    status_of = np.array([_STATUS_CODES[status] for status in statuses] + [_STATUS_CODES[STATUS_EMPTY]], dtype="int8")
    missing = codes < 0
    take = pa.array(np.where(missing, 0, codes), mask=missing)
    rows = np.where(missing, len(statuses), codes)
    return (
        pa.array(cleaned, type=pa.large_string()).take(take),
        pa.array(language, type=pa.large_string()).take(take),
        status_of[rows],
        truncated[rows],
    )


def _text_series(parts: list[pa.Array], index: pd.Index) -> pd.Series:
    """The chunks' text as one column, one Arrow array (see :func:`nps_text.ingest.table.single_chunk`)."""
    return pd.Series(pd.arrays.ArrowStringArray(single_chunk(parts)), index=index)


