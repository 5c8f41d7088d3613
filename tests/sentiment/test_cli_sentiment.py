from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from nps_text.cli import cli


@pytest.fixture
def labelled_csv(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.csv"
    pd.DataFrame(
        {"text": ["great service", "slow delivery", "it is a shop", "", "Beratung super, aber Lieferung ewig", "k.A."],
         "label": ["positive", "negative", "neutral", "neutral", "negative", "neutral"]}
    ).to_csv(path, index=False)
    return path


def test_every_sentiment_command_documents_an_example() -> None:
    runner = CliRunner()
    for args in (["sentiment", "--help"], ["train", "sentiment", "--help"], ["evaluate", "sentiment", "--help"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "Example" in result.output and "nps-text" in result.output


def test_sentiment_command_writes_columns_and_sentences(keyword_backend, labelled_csv: Path, tmp_path: Path) -> None:
    out, sentences = tmp_path / "out.csv", tmp_path / "sentences.parquet"
    result = CliRunner().invoke(
        cli, ["sentiment", str(labelled_csv), "--text-column", "text", "--model", "test-keywords",
              "--out", str(out), "--sentences", str(sentences)],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame["sentiment"].tolist()[:3] == ["positive", "negative", "neutral"]
    assert pd.isna(frame["sentiment"].iloc[3]) and pd.isna(frame["sentiment"].iloc[5])  # empty, non-informative
    assert frame["comment_status"].tolist()[3:] == ["empty", "text", "non_informative"]
    assert len(pd.read_parquet(sentences)) == 5  # 3 single-sentence comments + 2 clauses


def test_evaluate_command_prints_the_scores(keyword_backend, labelled_csv: Path) -> None:
    result = CliRunner().invoke(
        cli, ["evaluate", "sentiment", str(labelled_csv), "--text-column", "text", "--label-column", "label",
              "--model", "test-keywords"],
    )
    assert result.exit_code == 0, result.output
    for word in ("accuracy", "micro-F1", "macro-F1", "per-class F1", "confusion matrix"):
        assert word in result.output


def test_train_command_writes_the_held_out_splits(tmp_path: Path) -> None:
    data = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (data / "sb10k").is_dir():
        pytest.skip("shared training data not available")
    result = CliRunner().invoke(cli, ["train", "sentiment", "--write-eval-splits", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    germeval = pd.read_csv(tmp_path / "eval" / "germeval.csv")
    assert list(germeval.columns) == ["text", "label"] and len(germeval) > 500
