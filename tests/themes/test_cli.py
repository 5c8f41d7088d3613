"""CLI: ``nps-text themes`` and ``nps-text evaluate themes`` with a fake registered encoder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nps_text.cli import cli
from nps_text.encoders.registry import register_encoder


@pytest.fixture
def labelled(tmp_path, synthetic):
    responses, embed = synthetic

    class FakeEncoder:
        name, dim = "fake-themes", 24

        def __init__(self, batch_size: int = 64) -> None:
            pass

        def encode(self, texts):
            return embed(list(texts))

    register_encoder("fake-themes", FakeEncoder)
    path = tmp_path / "labelled.csv"
    table = responses[["comment", "true_topic"]].rename(columns={"comment": "Kommentar", "true_topic": "Kategorie"})
    table.loc[len(table)] = [None, "Preis"]  # a row without text is kept and gets no theme
    table.to_csv(path, index=False)
    config = tmp_path / "themes.yaml"
    config.write_text("themes:\n  reduction: pca\n  min_theme_size: 10\n", encoding="utf-8")
    return path, config


def test_themes_command_writes_table(tmp_path, labelled) -> None:
    path, config = labelled
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        cli,
        ["themes", str(path), "--text-column", "Kommentar", "--out", str(out), "--config", str(config),
         "--encoder", "fake-themes", "--cache-dir", str(tmp_path / "cache"), "--themes-out", str(tmp_path / "t.csv")],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert {"Kommentar", "Kategorie", "theme_id", "theme_label"} <= set(table.columns)
    assert table["theme_id"].iloc[:-1].notna().all() and pd.isna(table["theme_id"].iloc[-1])
    assert "4 themes" in result.output
    assert (tmp_path / "t.csv").is_file()


def test_evaluate_themes_prints_scores(tmp_path, labelled) -> None:
    path, config = labelled
    args = ["evaluate", "themes", str(path), "--text-column", "Kommentar", "--label-column", "Kategorie",
            "--config", str(config), "--encoder", "fake-themes", "--cache-dir", str(tmp_path / "cache")]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)["nps-text"]
    assert scores["nmi"] == pytest.approx(1.0) and scores["ari"] == pytest.approx(1.0)
    assert scores["themes"] == 4 and scores["outlier_share"] == 0.0
    assert -1.0 <= scores["coherence_npmi"] <= 1.0 and 0.0 < scores["diversity"] <= 1.0
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0 and "nmi" in table.output and "diversity" in table.output


def test_missing_column_is_a_clean_error(tmp_path, labelled) -> None:
    path, _ = labelled
    result = CliRunner().invoke(
        cli, ["themes", str(path), "--text-column", "nope", "--out", str(tmp_path / "x.csv"), "--encoder", "fake-themes"]
    )
    assert result.exit_code != 0
    assert "nope" in str(result.exception) or "nope" in result.output


def test_help_has_examples() -> None:
    for args in (["themes", "--help"], ["evaluate", "themes", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Example" in result.output


def test_npmi_and_diversity_by_hand() -> None:
    from nps_text.themes.evaluate import npmi_coherence, topic_diversity

    docs = [["a", "b"], ["a", "b"], ["c"], ["d"]]
    # p(a)=p(b)=p(ab)=0.5 -> NPMI = log(0.5/0.25)/-log(0.5) = 1
    assert npmi_coherence(docs, {0: ["a", "b"]}) == pytest.approx(1.0)
    assert npmi_coherence(docs, {0: ["c", "d"]}) == pytest.approx(-1.0)
    assert topic_diversity({0: ["a", "b"], 1: ["b", "c"]}) == pytest.approx(3 / 4)
    assert np.isnan(topic_diversity({}))
