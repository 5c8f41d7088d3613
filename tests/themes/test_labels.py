"""Readable theme labels (HanTa phrases) and the built-in starter taxonomies."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nps_text.themes import ThemesConfig, assign_themes
from nps_text.themes.keywords import is_specific_topic
from nps_text.themes.labels import tag_text, theme_phrases
from nps_text.themes.taxonomies import BUILTIN, available, load_taxonomy

REPO = Path(__file__).resolve().parents[2]


def _words(label: str) -> list[str]:
    return [word for word in label.split() if word != "&"]


def test_phrases_name_the_problem_in_surface_forms() -> None:
    texts = [
        "Die Lieferung kam viel zu spät.", "Lieferung zu spät, wieder einmal.", "Meine Lieferung war zu spät.",
        "Die App stürzt ständig ab.", "Die App stürzt beim Login ab.", "App stürzt ab, nervig.",
        "My flight was cancelled.", "The flight was cancelled without notice.", "Flight cancelled again!",
    ]
    languages = ["de"] * 6 + ["en"] * 3
    ids = np.repeat([0, 1, 2], 3)
    labels = theme_phrases(texts, languages, ids, negative=np.ones(9, dtype=bool))
    assert labels == {0: "Lieferung zu spät", 1: "App stürzt ab", 2: "Flight cancelled"}
    assert tag_text(texts[0], "de") is tag_text(texts[0], "de")  # tagged once, cached


def test_taxonomies_are_complete_and_selectable() -> None:
    assert available() == list(BUILTIN)
    for name in BUILTIN:
        categories = load_taxonomy(name)
        assert 10 <= len(categories) <= 20, name
        for category in categories:
            assert {"de", "en"} <= set(category["labels"]), category["name"]
            assert category["phrases"] and category["seed_words"]
    config = ThemesConfig(taxonomy="retail", guided=[{"name": "Delivery & shipping", "seed_words": ["Paket"]}])
    assert config.guided[0].seed_words == ["Paket"]  # the user's own category wins over the taxonomy's
    assert len(config.guided) == len(load_taxonomy("retail"))
    assert config.guided_method == "keywords+similarity"
    assert len(ThemesConfig(**config.model_dump()).guided) == len(config.guided)  # idempotent
    with pytest.raises(ValueError, match="unknown taxonomy"):
        ThemesConfig(taxonomy="astrology")


def test_taxonomy_categories_get_labels_in_the_comments_language(synthetic) -> None:
    responses, embed = synthetic
    config = ThemesConfig(reduction="pca", min_theme_size=10, taxonomy="retail")
    result, _ = assign_themes(responses, config, embed=embed)
    delivery = result.loc[result["comment"].str.contains("Lieferung"), "theme_label"]
    assert (delivery == "Lieferung & Versand").mean() > 0.5


def _sample(name: str) -> pd.DataFrame:
    if name == "de":
        frame = pd.read_csv(REPO / "data" / "demo_de.csv", sep=";", encoding="cp1252", dtype=str)
        frame = frame.rename(columns={"Kommentar": "comment", "Bewertung": "score", "ID": "response_id"})
    else:
        frame = pd.read_csv(REPO / "data" / "sample_reviews_en.csv", dtype=str).rename(columns={"Review Text": "comment"})
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
    frame = frame[frame["score"].notna() & frame["comment"].notna() & frame["comment"].str.len().gt(3)].copy()
    frame["nps_group"] = np.where(frame["score"] >= 9, "promoter", np.where(frame["score"] >= 7, "passive", "detractor"))
    frame["comment_status"] = "text"
    frame = frame.head(1200)  # keeps the slow test to about a minute on two busy cores
    from nps_text.text import guess_language

    frame["language"] = [guess_language(text) for text in frame["comment"]]
    return frame


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["de", "en"])
def test_bundled_sample_labels_use_the_themes_own_words(sample: str, tmp_path: Path) -> None:
    from nps_text.cache import open_store
    from nps_text.encoders.registry import embed_texts, get_encoder

    encoder, cache = get_encoder("use"), open_store(tmp_path)
    result, themes = assign_themes(_sample(sample), ThemesConfig(), embed=lambda texts: embed_texts(list(texts), encoder, cache))
    labelled = unspecific = 0
    for theme_id, members in result.groupby("theme_id"):
        label = str(members["theme_label"].iloc[0])
        unspecific += theme_id != -1 and not is_specific_topic(label)
        if theme_id == -1 or label.startswith("Theme ") or not is_specific_topic(label):
            continue
        words = _words(label)
        assert 1 <= len(words) <= 5, label
        vocabulary = {word.lower() for text in members["comment"] for word in re.findall(r"\w+(?:[-'’]\w+)*", text)}
        assert {word.lower() for word in words} <= vocabulary, (label, sorted(set(words) - vocabulary))
        labelled += 1
    assert unspecific <= 0.2 * (themes["theme_id"].nunique() - 1)  # most themes of real comments have a subject
    assert labelled >= 0.8 * (themes["theme_id"].nunique() - 1 - unspecific)
