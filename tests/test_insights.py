"""Improvement-area maths checked by hand on a 10-row example, and the follow-up list."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nps_text.insights import follow_up, improvement_areas, theme_trends
from nps_text.rules import nps_score
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
            "sentiment": ["negative", "negative", "negative", "negative", "neutral", None, "positive", "positive",
                          "positive", None],
            "theme_id": pd.array([0, 0, 0, 1, 1, None, 0, 1, 1, None], dtype="Int64"),
            "theme_label": ["Preis"] * 3 + ["Personal"] * 2 + [None] + ["Preis"] + ["Personal"] * 2 + [None],
            "period": ["2026-W13", "2026-W14", "2026-W14", "2026-W13", "2026-W14", "2026-W13", "2026-W13",
                       "2026-W14", "2026-W13", "2026-W14"],
            "segment": list("abababab ab".replace(" ", "")),
        }
    )


def test_nps_formula() -> None:
    assert nps_score(4, 4, 10) == 0.0
    assert math.isnan(nps_score(0, 0, 0))


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


# --- every complaint counted: respondents per theme, not comments or sentences ------------------------------


def test_multi_theme_comments_count_once_per_respondent_and_theme(ten_responses: pd.DataFrame) -> None:
    frame = ten_responses.copy()
    # r4 (detractor) names Personal and Preis; r1 names Preis twice (two sentences): still one Preis detractor.
    frame["theme_ids"] = [[0, 0], [0], [0], [1, 0], [1], None, [0], [1], [1], None]
    frame["theme_labels"] = [
        ["Preis", "Preis"], ["Preis"], ["Preis"], ["Personal", "Preis"], ["Personal"], None, ["Preis"],
        ["Personal"], ["Personal"], None,
    ]
    areas = improvement_areas(frame, pd.DataFrame()).set_index("theme_label")
    assert areas.loc["Preis", "detractor_count"] == 4  # r1, r2, r3, r4: respondents, not sentences
    assert areas.loc["Personal", "detractor_count"] == 1
    assert areas.loc["Preis", "share_of_detractors"] == pytest.approx(4 / 4)
    assert areas["share_of_detractors"].sum() == pytest.approx(5 / 4)  # shares can add up to more than 100%
    assert areas.loc["Preis", "nps_impact"] == pytest.approx(40.0)
    # without Preis (r1-r4, r7): promoters r8, r9, r10 and no detractor among the 5 left -> 60
    assert areas.loc["Preis", "nps_without_theme"] == pytest.approx(100 * 3 / 5)
    assert areas.loc["Preis", "theme_responses"] == 5
    assert areas.loc["Preis", "rank"] == 1


def test_primary_theme_only_without_theme_ids(ten_responses: pd.DataFrame) -> None:
    with_lists = ten_responses.assign(
        theme_ids=[None if pd.isna(t) else [int(t)] for t in ten_responses["theme_id"]],
        theme_labels=[None if pd.isna(t) else [str(t)] for t in ten_responses["theme_label"]],
    )
    pd.testing.assert_frame_equal(improvement_areas(with_lists, pd.DataFrame()), improvement_areas(ten_responses, pd.DataFrame()))


# --- emerging and fading themes ------------------------------------------------------------------------------


def _two_periods() -> pd.DataFrame:
    """40 commenting detractors per week. Lieferung: 3 -> 15 (emerging); Preis: 14 -> 2 (fading);
    App 5 -> 6 (stable). Every App detractor also names Lieferung in week 2 (multi-theme)."""
    rows = []
    plan = {"2026-W01": {"Lieferung": 3, "Preis": 14, "App": 5}, "2026-W02": {"Lieferung": 15, "Preis": 2, "App": 6}}
    ids = {"Lieferung": 0, "Preis": 1, "App": 2}
    for period, counts in plan.items():
        themes: list[list[str]] = []
        for name, count in counts.items():
            themes += [[name]] * count
        if period == "2026-W02":  # App detractors also name Lieferung, reusing 6 of the 15 Lieferung mentions
            themes = [["Lieferung"]] * 9 + [["Preis"]] * 2 + [["App", "Lieferung"]] * 6
        themes += [["Other"]] * (40 - len(themes))
        for number, names in enumerate(themes):
            theme_ids = [ids.get(name, -1) for name in names]
            rows.append(
                {"response_id": f"{period}-{number}", "score": 2, "nps_group": "detractor", "comment": " / ".join(names),
                 "comment_status": "text", "theme_id": theme_ids[0], "theme_label": names[0], "theme_ids": theme_ids,
                 "theme_labels": names, "period": period}
            )
    rows.append({"response_id": "p", "score": 10, "nps_group": "promoter", "comment": None, "comment_status": "empty",
                 "theme_id": None, "theme_label": None, "theme_ids": None, "theme_labels": None, "period": "2026-W02"})
    frame = pd.DataFrame(rows)
    frame["theme_id"] = frame["theme_id"].astype("Int64")
    return frame


def test_theme_trends_flags_emerging_and_fading_with_the_z_test() -> None:
    from nps_text.schema import THEME_TRENDS_COLUMNS, check_table
    from nps_text.stats import two_proportion_z_test

    trends = theme_trends(_two_periods())
    assert list(trends.columns) == list(THEME_TRENDS_COLUMNS)
    check_table(trends, "theme_trends")
    latest = trends[trends["period"] == "2026-W02"].set_index("theme_label")
    assert set(latest.index) == {"Lieferung", "Preis", "App"}  # "Other" (-1) never gets a row
    lieferung = latest.loc["Lieferung"]
    assert (lieferung["count"], lieferung["base"], lieferung["previous_count"], lieferung["previous_base"]) == (15, 40, 3, 40)
    assert lieferung["share"] == pytest.approx(15 / 40)
    assert lieferung["change_vs_previous"] == pytest.approx(100 * (15 - 3) / 40)
    z, p = two_proportion_z_test(15, 40, 3, 40, "two-sided")
    assert lieferung["z"] == pytest.approx(z) and lieferung["p_value"] == pytest.approx(p)
    assert lieferung["trend"] == "emerging"
    assert latest.loc["Preis", "trend"] == "fading"
    assert latest.loc["App", "trend"] == "stable"
    first = trends[trends["period"] == "2026-W01"]
    assert first["trend"].eq("stable").all() and first["p_value"].isna().all() and first["previous_period"].isna().all()


def test_theme_trends_without_periods_or_themes_is_empty() -> None:
    frame = _two_periods()
    assert theme_trends(frame.drop(columns=["period"])).empty
    assert theme_trends(frame.assign(theme_id=pd.array([None] * len(frame), dtype="Int64"), theme_ids=None)).empty
    assert list(theme_trends(frame.iloc[0:0]).columns) == list(theme_trends(frame).columns)


def test_improvement_areas_emerging_uses_the_same_test() -> None:
    areas = improvement_areas(_two_periods(), pd.DataFrame()).set_index("theme_label")
    trends = theme_trends(_two_periods())
    latest = trends[trends["period"] == "2026-W02"].set_index("theme_label")
    for label in ("Lieferung", "Preis", "App"):
        assert areas.loc[label, "emerging"] == (latest.loc[label, "trend"] == "emerging")
        assert areas.loc[label, "trend_p_value"] == pytest.approx(latest.loc[label, "p_value"])
        assert areas.loc[label, "trend"] == pytest.approx(latest.loc[label, "change_vs_previous"])


def test_the_emerging_theme_alert_reuses_theme_trends() -> None:
    from nps_text.alerts import emerging_theme_findings
    from nps_text.alerts_config import EmergingThemeRule

    rule = EmergingThemeRule(name="e", type="emerging_theme", channels=["hook"])
    findings = emerging_theme_findings(_two_periods(), rule, 0.95)
    assert [f["theme_label"] for f in findings] == ["Lieferung"]
    one_sided = theme_trends(_two_periods(), alternative="greater", min_count=rule.min_detractors)
    row = one_sided[(one_sided["period"] == "2026-W02") & (one_sided["theme_label"] == "Lieferung")].iloc[0]
    assert findings[0]["p_value"] == pytest.approx(row["p_value"])
    assert findings[0]["detractor_comments"] == 40 and findings[0]["previous_comments"] == 40


PRAISE_THEN_COMPLAINT = {
    "de": ("Das Personal war sehr nett.", "Aber das Zimmer war schmutzig.", "Zimmer schmutzig.",
           "Das Personal war unfreundlich.", "Personal super, sonst nichts.", "Personal", "Zimmer"),
    "en": ("The staff were lovely.", "But the room was dirty.", "Dirty room.",
           "The staff were rude.", "Staff great, nothing else.", "Staff", "Room"),
}


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_detractor_praising_a_topic_does_not_count_for_it(language: str) -> None:
    praise, complaint, short_complaint, staff_complaint, staff_praise, staff, room = PRAISE_THEN_COMPLAINT[language]
    # r1 praises the staff and complains about the room (two sentences, two themes); r4 only praises the staff.
    responses = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3", "r4", "r5"],
            "score": [3, 2, 4, 5, 10],
            "nps_group": ["detractor"] * 4 + ["promoter"],
            "comment": [f"{praise} {complaint}", short_complaint, staff_complaint, staff_praise, praise],
            "comment_status": ["text"] * 5,
            "sentiment": ["negative", "negative", "negative", "positive", "positive"],
            "theme_id": pd.array([0, 1, 0, 0, 0], dtype="Int64"),
            "theme_label": [staff, room, staff, staff, staff],
            "theme_ids": [[0, 1], [1], [0], [0], [0]],
            "theme_labels": [[staff, room], [room], [staff], [staff], [staff]],
        }
    )
    sentences = pd.DataFrame(
        {
            "response_id": ["r1", "r1", "r2", "r3", "r4", "r5"],
            "sentence_index": [0, 1, 0, 0, 0, 0],
            "sentence": [praise, complaint, short_complaint, staff_complaint, staff_praise, praise],
            "sentiment": ["positive", "negative", "negative", "negative", "positive", "positive"],
            "confidence": [0.9] * 6,
            "theme_id": pd.array([0, 1, 1, 0, 0, 0], dtype="Int64"),
        }
    )
    areas = improvement_areas(responses, pd.DataFrame(), sentences=sentences).set_index("theme_label")
    # Staff: only r3 complains about it (r1's staff sentence and r4's comment are praise); Room: r1 and r2.
    assert areas.loc[staff, "detractor_count"] == 1
    assert areas.loc[room, "detractor_count"] == 2
    assert areas.index[0] == room
    assert areas.loc[staff, "nps_impact"] == pytest.approx(100 * 1 / 5)
    assert areas.loc[staff, "example_comments"] == [staff_complaint]
    # Without the sentences table the comment's sentiment decides: r4 (positive) still does not count.
    areas = improvement_areas(responses, pd.DataFrame()).set_index("theme_label")
    assert areas.loc[staff, "detractor_count"] == 2  # r1 (negative comment, no sentence to tell) and r3
    # The theme trends (and so the emerging-theme alert) count the same complaints.
    trends = theme_trends(responses.assign(period="2026-W01"), sentences=sentences).set_index("theme_label")
    assert trends.loc[staff, "count"] == 1 and trends.loc[room, "count"] == 2


def test_no_specific_topic_is_counted_beside_the_ranking_never_in_it() -> None:
    from nps_text.insights import no_specific_topic

    responses = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3", "r4"],
            "score": [1, 2, 3, 10],
            "nps_group": ["detractor"] * 3 + ["promoter"],
            "comment": ["Weil Sie gefragt haben.", "Kein Grund.", "Lieferung zu spät.", "Alles top."],
            "comment_status": ["text"] * 4,
            "sentiment": ["neutral", "negative", "negative", "positive"],
            "theme_id": pd.array([5, 5, 0, 5], dtype="Int64"),
            "theme_label": ["Kein bestimmtes Thema", "Kein bestimmtes Thema", "Lieferung zu spät", "Kein bestimmtes Thema"],
        }
    )
    areas = improvement_areas(responses, pd.DataFrame())
    assert areas["theme_label"].tolist() == ["Lieferung zu spät"]
    bucket = no_specific_topic(responses)
    assert bucket["detractor_count"] == 2 and bucket["share_of_detractors"] == pytest.approx(2 / 3)


def test_mentions_and_what_each_sentence_says_by_hand() -> None:
    """theme_mentions reads shared list cells once, keeps each theme once per respondent, falls back to the
    primary theme; a negative sentence about a theme makes the mention a complaint even when outvoted."""
    from nps_text.insights import counted_mentions, theme_mentions

    shared = [3, 5, 3]
    rows = pd.DataFrame(
        {
            "response_id": ["a", "b", "c", "d"],
            "nps_group": ["detractor"] * 4,
            "theme_id": [3, 3, 7, pd.NA],
            "theme_label": ["Preis", "Preis", "Lieferung", None],
            "theme_ids": [shared, shared, None, None],
            "theme_labels": [["Preis", "Personal", "Preis"], ["Preis", "Personal"], None, None],
            "sentiment": ["positive", "negative", "positive", None],
        },
        index=[10, 11, 12, 13],
    )
    mentions = theme_mentions(rows)
    assert mentions["_row"].tolist() == [10, 10, 11, 11, 12]
    assert mentions["theme_id"].tolist() == [3, 5, 3, 5, 7]
    assert [None if pd.isna(label) else label for label in mentions["theme_label"]] == [
        "Preis", "Personal", None, None, "Lieferung",
    ]
    sentences = pd.DataFrame(
        {
            "response_id": ["a", "a", "a", "a", "b"],
            "theme_id": pd.array([3, 3, 3, 5, 5], dtype="Int64"),
            "sentiment": ["positive", "positive", "negative", "positive", "neutral"],
        }
    )
    counted = counted_mentions(rows, sentences, ranked_only=False)
    # a/3: two positive, one negative sentence -> a complaint; a/5: positive -> not one; b/3: no sentence, the
    # comment is negative -> counts; b/5: neutral -> not one; c/7: the comment is positive -> not one.
    assert list(zip(counted["_row"], counted["theme_id"], counted["said"], strict=True)) == [
        (10, 3, "negative"), (11, 3, "negative"),
    ]


def test_what_a_comment_says_about_a_theme_majority_and_ties() -> None:
    """Without a negative sentence the most frequent sentiment of the theme's sentences decides; a tie goes to
    positive before neutral; a theme without sentences takes the comment's sentiment."""
    from nps_text.insights import _mention_sentiments, theme_mentions

    rows = pd.DataFrame(
        {
            "response_id": ["a", "b", "c"],
            "theme_id": [1, 1, 2],
            "theme_label": ["Preis", "Preis", "Service"],
            "theme_ids": [[1, 2], [1], [2]],
            "theme_labels": [["Preis", "Service"], ["Preis"], ["Service"]],
            "sentiment": ["negative", "positive", None],
        }
    )
    sentences = pd.DataFrame(
        {
            "response_id": ["a", "a", "a", "b", "b", "c"],
            "theme_id": pd.array([1, 1, 1, 1, 1, pd.NA], dtype="Int64"),
            "sentiment": ["neutral", "neutral", "positive", "neutral", "positive", "negative"],
        }
    )
    mentions = theme_mentions(rows)
    said = _mention_sentiments(rows, mentions, sentences)
    said = [None if pd.isna(value) else value for value in said]
    assert list(zip(mentions["_row"], mentions["theme_id"], said, strict=True)) == [
        (0, 1, "neutral"), (0, 2, "negative"), (1, 1, "positive"), (2, 2, None),
    ]
