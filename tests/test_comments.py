import pandas as pd
import pytest

from nps_text.comments import comment_status, prepare_comments, redact_pii


@pytest.mark.parametrize(
    "text", ["-", "k.A.", "K. A.", "keine Angabe", "nichts", "Nichts.", "n/a", "N/A", "no comment", "No comment.",
             "/", "🙂👍", "...", "???", "none", "Keine Anmerkungen"],
)
def test_non_informative(text: str) -> None:
    assert comment_status(text) == "non_informative"


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty(text: object) -> None:
    assert comment_status(text) == "empty"


@pytest.mark.parametrize("text", ["Lieferung zu spät", "ok but slow", "Nichts funktioniert!", "Kein Rückruf"])
def test_text(text: str) -> None:
    assert comment_status(text) == "text"


def test_extra_non_informative_from_config() -> None:
    assert comment_status("siehe oben", ["Siehe oben"]) == "non_informative"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail: max.mustermann@firma-x.de danke", "mail: [EMAIL] danke"),
        ("IBAN DE89 3704 0044 0532 0130 00 bitte", "IBAN [IBAN] bitte"),
        ("IBAN DE89370400440532013000.", "IBAN [IBAN]."),
        ("Tel. +49 30 1234567 oder 0176/12345678", "Tel. [PHONE] oder [PHONE]"),
        ("ruf an unter (030) 123 45 67", "ruf an unter [PHONE]"),
        ("Karte 4111 1111 1111 1111 belastet", "Karte [CARD] belastet"),
        ("call me at +1 415 555 2671", "call me at [PHONE]"),
        ("login from 192.168.10.5 failed", "login from [IP] failed"),
        ("see https://shop.example.com/track?token=abc123&user=me", "see [URL]"),
    ],
)
def test_pii_redacted(text: str, expected: str) -> None:
    assert redact_pii(text) == expected


@pytest.mark.parametrize(
    "text", ["Am 05.03.2026 bestellt, 3 Wochen gewartet", "kostet 1.299,00 Euro", "Bestellnummer 12345678",
             "Version 2.4.1 der App", "10 von 10 Punkten", "1234 5678 9012 3456 war die Nummer"],
)
def test_no_false_positives(text: str) -> None:
    assert redact_pii(text) == text


def test_prepare_comments() -> None:
    frame = pd.DataFrame({"comment": ["Die Lieferung war zu spät", "Great service, thanks!", None, "k.A.", "  x@y.de  "]})
    result = prepare_comments(frame)
    assert result["comment_status"].tolist() == ["text", "text", "empty", "non_informative", "text"]
    # compact Arrow-backed text columns: missing is pd.NA
    assert result["language"].astype(object).where(result["language"].notna(), None).tolist()[:4] == ["de", "en", None, None]
    assert result["comment"].astype(object).where(result["comment"].notna(), None).tolist()[2:] == [None, "k.A.", "[EMAIL]"]
    assert frame["comment"].iloc[4] == "  x@y.de  "  # the caller's frame is untouched
