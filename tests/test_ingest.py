import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from nps_text.config import InputConfig
from nps_text.errors import InputError
from nps_text.ingest import engine_name, read_input, read_table


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_any_delimiter(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(delimiter.join(["id", "score", "comment"]) + "\n" + delimiter.join(["1", "9", "gut"]) + "\n")
    raw = read_input(path)
    assert raw.details["delimiter"] == delimiter
    assert raw.frame[["id", "score", "comment"]].values.tolist() == [["1", "9", "gut"]]


def test_csv_utf8_bom_and_windows_1252(tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffid;Bewertung;Kommentar\n1;9;Schöne Grüße\n".encode())
    raw = read_input(bom)
    assert list(raw.frame.columns) == ["row_number", "id", "Bewertung", "Kommentar"]
    assert raw.frame["Kommentar"].item() == "Schöne Grüße"
    cp = tmp_path / "excel.csv"
    cp.write_bytes("id;Bewertung;Kommentar\n1;3;Lieferung über 3 Wochen – ärgerlich\n".encode("cp1252"))
    raw = read_input(cp)
    assert raw.details["encoding"] == "cp1252"
    assert raw.frame["Kommentar"].item() == "Lieferung über 3 Wochen – ärgerlich"


def test_csv_quoted_multiline_field(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('id,score,comment\n1,9,"Zeile eins,\nZeile ""zwei"""\n2,3,kurz\n', encoding="utf-8")
    raw = read_input(path)
    assert raw.frame["comment"].tolist() == ['Zeile eins,\nZeile "zwei"', "kurz"]
    assert raw.frame["row_number"].tolist() == [1, 2]


def test_csv_line_with_extra_fields_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text("id,score,comment\n1,9,gut\n2,8,a,b,c\n3,7,\n")
    raw = read_input(path)
    assert raw.frame["id"].tolist() == ["1", "3"]
    assert raw.unparseable["row_number"].tolist() == [2]
    assert "5 fields" in raw.unparseable["reason"].item()
    assert raw.rows_in == 3


def test_jsonl_broken_line_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "survey.jsonl"
    lines = [json.dumps({"id": "a", "score": 9, "comment": "super"}), "{broken", "[1, 2]",
             json.dumps({"id": "b", "score": 2.0, "comment": None})]
    path.write_text("\n".join(lines) + "\n")
    raw = read_input(path)
    assert raw.frame["score"].tolist() == ["9", "2"]
    assert raw.unparseable["row_number"].tolist() == [2, 3]
    assert "invalid JSON" in raw.unparseable["reason"].iloc[0]


def test_excel_and_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ID": ["x1", "x2"], "NPS": [10, 6], "Feedback": ["toll", None],
                          "Datum": pd.to_datetime(["2026-01-05", "2026-01-06"])})
    frame.to_excel(tmp_path / "s.xlsx", index=False)
    frame.to_parquet(tmp_path / "s.parquet")
    for name in ("s.xlsx", "s.parquet"):
        raw = read_input(tmp_path / name)
        assert raw.frame["NPS"].tolist() == ["10", "6"], name
        assert raw.frame["Feedback"].iloc[0] == "toll" and pd.isna(raw.frame["Feedback"].iloc[1]), name
        assert isinstance(raw.frame["Feedback"].dtype, pd.StringDtype), name  # compact Arrow-backed text
        assert raw.frame["Datum"].iloc[0].startswith("2026-01-05"), name


def test_sql_query(tmp_path: Path) -> None:
    database = tmp_path / "survey.db"
    with sqlite3.connect(database) as connection:
        connection.execute("create table r (id text, score integer, comment text)")
        connection.executemany("insert into r values (?, ?, ?)", [("a", 9, "gut"), ("b", 2, "schlecht")])
    url = f"sqlite:///{database}"
    raw = read_input(url, InputConfig(sql_query="select * from r order by id"))
    assert raw.frame["score"].tolist() == ["9", "2"]
    assert raw.format == "sql"
    with pytest.raises(InputError, match="sql_query"):
        read_input(url)


def test_engine_name_hides_credentials() -> None:
    assert engine_name("postgresql://user:secret@db:5432/x") == "postgresql://db:5432/x"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"\x00\x01\x02binary\x00", "binary"), (b"id,score\n", "no data rows"), (b"justonecolumn\n1\n", "only one column")],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_input(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_input(tmp_path / "nope.csv")


def test_read_table_fails_on_unparseable(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(InputError, match="row 2"):
        read_table(path)


def test_csv_utf8_switching_to_cp1252_halfway(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("id;score;comment\n1;9;Grüße\n".encode() + "2;3;Grüße – ärgerlich\n".encode("cp1252"))
    raw = read_input(path)
    assert raw.frame["comment"].tolist() == ["Grüße", "Grüße – ärgerlich"]
    assert raw.details["encoding"] == "utf-8+cp1252" and raw.details["lines_in_fallback_encoding"] == 1


def test_nul_bytes_are_removed_not_binary(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"id,score,comment\n1,9,g\x00ut\n")
    raw = read_input(path)
    assert raw.frame["comment"].item() == "gut" and raw.details["nul_bytes_removed"] == 1


def test_field_over_the_csv_module_default_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id,score,comment\n1,9," + "a" * 200_000 + "\n")
    assert len(read_input(path).frame["comment"].item()) == 200_000
    import csv

    assert csv.field_size_limit() == 131072  # restored after reading


@pytest.mark.parametrize(
    ("query", "ok"),
    [("select * from r", True), ("  -- note\n WITH x AS (select 1) SELECT * FROM x;", True),
     ("(select 1) union (select 2)", True), ("select ';' as semi", True), ("drop table r", False),
     ("select 1; delete from r", False), ("update r set score = 0", False), ("", False),
     ("/* select */ insert into r values (1)", False), ("pragma query_only = 0", False)],
)
def test_only_read_only_queries(query: str, ok: bool) -> None:
    from nps_text.ingest import check_read_only_query

    if ok:
        check_read_only_query(query)
    else:
        with pytest.raises(InputError, match="input.sql_query must be"):
            check_read_only_query(query)


def test_sql_error_is_one_line_without_credentials() -> None:
    from nps_text.ingest import SourceUnavailableError

    with pytest.raises(SourceUnavailableError) as caught:
        read_input("postgresql+psycopg://bob:hunter2@127.0.0.1:9/db", InputConfig(sql_query="select 1"))
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, OSError)  # transient: a retry may help


def test_excel_formula_without_cached_value_is_an_empty_cell(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "score", "comment"])
    sheet.append(["a", 9, "gut"])
    sheet.append(["b", "=4+5", "formel"])  # openpyxl writes formulas without a cached value
    workbook.save(tmp_path / "s.xlsx")
    raw = read_input(tmp_path / "s.xlsx")
    assert raw.frame["score"].iloc[0] == "9" and pd.isna(raw.frame["score"].iloc[1])
    assert raw.details["sheet"] == "Sheet"


# --- wide exports (issue 17: 3,004 columns were refused) -----------------------------------------------------


def _wide_csv(path: Path, width: int, rows: int = 3) -> Path:
    fixed = ["ResponseId", "Region", "NPS", "Kommentar"]
    header = fixed + [f"Q{number}" for number in range(1, width - len(fixed) + 1)]
    lines = [",".join(header)]
    for row in range(1, rows + 1):
        lines.append(",".join([f"R{row}", "Nord", str(row % 11), f"Kommentar {row}"] + ["3"] * (width - len(fixed))))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_wide_csv_keeps_the_roles_and_the_first_passthrough_columns(tmp_path: Path) -> None:
    from nps_text.validate import MAX_PASSTHROUGH_COLUMNS

    path = _wide_csv(tmp_path / "wide.csv", 3_004)
    config = InputConfig.model_validate({"columns": {"segments": ["Q3000"]}})
    raw = read_input(path, config)
    assert raw.rows_in == 3  # every row is there
    columns = list(raw.frame.columns)
    assert columns[:5] == ["row_number", "ResponseId", "Region", "NPS", "Kommentar"]
    assert "Q3000" in columns and "Q3001" not in columns  # a configured segment is read wherever it is
    assert len(columns) == 1 + 3 + MAX_PASSTHROUGH_COLUMNS + 1
    assert raw.details["columns_in_input"] == 3_004
    assert raw.details["columns_left_out"] == 3_004 - (len(columns) - 1)
    assert raw.details["columns_left_out_first"][0] == f"Q{MAX_PASSTHROUGH_COLUMNS}"
    assert raw.frame["Kommentar"].tolist() == ["Kommentar 1", "Kommentar 2", "Kommentar 3"]


def test_configured_passthrough_columns_are_the_only_others_read(tmp_path: Path) -> None:
    path = _wide_csv(tmp_path / "narrow.csv", 8)
    config = InputConfig.model_validate({"columns": {"passthrough": ["Q2"]}})
    raw = read_input(path, config)
    assert list(raw.frame.columns) == ["row_number", "ResponseId", "NPS", "Kommentar", "Q2"]
    assert raw.details["columns_left_out"] == 4  # Region, Q1, Q3, Q4
    from nps_text.errors import ColumnMappingError

    with pytest.raises(ColumnMappingError, match="input.columns.passthrough names \\['Q99'\\]"):
        read_input(path, InputConfig.model_validate({"columns": {"passthrough": ["Q99"]}}))


def test_narrow_input_is_read_whole(tmp_path: Path) -> None:
    raw = read_input(_wide_csv(tmp_path / "s.csv", 50))
    assert raw.frame.shape == (3, 51)
    assert "columns_left_out" not in raw.details


def test_16384_columns_read_with_flat_memory(tmp_path: Path) -> None:
    import tracemalloc

    path = _wide_csv(tmp_path / "excel-wide.csv", 16_384, rows=200)
    tracemalloc.start()
    raw = read_input(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert raw.rows_in == 200 and raw.frame.shape[1] == 1 + 3 + 100
    assert peak < 300 * 2**20, peak  # the kept columns only, not 3.3 million cells


def test_wider_than_excel_is_a_fast_one_line_error(tmp_path: Path) -> None:
    from nps_text.ingest import check_input

    path = _wide_csv(tmp_path / "absurd.csv", 20_000, rows=1)
    for call in (read_input, check_input):
        with pytest.raises(InputError) as caught:
            call(path)
        message = str(caught.value)
        assert "\n" not in message
        assert "20,000 columns, more than the 16,384 supported (Excel's limit); delimiter ','" in message


def test_check_input_refuses_what_read_input_refuses_before_anything_heavy(tmp_path: Path) -> None:
    from nps_text.ingest import check_input

    with pytest.raises(InputError, match="not found"):
        check_input(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        check_input(tmp_path / "empty.csv")
    check_input(_wide_csv(tmp_path / "ok.csv", 16_384, rows=1))  # Excel's limit itself is fine
    check_input("sqlite:///nowhere.db")  # databases are checked when the run reads them


def test_wide_jsonl_and_parquet_keep_only_what_the_run_needs(tmp_path: Path) -> None:
    record = {"id": "a", "score": 9, "comment": "gut", **{f"q{number}": 1 for number in range(300)}}
    jsonl = tmp_path / "wide.jsonl"
    jsonl.write_text(json.dumps(record) + "\n" + json.dumps({**record, "id": "b"}) + "\n", encoding="utf-8")
    raw = read_input(jsonl)
    assert list(raw.frame.columns)[:4] == ["row_number", "id", "score", "comment"]
    assert raw.frame.shape == (2, 1 + 3 + 100) and raw.details["columns_left_out"] == 200
    parquet = tmp_path / "wide.parquet"
    pd.DataFrame([record, {**record, "id": "b"}]).to_parquet(parquet)
    raw = read_input(parquet)
    assert raw.frame.shape == (2, 1 + 3 + 100) and raw.frame["comment"].tolist() == ["gut", "gut"]


def test_one_reader_per_format_chosen_by_suffix_and_signature(tmp_path: Path) -> None:
    from nps_text.ingest import READERS, file_format

    frame = pd.DataFrame({"score": ["9", "3"], "comment": ["gut", "schlecht"]})
    paths = {"csv": tmp_path / "a.csv", "parquet": tmp_path / "a.bin", "jsonl": tmp_path / "a.jsonl",
             "xlsx": tmp_path / "a.xlsx"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)  # no suffix: found by its PAR1 signature
    frame.to_json(paths["jsonl"], orient="records", lines=True)
    frame.to_excel(paths["xlsx"], index=False)
    assert set(READERS) == set(paths)
    for fmt, path in paths.items():
        assert file_format(path) == fmt
        raw = read_input(path)
        assert raw.format == fmt and raw.frame["comment"].tolist() == ["gut", "schlecht"], fmt
