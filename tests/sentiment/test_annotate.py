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
    assert sorted(keyword_backend.seen) == sorted(
        [
            "Beratung super, aber die Lieferung dauerte ewig",
            "Alles gut",
            "Beratung super",
            "aber die Lieferung dauerte ewig",
        ]
    )


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
