import pandas as pd
import pytest

from nps_text.comments import (
    MAX_COMMENT_CHARS,
    REDACTION_CONTEXT,
    comment_status,
    cut_comment,
    prepare_comments,
    redact_pii,
    shorten_comment,
)


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


# --- giant comments (issue 17: a 5 MB comment from an unclosed quote took 13 minutes and 14 GB) ---------------


def _words(characters: int) -> str:
    words = ["Lieferung", "kam", "spät", "und", "der", "Kundenservice", "war", "freundlich", "aber", "die", "Rechnung", "stimmte", "nicht"]
    text, size = [], 0
    while size < characters:
        word = words[len(text) % len(words)]
        text.append(word)
        size += len(word) + 1
    return " ".join(text)


def test_cut_comment_ends_at_a_word_boundary_with_a_visible_mark() -> None:
    text = _words(10_000)
    cut = cut_comment(text, 1_000)
    assert len(cut) <= 1_000 and cut.endswith(" […]")
    body = cut.removesuffix(" […]")
    assert text.startswith(body) and text[len(body)] == " "  # no word cut in half
    assert len(body) >= 780


def test_cut_comment_without_spaces_cuts_at_the_limit() -> None:
    assert cut_comment("x" * 5_000, 300) == "x" * 296 + " […]"


def test_shorten_comment_redacts_what_it_keeps_and_reads_only_a_window() -> None:
    text = "Ruf mich an: 0176 1234567, Mail max@example.de. " + _words(5_000_000)
    calls: list[int] = []
    import nps_text.comments as comments

    original = comments.redact_pii
    try:
        comments.redact_pii = lambda part: calls.append(len(part)) or original(part)  # type: ignore[assignment,func-returns-value]
        kept, truncated = shorten_comment(text, 2_000)
    finally:
        comments.redact_pii = original
    assert truncated and len(kept) <= 2_000 and kept.endswith(" […]")
    assert kept.startswith("Ruf mich an: [PHONE], Mail [EMAIL]. Lieferung")
    assert calls == [2_000 + 2 * REDACTION_CONTEXT]  # the window, not 5 MB


def test_shorten_comment_keeps_no_half_of_a_number_cut_by_the_window() -> None:
    # redaction shrinks the window (many IBANs) below max_chars + context: it widens until it does not
    iban = "DE89 3704 0044 0532 0130 00 "
    text = iban * 200 + "Ende"
    kept, truncated = shorten_comment(text, 500)
    assert truncated and "3704" not in kept and kept.startswith("[IBAN] [IBAN]")
    short, cut = shorten_comment(("IBAN " + iban * 10).strip(), 200)  # 285 characters, 75 once redacted: not cut
    assert (short, cut) == ("IBAN" + " [IBAN]" * 10, False)


def test_prepare_comments_cuts_a_giant_comment_before_language_and_marks_it() -> None:
    frame = pd.DataFrame({"comment": ["Die Lieferung war zu spät", '"Die Lieferung kam nie an ' + _words(5_000_000), None]})
    result = prepare_comments(frame, max_chars=3_000)
    assert result["comment_truncated"].tolist() == [False, True, False]
    assert result["comment_truncated"].dtype == bool
    giant = result["comment"].iloc[1]
    assert len(giant) <= 3_000 and giant.endswith(" […]")
    assert result["comment_status"].tolist() == ["text", "text", "empty"]
    assert result["language"].iloc[1] == "de"
    assert result["comment"].iloc[0] == "Die Lieferung war zu spät"


def test_max_chars_is_a_comments_setting_with_bounds() -> None:
    from nps_text.config import CommentsConfig, config_from_dict
    from nps_text.errors import ConfigError

    assert CommentsConfig().max_chars == MAX_COMMENT_CHARS == 5_000
    assert config_from_dict({"comments": {"max_chars": 800}}).comments.max_chars == 800
    with pytest.raises(ConfigError, match="comments.max_chars"):
        config_from_dict({"comments": {"max_chars": 10_000_000}})
