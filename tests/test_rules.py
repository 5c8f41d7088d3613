"""The shared business rules (:mod:`nps_text.rules`) on hand-worked values."""

from __future__ import annotations

import math

import pandas as pd

from nps_text import rules


def test_groups_and_score() -> None:
    assert rules.nps_groups([0, 6, 7, 8, 9, 10]).tolist() == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter"]
    assert rules.nps_score(5, 2, 10) == 30.0 and rules.nps_score(0, 3, 3) == -100.0
    assert math.isnan(rules.nps_score(0, 0, 0))


def test_which_comments_have_text() -> None:
    frame = pd.DataFrame({
        "comment": pd.Series(["gut", "  ", None, "k.A.", "super"], dtype="string"),
        "comment_status": pd.Series(["text", "text", "text", "non_informative", pd.NA], dtype="string"),
    })
    assert rules.has_text(frame).tolist() == [True, True, True, False, False]
    assert rules.text_comments(frame).tolist() == [True, False, False, False, False]
    assert rules.text_comments(frame, status_column=None).tolist() == [True, False, False, True, True]
    assert rules.sentiment_texts(frame.assign(comment=[" gut ", "", None, "x", "y"])).to_dict() == {0: "gut"}
    assert rules.theme_texts(frame, clean_text=False).to_dict() == {0: "gut"}


def test_periods_and_names() -> None:
    assert rules.known_periods(["2026-Q2", rules.ALL, rules.NO_PERIOD, None, "2026-Q1"]) == ["2026-Q1", "2026-Q2"]
    assert rules.input_name("reason", ("row_number", "reason")) == "input_reason"
    assert rules.input_name("Filiale", ("reason",)) == "Filiale"
