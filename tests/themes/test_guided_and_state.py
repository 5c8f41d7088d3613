"""Guided themes (user taxonomy with seed words), renames, merges and stable ids across runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nps_text.config import config_from_dict
from nps_text.errors import ConfigError
from nps_text.themes import ThemesConfig, assign_themes
from nps_text.themes.config import GuidedTheme
from nps_text.themes.guided import match_guided
from nps_text.themes.state import STATE_FILE

FAST = {"reduction": "pca", "min_theme_size": 10}


def test_match_guided_lemmas_prefixes_and_ties() -> None:
    themes = [
        GuidedTheme(name="Lieferung", seed_words=["Lieferung", "delivery"]),
        GuidedTheme(name="Preis", seed_words=["preis*", "price"]),
    ]
    lemmas = [["Lieferung", "spät"], ["delivery", "late"], ["Preiserhöhung"], ["App"], ["Lieferung", "Preis"]]
    words = [["lieferungen", "spät"], ["deliveries", "late"], ["preiserhöhung"], ["app"], ["lieferung", "preis"]]
    assert match_guided(lemmas, words, themes).tolist() == [0, 0, 1, -1, 0]


def test_guided_themes_claim_matching_comments(synthetic) -> None:
    responses, embed = synthetic
    config = ThemesConfig(
        **FAST,
        guided=[
            {"name": "Versand & Lieferung", "seed_words": ["Paket", "Lieferung", "shipping"]},
            {"name": "Preis", "seed_words": ["Kosten", "Tarif"]},
        ],
    )
    result, themes = assign_themes(responses, config, embed=embed)
    has_seed = responses["comment"].str.contains("Paket|Lieferung")
    assert (result.loc[has_seed, "theme_label"] == "Versand & Lieferung").all()
    price = responses["comment"].str.contains("Kosten|Tarif") & ~has_seed
    assert (result.loc[price, "theme_label"] == "Preis").all()
    # The rest is discovered: Personal and App comments form their own themes.
    app = responses["true_topic"] == "App"
    assert result.loc[app, "theme_id"].nunique() == 1
    assert "Versand & Lieferung" in set(themes["theme_label"])


def test_guided_config_validation() -> None:
    with pytest.raises(ConfigError, match="seed_words"):
        config_from_dict({"themes": {"guided": [{"name": "X", "seed_words": []}]}})
    with pytest.raises(ConfigError, match="unique"):
        config_from_dict({"themes": {"guided": [{"name": "X", "seed_words": ["a"]}, {"name": "X", "seed_words": ["b"]}]}})
    with pytest.raises(ConfigError, match="merge"):
        config_from_dict({"themes": {"merge": [[3]]}})


def test_stable_ids_rename_and_merge_across_growing_runs(tmp_path, make_synthetic) -> None:
    responses, embed = make_synthetic(n_per_topic=40, seed=0)
    config = ThemesConfig(**FAST)
    first, _ = assign_themes(responses, config, embed=embed, state_dir=tmp_path)
    assert (tmp_path / STATE_FILE).is_file()
    ids_by_topic = first.groupby("true_topic")["theme_id"].first().to_dict()

    # Next run: more data from the same topics, shuffled; every topic keeps its id.
    more, more_embed = make_synthetic(n_per_topic=60, seed=0)
    grown = more.sample(frac=1.0, random_state=1)
    second, _ = assign_themes(grown, config, embed=more_embed, state_dir=tmp_path)
    assert second.groupby("true_topic")["theme_id"].first().to_dict() == ids_by_topic

    # The user renames one theme and merges two others by id; the next run keeps both.
    app_id, price_id, staff_id = ids_by_topic["App"], ids_by_topic["Preis"], ids_by_topic["Personal"]
    edited = config.model_copy(update={"rename": {app_id: "App & Login"}, "merge": [[price_id, staff_id]]})
    third, themes = assign_themes(grown, edited, embed=more_embed, state_dir=tmp_path)
    assert (third.loc[third["true_topic"] == "App", "theme_label"] == "App & Login").all()
    merged = third[third["true_topic"].isin(["Preis", "Personal"])]
    assert merged["theme_id"].eq(price_id).all()
    assert price_id in set(themes["theme_id"]) and staff_id not in set(themes["theme_id"])
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert {item["label"] for item in state["themes"]} >= {"App & Login"}


def test_no_state_dir_writes_nothing(tmp_path, synthetic) -> None:
    responses, embed = synthetic
    assign_themes(responses, ThemesConfig(**FAST), embed=embed, state_dir=None)
    assert not list(tmp_path.iterdir())


def test_example_pipeline_config_is_valid() -> None:
    from pathlib import Path

    from nps_text.config import load_config

    path = Path(__file__).resolve().parents[2] / "pipeline" / "guided_themes.yaml"
    config = load_config(path)
    assert config.themes.guided and all(theme.seed_words for theme in config.themes.guided)


def test_guided_by_similarity_claims_unmatched_comments(synthetic) -> None:
    responses, embed = synthetic
    app_comments = responses.loc[responses["true_topic"] == "App", "comment"].tolist()
    app_centre = embed(app_comments).mean(axis=0)

    def embed_with_seed(texts):
        vectors = [app_centre / (app_centre**2).sum() ** 0.5 if text.startswith("App-Probleme:") else embed([text])[0]
                   for text in texts]
        return np.vstack(vectors).astype(np.float32)

    guided = [{"name": "App-Probleme", "seed_words": ["crash", "bug"]}]
    by_keywords = ThemesConfig(**FAST, guided=guided)
    result, _ = assign_themes(responses, by_keywords, embed=embed_with_seed)
    assert not (result["theme_label"] == "App-Probleme").any()  # no seed word occurs literally
    by_similarity = by_keywords.model_copy(update={"guided_method": "keywords+similarity", "guided_similarity": 0.8})
    result, _ = assign_themes(responses, by_similarity, embed=embed_with_seed)
    assert (result.loc[responses["true_topic"] == "App", "theme_label"] == "App-Probleme").all()
    assert not (result.loc[responses["true_topic"] != "App", "theme_label"] == "App-Probleme").any()
