"""The benchmark survey builder makes the mix it promises (fast: no models, 200 rows)."""

from __future__ import annotations

import importlib.util
import sys
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
needs_data = pytest.mark.skipif(
    not survey.DEFAULT_DATA_DIR.is_dir(), reason="../shared/data is not available"
)


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("survey") / "survey.csv"
    survey.build_survey(200, path, seed=3)
    return pd.read_csv(path, keep_default_na=False)


@needs_data
def test_columns_ids_and_scores(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == survey.COLUMNS
    assert len(frame) == 200
    assert frame["response_id"].is_unique
    assert frame["score"].between(0, 10).all()
    assert frame["score"].nunique() >= 8


@needs_data
def test_comment_mix(frame: pd.DataFrame) -> None:
    comments = frame["comment"]
    fillers = {item for items in survey.FILLERS.values() for item in items}
    assert 0.08 <= (comments.str.strip() == "").mean() <= 0.23  # 15 %
    assert 0.01 <= comments.isin(fillers).mean() <= 0.10  # 5 %
    texts = comments[(comments.str.strip() != "") & ~comments.isin(fillers)]
    assert 10 <= texts.str.split().str.len().median() <= 30  # about 20 words


@needs_data
def test_two_segments_and_twelve_weeks(frame: pd.DataFrame) -> None:
    assert set(frame["channel"]) == set(survey.CHANNELS)
    assert set(frame["region"]) == set(survey.REGIONS)
    dates = pd.to_datetime(frame["date"])
    assert 70 <= (dates.max() - dates.min()).days <= 83
    assert dates.dt.isocalendar().week.nunique() == 12


@needs_data
def test_seeded_and_prefix_stable() -> None:
    small = survey.survey_frame(50, seed=3)
    bigger = survey.survey_frame(80, seed=3)
    pd.testing.assert_frame_equal(small, bigger.iloc[:50].reset_index(drop=True))
    assert not small.equals(survey.survey_frame(50, seed=4))
