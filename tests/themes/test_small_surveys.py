"""Small weekly surveys: 1, 3, 4, 5, 9, 12 comments, identical ones, one word, none. None may crash; a theme
needs something at least two customers said (below the size where a topic model is fitted)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from nps_text.schema import THEMES_COLUMNS
from nps_text.themes import ThemesConfig, assign_themes
from nps_text.themes.keywords import class_tfidf, default_label, theme_keywords
from nps_text.themes.model import MIN_DISCOVERY_COMMENTS, shared_word_groups


def embed(texts: Sequence[str]) -> np.ndarray:
    """A stable pseudo-random unit vector per text (no model)."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")
        vector = np.random.default_rng(seed).normal(size=24)
        rows.append(vector / np.linalg.norm(vector))
    return np.vstack(rows).astype(np.float32)


def survey(comments: Sequence[str | None], groups: Sequence[str] | None = None) -> pd.DataFrame:
    n = len(comments)
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(n)],
            "score": [2] * n,
            "nps_group": list(groups) if groups is not None else ["detractor"] * n,
            "comment": list(comments),
            "comment_status": ["text" if comment else "empty" for comment in comments],
            "language": ["de" if comment else None for comment in comments],
        }
    )


def run(comments: Sequence[str | None], groups: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    responses, themes = assign_themes(survey(comments, groups), ThemesConfig(), embed=embed)
    assert list(themes.columns) == list(THEMES_COLUMNS)
    texts = responses["comment_status"].eq("text")
    assert responses.loc[texts, "theme_id"].notna().all() and responses.loc[~texts, "theme_id"].isna().all()
    assert themes["size"].sum() == int(texts.sum())
    return responses, themes


def test_one_word_in_every_comment_is_one_theme() -> None:
    """Regression: "Kommentar 1".."Kommentar 4" crashed BERTopic's c-TF-IDF (one-term vocabulary)."""
    responses, themes = run([f"Kommentar {i}" for i in range(1, 5)])
    assert responses["theme_id"].tolist() == [0, 0, 0, 0]
    assert themes["theme_label"].tolist() == ["Kommentar"]
    assert themes["keywords"].tolist() == [["Kommentar"]]


@pytest.mark.parametrize("n", [MIN_DISCOVERY_COMMENTS + 2, 30])
def test_one_word_vocabulary_above_the_model_size_skips_the_model(n: int) -> None:
    """BERTopic's vectorizer needs two distinct words; with one, the comments still form their theme."""
    responses, themes = run([f"Kommentar {i}" for i in range(n)])
    assert responses["theme_id"].eq(0).all() and themes["theme_label"].tolist() == ["Kommentar"]


def test_a_single_comment_is_not_a_theme() -> None:
    responses, themes = run(["Zu teuer"])
    assert responses["theme_id"].tolist() == [-1] and responses["theme_label"].tolist() == ["Other"]
    assert themes[["theme_id", "size"]].values.tolist() == [[-1, 1]]


def test_the_same_comment_from_several_customers_is_a_theme() -> None:
    responses, themes = run(["Alles gut"] * 5, groups=["promoter"] * 5)
    assert responses["theme_id"].eq(0).all()
    assert themes["theme_label"].tolist() == ["Alles gut"]  # no content words: its own short text names it
    assert themes["nps_group"].tolist() == ["promoter"]


def test_a_few_different_comments_group_by_shared_words() -> None:
    comments = [
        "Die Lieferung kam viel zu spät", "Lieferung verspätet", "Lieferung zu spät und Paket beschädigt",
        "Sehr freundliches Personal", "Tolles Personal im Laden", "Hotline nicht erreichbar", "Preis ist zu hoch",
    ]
    responses, _ = run(comments)
    ids = responses["theme_id"].tolist()
    assert ids[0] == ids[1] == ids[2] == 0  # Lieferung: three customers
    assert ids[3] == ids[4] == 1  # Personal: two
    assert ids[5] == ids[6] == -1  # said once each: no theme
    assert responses["theme_label"].iloc[5] == "Other"


def test_nothing_shared_means_no_themes() -> None:
    responses, themes = run(["Zu teuer", "Hotline nicht erreichbar", "App stürzt ab"])
    assert responses["theme_id"].eq(-1).all()
    assert themes["theme_id"].tolist() == [-1]


def test_no_comment_at_all() -> None:
    responses, themes = run([None, None, None])
    assert themes.empty and responses["theme_id"].isna().all()


def test_content_free_comments_above_the_model_size() -> None:
    """Twelve comments of stop words only: no vocabulary for BERTopic; they are one theme, not a crash."""
    responses, themes = run([f"und das ist es {i}" for i in range(12)])
    assert responses["theme_id"].eq(0).all()
    assert themes["theme_label"].tolist() == ["Kein bestimmtes Thema"]  # German, no content word: no subject


def test_shared_word_groups() -> None:
    assert shared_word_groups(["Lieferung spät", "Preis", "Lieferung", "Preis hoch", "Hotline"]).tolist() == [
        0, 1, 0, 1, -1,
    ]
    # Customers count, not distinct texts: one text said by two customers is a theme.
    assert shared_word_groups(["teuer", "Hotline"], weights=np.array([2, 1])).tolist() == [0, -1]
    assert shared_word_groups(["", ""]).tolist() == [0, 0]
    assert shared_word_groups([]).tolist() == []


def test_keywords_of_a_one_term_vocabulary() -> None:
    """Regression: BERTopic's ClassTfidfTransformer raised TypeError on a one-term vocabulary."""
    assert theme_keywords(["Kommentar", "Kommentar"], np.array([0, 0])) == {0: ["Kommentar"]}
    assert theme_keywords(["Kommentar", "Kommentar", "Kommentar"], np.array([0, 0, -1])) == {
        -1: ["Kommentar"], 0: ["Kommentar"],
    }


def test_class_tfidf_matches_bertopic() -> None:
    from bertopic.vectorizers import ClassTfidfTransformer
    from scipy import sparse

    counts = sparse.csr_matrix(np.random.default_rng(0).poisson(0.8, size=(6, 30)))
    expected = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(counts).toarray()
    assert np.allclose(class_tfidf(counts), expected, equal_nan=True)


def test_numbered_label_speaks_the_theme_language() -> None:
    assert default_label(2, [], "de") == "Thema 2"
    assert default_label(2, []) == "Theme 2"
    assert default_label(-1, ["x"], "de") == "Other"  # the tables' outlier label; the report translates it


def test_representative_comments_have_a_stable_order() -> None:
    """Regression: equally typical comments kept their row order, so a re-run could list them differently."""
    from nps_text.themes import themes_table

    responses = survey(["Paket kaputt", "Lieferung spät", "Angekommen nie"]).assign(theme_id=0, theme_label="x")
    vectors = np.tile(np.eye(1, 4, dtype=np.float32), (3, 1))  # three equally typical comments
    table = themes_table(responses, vectors, np.arange(3), {0: []}, {0: "x"})
    assert table["representative_comments"].iloc[0] == ["Angekommen nie", "Lieferung spät", "Paket kaputt"]


def test_a_rerun_reusing_the_fit_writes_the_same_themes(tmp_path, make_synthetic) -> None:  # type: ignore[no-untyped-def]
    """The re-run centres with the saved (rounded) mean: it must be the mean the first run used."""
    responses, embed_topics = make_synthetic(n_per_topic=30, seed=5)
    config = ThemesConfig(reduction="pca", min_theme_size=10)
    first, first_themes = assign_themes(responses, config, embed=embed_topics, state_dir=tmp_path)
    second, second_themes = assign_themes(responses, config, embed=embed_topics, state_dir=tmp_path)
    pd.testing.assert_frame_equal(first_themes, second_themes)
    pd.testing.assert_series_equal(first["theme_label"], second["theme_label"])
