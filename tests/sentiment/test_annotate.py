from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nps_text.errors import ModelError, SchemaError
from nps_text.schema import SENTENCES_COLUMNS
from nps_text.sentiment import SentimentBackend, annotate_sentiment, get_sentiment_backend
from nps_text.sentiment.config import SentimentConfig


def _responses() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
            "comment": [
                "Beratung super, aber die Lieferung dauerte ewig",
                None,
                "k.A.",
                "Beratung super, aber die Lieferung dauerte ewig",
                "Alles gut",
                "   ",
            ],
            "comment_status": ["text", "empty", "non_informative", "text", "text", "text"],
        }
    )


def test_keyword_backend_satisfies_the_protocol(keyword_config: SentimentConfig) -> None:
    backend = get_sentiment_backend("test-keywords", keyword_config)
    assert isinstance(backend, SentimentBackend)


def test_rows_without_text_get_null_not_neutral(keyword_config: SentimentConfig) -> None:
    annotated, _ = annotate_sentiment(_responses(), keyword_config)
    assert annotated["sentiment"].isna().tolist() == [False, True, True, False, False, True]
    assert annotated["sentiment_confidence"].isna().tolist() == [False, True, True, False, False, True]
    assert annotated.loc[4, "sentiment"] == "positive"
    assert annotated.loc[4, "sentiment_confidence"] == pytest.approx(0.8)


def test_does_not_mutate_the_input(keyword_config: SentimentConfig) -> None:
    responses = _responses()
    before = responses.copy()
    annotate_sentiment(responses, keyword_config)
    pd.testing.assert_frame_equal(responses, before)


def test_each_distinct_text_and_sentence_is_scored_once(keyword_backend, keyword_config) -> None:
    annotate_sentiment(_responses(), keyword_config)
    # "Alles gut" (one sentence) is one pass for comment and sentence; the mixed comment is scored
    # as a whole (its label) and per sentence, each distinct text once although it occurs twice
    assert sorted(keyword_backend.seen) == sorted(
        [
            "Beratung super, aber die Lieferung dauerte ewig",
            "Alles gut",
            "Beratung super",
            "aber die Lieferung dauerte ewig",
        ]
    )


def test_single_sentence_comments_are_scored_exactly_once(keyword_backend, keyword_config) -> None:
    frame = pd.DataFrame({"comment": ["Alles gut.", "Service schlecht", "Alles gut."]})
    annotated, sentences = annotate_sentiment(frame, keyword_config, status_column=None)
    assert sorted(keyword_backend.seen) == ["Alles gut.", "Service schlecht"]
    assert sentences["sentence"].tolist() == ["Alles gut.", "Service schlecht", "Alles gut."]
    assert sentences["sentiment"].tolist() == annotated["sentiment"].tolist()
    assert sentences["confidence"].tolist() == pytest.approx(annotated["sentiment_confidence"].tolist())


def test_comment_from_sentences_is_the_word_weighted_mean_of_its_sentences(keyword_backend, keyword_config) -> None:
    frame = pd.DataFrame({"comment": ["Beratung super, aber die Lieferung dauerte wirklich ewig"]})
    config = keyword_config.model_copy(update={"comment_from": "sentences"})
    annotated, sentences = annotate_sentiment(frame, config, status_column=None)
    assert sentences["sentiment"].tolist() == ["positive", "negative"]
    # weights 2 and 6 words: P(negative) = (2 * 0.05 + 6 * 0.8) / 8
    assert annotated["sentiment"].tolist() == ["negative"]
    assert annotated["sentiment_confidence"].iloc[0] == pytest.approx((2 * 0.05 + 6 * 0.8) / 8, abs=1e-6)


def test_a_one_segment_comment_keeps_its_full_text_as_the_sentence(keyword_backend, keyword_config) -> None:
    frame = pd.DataFrame({"comment": ["Alles gut 👍 ...", "!!!"]})
    annotated, sentences = annotate_sentiment(frame, keyword_config, status_column=None)
    assert sentences["sentence"].tolist() == ["Alles gut 👍 ...", "!!!"]
    assert sorted(keyword_backend.seen) == ["!!!", "Alles gut 👍 ..."]


def test_comment_from_sentences_never_scores_the_whole_mixed_comment(keyword_backend, keyword_config) -> None:
    config = keyword_config.model_copy(update={"comment_from": "sentences"})
    annotate_sentiment(_responses(), config)
    assert sorted(keyword_backend.seen) == sorted(["Alles gut", "Beratung super", "aber die Lieferung dauerte ewig"])


def test_sentences_table_splits_mixed_comments(keyword_config: SentimentConfig) -> None:
    _, sentences = annotate_sentiment(_responses(), keyword_config)
    assert list(sentences.columns) == list(SENTENCES_COLUMNS)
    first = sentences[sentences["response_id"] == "r1"]
    assert first["sentence"].tolist() == ["Beratung super", "aber die Lieferung dauerte ewig"]
    assert first["sentiment"].tolist() == ["positive", "negative"]
    assert first["sentence_index"].tolist() == [0, 1]
    assert sentences[sentences["response_id"] == "r5"]["sentence"].tolist() == ["Alles gut"]
    assert set(sentences["response_id"]) == {"r1", "r4", "r5"}


def test_without_status_column_text_decides(keyword_config: SentimentConfig) -> None:
    frame = pd.DataFrame({"text": ["great", None, "", "bad"]})
    annotated, sentences = annotate_sentiment(frame, keyword_config, text_column="text", status_column=None)
    assert annotated["sentiment"].tolist()[0] == "positive"
    assert annotated["sentiment"].isna().tolist() == [False, True, True, False]
    assert sentences["response_id"].tolist() == [0, 3]  # the index stands in for a missing response_id


def test_disabled_or_all_empty_gives_nulls_and_an_empty_table(keyword_config: SentimentConfig) -> None:
    disabled = keyword_config.model_copy(update={"enabled": False})
    annotated, sentences = annotate_sentiment(_responses(), disabled)
    assert annotated["sentiment"].isna().all() and sentences.empty
    assert list(sentences.columns) == list(SENTENCES_COLUMNS)


def test_per_sentence_off_keeps_one_row_per_comment(keyword_config: SentimentConfig) -> None:
    config = keyword_config.model_copy(update={"per_sentence": False})
    _, sentences = annotate_sentiment(_responses(), config)
    assert len(sentences) == 3


def test_missing_columns_raise_schema_error(keyword_config: SentimentConfig) -> None:
    with pytest.raises(SchemaError, match="comment"):
        annotate_sentiment(pd.DataFrame({"x": [1]}), keyword_config)
    with pytest.raises(SchemaError, match="status"):
        annotate_sentiment(pd.DataFrame({"comment": ["a"]}), keyword_config)


def test_a_backend_with_a_wrong_shape_fails_loudly() -> None:
    class Broken:
        name, version = "broken", "0"

        def predict_proba(self, texts):
            return np.ones((len(texts), 2))

    with pytest.raises(ModelError, match="expected"):
        annotate_sentiment(_responses(), SentimentConfig(), backend=Broken())


def test_importing_the_package_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, nps_text.sentiment; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
