import pandas as pd
import pytest

from nps_text.config import ColumnsConfig
from nps_text.dates import infer_day_first, parse_dates
from nps_text.errors import ColumnMappingError
from nps_text.validate import detect_columns, parse_date, parse_score, validate, validate_records


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("9", 9), (" 9 ", 9), (9.0, 9), ("9,0", 9), ("0", 0), ("10", 10), (10, 10), ("-0", 0), ("１０", 10),
     ("10 Punkte", 10), ("9/10", 9), ("9 von 10", 9), ("8 pts", 8), ("\u200b7\ufeff", 7), ("+5", 5)],
)
def test_valid_scores(raw: object, expected: int) -> None:
    assert parse_score(raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("zehn", "not a number"), ("11", "outside 0-10"), ("-1", "outside 0-10"), ("7.5", "not a whole number"),
     ("", "empty"), (None, "empty"), ("nan", "not a number"), ("inf", "not a number"), ("NaN", "missing-value"),
     ("None", "missing-value"), ("null", "missing-value"), ("1e1", "not a number"), ("1_0", "not a number"),
     (float("inf"), "not a number"), (True, "not a number"), ("9/5", "not a number"), ("11/10", "outside")],
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


def test_bad_date_is_kept_null_and_counted() -> None:
    raw = _raw([{"score": "9", "Datum": "gestern"}, {"score": "9", "Datum": "01.02.2026"}, {"score": "x", "Datum": "?"}])
    responses, rejected, info = validate_records(raw, detect_columns(list(raw.columns)))
    assert responses["date"].isna().tolist() == [True, False]
    assert responses["date"].iloc[1] == pd.Timestamp("2026-02-01")
    assert rejected["row_number"].tolist() == [3]  # rejected for its score, not its date
    assert info.dates_unparsed == 1 and info.unparsed_date_examples == ("gestern",)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["29/01/2018 19:34", "01/02/2018 08:00"], [pd.Timestamp("2018-01-29 19:34"), pd.Timestamp("2018-02-01 08:00")]),
        (["01/29/2018", "02/01/2018"], [pd.Timestamp("2018-01-29"), pd.Timestamp("2018-02-01")]),
        (["05.03.2026", "06.03.26"], [pd.Timestamp("2026-03-05"), pd.Timestamp("2026-03-06")]),
        (["43129.8125", "45000"], [pd.Timestamp("2018-01-29 19:30"), pd.Timestamp("2023-03-15")]),
        (["2026-03-05T10:00:00Z", "2026-03-05 12:00:00+02:00"], [pd.Timestamp("2026-03-05 10:00")] * 2),
        (["3/5/2026 7:05 PM", "12/31/2026"], [pd.Timestamp("2026-03-05 19:05"), pd.Timestamp("2026-12-31")]),
        (["2026/03/05", "20260306", "5 Mar 2026"], [pd.Timestamp(f"2026-03-0{d}") for d in (5, 6, 5)]),
    ],
)
def test_date_column_forms(values: list[str], expected: list[pd.Timestamp]) -> None:
    stamps, info = parse_dates(values)
    assert stamps == expected
    assert info.unparsed == 0


def test_day_month_order_from_whole_column_and_config() -> None:
    assert infer_day_first(["01/02/2026", "13/02/2026"]) == (True, False)
    assert infer_day_first(["01/02/2026", "02/13/2026"]) == (False, False)
    assert infer_day_first(["01/02/2026"]) == (True, True)  # undecided: day-first, flagged as assumed
    assert infer_day_first(["2026-01-02"]) == (None, False)
    assert parse_dates(["01/02/2026"], "monthfirst")[0] == [pd.Timestamp("2026-01-02")]
    assert parse_dates(["01/02/2026"], "dayfirst")[0] == [pd.Timestamp("2026-02-01")]
    assert parse_dates(["01/02/2026", "2026-01-02"], "iso")[0] == [None, pd.Timestamp("2026-01-02")]
    assert parse_dates(["31/12/9999", "30.02.2026", "45000abc"])[1].unparsed == 3


def test_error_messages_list_at_most_twenty_columns() -> None:
    with pytest.raises(ColumnMappingError) as caught:
        detect_columns([f"q{i}" for i in range(5000)])
    message = str(caught.value)
    assert "and 4980 more" in message and len(message) < 600 and "\n" not in message


def test_many_passthrough_columns_are_fast_and_quiet() -> None:
    import warnings

    raw = _raw([{"score": "9", **{f"c{i}": "x" for i in range(2000)}}] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        responses, rejected = validate(raw, detect_columns(list(raw.columns)))
    assert responses.shape == (3, 2003) and rejected.empty


def test_validate_does_not_mutate_input() -> None:
    raw = _raw([{"score": "9"}])
    before = raw.copy()
    validate(raw, detect_columns(list(raw.columns)))
    pd.testing.assert_frame_equal(raw, before)


def test_columns_to_read_keeps_roles_segments_and_the_first_others() -> None:
    from nps_text.validate import MAX_PASSTHROUGH_COLUMNS, columns_to_read

    header = ["Q1", "Kommentar", "Filiale", *[f"Frage {number}" for number in range(500)], "Datum", "Empfehlung", "ID"]
    keep = columns_to_read(header, ColumnsConfig(segments=["Frage 400"]))
    kept = [header[position] for position in keep]
    assert {"Kommentar", "Datum", "Empfehlung", "ID", "Frage 400"} <= set(kept)  # roles and segments wherever they are
    assert kept[:3] == ["Q1", "Kommentar", "Filiale"]
    assert len(kept) == 4 + 1 + MAX_PASSTHROUGH_COLUMNS and keep == sorted(keep)  # input order
    assert columns_to_read(["score", "comment", "Filiale"]) == [0, 1, 2]  # a narrow input: everything
    assert columns_to_read(header, ColumnsConfig(passthrough=["Filiale"])) == [1, 2, 503, 504, 505]


def test_columns_to_read_refuses_unknown_or_ambiguous_columns() -> None:
    from nps_text.validate import columns_to_read

    with pytest.raises(ColumnMappingError, match="input.columns.passthrough names"):
        columns_to_read(["score", "comment"], ColumnsConfig(passthrough=["Filiale"]))
    with pytest.raises(ColumnMappingError, match="input.columns.comment is 'Text'"):
        columns_to_read(["score", "comment"], ColumnsConfig(comment="Text"))
    assert columns_to_read(["Kommentar", "Filiale"]) == [0, 1]  # no score yet: validation says so later


def test_an_input_column_named_comment_truncated_is_passed_through_renamed() -> None:
    mapping = detect_columns(["score", "comment", "comment_truncated"])
    assert mapping.passthrough == {"comment_truncated": "input_comment_truncated"}
