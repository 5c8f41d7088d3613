"""Every complaint counted: clauses and sentences get themes, so a comment naming two problems raises both."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from nps_text.schema import check_table
from nps_text.themes import ThemesConfig, assign_themes, assign_themes_and_sentences
from nps_text.themes.config import GuidedTheme
from nps_text.themes.sentences import split_theme_clauses

FAST = ThemesConfig(reduction="pca", min_theme_size=8)
TOPICS = {
    "Lieferung": ["lieferung", "paket", "zustellung", "versand"],
    "Service": ["kundenservice", "hotline", "mitarbeiter", "beratung"],
    "Preis": ["preis", "kosten", "gebühr", "rechnung"],
}
TEMPLATES = {
    "Lieferung": ["{w} kam viel zu spät", "{w} war beschädigt", "{w} dauerte ewig"],
    "Service": ["{w} war nicht erreichbar", "{w} war unfreundlich", "{w} konnte nicht helfen"],
    "Preis": ["{w} ist zu hoch", "{w} war falsch berechnet", "{w} viel zu teuer"],
}
DIM = 96


def _seeded(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
    return np.random.default_rng(seed).normal(size=DIM)


CENTRES = {name: _seeded(f"centre {name}") for name in TOPICS}


def embed(texts: Sequence[str]) -> np.ndarray:
    """Topic words pull a text towards their topic's centre; other texts are (seeded) noise."""
    rows = []
    for text in texts:
        words = text.lower().split()
        hits = [name for name, vocab in TOPICS.items() if any(word.strip(".,!") in vocab for word in words)]
        vector = 0.3 * _seeded(text) / np.sqrt(DIM) * 3
        for name in hits:
            vector = vector + CENTRES[name] / np.linalg.norm(CENTRES[name])
        rows.append(vector / np.linalg.norm(vector))
    return np.vstack(rows).astype(np.float32)


def _responses(extra: list[tuple[str, int]]) -> pd.DataFrame:
    rows = []
    for name, vocab in TOPICS.items():
        for index in range(24):
            template = TEMPLATES[name][index % 3]
            rows.append((template.format(w=vocab[index % 4].capitalize()) + f" (Fall {index})", 3 + index % 7))
    rows += extra
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(len(rows))],
            "score": [score for _, score in rows],
            "nps_group": ["promoter" if s >= 9 else "passive" if s >= 7 else "detractor" for _, s in rows],
            "comment": [text for text, _ in rows],
            "comment_status": "text",
            "language": "de",
            "sentiment": pd.Series([None] * len(rows), dtype="string"),
            "sentiment_confidence": np.nan,
        }
    )


def test_split_theme_clauses() -> None:
    assert split_theme_clauses("Lieferung kam zu spät und der Kundenservice war nicht erreichbar") == [
        "Lieferung kam zu spät", "der Kundenservice war nicht erreichbar",
    ]
    assert split_theme_clauses("Paket kam beschädigt an, die Hotline hat nie zurückgerufen") == [
        "Paket kam beschädigt an", "die Hotline hat nie zurückgerufen",
    ]
    # short list items stay one unit
    assert split_theme_clauses("Schnell, freundlich und kompetent") == ["Schnell, freundlich und kompetent"]
    assert split_theme_clauses("Preis und Leistung stimmen") == ["Preis und Leistung stimmen"]


def _theme_of(result: pd.DataFrame, prefix: str) -> int:
    return int(result.loc[result["comment"].str.startswith(prefix), "theme_id"].mode().iloc[0])


