from pathlib import Path

import duckdb
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
