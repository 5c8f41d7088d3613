from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest

from nps_text.writers import (
    atomic_path,
    spreadsheet_safe,
    write_csv,
    write_duckdb,
    write_excel,
    write_parquet,
)


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {"response_id": ["1", "2", "3"], "comment": ["=HYPERLINK(\"http://x\")", "+49 ok", "@SUM(A1)"],
         "keywords": [["a", "b"], ["c"], []], "score": [-1, 5, 10]}
    )


def test_spreadsheet_safe() -> None:
    assert spreadsheet_safe("=1+1") == "'=1+1"
    assert spreadsheet_safe("-x") == "'-x"
    assert spreadsheet_safe("\tx") == "'\tx"
    assert spreadsheet_safe("normal") == "normal"
    assert spreadsheet_safe(-3) == -3


def test_csv_is_formula_safe_with_bom(tmp_path: Path, table: pd.DataFrame) -> None:
    path = write_csv(table, tmp_path / "t.csv", delimiter=";")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+49 ok" in text and "'@SUM" in text
    assert "a | b" in text
    assert text.splitlines()[0] == "response_id;comment;keywords;score"


def test_excel_has_no_formulas_and_frozen_header(tmp_path: Path, table: pd.DataFrame) -> None:
    path = write_excel({"responses": table, "other": table.head(1)}, tmp_path / "t.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["responses", "other"]
    sheet = workbook["responses"]
    assert sheet.freeze_panes == "A2"
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"
    assert sheet["B2"].value == "=HYPERLINK(\"http://x\")"  # shown as written, stored as quoted text
    assert sheet["B2"].data_type == "s" and sheet["B2"].quotePrefix
    assert sheet["B3"].quotePrefix and sheet["B4"].quotePrefix
    assert sheet["D2"].value == -1


def test_parquet_and_duckdb_roundtrip(tmp_path: Path, table: pd.DataFrame) -> None:
    write_parquet(table, tmp_path / "t.parquet")
    assert pd.read_parquet(tmp_path / "t.parquet")["comment"].tolist() == table["comment"].tolist()
    write_duckdb({"responses": table}, tmp_path / "t.duckdb")
    with duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from responses").fetchone() == (3,)


def test_duckdb_types_do_not_depend_on_rows_and_long_tables_go_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nps_text.schema import empty_frame
    from nps_text.writers import formats

    monkeypatch.setattr(formats, "WRITE_CHUNK_ROWS", 3)
    long = pd.DataFrame({"n": range(10), "keywords": [["a", "b"]] * 10})
    write_duckdb({"long": long, "themes": empty_frame("themes")}, tmp_path / "t.duckdb")
    with duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*), sum(n) from long").fetchone() == (10, 45)
        types = dict(connection.execute("select column_name, data_type from information_schema.columns "
                                        "where table_name = 'themes'").fetchall())
    assert types["keywords"] == "VARCHAR[]" and types["size"] == "BIGINT"  # an empty list column is not NULL


def test_atomic_write_leaves_old_file_on_crash(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as part:
        part.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_uses_normal_permissions(tmp_path: Path) -> None:
    import os

    mask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "t.txt") as part:
            part.write_text("x")
    finally:
        os.umask(mask)
    assert (tmp_path / "t.txt").stat().st_mode & 0o777 == 0o644


def test_control_characters_do_not_break_excel(tmp_path: Path) -> None:
    frame = pd.DataFrame({"comment": ["esc \x1b[31mred", "bell\x07", "vt\x0bx", "ok"], "n": [1, 2, 3, 4]})
    path = write_excel({"responses": frame}, tmp_path / "t.xlsx")
    sheet = openpyxl.load_workbook(path)["responses"]
    values = [sheet.cell(row=row, column=1).value for row in range(2, 6)]
    assert values == ["esc \ufffd[31mred", "bell\ufffd", "vt\ufffdx", "ok"]
    # CSV and Parquet keep the text exactly
    write_csv(frame, tmp_path / "t.csv")
    assert "\x1b[31m" in (tmp_path / "t.csv").read_text(encoding="utf-8-sig")


