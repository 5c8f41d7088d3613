from __future__ import annotations

import numpy as np
import pytest

from nps_text.errors import ModelError
from nps_text.sentiment.labels import canonical_label, label_mapping
from nps_text.sentiment.segment import split_segments, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Beratung super, aber die Lieferung dauerte ewig", ["Beratung super", "aber die Lieferung dauerte ewig"]),
        ("Great staff but slow delivery", ["Great staff", "but slow delivery"]),
        ("Gut, leider zu spät geliefert. Gerne wieder!", ["Gut, leider zu spät geliefert.", "Gerne wieder!"]),
        ("Das war aber toll!", ["Das war aber toll!"]),
        ("Z.B. die Hotline war gut. Preis 3.5 Euro ok", ["Z.B. die Hotline war gut.", "Preis 3.5 Euro ok"]),
        ("Service ok\nLieferung schlecht", ["Service ok", "Lieferung schlecht"]),
        ("Alles gut", ["Alles gut"]),
    ],
)
def test_split_segments(text: str, expected: list[str]) -> None:
    assert split_segments(text) == expected


def test_split_sentences_drops_punctuation_only_pieces() -> None:
    assert split_sentences("Super! ... !!") == ["Super!"]


@pytest.mark.parametrize(
    ("name", "n_labels", "expected"),
    [
        ("POSITIVE", 2, "positive"),
        ("pos", 3, "positive"),
        ("negativ", 3, "negative"),
        ("Neutral", 3, "neutral"),
        ("LABEL_0", 3, "negative"),
        ("LABEL_1", 3, "neutral"),
        ("LABEL_2", 3, "positive"),
        ("LABEL_1", 2, "positive"),
        ("1 star", 5, "negative"),
        ("3 stars", 5, "neutral"),
        ("5 stars", 5, "positive"),
        ("LABEL_7", 3, None),
        ("sarcasm", 3, None),
    ],
)
def test_canonical_label(name: str, n_labels: int, expected: str | None) -> None:
    assert canonical_label(name, n_labels) == expected


def test_label_mapping_sums_star_ratings_into_three_classes() -> None:
    matrix = label_mapping({i: f"{i + 1} stars" for i in range(5)})
    probabilities = np.array([[0.1, 0.1, 0.2, 0.3, 0.3]]) @ matrix
    np.testing.assert_allclose(probabilities, [[0.6, 0.2, 0.2]])  # positive, neutral, negative


def test_label_mapping_names_unknown_labels_and_accepts_overrides() -> None:
    with pytest.raises(ModelError, match="label_map"):
        label_mapping({0: "sarcasm", 1: "joyful"})
    matrix = label_mapping({0: "sarcasm", 1: "joyful"}, {"sarcasm": "negative", "joyful": "positive"})
    np.testing.assert_array_equal(matrix, [[0, 0, 1], [1, 0, 0]])
