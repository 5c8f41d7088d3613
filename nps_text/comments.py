"""Comments: status (text / empty / non_informative), language, and PII redaction. Pure.

Redaction runs before anything else sees the text, so every later table, the report and the exports
hold the redacted comment only. Replaced (see :mod:`nps_text.pii`): e-mail addresses, IBANs, payment card
numbers (Luhn-checked), phone numbers (international and German/Austrian/Swiss formats), IP addresses, and
URLs that carry query strings (they often hold tokens or personal identifiers).
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
from nps_text.pii import redact
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

def redact_pii(text: str) -> str:
    """Replace personal data in ``text`` with placeholders like ``[EMAIL]``, ``[PHONE]``, ``[IBAN]``.

    See :mod:`nps_text.pii` for what is detected and how.

    Example:
        >>> redact_pii("Bitte an max@example.de oder 0176 1234567, IBAN DE89 3704 0044 0532 0130 00")
        'Bitte an [EMAIL] oder [PHONE], IBAN [IBAN]'
    """
    return redact(text)


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
        short = [text for text in distinct if len(text) < LONG_TEXT_CHARS]
        long = [text for text in distinct if len(text) >= LONG_TEXT_CHARS]
        codes: dict[str, str | None] = {}
        for group, low_accuracy in ((short, False), (long, True)):
            if not group:
                continue
            found = _detector(tuple(languages), low_accuracy).detect_languages_in_parallel_of(group)
            for text, language in zip(group, found, strict=True):
                codes[text] = language.iso_code_639_1.name.lower() if language is not None else None
        return [codes[text] for text in distinct]

    codes = cached_results(cache, "language", "lingua", language_cache_version(languages), texts, detect)
    return [codes[text] for text in texts]


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
) -> pd.DataFrame:
    """A copy of ``responses`` with ``comment`` redacted and trimmed, ``comment_status`` and ``language``.

    Empty comments become null; ``language`` is set for ``text`` comments only. The rows are prepared
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
    for start in range(0, len(comments), CHUNK_ROWS):
        cleaned, language, status = _prepare_chunk(
            comments.iloc[start : start + CHUNK_ROWS], extra, redact, languages, cache
        )
        cleaned_parts.append(cleaned)
        language_parts.append(language)
        status_parts.append(status)
    statuses = np.concatenate(status_parts) if status_parts else np.zeros(0, dtype="int8")
    return responses.assign(
        comment=_text_series(cleaned_parts, index),
        comment_status=pd.Series(_STATUSES[statuses], index=index, dtype=pd.StringDtype()),
        language=_text_series(language_parts, index),
    )


def _prepare_chunk(
    comments: pd.Series, extra: tuple[str, ...], redact: bool, languages: Sequence[str], cache: ResultStore | None
) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """``(cleaned comment, language, status code)`` per row of one chunk, computed per distinct comment."""
    codes, uniques = pd.factorize(comments)
    values: list[object] = list(uniques)
    statuses = [comment_status(value, extra) for value in values]
    cleaned: list[str | None] = []
    for value, status in zip(values, statuses, strict=True):
        if status == STATUS_EMPTY:
            cleaned.append(None)
            continue
        text = str(value).strip()
        cleaned.append(redact_pii(text) if redact else text)
    del values
    text_rows = [index for index, status in enumerate(statuses) if status == STATUS_TEXT]
    detected = detect_languages([str(cleaned[index]) for index in text_rows], languages, cache)  # redacted text
    language: list[str | None] = [None] * len(cleaned)
    for index, code in zip(text_rows, detected, strict=True):
        language[index] = code
    status_of = np.array([_STATUS_CODES[status] for status in statuses] + [_STATUS_CODES[STATUS_EMPTY]], dtype="int8")
    missing = codes < 0
    take = pa.array(np.where(missing, 0, codes), mask=missing)
    return (
        pa.array(cleaned, type=pa.large_string()).take(take),
        pa.array(language, type=pa.large_string()).take(take),
        status_of[np.where(missing, len(statuses), codes)],
    )


def _text_series(parts: list[pa.Array], index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(parts, type=pa.large_string())), index=index)


