"""End to end with the real default models (e5-small encoder, our sentiment model, BERTopic): slow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def german_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nps_text.flow import nps_text_flow
    from nps_text.params import RunParameters

    repo = Path(__file__).resolve().parent.parent
    out = tmp_path_factory.mktemp("e2e") / "demo_de"
    nps_text_flow(RunParameters(input=str(repo / "data" / "demo_de.csv"), out=str(out),
                                config=str(repo / "pipeline" / "default.yaml")))
    return out


def test_every_text_comment_has_sentiment_and_theme(german_run: Path) -> None:
    responses = pd.read_parquet(german_run / "responses.parquet")
    text = responses["comment_status"] == "text"
    assert responses.loc[text, "sentiment"].notna().all()
    assert responses.loc[~text, "sentiment"].isna().all()  # null, never "neutral"
    assert responses.loc[text, "theme_id"].notna().all()
    assert responses.loc[~text, "theme_id"].isna().all()
    assert set(responses.loc[text, "sentiment"]) <= {"positive", "neutral", "negative"}


def test_sentiment_agrees_with_the_obvious(german_run: Path) -> None:
    responses = pd.read_parquet(german_run / "responses.parquet").set_index("comment")
    clear = {
        "Die Lieferung hat fast drei Wochen gedauert.": "negative",
        "Die App stürzt ständig ab.": "negative",
        "Die Beratung in der Filiale war super freundlich und kompetent.": "positive",
        "Sehr gute Qualität, hält schon seit Jahren.": "positive",
    }
    for comment, expected in clear.items():
        found = responses.loc[[comment], "sentiment"]
        assert (found == expected).mean() == 1.0, (comment, found.tolist())


def test_data_leak_is_the_top_improvement_area(german_run: Path) -> None:
    areas = pd.read_parquet(german_run / "improvement_areas.parquet")
    assert not areas.empty
    top_labels = " ".join(areas.head(3)["theme_label"].str.lower())
    assert any(word in top_labels for word in ("daten", "datenleck", "data", "vertrauen", "kundendaten"))
    assert (areas["nps_impact"].diff().dropna() <= 1e-9).all()  # ranked by impact


def test_report_and_manifest(german_run: Path) -> None:
    html = (german_run / "report.html").read_text(encoding="utf-8")
    assert "<script src=" not in html
    assert 'src="http' not in html and 'href="http' not in html  # self-contained: nothing loads from a network
    assert "anna.schmidt@example.de" not in html  # redacted before it reaches the report
    manifest = json.loads((german_run / "manifest.json").read_text())
    assert manifest["rows_in"] == manifest["rows_valid"] + manifest["rows_rejected"] == 600
    assert {"embeddings", "sentiment", "themes"} <= set(manifest["models"])
    follow_up = pd.read_parquet(german_run / "follow_up.parquet")
    assert {"call_back_detractor", "convert_passive", "thank_promoter", "no_comment"} <= set(follow_up["follow_up"])


def test_readme_demo_excerpt_matches_the_demo_run(german_run: Path) -> None:
    """The README's demo excerpt (summary line, top improvement areas) is what this code prints for the demo."""
    from tests.readme_excerpt import differences

    diff = differences(german_run)
    assert not diff, (
        "README.md's demo excerpt differs from the demo run; regenerate it with "
        "`python -m tests.readme_excerpt --write`:\n" + "\n".join(diff)
    )