def test_headers_are_formula_safe(tmp_path: Path) -> None:
    frame = pd.DataFrame({"=1+1": ["a"], "@cmd": ["b"], "plain": ["c"]})
    header = write_csv(frame, tmp_path / "t.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "'=1+1,'@cmd,plain"
    sheet = openpyxl.load_workbook(write_excel({"data": frame}, tmp_path / "t.xlsx"))["data"]
    for cell in sheet[1]:
        assert cell.data_type == "s"
    assert sheet["A1"].value == "=1+1" and sheet["A1"].quotePrefix
    assert write_parquet(frame, tmp_path / "t.parquet") and list(pd.read_parquet(tmp_path / "t.parquet").columns) == list(frame.columns)


def test_excel_cuts_tables_longer_than_a_sheet_and_says_so(tmp_path: Path) -> None:
    from nps_text.writers import excel_truncations

    long = pd.DataFrame({"response_id": [str(i) for i in range(10)], "score": range(10)})
    tables = {"responses": long, "short": long.head(2)}
    path = write_excel(tables, tmp_path / "t.xlsx", max_rows=5)  # header + 4 data rows
    workbook = openpyxl.load_workbook(path)
    assert workbook["responses"].max_row == 5 and workbook["short"].max_row == 3
    notes = pd.read_excel(path, sheet_name="notes")
    assert notes.to_dict("records")[0] | {"note": ""} == {
        "table": "responses", "rows": 10, "rows_written": 4, "rows_left_out": 6, "note": ""}
    assert excel_truncations(tables, max_rows=5) == {"responses": {"rows": 10, "rows_written": 4}}
    assert excel_truncations(tables) == {}
    write_csv(long, tmp_path / "t.csv")
    assert len(pd.read_csv(tmp_path / "t.csv")) == 10  # other formats stay complete


def test_output_folder_is_locked_staged_and_cleans_stale_runs(tmp_path: Path) -> None:
    import json
    import os

    from nps_text.writers import OutputBusyError, output_folder, publish

    out = tmp_path / "out"
    (out / ".staging-killed" / "sub").mkdir(parents=True)
    (out / ".responses.parquet.x1.part").write_text("half")
    (out / "old.csv").write_text("from an older run")
    (out / "manifest.json").write_text(json.dumps({"outputs": ["old.csv", "../outside.txt", "manifest.json"]}))
    (tmp_path / "outside.txt").write_text("not ours")
    with output_folder(out, "run1") as staging:
        assert staging == out / ".staging-run1"
        assert not (out / ".staging-killed").exists() and not list(out.glob(".*.part"))
        busy = rf"another nps-text run is writing to .*out \(pid {os.getpid()}\)"
        with pytest.raises(OutputBusyError, match=busy), output_folder(out, "run2"):
            pass
        (staging / "t.csv").write_text("new")
        (staging / "manifest.json").write_text(json.dumps({"outputs": ["t.csv", "manifest.json"]}))
        removed = publish(staging, out, ["t.csv", "manifest.json"])
    assert removed == ["old.csv"] and (tmp_path / "outside.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == [".lock", "manifest.json", "t.csv"]
    with output_folder(out, "run3"):  # the lock is free again
        pass


def test_one_map_of_writers_for_write_table_the_run_and_export() -> None:
    from typing import get_args

    from nps_text.config import OutputFormat
    from nps_text.errors import InputError
    from nps_text.writers import FORMATS, format_for

    assert set(get_args(OutputFormat)) <= set(FORMATS)  # every configurable format has its writer
    assert {name: format_for(f"t{FORMATS[name].suffix.upper()}") for name in FORMATS} == {name: name for name in FORMATS}
    with pytest.raises(InputError, match="use one of .parquet, .csv"):
        format_for("t.txt")


def test_write_table_by_suffix(tmp_path: Path, table: pd.DataFrame) -> None:
    from nps_text.writers import write_table

    for suffix in (".csv", ".parquet", ".jsonl", ".xlsx", ".duckdb"):
        assert write_table(table, tmp_path / f"t{suffix}").stat().st_size > 0
    assert pd.read_json(tmp_path / "t.jsonl", lines=True)["comment"].tolist() == table["comment"].tolist()
    assert openpyxl.load_workbook(tmp_path / "t.xlsx").sheetnames == ["data"]


def test_one_excel_policy_for_the_run_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table longer than a worksheet is cut with a notes sheet, in a run's workbook and in ``nps-text export``."""
    from nps_text.config import PipelineConfig
    from nps_text.report.export import export_run
    from nps_text.writers import excel_truncations, formats, write_outputs

    monkeypatch.setattr(formats, "EXCEL_MAX_ROWS", 5)  # header + 4 data rows
    long = pd.DataFrame({"response_id": [str(i) for i in range(10)], "score": range(10)})
    config = PipelineConfig.model_validate({"output": {"formats": ["parquet", "xlsx"]}, "report": {"enabled": False}})
    write_outputs({"responses": long}, {}, config, tmp_path / "run")
    exported = export_run(tmp_path / "run", "xlsx")[0]
    for workbook in (tmp_path / "run" / "nps_text.xlsx", exported):
        assert openpyxl.load_workbook(workbook)["responses"].max_row == 5
        assert pd.read_excel(workbook, sheet_name="notes")["rows_left_out"].tolist() == [6]
    assert excel_truncations({"responses": long}) == {"responses": {"rows": 10, "rows_written": 4}}
    assert formats.EXCEL_MAX_ROWS == 5 and len(pd.read_parquet(tmp_path / "run" / "responses.parquet")) == 10


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({}, ["responses.parquet", "responses.csv", "rejected.parquet", "rejected.csv", "themes.parquet",
              "themes.csv", "nps_text.xlsx", "nps_text.duckdb"]),  # every format
        ({"formats": ["csv"], "csv_delimiter": ";", "csv_bom": False},
         ["responses.parquet", "responses.csv", "rejected.parquet", "rejected.csv", "themes.csv"]),
        ({"formats": ["duckdb", "parquet"]},
         ["responses.parquet", "rejected.parquet", "themes.parquet", "nps_text.duckdb"]),
    ],
)
def test_write_outputs_writes_each_configured_format(tmp_path: Path, table: pd.DataFrame, output: dict,
                                                     expected: list[str]) -> None:
    """:func:`nps_text.writers.write_outputs` (through the map of formats): per-table files table by table
    (``responses`` and ``rejected`` always as Parquet: ``report`` and ``export`` read them back), then the
    one-file formats; the CSV options reach the CSV writer."""
    from nps_text.config import PipelineConfig
    from nps_text.schema import empty_frame
    from nps_text.writers import write_outputs

    tables = {"responses": table, "rejected": empty_frame("rejected"), "themes": table.head(1)}
    config = PipelineConfig.model_validate({"output": output, "report": {"enabled": False}})
    written = write_outputs(tables, {}, config, tmp_path / "out")
    assert [path.name for path in written] == expected
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(expected)
    for path in written:
        if path.suffix == ".parquet":
            assert len(pd.read_parquet(path)) == len(tables[path.stem])
        elif path.suffix == ".csv" and output.get("csv_delimiter") == ";":
            header = path.read_bytes().splitlines()[0]
            assert not header.startswith(b"\xef\xbb\xbf") and b";" in header
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as connection:
                names = {name for (name,) in connection.execute("select table_name from information_schema.tables").fetchall()}
            assert names == set(tables)


