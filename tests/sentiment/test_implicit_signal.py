"""Training signal for implicit complaints / praise, negation and contrast (templates and star-labelled cue rows)."""

from __future__ import annotations

import pandas as pd

from nps_text.training.checklist import checklist_keys, text_key
from nps_text.training.implicit_signal import TEMPLATE_SOURCE, cue_rows, template_rows
from nps_text.training.sentiment_train import TrainSentimentConfig, select_training_rows


def test_templates_cover_both_languages_and_capabilities_and_never_a_suite_case() -> None:
    rows = template_rows()
    assert set(rows["source"]) == {TEMPLATE_SOURCE} and rows["text"].is_unique
    by_capability = rows.groupby(["language", "capability"]).size()
    for language in ("de", "en"):
        for capability in ("implicit_complaint", "implicit_praise", "negation", "contrast"):
            assert by_capability[(language, capability)] >= 10, (language, capability)
    assert not set(rows["text"].map(text_key)) & checklist_keys()
    assert "Es wäre eine 10 gewesen, wenn der Techniker pünktlich gekommen wäre." in set(rows["text"])
    assert len(template_rows(limit=50, seed=1)) == 50


def test_cue_rows_take_capped_away_rows_with_a_cue_and_keep_their_star_label() -> None:
    left_out = pd.DataFrame({
        "text": ["Ich warte seit Wochen auf die Ware.", "Schöne Farbe.", "Finally a charger that lasts.",
                 "Nice fabric.", "Waited 3 weeks, still nothing."],
        "label": ["negative", "positive", "positive", "positive", "negative"],
        "source": ["marc_de", "marc_de", "marc_en", "marc_en", "marc_en"],
        "language": ["de", "de", "en", "en", "en"],
    })
    picked = cue_rows(left_out, limit=10)
    assert sorted(picked["text"]) == ["Finally a charger that lasts.", "Ich warte seit Wochen auf die Ware.",
                                      "Waited 3 weeks, still nothing."]
    assert set(picked["source"]) == {"marc_de_cues", "marc_en_cues"}
    assert picked.set_index("text").loc["Finally a charger that lasts.", "label"] == "positive"
    assert len(cue_rows(left_out, limit=2)) == 2  # about even per source


def test_select_training_rows_adds_cue_rows_only_from_what_the_cap_left_out() -> None:
    train = pd.DataFrame({
        "text": [f"Ich warte seit Wochen, Fall {i}." for i in range(6)],
        "label": ["negative"] * 6, "source": ["marc_de"] * 6, "language": ["de"] * 6,
    })
    config = TrainSentimentConfig(max_per_source={"marc_de": 4}, cue_rows=10, templates=True)
    rows = select_training_rows(train, config)
    capped = rows[rows["source"] == "marc_de"]
    cues = rows[rows["source"] == "marc_de_cues"]
    assert len(capped) == 4 and len(cues) == 2 and not set(capped["text"]) & set(cues["text"])
    assert (rows["source"] == TEMPLATE_SOURCE).sum() == len(template_rows())
