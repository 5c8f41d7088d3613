"""assign_themes on synthetic clustered embeddings: recovery, contract, degradation, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nps_text.errors import SchemaError
from nps_text.schema import THEMES_COLUMNS
from nps_text.themes import ThemesConfig, ThemesError, assign_themes
from tests.themes.conftest import TOPICS

FAST = ThemesConfig(reduction="pca", min_theme_size=10)


def _purity(frame: pd.DataFrame) -> float:
    table = pd.crosstab(frame["true_topic"], frame["theme_id"])
    return float(table.max(axis=1).sum() / table.to_numpy().sum())


def test_recovers_synthetic_topics_with_readable_labels(synthetic) -> None:
    responses, embed = synthetic
    before = responses.copy()
    result, themes = assign_themes(responses, FAST, embed=embed)
    pd.testing.assert_frame_equal(responses, before)
    assert str(result["theme_id"].dtype) == "Int64"
    assert result["theme_id"].nunique() == 4
    assert _purity(result) == 1.0
    assert (result["theme_id"] == -1).mean() <= 0.10
    for topic in ("Lieferung", "App"):
        label = result.loc[result["true_topic"] == topic, "theme_label"].iloc[0]
        words = [word for word in label.split() if word != "&"]
        # a topic (1 word here: no two topic words share 15% of the comments, so no "A & B"), or a phrase
        assert 1 <= len(words) <= 5 and set(words) <= set(TOPICS[topic]) | {"Fall", "und"}, label
    assert list(themes.columns) == list(THEMES_COLUMNS)
    # Shares within each group add up to 1; keywords are lemma lists with umlauts intact.
    assert themes.groupby("nps_group")["share_of_group"].sum().round(6).eq(1.0).all()
    assert any("Gebühr" in words for words in themes["keywords"])
    assert themes["representative_comments"].map(len).between(1, 5).all()
    assert set(themes["nps_group"]) == {"promoter", "passive", "detractor"}


def test_representative_comments_are_typical(synthetic) -> None:
    responses, embed = synthetic
    _, themes = assign_themes(responses, FAST.model_copy(update={"representative_comments": 4}), embed=embed)
    row = themes.sort_values("size", ascending=False).iloc[0]
    assert len(row["representative_comments"]) == 4
    members = responses[responses["comment"].isin(row["representative_comments"])]
    assert members["true_topic"].nunique() == 1


def test_sentiment_mix(synthetic) -> None:
    responses, embed = synthetic
    _, themes = assign_themes(responses, FAST, embed=embed)
    mix = themes[["positive_share", "neutral_share", "negative_share"]].sum(axis=1)
    assert np.allclose(mix, 1.0)
    _, themes = assign_themes(responses.drop(columns=["sentiment"]), FAST, embed=embed)
    assert themes["positive_share"].isna().all()


def test_non_text_rows_never_reach_the_model(synthetic) -> None:
    responses, embed = synthetic
    responses = responses.copy()
    responses.loc[:4, "comment_status"] = "non_informative"
    responses.loc[:4, "comment"] = "k.A."
    responses.loc[5:9, "comment_status"] = "empty"
    responses.loc[5:9, "comment"] = None
    seen: list[str] = []

    def spy(texts):
        seen.extend(texts)
        return embed(texts)

    result, themes = assign_themes(responses, FAST, embed=spy)
    assert "k.A." not in seen
    assert result.loc[:9, "theme_id"].isna().all() and result.loc[10:, "theme_id"].notna().all()
    assert themes["size"].sum() == len(responses) - 10


@pytest.mark.parametrize("n_texts", [0, 1, 3, 9])
def test_very_few_comments_degrade_gracefully(n_texts: int, make_synthetic) -> None:
    responses, embed = make_synthetic(n_per_topic=3)
    responses = responses.copy()
    responses.loc[n_texts:, "comment_status"] = "empty"
    result, themes = assign_themes(responses, ThemesConfig(), embed=embed)
    assigned = result["theme_id"].dropna()
    assert len(assigned) == n_texts
    assert assigned.nunique() <= 1
    assert themes["size"].sum() == n_texts


def test_disabled_and_bad_inputs(synthetic) -> None:
    responses, embed = synthetic
    result, themes = assign_themes(responses, ThemesConfig(enabled=False), embed=embed)
    assert result["theme_id"].isna().all() and themes.empty and list(themes.columns) == list(THEMES_COLUMNS)
    with pytest.raises(SchemaError, match="comment_status"):
        assign_themes(responses.drop(columns=["comment_status"]), FAST, embed=embed)
    with pytest.raises(ThemesError, match="one row per text"):
        assign_themes(responses, FAST, embed=lambda texts: np.zeros((1, 4), dtype=np.float32))


def test_outlier_share_is_capped(synthetic) -> None:
    responses, embed = synthetic
    noisy = responses.copy()
    rng = np.random.default_rng(1)
    noise_texts = [f"Rauschen {i}" for i in range(30)]
    noise = {text: rng.normal(size=24) for text in noise_texts}
    noisy = pd.concat(
        [noisy, pd.DataFrame({"response_id": noise_texts, "score": 5, "nps_group": "detractor",
                              "comment": noise_texts, "comment_status": "text", "language": "de"})],
        ignore_index=True,
    )

    def embed_with_noise(texts):
        return np.vstack([noise[t] / np.linalg.norm(noise[t]) if t in noise else embed([t])[0] for t in texts])

    result, _ = assign_themes(noisy, FAST.model_copy(update={"max_outlier_share": 0.05}), embed=embed_with_noise)
    assert (result["theme_id"] == -1).mean() <= 0.05 + 1e-9
    assert (result["theme_label"][result["theme_id"] == -1] == "Other").all()


def test_target_themes_merges(synthetic) -> None:
    responses, embed = synthetic
    result, _ = assign_themes(responses, FAST.model_copy(update={"target_themes": 2}), embed=embed)
    assert result["theme_id"][result["theme_id"] >= 0].nunique() == 2


def test_reproducible_with_umap(make_synthetic) -> None:
    responses, embed = make_synthetic(n_per_topic=30, seed=3)
    config = ThemesConfig(seed=7)
    first, first_themes = assign_themes(responses, config, embed=embed)
    second, second_themes = assign_themes(responses, config, embed=embed)
    pd.testing.assert_series_equal(first["theme_id"], second["theme_id"])
    pd.testing.assert_frame_equal(first_themes, second_themes)
    assert _purity(first) == 1.0


def test_exact_cosine_knn_matches_brute_force() -> None:
    from nps_text.themes.model import exact_cosine_knn

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    indices, distances = exact_cosine_knn(vectors, 5, block=64)  # several blocks
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, np.inf)
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :5]
    assert (indices[:, 0] == np.arange(300)).all() and np.allclose(distances[:, 0], 0.0)
    assert (indices == expected).all()
    np.fill_diagonal(sims, 1.0)
    assert np.allclose(distances, 1.0 - np.take_along_axis(sims, expected, axis=1), atol=1e-5)
    assert (np.diff(distances, axis=1) >= -1e-6).all()
