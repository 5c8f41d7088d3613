"""Personal data in free text: find it, and replace it with placeholders. Pure.

Detected, with the placeholder that replaces it:

- ``[URL]``: ``http(s)://`` links that carry a query string (they often hold tokens or personal identifiers);
- ``[EMAIL]``: e-mail addresses;
- ``[IBAN]``: IBANs, checked with :mod:`stdnum.iban` (country format and check digits);
- ``[CARD]``: payment card numbers, 13 to 19 digits in one block or in groups, Luhn-checked with
  :mod:`stdnum.luhn` and with a known issuer prefix;
- ``[IP]``: IPv4 addresses and IPv6 addresses (checked with :mod:`ipaddress`);
- ``[PHONE]``: phone numbers, found by ``phonenumbers``' matcher at ``Leniency.VALID`` for German, Austrian and
  Swiss national forms and every international ``+``/``00`` form. ``VALID`` (a number the numbering plan allows)
  is the level that keeps dates, times, prices, order and tracking numbers out: ``POSSIBLE`` matches those.

Every pattern runs in linear time in the length of the text: each regular expression has bounded
repetition (or a single character class) and a guard that rejects start positions inside a run, so a
1 MB comment costs about as much as a thousand 1 kB ones. The phone matcher runs only on short runs of
digits and separators; a text with more than :data:`MAX_PHONE_CHECKS` of them, or a run of digits and
separators longer than :data:`MAX_PHONE_RUN`, has the rest redacted by shape alone (fail closed).
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban as stdnum_iban
from stdnum import luhn

PLACEHOLDERS: tuple[str, ...] = ("URL", "EMAIL", "IBAN", "CARD", "IP", "PHONE")
"""Kinds of personal data, in the order they claim text (earlier kinds win overlaps)."""

PHONE_REGIONS: tuple[str, ...] = ("DE", "AT", "CH")
MAX_PHONE_RUN = 64
"""Runs of digits and separators longer than this are not one phone number; see the module docstring."""
MAX_PHONE_CHECKS = 2000
"""Per text, how many runs the phone matcher checks before falling back to shape-only redaction."""


@dataclass(frozen=True)
class PiiSpan:
    """One piece of personal data: ``text[start:end]`` is of kind ``kind`` (a placeholder name)."""

    start: int
    end: int
    kind: str


# --- candidate patterns (all linear-time) -------------------------------------------------------------

_URL_START = re.compile(r"(?<![\w.+-])https?://", re.IGNORECASE)
_NON_SPACE_RUN = re.compile(r"[^\s<>\"']*")
_EMAIL = re.compile(
    r"(?<![\w.%+\-])[\w.%+\-]{1,64}@"  # local part: starts only where a run of local-part characters starts
    r"(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.){1,8}[^\W\d_]{2,24}(?![\w\-]|\.[^\W_])",
)
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]{4}){2,7}(?:[ \u00a0]?[A-Z0-9]{1,3})?(?![\w])")
_CARD = re.compile(r"(?<![\w.,-])\d{4}(?:[ \-]?\d{3,4}){2,4}(?:[ \-]?\d{1,3})?(?![\w]|[.,-]\d)")
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE_RUN = re.compile(r"(?:\+|\(\+?)?\d[\d \u00a0\t()./\-]*")
"""Maximal runs of digits and phone separators: the only places a phone number can be."""
_PHONE_SHAPE = re.compile(
    r"(?:\+|00)\d{1,3}[ ./\-]?(?:\(0\)[ ./\-]?)?\d(?:[ ./\-]?\d){5,13}"
    r"|\(?0\d{2,5}\)?[ ./\-]?\d(?:[ ./\-]?\d){4,10}"
)
_CARD_PREFIX = re.compile(r"[2-6]")
"""Issuer prefixes of the card schemes (Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Maestro/Discover/UnionPay 6)."""
_DATE_LIKE = re.compile(
    r"(?:\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}([./-])\d{1,2}\2\d{1,2})(?:,?[ T]\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)?"
)
"""Dates (``05.03.2026``, ``2026-03-05``, ``5/3/26``) with an optional time: some are valid phone numbers."""
_CONTEXT = 12
"""Characters either side of a phone run that the matcher sees (it checks neighbours for dates and times)."""


def _url_spans(text: str) -> Iterator[tuple[int, int]]:
    position = 0
    while match := _URL_START.search(text, position):
        end = _NON_SPACE_RUN.match(text, match.end()).end()  # type: ignore[union-attr]
        url = text[match.start() : end].rstrip(".,;:!)]}")
        if "?" in url and not url.endswith("?"):
            yield match.start(), match.start() + len(url)
        position = end


def _email_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _EMAIL.finditer(text):
        local = match.group(0).split("@", 1)[0]
        start = match.start() + (len(local) - len(local.lstrip(".")))
        yield start, match.end()


def _iban_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN.finditer(text):
        if stdnum_iban.is_valid(match.group(0)):
            yield match.span()


def card_number_ok(candidate: str) -> bool:
    """A payment card number: 13-19 digits, a known issuer prefix, and a valid Luhn check digit.

    Example:
        >>> card_number_ok("4111 1111 1111 1111"), card_number_ok("1234 5678 9012 3456")
        (True, False)
    """
    digits = re.sub(r"[ \-]", "", candidate)
    if not (13 <= len(digits) <= 19 and digits.isdigit() and _CARD_PREFIX.match(digits)):
        return False
    separators = set(re.findall(r"[ \-]", candidate))
    return len(separators) <= 1 and luhn.is_valid(digits)


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        if card_number_ok(match.group(0)):
            yield match.span()


def _ip_spans(text: str) -> Iterator[tuple[int, int]]:
    yield from (match.span() for match in _IPV4.finditer(text))
    for match in _IPV6.finditer(text):
        candidate = match.group(0)
        if candidate.count(":") < 3 and "::" not in candidate:
            continue
        if len(candidate.replace(":", "")) < 4:
            continue  # "::", "12:30::" and the like
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield match.span()


def _phone_matches(window: str, international: bool) -> list[tuple[int, int]]:
    for region in PHONE_REGIONS[:1] if international else PHONE_REGIONS:
        found = [(m.start, m.end) for m in PhoneNumberMatcher(window, region, leniency=Leniency.VALID)]
        if found:
            return found
    return []


def _phone_spans(text: str) -> Iterator[tuple[int, int]]:
    checks = 0
    for run in _PHONE_RUN.finditer(text):
        start, end = run.start(), len(run.group(0).rstrip(" \u00a0\t(./-")) + run.start()
        digits = sum(char.isdigit() for char in text[start:end])
        if digits < 6:
            continue
        if end - start > MAX_PHONE_RUN or checks >= MAX_PHONE_CHECKS:
            for shape in _PHONE_SHAPE.finditer(text, start, end):
                if sum(char.isdigit() for char in shape.group(0)) >= 7 and not _DATE_LIKE.fullmatch(shape.group(0)):
                    yield shape.span()
            continue
        checks += 1
        left = max(0, start - _CONTEXT)
        window = text[left : end + _CONTEXT]
        international = text.startswith(("+", "(+", "00"), start)
        for match_start, match_end in _phone_matches(window, international):
            if match_end + left > start and match_start + left < end and not _DATE_LIKE.fullmatch(
                window[match_start:match_end]
            ):
                yield match_start + left, match_end + left


_DETECTORS = {
    "URL": _url_spans,
    "EMAIL": _email_spans,
    "IBAN": _iban_spans,
    "CARD": _card_spans,
    "IP": _ip_spans,
    "PHONE": _phone_spans,
}


def find_pii(text: str, kinds: Iterable[str] = PLACEHOLDERS) -> list[PiiSpan]:
    """Spans of personal data in ``text``, sorted, without overlaps (earlier kinds in :data:`PLACEHOLDERS` win).

    Example:
        >>> [(s.kind, "x@y.de 0171 1234567"[s.start:s.end]) for s in find_pii("x@y.de 0171 1234567")]
        [('EMAIL', 'x@y.de'), ('PHONE', '0171 1234567')]
    """
    wanted = set(kinds)
    unknown = wanted - set(PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown kinds of personal data {sorted(unknown)}; known: {list(PLACEHOLDERS)}")
    starts: list[int] = []
    spans: list[PiiSpan] = []
    for kind in PLACEHOLDERS:
        if kind not in wanted:
            continue
        for start, end in _DETECTORS[kind](text):
            index = bisect_left(starts, start)
            if index > 0 and spans[index - 1].end > start:
                continue
            if index < len(spans) and spans[index].start < end:
                continue
            starts.insert(index, start)
            spans.insert(index, PiiSpan(start, end, kind))
    return spans


def redact(text: str, kinds: Iterable[str] = PLACEHOLDERS) -> str:
    """Replace personal data in ``text`` with placeholders like ``[EMAIL]``, ``[PHONE]``, ``[IBAN]``.

    Example:
        >>> redact("Bitte an max@example.de oder 0176 1234567, IBAN DE89 3704 0044 0532 0130 00")
        'Bitte an [EMAIL] oder [PHONE], IBAN [IBAN]'
    """
    spans = find_pii(text, kinds)
    if not spans:
        return text
    parts: list[str] = []
    position = 0
    for span in spans:
        parts.append(text[position : span.start])
        parts.append(f"[{span.kind}]")
        position = span.end
    parts.append(text[position:])
    return "".join(parts)


def value_kind(value: str) -> str | None:
    """The kind of personal data a whole cell value is (``EMAIL``, ``PHONE``, ``IBAN``, ``CARD``), else ``None``.

    Used to recognise columns of personal data by their content.

    Example:
        >>> [value_kind(v) for v in ["max@example.de", "+49 30 1234567", "Berlin", "DE89370400440532013000"]]
        ['EMAIL', 'PHONE', None, 'IBAN']
    """
    text = value.strip()
    if not text or len(text) > 100:
        return None
    for span in find_pii(text, ("EMAIL", "IBAN", "CARD", "PHONE")):
        covered = text[: span.start].strip(" :;,") == "" and text[span.end :].strip(" .;,") == ""
        if covered:
            return span.kind
    return None
