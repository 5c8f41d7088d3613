import pandas as pd
import pytest

from nps_text.config import ColumnsConfig
from nps_text.errors import ColumnMappingError
from nps_text.validate import detect_columns, parse_date, parse_score, validate


@pytest.mark.parametrize(("raw", "expected"), [("9", 9), (" 9 ", 9), (9.0, 9), ("9,0", 9), ("0", 0), ("10", 10), (10, 10)])
def test_valid_scores(raw: object, expected: int) -> None:
    assert parse_score(raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("zehn", "not a number"), ("11", "outside 0-10"), ("-1", "outside 0-10"), ("7.5", "not a whole number"),
     ("", "empty"), (None, "empty"), ("nan", "not a number"), ("inf", "not a number")],
)
def test_invalid_scores(raw: object, reason: str) -> None:
    score, why = parse_score(raw)
    assert score is None
    assert why is not None and reason in why


def test_dates_iso_and_german() -> None:
    assert parse_date("2026-03-05")[0] == pd.Timestamp("2026-03-05")
    assert parse_date("05.03.2026")[0] == pd.Timestamp("2026-03-05")
    assert parse_date("2026-03-05T10:00:00+02:00")[0] == pd.Timestamp("2026-03-05 08:00")
    assert parse_date("31.02.2026")[0] is None
    assert "not a date" in str(parse_date("gestern")[1])
    assert parse_date(None) == (None, None)


@pytest.mark.parametrize(
    ("columns", "score", "comment", "id_", "date"),
    [
        (["ID", "Bewertung", "Kommentar", "Filiale"], "Bewertung", "Kommentar", "ID", None),
        (["response_id", "NPS", "Feedback", "Datum"], "NPS", "Feedback", "response_id", "Datum"),
        (["Empfehlung", "Anmerkung", "Kanal"], "Empfehlung", "Anmerkung", None, None),
        (["id", "score", "comment", "date", "segment"], "score", "comment", "id", "date"),
        (["Wie wahrscheinlich ... NPS (0-10)", "Ihr Kommentar"], "Wie wahrscheinlich ... NPS (0-10)", "Ihr Kommentar", None, None),
    ],
)
def test_detect_columns(columns: list[str], score: str, comment: str, id_: str | None, date: str | None) -> None:
    mapping = detect_columns(columns)
    assert (mapping.score, mapping.comment, mapping.id, mapping.date) == (score, comment, id_, date)


def test_no_score_column_lists_columns() -> None:
    with pytest.raises(ColumnMappingError, match=r"no score column.*\['name', 'text'\]"):
        detect_columns(["name", "text"])


def test_ambiguous_score_column() -> None:
    with pytest.raises(ColumnMappingError, match="cannot decide"):
        detect_columns(["NPS Q1", "NPS Q2", "comment"])


def test_configured_column_missing() -> None:
    with pytest.raises(ColumnMappingError, match="input.columns.score"):
        detect_columns(["a", "b"], ColumnsConfig(score="Punkte"))


def test_reserved_passthrough_names_are_prefixed() -> None:
    mapping = detect_columns(["score", "comment", "sentiment"])
    assert mapping.passthrough == {"sentiment": "input_sentiment"}


def _raw(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype=object)
    frame.insert(0, "row_number", range(1, len(frame) + 1))
    return frame


def test_validate_accounts_for_every_row() -> None:
    raw = _raw(
        [
            {"id": "a", "score": "9", "comment": "gut", "branch": "B"},
            {"id": "b", "score": "zehn", "comment": "x", "branch": "B"},
            {"id": "a", "score": "3", "comment": "dup", "branch": "W"},
            {"id": None, "score": "5", "comment": "no id", "branch": "W"},
            {"id": "c", "score": "7", "comment": None, "branch": "W"},
        ]
    )
    mapping = detect_columns(list(raw.columns))
    broken = pd.DataFrame([{"row_number": 6, "raw_line": "{oops", "reason": "invalid JSON"}])
    responses, rejected = validate(raw, mapping, broken)
    assert responses["response_id"].tolist() == ["a", "c"]
    assert responses["score"].tolist() == [9, 7]
    assert rejected["row_number"].tolist() == [2, 3, 4, 6]
    reasons = rejected["reason"].tolist()
    assert "not a number" in reasons[0]
    assert "duplicate response_id 'a' (first seen in row 1)" in reasons[1]
    assert "empty" in reasons[2]
    assert rejected.loc[rejected["row_number"] == 2, "score"].item() == "zehn"
    assert rejected.loc[rejected["row_number"] == 6, "raw_line"].item() == "{oops"
    assert len(responses) + len(rejected) == 6


def test_without_id_column_row_number_is_the_id() -> None:
    raw = _raw([{"score": "9", "comment": "x"}, {"score": "8", "comment": "y"}])
    responses, rejected = validate(raw, detect_columns(list(raw.columns)))
    assert responses["response_id"].tolist() == ["1", "2"]
    assert rejected.empty


def test_bad_date_rejected_with_reason() -> None:
    raw = _raw([{"score": "9", "Datum": "gestern"}, {"score": "9", "Datum": "01.02.2026"}])
    responses, rejected = validate(raw, detect_columns(list(raw.columns)))
    assert responses["date"].tolist() == [pd.Timestamp("2026-02-01")]
    assert "gestern" in rejected["reason"].item()


def test_validate_does_not_mutate_input() -> None:
    raw = _raw([{"score": "9"}])
    before = raw.copy()
    validate(raw, detect_columns(list(raw.columns)))
    pd.testing.assert_frame_equal(raw, before)
