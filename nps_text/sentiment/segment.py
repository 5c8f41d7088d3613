"""Split a comment into sentences and contrastive clauses for per-sentence sentiment.

"Beratung super, aber die Lieferung dauerte ewig" -> ["Beratung super", "aber die Lieferung dauerte ewig"].
Sentences end at ``.``, ``!``, ``?`` or a line break (not inside "z.B.", "u.a.", "3.5" or "Mr."); a clause
starts at a contrastive conjunction after a comma, semicolon or dash ("aber", "jedoch", "leider", "but",
"however"...), and at English " but " also without a comma.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = (
    "z.b.", "u.a.", "d.h.", "bzw.", "ca.", "evtl.", "ggf.", "inkl.", "usw.", "etc.", "vgl.", "nr.", "tel.", "str.",
    "mr.", "mrs.", "ms.", "dr.", "prof.", "e.g.", "i.e.", "vs.", "approx.", "z.t.", "o.ä.", "u.s.w.",
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”)\]]*\s+|\n+|\s*[•·]\s*")
_CLAUSE = re.compile(
    r"\s*[,;–—-]\s+(?=(?:aber|jedoch|allerdings|leider|doch|trotzdem|dennoch|nur|but|however|although|though|"
    r"unfortunately|yet|except|whereas|while)\b)|\s+(?=but\b)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+", re.UNICODE)


def _ends_with_abbreviation(piece: str) -> bool:
    tail = piece.rsplit(None, 1)[-1].lower() if piece.strip() else ""
    return tail in _ABBREVIATIONS or bool(re.search(r"\b\w\.$", tail)) or bool(re.search(r"\d\.$", tail))


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (abbreviation-aware), stripped, empties dropped."""
    pieces: list[str] = []
    buffer = ""
    position = 0
    for match in _SENTENCE_END.finditer(text):
        buffer += text[position : match.start()]
        position = match.end()
        if "\n" not in match.group() and _ends_with_abbreviation(buffer):
            buffer += match.group()
            continue
        pieces.append(buffer)
        buffer = ""
    pieces.append(buffer + text[position:])
    return [piece.strip() for piece in pieces if _WORD.search(piece)]


def split_clauses(sentence: str, min_words: int = 2) -> list[str]:
    """Split one sentence at contrastive conjunctions; parts shorter than ``min_words`` stay attached."""
    parts = [part.strip() for part in _CLAUSE.split(sentence) if part and part.strip()]
    merged: list[str] = []
    for part in parts:
        if merged and (len(_WORD.findall(part)) < min_words or len(_WORD.findall(merged[-1])) < min_words):
            merged[-1] = f"{merged[-1]}, {part}"
        else:
            merged.append(part)
    return merged or [sentence.strip()]


def split_segments(text: str) -> list[str]:
    """Sentences, each split into contrastive clauses: the units of per-sentence sentiment.

    Example:
        >>> split_segments("Beratung super, aber die Lieferung dauerte ewig. Gerne wieder!")
        ['Beratung super', 'aber die Lieferung dauerte ewig.', 'Gerne wieder!']
    """
    return [clause for sentence in split_sentences(text) for clause in split_clauses(sentence)]
