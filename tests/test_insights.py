"""Improvement-area maths checked by hand on a 10-row example, and the follow-up list."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nps_text.insights import follow_up, improvement_areas, nps
from nps_text.schema import FOLLOW_UP_COLUMNS, IMPROVEMENT_AREAS_COLUMNS


@pytest.fixture
def ten_responses() -> pd.DataFrame:
    # 4 promoters, 2 passives, 4 detractors -> NPS = 100 * (4 - 4) / 10 = 0.
    # Theme 0 "Preis": detractors r1, r2, r3 (+ promoter r7). Theme 1 "Personal": detractor r4, promoters r8, r9.
    # r5/r6 passives (r5 theme 1, r6 empty), r10 promoter with no comment.
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(1, 11)],
            "score": [0, 3, 6, 5, 7, 8, 9, 10, 10, 9],
            "nps_group": ["detractor"] * 4 + ["passive"] * 2 + ["promoter"] * 4,
            "comment": ["zu teuer", "Preis hoch", "viel zu teuer", "Personal unfreundlich", "Personal ok", None,
                        "Preis fair", "Personal super", "nette Leute", None],
            "comment_status": ["text"] * 5 + ["empty"] + ["text"] * 3 + ["empty"],
            "sentiment": ["negative", "negative", "neutral", "negative", "neutral", None, "positive", "positive",
                          "positive", None],
            "theme_id": pd.array([0, 0, 0, 1, 1, None, 0, 1, 1, None], dtype="Int64"),
            "theme_label": ["Preis"] * 3 + ["Personal"] * 2 + [None] + ["Preis"] + ["Personal"] * 2 + [None],
            "period": ["2026-W13", "2026-W14", "2026-W14", "2026-W13", "2026-W14", "2026-W13", "2026-W13",
                       "2026-W14", "2026-W13", "2026-W14"],
            "segment": list("abababab ab".replace(" ", "")),
        }
    )


def test_nps_formula() -> None:
    assert nps(4, 4, 10) == 0.0
    assert math.isnan(nps(0, 0, 0))


def test_improvement_area_maths_by_hand(ten_responses: pd.DataFrame) -> None:
    before = ten_responses.copy()
    areas = improvement_areas(ten_responses, pd.DataFrame())
    pd.testing.assert_frame_equal(ten_responses, before)  # caller's frame untouched
    assert set(IMPROVEMENT_AREAS_COLUMNS) <= set(areas.columns)
    assert areas["theme_label"].tolist() == ["Preis", "Personal"]
    assert areas["rank"].tolist() == [1, 2]
    preis, personal = areas.iloc[0], areas.iloc[1]
    # Preis: 3 of the 4 commenting detractors; impact: 3 detractors -> passives = +30 points on N=10.
    assert preis["detractor_count"] == 3
    assert preis["share_of_detractors"] == pytest.approx(3 / 4)
    assert preis["nps_impact"] == pytest.approx(30.0)
    # Without Preis (r1, r2, r3, r7): 3 promoters, 1 detractor of 6 -> NPS 33.33.
    assert preis["nps_without_theme"] == pytest.approx(100 * (3 - 1) / 6)
    assert preis["nps_gap"] == pytest.approx(100 * 2 / 6)
    # Lift: detractor share 3/4 vs promoter share 1/3 (3 commenting promoters) = 2.25.
    assert preis["lift"] == pytest.approx((3 / 4) / (1 / 3))
    # Fisher 2x2 [[3, 1], [1, 2]]: p = 0.4857 (two-sided), not significant.
    assert preis["p_value"] == pytest.approx(0.485714, abs=1e-5)
    assert not preis["significant"]
    # Personal: 1 detractor -> +10 points; without it (r4, r5, r8, r9): 2 promoters, 3 detractors of 6.
    assert personal["nps_impact"] == pytest.approx(10.0)
    assert personal["nps_without_theme"] == pytest.approx(100 * (2 - 3) / 6)
    assert personal["lift"] == pytest.approx((1 / 4) / (2 / 3))
    # Trend: latest period W14 has commenting detractors r2, r3 (both Preis); W13 has r1 (Preis), r4 (Personal).
    assert preis["current_period"] == "2026-W14" and preis["previous_period"] == "2026-W13"
    assert preis["share_of_detractors_current"] == pytest.approx(1.0)
    assert preis["share_of_detractors_previous"] == pytest.approx(0.5)
    assert preis["trend"] == pytest.approx(50.0)
    assert not preis["emerging"]  # doubled, but only 2 detractors in the latest period (< 3)
    assert personal["trend"] == pytest.approx(-50.0)
    assert preis["example_comments"] == ["zu teuer", "Preis hoch", "viel zu teuer"]


def test_explicit_previous_period_and_no_period_column(ten_responses: pd.DataFrame) -> None:
    areas = improvement_areas(ten_responses.drop(columns=["period"]), pd.DataFrame())
    assert areas["trend"].isna().all() and not areas["emerging"].any()
    areas = improvement_areas(ten_responses, pd.DataFrame(), previous_period="2026-W01")
    assert areas.iloc[0]["share_of_detractors_previous"] == 0.0


def test_example_comments_come_from_themes_table(ten_responses: pd.DataFrame) -> None:
    themes = pd.DataFrame(
        {"nps_group": ["detractor"], "theme_id": [0], "representative_comments": [["Preis hoch", "zu teuer"]]}
    )
    areas = improvement_areas(ten_responses, themes)
    assert areas.iloc[0]["example_comments"] == ["Preis hoch", "zu teuer"]


def test_outlier_theme_not_ranked(ten_responses: pd.DataFrame) -> None:
    frame = ten_responses.assign(theme_id=ten_responses["theme_id"].replace({1: -1}))
    areas = improvement_areas(frame, pd.DataFrame())
    assert areas["theme_id"].tolist() == [0]


def test_follow_up_lists(ten_responses: pd.DataFrame) -> None:
    table = follow_up(ten_responses)
    assert list(table.columns[: len(FOLLOW_UP_COLUMNS)]) == list(FOLLOW_UP_COLUMNS)
    assert {"comment", "theme_label", "sentiment", "segment", "period"} <= set(table.columns)
    actions = dict(zip(table["response_id"], table["follow_up"], strict=True))
    assert [actions[f"r{i}"] for i in range(1, 11)] == (
        ["call_back_detractor"] * 4 + ["convert_passive", "no_comment"] + ["thank_promoter"] * 3 + ["no_comment"]
    )
    # Most urgent first: detractors by score (0, 3, 5, 6), then passives, promoters, no comment.
    assert table["response_id"].tolist()[:4] == ["r1", "r2", "r4", "r3"]
    assert table["follow_up"].tolist()[-2:] == ["no_comment", "no_comment"]
