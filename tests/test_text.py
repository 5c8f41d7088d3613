"""spaCy preprocessing for themes: lemmas with umlauts, stop words, survey filler, cleaning."""

from __future__ import annotations

from nps_text.text import DEFAULT_FILLER_WORDS, clean_for_embedding, guess_language, lemmatize_texts


def test_german_lemmas_keep_umlauts_and_noun_case() -> None:
    [lemmas] = lemmatize_texts(["Die Kündigungen dauerten ewig, die Lieferungen kamen zu spät."], ["de"])
    assert "Kündigung" in lemmas and "Lieferung" in lemmas and "spät" in lemmas
    assert "die" not in lemmas and "zu" not in lemmas  # stop words


def test_english_lemmas_lower_case() -> None:
    [lemmas] = lemmatize_texts(["The deliveries were late and the staff was rude"], ["en"])
    assert lemmas == ["delivery", "late", "staff", "rude"]


def test_filler_filter_is_configurable() -> None:
    text = ["Danke, alles gut! Die Beratung war super."]
    assert lemmatize_texts(text, ["de"]) == [["Beratung"]]
    kept = lemmatize_texts(text, ["de"], filler_words=())[0]
    assert "super" in kept  # filler kept on request ("danke", "gut" are spaCy stop words)
    assert lemmatize_texts(["Beratung und Wartezeit"], ["de"], filler_words={"wartezeit"}) == [["Beratung"]]
    assert {"danke", "alles", "gut", "thanks"} <= DEFAULT_FILLER_WORDS


def test_noise_tokens_are_dropped() -> None:
    [lemmas] = lemmatize_texts(["@DB_Bahn Zug 2x ausgefallen [EMAIL] https://t.co/abc 40 Minuten #Verspätung"], ["de"])
    assert lemmas == ["Zug", "ausfallen", "Minute", "Verspätung"]
    assert not any(word.startswith(("@", "#", "http")) or word.isdigit() for word in lemmas)


def test_missing_language_is_guessed() -> None:
    assert guess_language("Der Zug war nicht pünktlich") == "de"
    assert guess_language("The train was not on time") == "en"
    assert lemmatize_texts(["The deliveries were late"], [None]) == [["delivery", "late"]]


def test_clean_for_embedding_strips_mentions_urls_greetings() -> None:
    text = "@DB_Bahn Hallo, der Zug war 40 Minuten zu spät https://t.co/x Viele Grüße"
    assert clean_for_embedding(text) == "der Zug war 40 Minuten zu spät"
    assert clean_for_embedding("Hi there! The app crashes. Best regards, Tom") == "The app crashes"
    assert clean_for_embedding("@brand") == "@brand"  # never empty


def test_redaction_placeholders_dropped_but_acronyms_kept() -> None:
    [lemmas] = lemmatize_texts(["Das WLAN im ICE war weg, Mail an [EMAIL] und $HOTEL$ Premier"], ["de"])
    assert lemmas == ["WLAN", "ICE", "weg", "Mail", "Premier"]
