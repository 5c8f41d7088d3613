"""Themes at scale (issue 21): above ``max_fit_comments`` the fit sees a seeded sample and every other comment
is assigned; lemmas are computed for the rows that need them, HanTa's analyses once per (word, tag)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score

from nps_text.themes import ThemesConfig, assign_themes
from nps_text.themes import assign as assign_module

FAST = ThemesConfig(reduction="pca", min_theme_size=10)


def _counting_lemmas(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = assign_module.lemmatize_texts

    def counting(texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(assign_module, "lemmatize_texts", counting)
    return seen


def test_sample_fit_assigns_every_comment(make_synthetic, monkeypatch: pytest.MonkeyPatch) -> None:
    responses, embed = make_synthetic(n_per_topic=60)  # 240 distinct comments
    lemmatised = _counting_lemmas(monkeypatch)
    sampled, themes = assign_themes(responses, FAST.model_copy(update={"max_fit_comments": 100}), embed=embed)
    assert len(lemmatised) == 100  # only the fit sample is lemmatised
    assert sampled["theme_id"].notna().all() and sampled["theme_label"].notna().all()
    assert (sampled["theme_id"] == -1).mean() <= FAST.max_outlier_share + 0.02
    assert themes["size"].sum() == len(responses)
    full, _ = assign_themes(responses, FAST, embed=embed)
    assert normalized_mutual_info_score(full["theme_id"], sampled["theme_id"]) >= 0.9
    assert normalized_mutual_info_score(responses["true_topic"], sampled["theme_id"]) >= 0.9


def test_guided_seed_words_still_see_every_comment(make_synthetic, monkeypatch: pytest.MonkeyPatch) -> None:
    responses, embed = make_synthetic(n_per_topic=60)
    lemmatised = _counting_lemmas(monkeypatch)
    config = ThemesConfig(
        reduction="pca", min_theme_size=10, max_fit_comments=100, sentence_themes=False,
        guided=[{"name": "Preis", "seed_words": ["Preis"]}],
    )
    result, _ = assign_themes(responses, config, embed=embed)
    assert len(set(lemmatised)) == len(responses)
    assert (result.loc[result["comment"].str.contains("Preis"), "theme_label"] == "Preis").all()


def test_hanta_analyses_each_word_once_with_hanta_s_own_lemmas() -> None:
    from nps_text.themes import labels

    sentences = {
        "de": ["Die Lieferung kam viel zu spät.", "Lieferungen kamen zu spät, die Züge waren verspätet.",
               "Das freundliche Personal half sofort.", "Die App stürzt ständig ab."],
        "en": ["The flights were cancelled twice.", "Flights cancelled again, staff was rude.",
               "The app keeps crashing.", "Friendly staff and clean rooms."],
    }
    labels._lemma.cache_clear()
    for language, texts in sentences.items():
        for text in texts:
            tokens = labels._TOKEN.findall(text)[: labels.MAX_TOKENS]
            expected = tuple(
                (str(word), str(lemma), str(tag))
                for word, lemma, tag in labels._tagger(language).tag_sent(tokens, taglevel=1)
            )
            assert labels.tag_text(text, language) == expected
    assert labels._lemma.cache_info().hits > 0  # "Lieferung", "spät", "cancelled", "staff", ... analysed once


@pytest.mark.slow
def test_cached_lemmas_give_the_same_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from nps_text.themes import labels

    frame = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "demo_de.csv", sep=";", encoding="cp1252", dtype=str)
    texts = frame["Kommentar"].dropna().astype(str).drop_duplicates().head(300).tolist()
    ids = np.arange(len(texts)) % 4

    def uncached(text: str, language: str) -> tuple[tuple[str, str, str], ...]:
        tokens = labels._TOKEN.findall(text)[: labels.MAX_TOKENS]
        return tuple((str(w), str(lemma), str(t)) for w, lemma, t in labels._tagger(language).tag_sent(tokens, taglevel=1))

    cached = labels.label_themes(texts, ["de"] * len(texts), ids)
    monkeypatch.setattr(labels, "tag_text", uncached)
    assert labels.label_themes(texts, ["de"] * len(texts), ids) == cached


def test_bertopic_is_imported_without_its_optional_heavy_modules() -> None:
    """The theme fit's child imports BERTopic without torch, transformers, sentence-transformers or spaCy (BERTopic
    imports them for features the fit never uses: +350 MiB and 3 s per fit); afterwards they import as usual."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from nps_text.themes import model\n"
        "with model._without_optional_modules():\n"
        "    from bertopic import BERTopic\n"
        "assert not {'torch', 'transformers', 'sentence_transformers', 'spacy'} & set(sys.modules), sorted(sys.modules)\n"
        "import numpy as np\n"
        "rng = np.random.default_rng(0)\n"
        "emb = np.repeat(np.eye(4, 16, dtype=np.float32), 30, axis=0) + 0.05 * rng.normal(size=(120, 16)).astype(np.float32)\n"
        "docs = [f'topic{i // 30} word{i % 7}' for i in range(120)]\n"
        "labels, cutoff = model.fit_sample_themes(docs, emb / np.linalg.norm(emb, axis=1, keepdims=True), "
        "model.ThemesConfig(min_theme_size=10), 10)\n"
        "assert len(set(labels.tolist()) - {-1}) == 4, labels\n"
        "assert 'torch' not in sys.modules\n"
        "import torch\n"
        "print('ok', torch.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok torch", result.stderr[-3000:]


def test_optional_modules_are_absent_only_while_bertopic_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from nps_text.themes import model

    monkeypatch.setattr(model, "_OPTIONAL_HEAVY_MODULES", ("nps_text_not_a_module", "numpy"))
    with model._without_optional_modules():
        with pytest.raises(ModuleNotFoundError):
            import nps_text_not_a_module  # noqa: F401
        assert sys.modules["numpy"] is not None  # loaded already: left alone
    assert "nps_text_not_a_module" not in sys.modules