def test_excel_streams_in_slices_with_every_kind_of_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text.table_view import TableView
    from nps_text.writers import formats

    monkeypatch.setattr(formats, "WRITE_CHUNK_ROWS", 3)  # 8 rows: three slices, cut inside the third
    frame = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(8)],
        "score": pd.array([0, 1, None, 3, 4, 5, 6, 7], dtype="Int64"),
        "confidence": [0.5, float("nan"), 0.25, 1.0, 0.0, 0.5, 0.5, 0.5],
        "date": pd.to_datetime(["2026-01-05"] * 7 + [None]),
        "group": pd.Categorical(["promoter", "=detractor"] * 4),
        "comment": ["ok", None, "=1+1", "-", "a\x07b", "x", "y", "z"],
        "keywords": [["a", "b"], [], ["c"], [], [], [], [], []],
    })
    path = write_excel({"responses": frame, "view": TableView(frame, np.array([7, 0]), pd.DataFrame(index=range(2)), tuple(frame.columns))}, tmp_path / "t.xlsx", max_rows=8)
    sheet = openpyxl.load_workbook(path)["responses"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=1)]
    assert len(rows) == 8 and rows[0] == list(frame.columns)  # header + 7 data rows (max_rows counts the header)
    assert rows[1][:3] == ["r0", 0, 0.5] and rows[1][3].year == 2026 and rows[1][4:] == ["promoter", "ok", "a | b"]
    assert rows[2][2] is None and rows[2][5] is None and rows[3][1] is None
    assert sheet["F4"].value == "=1+1" and sheet["F4"].quotePrefix and sheet["F5"].quotePrefix
    assert sheet["F6"].value == "a\ufffdb" and sheet.freeze_panes == "A2"
    assert sheet["E3"].value == "=detractor" and sheet["E3"].quotePrefix  # categories are text too
    assert pd.read_excel(path, sheet_name="view")["response_id"].tolist() == ["r7", "r0"]
    assert pd.read_excel(path, sheet_name="notes")["rows_left_out"].tolist() == [1]
