"""Personal data in free text: true positives, false positives, and linear time on adversarial input."""

from __future__ import annotations

import time

import pytest

from nps_text.comments import redact_pii
from nps_text.pii import PLACEHOLDERS, card_number_ok, find_pii, redact, value_kind


@pytest.mark.parametrize(
    "phone",
    [
        "+49 30 1234567",
        "030/1234567",
        "0171 1234567",
        "(030) 123 45 67",
        "+41 44 668 18 00",
        "+1 (415) 555-2671",
        "0049 30 1234567",
        "+49 (0)30 1234567",
        "+43 1 58858 0",
        "044 668 18 00",
        "01 58858 0",
        "0176/12345678",
    ],
)
def test_phone_numbers_found(phone: str) -> None:
    assert redact(f"Bitte rufen Sie mich an: {phone}, danke") == "Bitte rufen Sie mich an: [PHONE], danke"
    assert redact(phone) == "[PHONE]"


@pytest.mark.parametrize(
    "text",
    [
        "Bestellt am 29.01.2018, geliefert nie",
        "Bestellt am 05.03.2026, geliefert nie",  # a valid number for phonenumbers, but a date
        "Lieferung 02.11.2023",
        "order 2018-01-29",
        "29/01/2018 19:34 war die Lieferung",
        "um 19:34 Uhr",
        "um 12:30:00",
        "kostet 1.299,00 €",
        "price EUR 1,299.00",
        "Bestellnr. 4711-0815-2233",
        "Sendung 1Z999AA10123456784",
        "DHL 00340434161094015902",
        "Sendungsnummer 00340434161094015902 kam nicht",
        "10115 Berlin",
        "PLZ 80331 München, 1010 Wien, 8001 Zürich",
        "Kundennr 123456789",
        "Version 2.4.1 der App",
        "10 von 10 Punkten",
        "1234 5678 9012 3456 war die Nummer",
        "Link https://example.com/page ohne Query",
        "a@b.c ist keine Adresse",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert find_pii(text) == []
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00 bitte", "IBAN [IBAN] bitte"),
        ("IBAN DE89370400440532013000.", "IBAN [IBAN]."),
        ("AT61 1904 3002 3457 3201 ist meins", "[IBAN] ist meins"),
        ("Karte 4111 1111 1111 1111 belastet", "Karte [CARD] belastet"),
        ("Karte 4111111111111111 belastet", "Karte [CARD] belastet"),
        ("Karte 4111-1111-1111-1111", "Karte [CARD]"),
        ("Amex 3782 822463 10005", "Amex [CARD]"),
        ("mail: max.mustermann@firma-x.de danke", "mail: [EMAIL] danke"),
        ("an Jürgen.Müller@example.co.uk.", "an [EMAIL]."),
        ("login from 192.168.10.5 failed", "login from [IP] failed"),
        ("ip 2001:db8::8a2e:370:7334 ok", "ip [IP] ok"),
        ("see https://shop.example.com/track?token=abc123&user=me.", "see [URL]."),
        ("https://x.de/?mail=max@example.de", "[URL]"),
    ],
)
def test_other_kinds_found(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_wrong_check_digits_are_not_redacted() -> None:
    assert redact("IBAN DE88 3704 0044 0532 0130 00") == "IBAN DE88 3704 0044 0532 0130 00"
    assert not card_number_ok("4111 1111 1111 1112")
    assert not card_number_ok("4111 1111-1111 1111")  # mixed separators: not one card number


def test_spans_sorted_without_overlap_and_kinds_filter() -> None:
    text = "x@y.de, 0171 1234567, DE89370400440532013000"
    spans = find_pii(text)
    assert [span.kind for span in spans] == ["EMAIL", "PHONE", "IBAN"]
    assert [text[s.start : s.end] for s in spans] == ["x@y.de", "0171 1234567", "DE89370400440532013000"]
    assert [span.kind for span in find_pii(text, ["PHONE"])] == ["PHONE"]
    with pytest.raises(ValueError, match="unknown kinds"):
        find_pii(text, ["NAME"])


def test_placeholders_match_comments_and_text_modules() -> None:
    import re

    from nps_text.text import _PLACEHOLDER

    assert set(PLACEHOLDERS) == {"EMAIL", "PHONE", "IBAN", "CARD", "IP", "URL"}
    for kind in PLACEHOLDERS:
        assert _PLACEHOLDER.fullmatch(f"[{kind}]")
    redacted = redact_pii("x@y.de 0171 1234567")
    assert redacted == "[EMAIL] [PHONE]"
    assert redact(redacted) == redacted  # idempotent
    assert re.sub(r"\[[A-Z]+\]", "", redacted).strip() == ""


def test_value_kind() -> None:
    assert value_kind(" max@example.de ") == "EMAIL"
    assert value_kind("+49 171 1234567") == "PHONE"
    assert value_kind("DE89 3704 0044 0532 0130 00") == "IBAN"
    assert value_kind("4111111111111111") == "CARD"
    assert value_kind("Filiale Berlin") is None
    assert value_kind("29.01.2018") is None
    assert value_kind("Mail an x@y.de bitte") is None  # personal data inside text, not the whole value


ADVERSARIAL = {
    "letters": "a" * 1_000_000,
    "dotted": "a." * 500_000,  # made the old e-mail pattern quadratic: ~16 minutes for 1 MB
    "digits with spaces": "1 " * 500_000,
    "zeros and digits": "0 1 " * 250_000,
    "digits": "7" * 1_000_000,
    "url starts": "http://" * 142_857,
    "at signs": "a@" * 500_000,
    "long domains": ("a@" + "a." * 100) * 4_900,
    "colons": "a:" * 500_000,
    "many phones": "Tel 0171 1234567, " * 55_000,
    "many dates": "am 05.03.2026, " * 66_000,
    "iban groups": "DE89 " * 200_000,
    "card groups": "4111 " * 200_000,
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_one_megabyte_adversarial_comment_is_linear(name: str) -> None:
    text = ADVERSARIAL[name]
    assert len(text) >= 980_000
    started = time.perf_counter()
    result = redact(text)
    elapsed = time.perf_counter() - started
    assert isinstance(result, str)
    assert elapsed < 20, f"{name}: {elapsed:.1f} s for 1 MB (each case takes about 0.1-0.7 s when linear)"


def test_fail_closed_beyond_the_matcher_budget() -> None:
    result = redact("Tel 0171 1234567, " * 3_000)
    assert "0171" not in result
    assert result.count("[PHONE]") == 3_000
    assert "[PHONE]" not in redact("am 05.03.2026, " * 3_000)