def test_a_comment_naming_two_problems_raises_both_themes() -> None:
    two = "Lieferung kam zu spät und der Kundenservice war nicht erreichbar"
    filler = "Das Paket kam nie an. Vielen lieben Dank trotzdem für nichts"
    responses = _responses([(two, 0), (filler, 2)])
    result, themes = assign_themes(responses, FAST, embed=embed)
    delivery = _theme_of(result, "Lieferung kam viel")
    service = _theme_of(result, "Kundenservice war")
    assert delivery != service
    row = result[result["comment"] == two].iloc[0]
    assert set(row["theme_ids"]) == {delivery, service}
    assert row["theme_ids"][0] == row["theme_id"]  # the primary (comment-level) theme first
    assert row["theme_labels"] == [result.loc[result["theme_id"] == t, "theme_label"].iloc[0] for t in row["theme_ids"]]
    # the filler sentence creates no spurious second theme
    assert result[result["comment"] == filler].iloc[0]["theme_ids"] == [delivery]
    # single-unit comments keep exactly their theme
    single = result[~result["comment"].isin([two, filler])]
    assert (single["theme_ids"].map(len) == 1).all()
    assert (single["theme_ids"].map(lambda ids: ids[0]) == single["theme_id"]).all()
    # the themes table stays per primary theme
    assert themes["size"].sum() == len(result)
    check_table(result, "responses", stage="themes")


def test_sentences_table_gets_theme_ids_and_embeds_distinct_units_once() -> None:
    text = "Die Rechnung war falsch berechnet. Die Hotline war nicht erreichbar."
    responses = _responses([(text, 1), (text, 1)])
    responses.loc[responses.index[-1], "response_id"] = "dup"
    sentences = pd.DataFrame(
        {
            "response_id": ["r72", "r72", "dup", "dup"],
            "sentence_index": [0, 1, 0, 1],
            "sentence": ["Die Rechnung war falsch berechnet.", "Die Hotline war nicht erreichbar."] * 2,
            "sentiment": "negative",
            "confidence": 0.9,
        }
    )
    seen: list[str] = []

    def counting(texts: Sequence[str]) -> np.ndarray:
        seen.extend(texts)
        return embed(texts)

    result, _, themed = assign_themes_and_sentences(responses, sentences, FAST, embed=counting)
    price, service = _theme_of(result, "Preis ist"), _theme_of(result, "Kundenservice war")
    assert themed["theme_id"].tolist() == [price, service, price, service]
    assert str(themed["theme_id"].dtype) == "Int64"
    assert set(result.loc[result["response_id"] == "dup", "theme_ids"].iloc[0]) == {price, service}
    assert len(seen) == len(set(seen))  # every distinct text embedded once
    check_table(themed, "sentences")


def test_min_similarity_and_switch_off() -> None:
    two = "Lieferung kam zu spät und der Kundenservice war nicht erreichbar"
    responses = _responses([(two, 0)])
    strict, _ = assign_themes(responses, FAST.model_copy(update={"sentence_similarity": 0.99}), embed=embed)
    off, _ = assign_themes(responses, FAST.model_copy(update={"sentence_themes": False}), embed=embed)
    for result in (strict, off):
        row = result[result["comment"] == two].iloc[0]
        assert row["theme_ids"] == [row["theme_id"]]


def test_guided_seed_words_claim_clauses() -> None:
    config = FAST.model_copy(update={"guided": [GuidedTheme(name="Rechnung", seed_words=["rechnung", "gebühr"])]})
    two = "Die Lieferung kam zu spät und die Rechnung war doppelt so hoch"
    result, _ = assign_themes(_responses([(two, 0)]), config, embed=embed)
    row = result[result["comment"] == two].iloc[0]
    assert "Rechnung" in row["theme_labels"]


@pytest.mark.parametrize("with_text", [True, False])
def test_rows_without_text_have_null_theme_lists(with_text: bool) -> None:
    responses = _responses([("-", 5)])
    responses.loc[responses.index[-1], "comment_status"] = "non_informative"
    if not with_text:
        responses["comment_status"] = "empty"
    result, _ = assign_themes(responses, FAST, embed=embed)
    assert result["theme_ids"].iloc[-1] is None and result["theme_labels"].iloc[-1] is None
    assert result["theme_ids"].notna().sum() == (len(result) - 1 if with_text else 0)


