"""Themes a CX lead can trust (issue 18): a label never contradicts the comments of a group it stands over, and
a catch-all of fillers is "no specific topic", never an improvement area. German and English."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from nps_text.insights import improvement_areas
from nps_text.themes import ThemesConfig, assign_themes
from nps_text.themes.keywords import NO_TOPIC_LABELS, is_specific_topic
from nps_text.themes.labels import NEGATIONS, PROBLEM_WORDS

CONFIG = ThemesConfig(reduction="pca", min_theme_size=5)


def _survey(clusters: Sequence[tuple[list[str], str, str]], language: str) -> tuple[pd.DataFrame, object]:
    """Comments in clusters ``(texts, nps_group, sentiment)``; a fake ``embed`` that puts each cluster apart."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(len(clusters), 24))
    rows, vectors = [], {}
    for cluster, (texts, group, sentiment) in enumerate(clusters):
        for text in texts:
            rows.append({"response_id": f"r{len(rows)}", "score": {"detractor": 2, "passive": 7, "promoter": 10}[group],
                         "nps_group": group, "comment": text, "comment_status": "text", "language": language,
                         "sentiment": sentiment})
            vector = centres[cluster] + 0.05 * rng.normal(size=24)
            vectors[text] = vector / np.linalg.norm(vector)

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.vstack([vectors.get(text, np.ones(24) / np.sqrt(24)) for text in texts]).astype(np.float32)

    return pd.DataFrame(rows), embed


PRAISE_AND_COMPLAINTS = {
    "de": (
        [f"Der Service war schlecht ({i})." for i in range(12)],
        [f"Der Service war super ({i})." for i in range(12)],
        [f"Die Lieferung kam zu spät ({i})." for i in range(12)],
    ),
    "en": (
        [f"The service was poor ({i})." for i in range(12)],
        [f"The service was great ({i})." for i in range(12)],
        [f"The delivery was late ({i})." for i in range(12)],
    ),
}


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_promoter_theme_of_praise_is_never_labelled_with_a_negative_phrase(language: str) -> None:
    complaints, praise, other = PRAISE_AND_COMPLAINTS[language]
    # One theme ("service") holds the detractors' complaints and the promoters' praise: its one label stands
    # over both groups, so it names the topic, not "poor service" over praise (nor "great service" over complaints).
    responses, embed = _survey(
        [(complaints + praise, "detractor", "negative"), (other, "detractor", "negative")], language
    )
    responses.loc[responses["comment"].isin(praise), ["nps_group", "score", "sentiment"]] = ["promoter", 10, "positive"]
    _, themes = assign_themes(responses, CONFIG, embed=embed)
    praise_themes = themes[themes["nps_group"].eq("promoter")]
    assert len(praise_themes) == 1
    label = str(praise_themes["theme_label"].iloc[0])
    words = {word.lower() for word in label.split()}
    assert "service" in words, label
    assert not words & (PROBLEM_WORDS | NEGATIONS), f"praise of promoters labelled {label!r}"
    assert not words & {"super", "great"}, f"complaints of detractors labelled {label!r}"
    # A theme whose every group complains keeps its problem phrase.
    complaint_labels = set(themes.loc[themes["nps_group"].eq("detractor"), "theme_label"]) - {label}
    assert any(words & PROBLEM_WORDS for words in ({w.lower() for w in lab.split()} for lab in complaint_labels))


FILLERS = {
    "de": [
        "Weil Sie gefragt haben.", "Kein Grund.", "Ihr seid Mist.", "Einfach so.", "Keine Ahnung.", "Nichts weiter.",
        "Darum.", "Mir egal.", "Warum fragen Sie?", "Sag ich nicht.", "Bin halt so.", "Frieden!", "Mehr gibt es nicht.",
        "Ohne Worte.", "Naja.", "Halt so ein Gefühl.", "Passt schon irgendwie nicht.", "Ihr wisst schon warum.",
    ],
    "en": [
        "Because you asked.", "No reason.", "You are crap.", "Just because.", "Whatever.", "Nothing to add.",
        "Why do you ask?", "I have no idea.", "Meh.", "Not telling.", "Gut feeling.", "Peace!", "That is all.",
        "No words.", "Dunno.", "You know why.", "Could be better I guess.", "I have no reason to give any higher.",
    ],
}
LATE = {
    "de": [f"Die Lieferung kam viel zu spät, Bestellung {i}." for i in range(10)],
    "en": [f"The delivery was late again, order {i}." for i in range(10)],
}


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_catch_all_of_fillers_is_no_specific_topic_and_never_ranked(language: str) -> None:
    # More detractors write filler than name a problem; the filler cluster has no subject.
    responses, embed = _survey(
        [(FILLERS[language], "detractor", "negative"), (LATE[language], "detractor", "negative")], language
    )
    result, themes = assign_themes(responses, CONFIG, embed=embed)
    filler_labels = set(result.loc[result["comment"].isin(FILLERS[language]), "theme_label"])
    assert filler_labels == {NO_TOPIC_LABELS[language]}
    areas = improvement_areas(result, themes)
    assert areas["theme_label"].map(is_specific_topic).all(), areas["theme_label"].tolist()
    top = areas.iloc[0]["theme_label"].lower()
    assert ("lieferung" if language == "de" else "delivery") in top, areas["theme_label"].tolist()


TWO_RARE_WORDS = {
    # One theme: half its comments name one subject, half another, never both (the "Frieden & Ladezeiten"
    # case: a label joining two words that no comment holds together; before issue 18: "Ladezeit & Versand",
    # "Invoice & shipping").
    "de": [f"Der Versand ({i})." for i in range(8)] + [f"Die Ladezeit ({i})." for i in range(8)],
    "en": [f"The shipping ({i})." for i in range(8)] + [f"The invoice ({i})." for i in range(8)],
}


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_label_joins_two_words_only_when_comments_hold_them_together(language: str) -> None:
    from nps_text.themes.labels import label_themes

    texts = TWO_RARE_WORDS[language]
    label = label_themes(texts, [language] * len(texts), np.zeros(len(texts), dtype=int))[0].text
    assert "&" not in label, label
    words = [word.lower() for word in label.split()]
    holding_all = [text for text in texts if all(word in text.lower() for word in words)]
    assert len(holding_all) >= len(texts) / 3, (label, len(holding_all))
