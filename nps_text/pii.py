"""Personal data in free text: find it, and replace it with placeholders. Pure.

Detected, with the placeholder that replaces it:

- ``[URL]``: ``http(s)://`` links that carry a query string (they often hold tokens or personal identifiers);
- ``[EMAIL]``: e-mail addresses;
- ``[IBAN]``: IBANs, checked with :mod:`stdnum.iban` (country format and check digits);
- ``[CARD]``: payment card numbers, 13 to 19 digits in one block or in groups, Luhn-checked with
  :mod:`stdnum.luhn` and with a known issuer prefix;
- ``[IP]``: IPv4 addresses and IPv6 addresses (checked with :mod:`ipaddress`);
- ``[PHONE]``: phone numbers. Redaction favours recall over precision, with ``phonenumbers`` and three rules:

  - a number with a country prefix (``+49 151 1234567``, ``0049 30 1234567``) or after a cue word (German or
    English: ``Tel``, ``Telefon``, ``Handy``, ``Mobil``, ``Nummer``, ``Rufnummer``, ``erreichbar unter``,
    ``rufen Sie mich an``, ``call me``, ``phone``, ``mobile``, ``cell``, ``number``, ``WhatsApp``, ``Fax``, ...)
    is a phone number when the matcher finds it at ``Leniency.POSSIBLE`` (regions DE, AT, CH, GB, US), and
    by its shape alone (6 to 15 digits) when the metadata calls it impossible (one digit short, an old range);
  - a national number with a trunk prefix and an area code apart from the rest (``0151 1234567``,
    ``030/12345678``, ``(030) 123 456 78``, ``020 7946 0958``) is one by its shape;
  - anything else is one when the matcher finds a *valid* number for DE, AT or CH (and US for the
    ``(415) 555-2671`` shape).

  Never phone numbers: dates, times, years and their ranges, amounts (thousands separators, a currency or
  ``%`` next to them), digits glued to letters (tracking codes such as ``JJD0001234567890``), and numbers
  whose nearest cue word names another kind of number (``Bestellnummer``, ``order #``, ``Kundennr``,
  ``Sendungsnummer``, ``PLZ``, ...) unless they start with ``+``.

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

PHONE_REGIONS: tuple[str, ...] = ("DE", "AT", "CH", "GB", "US")
"""Regions whose national forms count as possible phone numbers next to a cue word."""
VALID_REGIONS: tuple[str, ...] = ("DE", "AT", "CH")
"""Regions whose valid national numbers are phone numbers without any cue."""
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
_IBAN = re.compile(
    r"(?<![\w])[A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]{4}){2,7}(?:[ \u00a0]?[A-Z0-9]{1,3})?(?![\w])"
)
_CARD = re.compile(r"(?<![\w.,-])\d{4}(?:[ \-]?\d{3,4}){2,4}(?:[ \-]?\d{1,3})?(?![\w]|[.,-]\d)")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE_RUN = re.compile(r"(?:\+|\(\+?)?\d[\d \u00a0\t()./\-]*")
"""Maximal runs of digits and phone separators: the only places a phone number can be."""
_PHONE_SHAPE = re.compile(
    r"(?:\+|00)\d{1,3}[ ./\-]?(?:\(0\)[ ./\-]?)?\d(?:[ ./\-]?\d){5,13}"
    r"|\(?0\d{2,5}\)?[ ./\-]?\d(?:[ ./\-]?\d){4,10}"
)
_CARD_PREFIX = re.compile(r"[2-6]")
"""Issuer prefixes of the card schemes (Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Maestro/Discover/UnionPay 6)."""
_CONTEXT = 12
"""Characters either side of a phone run that the matcher sees (it checks neighbours for dates and times)."""
_INTERNATIONAL = re.compile(r"\(?(?:\+|00(?=[ \u00a0]?[1-9]))")
"""A run that starts with a country prefix: ``+49``, ``(+41)``, ``0049``."""
_NATIONAL = re.compile(
    r"\(0[1-9]\d{0,4}\)[ \u00a0]?\d(?:[ \u00a0./\-]?\d){3,10}"  # (030) 123 456 78
    r"|0[1-9]\d{0,4}(?:[ \u00a0]?/[ \u00a0]?|[ \u00a0.\-])\d(?:[ \u00a0./\-]?\d){3,10}"  # 0151 1234567, 030/1234567
    r"|01[5-7]\d{8,9}"  # 01511234567: German mobile numbers in one block
)
"""National numbers with a trunk prefix ``0`` and an area code apart from the rest: phone numbers by their
shape alone, in Germany, Austria, Switzerland and the UK, valid by the metadata or not."""
_US_SHAPE = re.compile(r"(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\)[ \u00a0]?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}")
_DATE_LIKE = re.compile(
    r"(?:\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}([./-])\d{1,2}\2\d{1,2})(?:,?[ T]\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)?"
)
"""Dates (``05.03.2026``, ``2026-03-05``, ``5/3/26``) with an optional time: some are valid phone numbers."""
_MONTH_YEAR = re.compile(r"\d{1,2}[./]\s?(?:19|20)\d{2}")
_TIMES = re.compile(r"(?:[01]?\d|2[0-3])[.:][0-5]\d(?:\s?[\-/]\s?(?:[01]?\d|2[0-3])[.:][0-5]\d)*")
"""Times and time ranges (``10.00 - 12.00``)."""
_YEARS = re.compile(r"(?:19|20)\d{2}(?:\s?[\-/]\s?(?:(?:19|20)\d{2}|\d{2})|\s(?:19|20)\d{2})*")
"""Years and year ranges (``2019/2020``, ``2019 - 2021``)."""
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,']\d{3})+(?:[.,]\d{1,2})?")
"""Amounts with thousands separators (``1.299.000``): phone numbers are not written like that."""
_AMOUNT_AFTER = re.compile(
    r"[ \u00a0]?(?:[.,]\d|[.,]-|%|€|\$|£|(?:EUR|Euro|CHF|SFr|Fr\.|USD|GBP|Cent|ct|Prozent|percent|pct)\b)",
    re.IGNORECASE,
)
_AMOUNT_BEFORE = re.compile(r"(?:€|\$|£|\b(?:EUR|CHF|SFr|Fr\.|USD|GBP))[ \u00a0]?$", re.IGNORECASE)
_CUE_WINDOW = 48
"""Characters before a number searched for a cue word (``Tel``, ``Bestellnummer``)."""
_CUE_WORDS = 6
"""Words before a number searched for a cue word."""


def _words(text: str) -> list[str]:
    return text.split()


_CUE_TOKEN = re.compile(r"[^\W\d_]+|\d+|#")
_GENERIC_NUMBER_WORDS: dict[str, str | None] = {
    "nr": None,
    "no": None,
    "num": None,
    "nummer": "phone",
    "number": "phone",
    "#": "other",
}
_PHONE_CUE_WORDS = frozenset(
    _words(
        "tel fon mob ruf rufe rufen ruft anrufen erreichen ring sms signal telegram kontakt contact reach "
        "durchwahl vorwahl dial texten rief anrief"
    )
)
_PHONE_CUE_STEMS = tuple(
    _words(
        "telef teleph phone handy mobil cell rufnummer anruf angerufen rückruf zurückruf erreichbar whatsapp "
        "festnetz fax call smartphone hotline kontaktnummer"
    )
)
_OTHER_NUMBER_WORDS = frozenset(
    _words(
        "pin puk tan ref az bic blz plz zip ust ups dpd gls dhl bon imei id iban kto case code item po kunde "
        "kunden customer fall tax"
    )
)
_OTHER_NUMBER_STEMS = tuple(
    _words(
        "bestell order kundenn kundenk kundeni customerid auftrag sendung tracking paket parcel package "
        "shipment lieferschein liefernummer rechnung invoice artikel article produkt product serie serial "
        "model ticket vorgang referenz reference vertrag contract konto account postleitzahl postcode "
        "postal versicherung polic mitglied member kassenbon beleg receipt transaktion transaction "
        "buchung booking reservierung reservation flug flight kennzeichen fahrgestell gutschein voucher "
        "coupon aktenzeichen steuer version hermes fedex usps bestätigung confirmation "
        "track"
    )
)


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


def _phone_word_class(word: str, previous: str | None) -> str | None:
    """``"phone"``, ``"other"`` (a word that names some other kind of number) or ``None`` for ``word``.

    Generic words (``Nr``, ``No``, ``Nummer``, ``number``, ``#``) take the class of the word before them
    (``order number`` names an order, ``Telefon-Nr.`` a phone); on their own ``Nummer``/``number`` name a
    phone and ``#`` some other number.
    """
    folded = word.lower()
    if folded in _GENERIC_NUMBER_WORDS:
        if previous is not None:
            before = _phone_word_class(previous, None)
            if before is not None:
                return before
        return _GENERIC_NUMBER_WORDS[folded]
    if folded in _OTHER_NUMBER_WORDS or folded.startswith(_OTHER_NUMBER_STEMS):
        return "other"
    if folded in _PHONE_CUE_WORDS or folded.startswith(_PHONE_CUE_STEMS):
        return "phone"
    return None


def _phone_cue(text: str, start: int) -> str | None:
    """The class of the nearest cue word before ``text[start]`` (see :func:`_phone_word_class`).

    Looks back at most :data:`_CUE_WINDOW` characters and :data:`_CUE_WORDS` words, and not past another
    number of four or more digits (a cue there belongs to that number). Bounded work per call.
    """
    tokens = _CUE_TOKEN.findall(text, max(0, start - _CUE_WINDOW), start)
    words_seen = 0
    for index in range(len(tokens) - 1, -1, -1):
        token = tokens[index]
        if token[0].isdigit():
            if len(token) >= 4:
                return None
            continue
        previous = tokens[index - 1] if index > 0 and not tokens[index - 1][0].isdigit() else None
        kind = _phone_word_class(token, previous)
        if kind is not None:
            return kind
        words_seen += 1
        if words_seen >= _CUE_WORDS:
            return None
    return None


def _trim_run(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` without leading and trailing separators and without a parenthesis that has no partner."""
    while start < end and text[start] in " \u00a0\t./-)":
        start += 1
    while end > start and not text[end - 1].isdigit():
        if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
            break
        end -= 1
    if text.startswith("(", start) and ")" not in text[start:end]:
        start += 1
    return start, end


def _plainly_not_a_phone(text: str, start: int, end: int, international: bool) -> bool:
    """An amount, percentage, date, time or year (range) as a whole: ``text[start:end]`` is not a phone number."""
    if _AMOUNT_AFTER.match(text, end) or _AMOUNT_BEFORE.search(text, max(0, start - 6), start):
        return True
    if international:
        return False
    candidate = text[start:end]
    return bool(
        _DATE_LIKE.fullmatch(candidate)
        or _MONTH_YEAR.fullmatch(candidate)
        or _TIMES.fullmatch(candidate)
        or _YEARS.fullmatch(candidate)
        or (_THOUSANDS.fullmatch(candidate) and not candidate.startswith("0"))
    )


def _not_a_phone(text: str, start: int, end: int, international: bool) -> bool:
    """:func:`_plainly_not_a_phone`, or a national number that holds a date (``05.03.2026 12``)."""
    if _plainly_not_a_phone(text, start, end, international):
        return True
    return not international and bool(_DATE_LIKE.search(text, start, end))


def _phone_matches(window: str, regions: tuple[str, ...], leniency: int) -> list[tuple[int, int]]:
    for region in regions:
        found = [(m.start, m.end) for m in PhoneNumberMatcher(window, region, leniency=leniency)]
        if found:
            return found
    return []


def _digit_count(text: str, start: int, end: int) -> int:
    return sum(char.isdigit() for char in text[start:end])


def _between_dates(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The parts of the run ``text[start:end]`` around dates in it (``0151 1234567 05.03.2026``): a date is
    never part of a phone number. A run with a country prefix stays whole (``+49 30 12.34.56``)."""
    if _INTERNATIONAL.match(text, start):
        yield start, end
        return
    position = start
    for date in _DATE_LIKE.finditer(text, start, end):
        yield position, date.start()
        position = date.end()
    yield position, end


@dataclass
class _MatcherBudget:
    """How many more runs of one text the phone matcher may check (see :data:`MAX_PHONE_CHECKS`)."""

    left: int = MAX_PHONE_CHECKS


def _piece_spans(text: str, start: int, end: int, budget: _MatcherBudget) -> Iterator[tuple[int, int]]:
    """Phone numbers in ``text[start:end]``, one run of digits and separators (or a part of it between dates)."""
    digits = _digit_count(text, start, end)
    if digits < 6:
        return
    international = bool(_INTERNATIONAL.match(text, start))
    cue = _phone_cue(text, start)
    if start > 0 and text[start - 1].isalnum() and cue != "phone":
        return  # the digits of a code such as JJD0001234567890 or 1Z999AA10123456784
    if end < len(text) and text[end].isalpha() and cue != "phone" and not international:
        return
    plus = text.startswith(("+", "(+"), start)
    if cue == "other" and not plus:
        return  # Bestellnummer, order #, Sendungsnummer, PLZ, ...
    national_digits = digits - 2 if international and not plus else digits
    strong = (international and 7 <= national_digits <= 15) or cue == "phone"
    if end - start > MAX_PHONE_RUN or budget.left <= 0:
        if strong and national_digits <= 15 and not _not_a_phone(text, start, end, international):
            yield start, end
            return
        for shape in _PHONE_SHAPE.finditer(text, start, end):
            if _digit_count(text, *shape.span()) >= 7 and not _not_a_phone(text, *shape.span(), False):
                yield shape.span()
        return
    if _NATIONAL.fullmatch(text, start, end) and digits <= 13:
        if not _not_a_phone(text, start, end, False):
            yield start, end
        return
    if _plainly_not_a_phone(text, start, end, international):
        return
    budget.left -= 1
    left = max(0, start - _CONTEXT)
    window = text[left : end + _CONTEXT]
    if strong:
        regions = PHONE_REGIONS[:1] if international else PHONE_REGIONS
        found = _phone_matches(window, regions, Leniency.POSSIBLE)
    else:
        regions = VALID_REGIONS + (("US",) if _US_SHAPE.fullmatch(text, start, end) else ())
        found = _phone_matches(window, regions, Leniency.VALID)
    spans = [  # numbers inside the piece: not ones that take digits from a date or number beside it
        (max(start, match_start + left), min(end, match_end + left))
        for match_start, match_end in found
        if match_end + left > start
        and match_start + left < end
        and not _digit_count(text, match_start + left, start)
        and not _digit_count(text, end, match_end + left)
    ]
    spans = [
        span
        for span in spans
        if _digit_count(text, *span) >= 6 and not _not_a_phone(text, *span, international)
    ]
    whole = strong and national_digits <= 15 and not _not_a_phone(text, start, end, international)
    if whole and sum(_digit_count(text, *span) for span in spans) < digits:
        yield start, end  # possible or not: a number after "Tel" or behind "+49" is a phone number
    else:
        yield from spans


def _phone_spans(text: str) -> Iterator[tuple[int, int]]:
    budget = _MatcherBudget()
    for run in _PHONE_RUN.finditer(text):
        for piece_start, piece_end in _between_dates(text, run.start(), run.end()):
            yield from _piece_spans(text, *_trim_run(text, piece_start, piece_end), budget)


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


def redacted_exception(exc: Exception) -> Exception:
    """``exc`` with personal data in its message redacted, carrying its stage and its redacted traceback.

    Prefect writes a failed flow's exception into its result storage whatever ``persist_result`` says
    (``flow_engine.handle_exception(write_result=True)``), so the message must hold nothing personal. The
    traceback (``nps_text_traceback``, redacted text) lets the CLI write a crash report for an unexpected error.
    """
    import traceback

    from nps_text.errors import TRACEBACK_ATTRIBUTE

    details = dict(getattr(exc, "__dict__", {}))
    if TRACEBACK_ATTRIBUTE not in details:
        details[TRACEBACK_ATTRIBUTE] = redact("".join(traceback.format_exception(exc)))
    message = redact(str(exc))
    clean = exc
    if message != str(exc):
        try:
            clean = type(exc)(message)
        except Exception:  # noqa: BLE001 - an exception type that takes other arguments
            clean = RuntimeError(f"{type(exc).__name__}: {message}")
    for name, value in details.items():
        try:
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                value = [redact(item) for item in value]
            setattr(clean, name, redact(value) if isinstance(value, str) else value)
        except (AttributeError, TypeError):  # an exception type without __dict__
            break
    return clean