def test_units_in_chunks_give_the_same_themes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Units are embedded and compared a chunk at a time (memory flat in the units); chunking changes nothing."""
    from nps_text.themes import sentences

    extra = [("Lieferung kam zu spät und der Kundenservice war nicht erreichbar", 0),
             ("Rechnung war falsch berechnet, die Hotline hat nie zurückgerufen", 1)]
    expected, _, expected_sentences = assign_themes_and_sentences(_responses(extra), None, FAST, embed=embed)
    calls: list[int] = []

    def counted(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return embed(texts)

    monkeypatch.setattr(sentences, "UNIT_CHUNK", 1)
    chunked, _, chunked_sentences = assign_themes_and_sentences(_responses(extra), None, FAST, embed=counted)
    assert chunked["theme_ids"].tolist() == expected["theme_ids"].tolist()
    assert chunked_sentences.equals(expected_sentences)
    assert calls.count(1) >= 4  # the four clauses one by one


def test_responses_in_chunks_give_the_same_themes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Responses are split and assigned a chunk at a time (memory flat in the rows); chunking changes nothing:
    sentences in any table order, a sentence without text, a response without sentence rows, rows without text."""
    from nps_text.themes import sentences as module
    from nps_text.themes.sentences import response_segments, segment_chunks

    two = "Die Rechnung war falsch berechnet. Die Hotline war nicht erreichbar."
    extra = [(two, 1), (two, 2), ("Lieferung kam zu spät und der Kundenservice war nicht erreichbar", 0), ("-", 5)]
    responses = _responses(extra)
    responses.index = responses.index * 10 + 7  # labels are not positions
    responses.loc[responses.index[-1], "comment_status"] = "non_informative"
    ids = responses["response_id"].tolist()
    table = pd.DataFrame(
        {
            "response_id": [ids[-3], ids[-4], ids[-3], ids[-4], ids[-4]],
            "sentence_index": [1, 1, 0, 0, 2],
            "sentence": ["Die Hotline war nicht erreichbar.", "Die Hotline war nicht erreichbar.",
                         "Die Rechnung war falsch berechnet.", "Die Rechnung war falsch berechnet.", None],
            "sentiment": "negative",
            "confidence": 0.9,
        },
        index=[40, 41, 42, 43, 44],
    )
    mask = responses["comment_status"].eq("text")
    whole = response_segments(responses, mask, table)
    pieces: dict[object, list[tuple[object | None, str]]] = {}
    for chunk in segment_chunks(responses, mask, table, chunk=3):
        pieces.update(chunk.segments)
        assert chunk.sentence_positions.tolist() == [
            table.index.get_loc(label) for parts in chunk.segments.values() for label, _ in parts if label is not None
        ]
    assert pieces == whole and list(pieces) == list(whole)
    assert list(whole) == responses.index[mask].tolist()
    assert whole[responses.index[-4]] == [(43, "Die Rechnung war falsch berechnet."), (41, "Die Hotline war nicht erreichbar.")]
    assert whole[responses.index[-2]] == [(None, extra[2][0])]  # no sentence rows: the comment split here
    assert whole[responses.index[0]] == [(None, responses["comment"].iloc[0])]

    expected, _, expected_sentences = assign_themes_and_sentences(responses, table, FAST, embed=embed)
    monkeypatch.setattr(module, "RESPONSE_CHUNK", 1)
    chunked, _, chunked_sentences = assign_themes_and_sentences(responses, table, FAST, embed=embed)
    assert chunked["theme_ids"].tolist() == expected["theme_ids"].tolist()
    assert chunked["theme_labels"].tolist() == expected["theme_labels"].tolist()
    assert chunked_sentences.equals(expected_sentences)
    assert expected_sentences["theme_id"].isna().tolist() == [False, False, False, False, True]
    assert len(set(expected_sentences["theme_id"].dropna())) == 2
    assert expected["theme_ids"].iloc[-1] is None
