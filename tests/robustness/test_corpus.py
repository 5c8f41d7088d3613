"""Every input gives a result or a one-line error, and every result accounts for every row exactly once.

Each case writes its file into ``tmp_path`` and names what it expects: a check on the validated result, or
the error class and a pattern of its one-line message. The result of every successful case goes through
``nps_text.stages.validate.run`` with a default config and the row-accounting checks in :func:`_accounted`.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from nps_text.config import InputConfig, PipelineConfig
from nps_text.errors import InputError, NpsTextError
from nps_text.ingest import MAX_COLUMNS, MAX_FIELD_CHARS, RawInput, SourceUnavailableError, read_input
from nps_text.stages.validate import ValidatedInput
from nps_text.stages.validate import run as validate

from .builders import cell, write_xlsx

Build = Callable[[Path], "str | Path | tuple[str | Path, InputConfig]"]
Check = Callable[[RawInput, ValidatedInput], None]


@dataclass
class Case:
    name: str
    build: Build
    check: Check | None = None
    error: tuple[type[Exception], str] | None = None
    seconds: float = 20.0


def _csv(text: str | bytes, name: str = "survey.csv") -> Build:
    def build(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    return build


def _accounted(raw: RawInput, validated: ValidatedInput) -> None:
    """rows_in == valid + rejected, and every input row number is in exactly one of the two tables."""
    numbers = raw.frame["row_number"].tolist() + raw.unparseable["row_number"].tolist()
    assert len(numbers) == len(set(numbers)) == raw.rows_in == validated.rows_in
    rejected = validated.rejected["row_number"].tolist()
    assert len(rejected) == len(set(rejected)) and set(rejected) <= set(numbers)
    assert validated.rows_in == len(validated.responses) + len(validated.rejected)
    if validated.mapping.id is None:  # the row number is the response id
        valid = sorted(int(value) for value in validated.responses["response_id"])
        assert valid == sorted(set(numbers) - set(rejected))


def _scores(*expected: int | None, rejected_reason: str | None = None) -> Check:
    """Scores of the valid rows in input order; rejected rows (expected None) must give ``rejected_reason``."""

    def check(raw: RawInput, validated: ValidatedInput) -> None:
        assert validated.responses["score"].tolist() == [score for score in expected if score is not None]
        if rejected_reason is not None:
            assert validated.rejected["reason"].str.contains(rejected_reason, regex=False).all(), validated.rejected
        assert len(validated.rejected) == sum(score is None for score in expected)

    return check


def _score_token(token: str, expected: int | None, reason: str | None = None) -> Case:
    return Case(
        f"score-token-{token!r}",
        _csv(f"id;score;comment\n1;{token};text\n2;7;ok\n"),
        _scores(expected, 7, rejected_reason=reason),
    )


SCORE_CASES = [
    _score_token("NaN", None, "missing-value"),
    _score_token("nan", None, "missing-value"),
    _score_token("None", None, "missing-value"),
    _score_token("null", None, "missing-value"),
    _score_token("inf", None, "not a number"),
    _score_token("-inf", None, "not a number"),
    _score_token("-0", 0),
    _score_token("1e1", None, "not a number"),
    _score_token("１０", 10),
    _score_token("10 Punkte", 10),
    _score_token("9/10", 9),
    _score_token("7,0", 7),
    _score_token("\u200b8", 8),
    _score_token("10.5", None, "whole number"),
]


def _comment(size: int) -> Build:
    return _csv("id,score,comment\n1,9," + "x" * size + "\n2,3,short\n")


def _wide(columns: int) -> Build:
    names = ["score", "comment"] + [f"q{i}" for i in range(columns - 2)]
    return _csv(",".join(names) + "\n" + ",".join(["9", "gut"] + ["1"] * (columns - 2)) + "\n")


def _check_comment_length(length: int) -> Check:
    def check(raw: RawInput, validated: ValidatedInput) -> None:
        assert validated.responses["comment"].str.len().tolist()[0] == length

    return check


def _check_oversized(raw: RawInput, validated: ValidatedInput) -> None:
    assert validated.responses["comment"].tolist() == ["short"]
    reason = validated.rejected["reason"].item()
    assert "more than the limit" in reason
    assert len(validated.rejected["raw_line"].item()) < 5_000


def _check_long_header(raw: RawInput, validated: ValidatedInput) -> None:
    assert max(len(column) for column in raw.frame.columns) <= 1_001
    assert len(validated.responses) == 1


SIZE_CASES = [
    Case("comment-3-MB", _comment(3_000_000), _check_comment_length(3_000_000)),
    Case("comment-over-16-MB", _comment(MAX_FIELD_CHARS + 10), _check_oversized),
    Case("header-200k-characters", _csv("score,comment," + "h" * 200_000 + "\n9,ok,x\n"), _check_long_header),
    Case("2000-columns", _wide(MAX_COLUMNS), lambda raw, v: None),
    Case("50000-columns", _wide(50_000), error=(InputError, r"50,000 columns, more than the 16,384"), seconds=5),
]


def _check_details(key: str, value: object | None = None) -> Check:
    def check(raw: RawInput, validated: ValidatedInput) -> None:
        assert key in raw.details, raw.details
        if value is not None:
            assert raw.details[key] == value

    return check


def _check_comments(*comments: str | None) -> Check:
    def check(raw: RawInput, validated: ValidatedInput) -> None:
        found = [None if pd.isna(comment) else comment for comment in validated.responses["comment"]]
        assert found == list(comments)

    return check


TEXT_CASES = [
    Case("nul-bytes-in-text", _csv(b"id,score,comment\n1,9,gut\x00\x00\n2,3,schlecht\n"),
         _check_comments("gut", "schlecht")),
    Case("mostly-binary", _csv(bytes(range(256)) * 50), error=(InputError, "binary")),
    Case("pdf-renamed-csv", _csv(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), error=(InputError, "PDF")),
    Case("gzip-renamed-csv", _csv(gzip.compress(b"id,score\n1,9\n")), error=(InputError, "gzip")),
    Case("mixed-line-endings", _csv("id,score,comment\r\n1,9,a\n2,8,b\r3,7,c\r\n"), _check_comments("a", "b", "c")),
    Case("ragged-rows", _csv("id,score,comment,channel\n1,9\n2,8,b,web,EXTRA\n3,7,c,app,\n"),
         _check_comments(None, "c")),
    Case("utf8-then-cp1252",
         _csv("id;score;comment\n1;9;schön\n".encode() + "2;3;Grüße – ärgerlich\n".encode("cp1252")),
         _check_comments("schön", "Grüße – ärgerlich")),
    Case("cp1252-only", _csv("id;Bewertung;Kommentar\n1;3;Lieferung über 3 Wochen – ärgerlich\n".encode("cp1252")),
         _check_details("encoding", "cp1252")),
    Case("utf16-with-bom", _csv("id\tscore\tcomment\n1\t9\tsüß\n".encode("utf-16")), _check_comments("süß")),
    Case("utf16-without-bom", _csv("id,score,comment\n1,9,ok\n".encode("utf-16-le")), _check_comments("ok")),
    Case("control-characters", _csv("id,score,comment\n1,9,be\x07ep\x1b[0m\x0b\n"),
         _check_comments("beep[0m")),
    Case("formula-like-column-names", _csv("id,score,comment,=1+1,@SUM(A1),+cmd\n1,9,ok,a,b,c\n"),
         _check_details("delimiter", ",")),
    Case("unterminated-quote", _csv('id,score,comment\n1,9,"never closed\n2,3,x\n'), lambda raw, v: None),
    Case("blank-lines-and-semicolons", _csv("id;score;comment\n\n1;9;a, b, c\n\n\n2;0;d\n"),
         _check_comments("a, b, c", "d")),
    Case("empty-file", _csv(b""), error=(InputError, "empty")),
    Case("whitespace-only", _csv(b" \n\n \r\n"), error=(InputError, "empty")),
    Case("header-only", _csv("id,score,comment\n"), error=(InputError, "no data rows")),
    Case("unknown-encoding-override", lambda tmp: (_csv("id,score\n1,9\n")(tmp), InputConfig(encoding="klingon")),
         error=(InputError, "not a known encoding")),
    Case("wrong-encoding-override", lambda tmp: (_csv("id,score,comment\n1,9,süß\n")(tmp), InputConfig(encoding="ascii")),
         _check_details("replaced_characters", 4)),
]


def _dates(header: str, rows: list[str]) -> Build:
    return _csv(f"id;score;{header}\n" + "".join(f"{i};9;{value}\n" for i, value in enumerate(rows, start=1)))


def _check_dates(first: str, unparsed: int = 0, order: str | None = None) -> Check:
    def check(raw: RawInput, validated: ValidatedInput) -> None:
        assert validated.rejected.empty and len(validated.responses) == raw.rows_in
        assert validated.responses["date"].iloc[0] == pd.Timestamp(first)
        assert validated.info.dates_unparsed == unparsed
        if order:
            assert validated.info.date_order == order

    return check


_TELECOM = [f"{day:02d}/01/2018 {hour:02d}:34" for day, hour in zip(range(29, 32), range(19, 22), strict=True)] + [
    f"0{month}/02/2018 08:{month:02d}" for month in range(1, 8)
]
DATE_CASES = [
    Case("telecom-dd-mm-yyyy-hh-mm", _dates("Date", _TELECOM), _check_dates("2018-01-29 19:34", order="dayfirst")),
    Case("us-mm-dd-yyyy", _dates("date", ["01/29/2018", "02/03/2018"]), _check_dates("2018-01-29", order="monthfirst")),
    Case("german-dd-mm-yyyy", _dates("Datum", ["05.03.2026", "06.03.2026 14:00"]), _check_dates("2026-03-05")),
    Case("iso-with-time-zones", _dates("date", ["2026-03-05T10:00:00+02:00", "2026-03-05T10:00:00Z"]),
         _check_dates("2026-03-05 08:00")),
    Case("excel-serials-as-text", _dates("date", ["43129.8125", "43130"]), _check_dates("2018-01-29 19:30")),
    Case("unparseable-dates-kept", _dates("date", ["2026-03-05", "gestern", "31.02.2026", "n/a"]),
         _check_dates("2026-03-05", unparsed=3)),
    Case("ambiguous-monthfirst-config",
         lambda tmp: (_dates("date", ["01/02/2026"])(tmp), InputConfig(date_format="monthfirst")),
         _check_dates("2026-01-02", order="monthfirst")),
]


def _xlsx(**kwargs: object) -> Build:
    rows = kwargs.pop("rows")

    def build(tmp: Path) -> Path:
        return write_xlsx(tmp / "survey.xlsx", rows, **kwargs)  # type: ignore[arg-type]

    return build


_HEADER = {1: [cell("A1", "id"), cell("B1", "NPS"), cell("C1", "Kommentar")]}
EXCEL_CASES = [
    Case("xlsx-formula-scores-cached",
         _xlsx(rows={**_HEADER, 2: [cell("A2", "a"), cell("B2", 9, "4+5"), cell("C2", "gut")],
                     3: [cell("A3", "b"), cell("B3", "7", 'TEXT(7,"0")'), cell("C3", "ok")]}),
         _scores(9, 7)),
    Case("xlsx-formula-without-cached-value",
         _xlsx(rows={**_HEADER, 2: [cell("A2", "a"), cell("B2", None, "4+5")], 3: [cell("A3", "b"), cell("B3", 3)]}),
         _scores(None, 3, rejected_reason="empty")),
    Case("xlsx-merged-title-above-header",
         _xlsx(rows={1: [cell("A1", "Kundenumfrage 2026")], **{k + 1: v for k, v in _HEADER.items()},
                     3: [cell("A3", "a"), cell("B3", 10), cell("C3", "super")]}, merges=["A1:C1"]),
         _check_details("title_rows_skipped", 1)),
    Case("xlsx-merged-header-cells",
         _xlsx(rows={1: [cell("A1", "id"), cell("B1", "Score"), cell("D1", "comment")],
                     2: [cell("A2", "a"), cell("B2", 8), cell("C2", "x"), cell("D2", "hi")]}, merges=["B1:C1"]),
         _scores(8)),
    Case("xlsx-serial-dates",
         _xlsx(rows={1: [cell("A1", "score"), cell("B1", "date")], 2: [cell("A2", 9), cell("B2", 43129.8125)]}),
         _check_dates("2018-01-29 19:30")),
    Case("xlsx-empty-sheet", _xlsx(rows={}), error=(InputError, "is empty")),
    Case("xlsx-sheet-missing", lambda tmp: (_xlsx(rows=_HEADER)(tmp), InputConfig(sheet="Tabelle9")),
         error=(InputError, r"no sheet 'Tabelle9'; sheets: \['Daten'\]")),
    Case("xlsx-absurd-dimension",
         _xlsx(rows={**_HEADER, 2: [cell("A2", "a"), cell("B2", 9)], 1048576: [cell("A1048576", "b"), cell("B1048576", 6)]},
               dimension="A1:XFD1048576"),
         _scores(9, 6), seconds=10),
    Case("xlsx-cell-far-right", _xlsx(rows={**_HEADER, 2: [cell("A2", "a"), cell("B2", 9), cell("XFD2", "far")]}),
         _scores(None, rejected_reason="cells but the header has 3")),
    Case("xlsx-decompression-bomb", _xlsx(rows=_HEADER, padding=b" " * (40 << 20)),
         error=(InputError, "decompression bomb"), seconds=10),
    Case("xlsx-not-a-zip", _csv(b"PK\x03\x04 this is no zip", "survey.xlsx"), error=(InputError, "not a readable .xlsx")),
]


def _jsonl(*lines: str, name: str = "survey.jsonl") -> Build:
    return _csv("\n".join(lines) + "\n", name)


JSON_CASES = [
    Case("jsonl-non-object-lines",
         _jsonl('{"score": 9, "comment": "a"}', "[1, 2]", "42", '"text"', "null", '{"score": 3}', "{broken"),
         _scores(9, None, None, None, None, 3, None)),
    Case("jsonl-nan-literal", _jsonl('{"score": NaN, "comment": "x"}', '{"score": 8, "comment": "y"}'),
         _scores(None, 8, rejected_reason="empty")),
    Case("jsonl-deep-nesting", _jsonl('{"score": 9}', '{"score": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"),
         _scores(9, None, rejected_reason="nested too deeply")),
    Case("json-array-document", _jsonl(json.dumps([{"score": 9}, {"score": "10 Punkte"}, 5]), name="s.json"),
         _scores(9, 10, None, rejected_reason="not an object")),
    Case("json-pretty-object", _jsonl(json.dumps({"score": 4, "comment": "one"}, indent=2), name="s.json"), _scores(4)),
]


def _parquet(frame: pd.DataFrame) -> Build:
    def build(tmp: Path) -> Path:
        frame.to_parquet(tmp / "s.parquet")
        return tmp / "s.parquet"

    return build


PARQUET_CASES = [
    Case("parquet-nan-scores", _parquet(pd.DataFrame({"score": [float("nan"), 9.0], "comment": [None, "x"]})),
         _scores(None, 9, rejected_reason="empty")),
    Case("parquet-too-wide", _parquet(pd.DataFrame({f"c{i}": [1] for i in range(20_000)})),
         error=(InputError, "20,000 columns")),
]


def _sqlite(query: str) -> Build:
    def build(tmp: Path) -> tuple[str, InputConfig]:
        database = tmp / "survey.db"
        with sqlite3.connect(database) as connection:
            connection.execute("create table r (id text, score integer, comment text)")
            connection.executemany("insert into r values (?, ?, ?)", [("a", 9, "gut; sehr"), ("b", 2, "x")])
        connection.close()
        return f"sqlite:///{database}", InputConfig(sql_query=query)

    return build


SQL_CASES = [
    Case("sql-drop-table", _sqlite("drop table r"), error=(InputError, "not DROP")),
    Case("sql-select-then-drop", _sqlite("select * from r; drop table r"), error=(InputError, "single SELECT")),
    Case("sql-comment-hides-delete", _sqlite("/* select */ delete from r"), error=(InputError, "not DELETE")),
    Case("sql-with-select", _sqlite("with x as (select * from r where comment like '%;%') select * from x;"),
         _scores(9)),
    Case("sql-failing-query", _sqlite("select * from nope"), error=(InputError, r"SQL query failed on sqlite:///.*nope")),
    Case("sql-missing-database", lambda tmp: (f"sqlite:///{tmp}/nope.db", InputConfig(sql_query="select 1")),
         error=(InputError, "not found")),
    Case("sql-unreachable-server",
         lambda tmp: ("postgresql+psycopg://user:s3cret@127.0.0.1:9/db", InputConfig(sql_query="select 1")),
         error=(SourceUnavailableError, r"cannot connect to postgresql\+psycopg://127.0.0.1:9/db")),
]

CASES = SCORE_CASES + SIZE_CASES + TEXT_CASES + DATE_CASES + EXCEL_CASES + JSON_CASES + PARQUET_CASES + SQL_CASES


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus(tmp_path: Path, case: Case) -> None:
    built = case.build(tmp_path)
    source, input_config = built if isinstance(built, tuple) else (built, InputConfig())
    config = PipelineConfig(input=input_config)
    started = time.perf_counter()
    if case.error is not None:
        error_class, pattern = case.error
        with pytest.raises(NpsTextError) as caught:
            validate(read_input(source, config.input), config.input)
        message = str(caught.value)
        assert isinstance(caught.value, error_class), f"{type(caught.value).__name__}: {message}"
        assert "\n" not in message and len(message) < 600, message
        assert "s3cret" not in message
        assert re.search(pattern, message), message
    else:
        raw = read_input(source, config.input)
        validated = validate(raw, config.input)
        _accounted(raw, validated)
        if case.check is not None:
            case.check(raw, validated)
    assert time.perf_counter() - started < case.seconds


def test_sql_query_cannot_change_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, config = _sqlite("select * from r")(tmp_path)
    database = tmp_path / "survey.db"
    for query in ("drop table r", "select 1; drop table r", "insert into r values ('c', 1, 'x')"):
        with pytest.raises(InputError):
            read_input(url, InputConfig(sql_query=query))
    # even past the statement check, the connection itself refuses writes
    monkeypatch.setattr("nps_text.ingest.sql.check_read_only_query", lambda query: query)
    with pytest.raises(InputError, match="readonly"):
        read_input(url, InputConfig(sql_query="drop table r"))
    monkeypatch.undo()
    with sqlite3.connect(database) as connection:
        assert connection.execute("select count(*) from r").fetchone() == (2,)
    connection.close()
    assert len(read_input(url, config).frame) == 2
    assert not (tmp_path / "nope.db").exists()
