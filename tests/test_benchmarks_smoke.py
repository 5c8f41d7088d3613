"""The benchmark survey builder makes the mix it promises (fast: no models, 200 rows), from ``../shared/data``
when it is there and always from the repository's CC0 sample (what a fresh clone without that folder gets)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _survey_module():
    spec = importlib.util.spec_from_file_location("benchmarks_survey", BENCHMARKS / "survey.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


survey = _survey_module()
SOURCES = [
    pytest.param("shared", marks=pytest.mark.skipif(not survey.SHARED_DATA_DIR.is_dir(), reason="no ../shared/data")),
    "bundled",
]


@pytest.fixture(scope="module", params=SOURCES)
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Where the texts come from: ``../shared/data``, or (NPS_TEXT_DATA_DIR at a missing folder) the bundled sample."""
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "shared":
            patch.setenv("NPS_TEXT_DATA_DIR", str(survey.SHARED_DATA_DIR))
        else:
            patch.setenv("NPS_TEXT_DATA_DIR", str(tmp_path_factory.mktemp("nothing") / "missing"))
        yield request.param


@pytest.fixture(scope="module")
def frame(data: str, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("survey") / "survey.csv"
    if data == "bundled":
        with pytest.warns(UserWarning, match="bundled CC0 sample"):
            survey.build_survey(200, path, seed=3)
    else:
        survey.build_survey(200, path, seed=3)
    return pd.read_csv(path, keep_default_na=False)


def test_columns_ids_and_scores(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == survey.COLUMNS
    assert len(frame) == 200
    assert frame["response_id"].is_unique
    assert frame["score"].between(0, 10).all()
    assert frame["score"].nunique() >= 8


def test_comment_mix(frame: pd.DataFrame) -> None:
    comments = frame["comment"]
    fillers = {item for items in survey.FILLERS.values() for item in items}
    assert 0.08 <= (comments.str.strip() == "").mean() <= 0.23  # 15 %
    assert 0.01 <= comments.isin(fillers).mean() <= 0.10  # 5 %
    texts = comments[(comments.str.strip() != "") & ~comments.isin(fillers)]
    assert 10 <= texts.str.split().str.len().median() <= 30  # about 20 words


def test_two_segments_and_twelve_weeks(frame: pd.DataFrame) -> None:
    assert set(frame["channel"]) == set(survey.CHANNELS)
    assert set(frame["region"]) == set(survey.REGIONS)
    dates = pd.to_datetime(frame["date"])
    assert 70 <= (dates.max() - dates.min()).days <= 83
    assert dates.dt.isocalendar().week.nunique() == 12


@pytest.mark.filterwarnings("ignore:data folder not found")
def test_seeded_and_prefix_stable(data: str) -> None:
    small = survey.survey_frame(50, seed=3)
    bigger = survey.survey_frame(80, seed=3)
    pd.testing.assert_frame_equal(small, bigger.iloc[:50].reset_index(drop=True))
    assert not small.equals(survey.survey_frame(50, seed=4))


def test_the_mix_is_german_and_english_or_the_bundled_sample_english_only(data: str, frame: pd.DataFrame) -> None:
    texts = frame["comment"][frame["comment"].str.split().str.len() > 8]
    assert len(texts) > 50
    german = texts.str.contains(r"\b(?:und|nicht|sehr)\b")
    if data == "bundled":
        assert not german.any()  # the CC0 sample has no German sentence
    else:
        assert german.mean() > 0.3  # the shared mix is about 60 % German
