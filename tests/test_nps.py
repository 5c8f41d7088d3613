import math

import numpy as np
import pandas as pd
import pytest

from nps_text.nps import (
    add_nps_columns,
    choose_segments,
    nps_group,
    nps_summary,
    nps_with_interval,
    period_changes,
    period_label,
)


def test_groups() -> None:
    assert nps_group(pd.Series([0, 6, 7, 8, 9, 10])).tolist() == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter"]


def test_nps_and_interval_by_hand() -> None:
    # 50 promoters, 30 passives, 20 detractors: NPS 30; var = (0.5 + 0.2 - 0.3**2) / 100 = 0.0061
    score, low, high = nps_with_interval(50, 20, 100)
    assert score == pytest.approx(30.0)
    half = 100 * 1.959964 * math.sqrt(0.0061)
    assert low == pytest.approx(30 - half, abs=1e-3)
    assert high == pytest.approx(30 + half, abs=1e-3)


def test_interval_is_clipped() -> None:
    score, low, high = nps_with_interval(3, 0, 3)
    assert (score, high) == (100.0, 100.0)
    assert low <= 100.0


def test_period_labels() -> None:
    dates = pd.Series(pd.to_datetime(["2026-01-01", "2026-03-31", None]))
    assert period_label(dates, "W").tolist()[:2] == ["2026-W01", "2026-W14"]
    assert period_label(dates, "M").tolist()[:2] == ["2026-01", "2026-03"]
    assert period_label(dates, "Q").tolist()[:2] == ["2026-Q1", "2026-Q1"]
    assert pd.isna(period_label(dates, "W").iloc[2])


def _leak_scenario() -> pd.DataFrame:
    """Four weeks before a data leak with NPS around +40, two weeks after with NPS around -30."""
    rng = np.random.default_rng(1)
    before = rng.choice([10, 9, 8, 7, 5], size=400, p=[0.35, 0.2, 0.2, 0.1, 0.15])
    after = rng.choice([10, 9, 8, 7, 5, 2], size=200, p=[0.1, 0.1, 0.15, 0.1, 0.25, 0.3])
    dates = list(pd.date_range("2026-02-02", periods=4, freq="W-MON").repeat(100)) + list(
        pd.date_range("2026-03-02", periods=2, freq="W-MON").repeat(100))
    return pd.DataFrame({"score": np.r_[before, after], "date": dates, "branch": ["A", "B"] * 300})


def test_summary_overall_matches_counts() -> None:
    responses = add_nps_columns(_leak_scenario())
    summary = nps_summary(responses, ["branch"])
    overall = summary.query("segment == 'all' and period == 'all'").iloc[0]
    assert overall["responses"] == 600
    expected = 100 * ((responses.score >= 9).mean() - (responses.score <= 6).mean())
    assert overall["nps"] == pytest.approx(expected)
    assert set(summary["segment"]) == {"all", "branch"}
    assert set(summary.query("segment == 'branch'")["segment_value"]) == {"A", "B"}
    weekly = summary.query("segment == 'all' and period != 'all'")
    assert weekly["responses"].sum() == 600
    assert (weekly["nps_ci_low"] <= weekly["nps"]).all() and (weekly["nps"] <= weekly["nps_ci_high"]).all()


def test_data_leak_drop_is_flagged() -> None:
    summary = nps_summary(add_nps_columns(_leak_scenario()))
    changes = period_changes(summary)
    drops = changes.query("significant and direction == 'drop'")
    assert drops["period"].tolist() == ["2026-W10"]  # the first week after the leak
    stable = changes.query("period in ['2026-W07', '2026-W08', '2026-W09']")
    assert not stable["significant"].any()


def test_without_dates_only_overall_rows() -> None:
    responses = add_nps_columns(pd.DataFrame({"score": [10, 9, 0]}))
    summary = nps_summary(responses, period_column="period")
    assert summary["period"].tolist() == ["all"]
    assert period_changes(summary).empty


def test_choose_segments_skips_free_text_and_ids() -> None:
    frame = pd.DataFrame({"branch": ["A", "B"] * 50, "customer": [f"c{i}" for i in range(100)], "const": ["x"] * 100})
    assert choose_segments(frame, ["branch", "customer", "const"]) == ["branch"]


def test_automatic_segments_are_capped_and_prefer_segment_like_names() -> None:
    """A wide survey export (one column per question) must not make every answer column a segment (issue 17)."""
    from nps_text.nps import choose_segments

    frame = pd.DataFrame({f"Q{i}": ["1", "2", "3", "4"] for i in range(30)})
    frame["Kanal"] = ["Web", "App", "Web", "Filiale"]
    chosen = choose_segments(frame, list(frame.columns), max_segments=10)
    assert len(chosen) == 10
    assert chosen[0] == "Kanal"
    assert choose_segments(frame, list(frame.columns)) == list(frame.columns)  # no cap: every candidate
