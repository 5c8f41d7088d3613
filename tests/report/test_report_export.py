"""Exports for analysts: Excel, CSV, Parquet and DuckDB from a run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nps_text.errors import InputError, NpsTextError
from nps_text.report import export_run, load_run

from .conftest import FORMULA_COMMENT, REJECTED_COMMENTS


def test_load_run_reads_tables_and_manifest(run_dir: Path) -> None:
    tables, manifest = load_run(run_dir)
    assert list(tables)[:3] == ["responses", "improvement_areas", "follow_up"]
    assert set(tables) >= {"nps_summary", "nps_changes", "themes", "sentences", "rejected"}
    assert manifest["rows_valid"] == 200


def test_xlsx_one_sheet_per_table_frozen_header_widths_no_formulas(run_dir: Path) -> None:
    from openpyxl import load_workbook

    [path] = export_run(run_dir, "xlsx")
    assert path == run_dir / "export" / "nps_tables.xlsx"
    workbook = load_workbook(path)
    tables, _ = load_run(run_dir)
    assert workbook.sheetnames == list(tables)
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "A2"
        header = [cell.value for cell in sheet[1]]
        assert header == list(tables[sheet.title].columns)
        widths = [sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]]
        assert all(10 <= width <= 61 for width in widths)  # 10-60 characters; XlsxWriter stores ~0.71 of padding
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@", "\t", "\r")):
                    assert cell.data_type == "s" and cell.quotePrefix, f"{sheet.title}!{cell.coordinate}"
    responses = workbook["responses"]
    comments = [row[0].value for row in responses.iter_rows(min_col=4, max_col=4, min_row=2)]
    assert FORMULA_COMMENT in comments  # shown as written, stored as quote-prefixed text
    assert rows_of(workbook["responses"]) == 200
    # Lists are joined, readable in one cell.
    areas = workbook["improvement_areas"]
    header = [cell.value for cell in areas[1]]
    example = areas.cell(row=2, column=header.index("example_comments") + 1).value
    assert isinstance(example, str) and " | " in example
    # The rejected rows' raw values that look like formulas are text too.
    rejected = [cell for cell in workbook["rejected"]["E"][1:]]
    assert [cell.value for cell in rejected] == REJECTED_COMMENTS
    assert all(cell.data_type == "s" and cell.quotePrefix for cell in rejected)


def rows_of(sheet: object) -> int:
    return int(sheet.max_row) - 1  # type: ignore[attr-defined]


def test_csv_german_excel_semicolon_and_bom(run_dir: Path, tmp_path: Path) -> None:
    written = export_run(run_dir, "csv", tmp_path / "csv", csv_delimiter=";")
    assert {path.name for path in written} >= {"responses.csv", "improvement_areas.csv", "follow_up.csv"}
    raw = (tmp_path / "csv" / "responses.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("response_id;score;nps_group;comment")
    assert "München" in text
    frame = pd.read_csv(tmp_path / "csv" / "responses.csv", sep=";", encoding="utf-8-sig")
    assert len(frame) == 200
    assert ("'" + FORMULA_COMMENT) in set(frame["comment"].dropna())
    areas = pd.read_csv(tmp_path / "csv" / "improvement_areas.csv", sep=";", encoding="utf-8-sig")
    assert " | " in str(areas.loc[0, "example_comments"])


def test_csv_without_bom_and_comma(run_dir: Path, tmp_path: Path) -> None:
    export_run(run_dir, "csv", tmp_path / "plain", csv_bom=False)
    raw = (tmp_path / "plain" / "responses.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8").startswith("response_id,score,")


def test_parquet_round_trip(run_dir: Path, tmp_path: Path) -> None:
    written = export_run(run_dir, "parquet", tmp_path / "pq")
    tables, _ = load_run(run_dir)
    assert sorted(path.stem for path in written) == sorted(tables)
    again = pd.read_parquet(tmp_path / "pq" / "responses.parquet")
    pd.testing.assert_frame_equal(again, tables["responses"])


def test_duckdb_one_table_per_parquet_file(run_dir: Path, tmp_path: Path) -> None:
    import duckdb

    [path] = export_run(run_dir, "duckdb", tmp_path / "run.duckdb")
    assert path == tmp_path / "run.duckdb"
    tables, _ = load_run(run_dir)
    connection = duckdb.connect(str(path), read_only=True)
    try:
        names = {row[0] for row in connection.execute("select table_name from information_schema.tables").fetchall()}
        assert names == set(tables)
        count = connection.execute("select count(*) from responses").fetchone()
        assert count is not None and count[0] == 200
    finally:
        connection.close()


def test_out_folder_for_single_file_formats(run_dir: Path, tmp_path: Path) -> None:
    [path] = export_run(run_dir, "xlsx", tmp_path / "exports")
    assert path == tmp_path / "exports" / "nps_tables.xlsx"


def test_writes_are_atomic_no_leftovers(run_dir: Path, tmp_path: Path) -> None:
    for fmt in ("xlsx", "csv", "parquet", "duckdb"):
        export_run(run_dir, fmt, tmp_path / fmt)  # type: ignore[arg-type]
    leftovers = [path for path in tmp_path.rglob("*") if path.name.endswith(".part")]
    assert leftovers == []


def test_missing_run_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run folder not found"):
        export_run(tmp_path / "nope", "csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NpsTextError, match="no \\*.parquet tables"):
        export_run(tmp_path / "empty", "xlsx")


def test_bad_format_and_delimiter(run_dir: Path) -> None:
    with pytest.raises(InputError, match="unknown export format"):
        export_run(run_dir, "json")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="CSV delimiter"):
        export_run(run_dir, "csv", csv_delimiter=":")
