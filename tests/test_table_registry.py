"""One source for table shapes: every table of the registry, through every writer, read back as the contract says.

Each table of :data:`nps_text.schema.TABLES` is built from :func:`~nps_text.schema.empty_frame` (no rows, as when a
step is disabled) and with a few realistic rows (passthrough columns included), then written with the writers
the pipeline uses: Parquet, CSV, xlsx, DuckDB (:mod:`nps_text.writers`) and SQL (:func:`~nps_text.database.
write_database` on SQLite). Column names and types read back are compared with the contract
(:data:`~nps_text.schema.TABLE_SPECS`), column by column, and the values with what was written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from nps_text import schema
from nps_text.database import write_database
from nps_text.schema import TABLE_SPECS, TABLES, check_table, empty_frame
from nps_text.writers import FORMULA_PREFIXES, write_csv, write_duckdb, write_excel, write_parquet

README = Path(__file__).resolve().parents[1] / "README.md"

# --- realistic rows per table (valid against the contracts: check_table below coerces and validates them) ----
_NA = None
_PASSTHROUGH = {  # input columns that pass through ``responses`` and ``follow_up``: typed from their values
    "Filiale": ["Köln", "Berlin", "München"],
    "Kanal_Nr": [1, 2, 3],
    "date": pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-13"]),
}
_ROWS: dict[str, dict[str, list[Any]]] = {
    "responses": {
        "response_id": ["1", "2", "3"], "score": [3, 9, 8], "nps_group": ["detractor", "promoter", "passive"],
        "comment": ["Die Lieferung kam zu spät", "Super Beratung in der Filiale", "-"],
        "comment_status": ["text", "text", "non_informative"], "language": ["de", "de", _NA],
        "sentiment": ["negative", "positive", _NA], "sentiment_confidence": [0.91, 0.8125, math.nan],
        "theme_id": [0, 1, _NA], "theme_label": ["Lieferung", "Beratung", _NA],
        "theme_ids": [[0], [1, 0], _NA], "theme_labels": [["Lieferung"], ["Beratung", "Lieferung"], _NA],
        "period": ["2026-W02", "2026-W02", "2026-W03"],
    },
    "rejected": {
        "row_number": [4, 9], "response_id": ["4", _NA], "reason": ["score 'zehn' is not a number", "score is empty"],
        "ID": ["4", ""], "Bewertung": ["zehn", ""], "Kommentar": ["=Formel? nein, Text", "Hotline nie erreichbar"],
    },
    "nps_summary": {
        "segment": ["all", "all", "Filiale"], "segment_value": ["all", "all", "Köln"],
        "period": ["all", "2026-W02", "all"], "responses": [3, 2, 1], "promoters": [1, 1, 0],
        "passives": [1, 0, 0], "detractors": [1, 1, 1], "nps": [0.0, 0.0, -100.0],
        "nps_ci_low": [-65.3, -98.0, -100.0], "nps_ci_high": [65.3, 98.0, -100.0],
    },
    "nps_changes": {
        "segment": ["all"], "segment_value": ["all"], "period": ["2026-W03"], "previous_period": ["2026-W02"],
        "responses": [1], "nps": [0.0], "previous_nps": [0.0], "change": [0.0], "p_value": [1.0],
        "significant": [False], "direction": ["none"],
    },
    "sentences": {
        "response_id": ["1", "2", "2"], "sentence_index": [0, 0, 1],
        "sentence": ["Die Lieferung kam zu spät", "Super Beratung in der Filiale", "Lieferung ok"],
        "sentiment": ["negative", "positive", "neutral"], "confidence": [0.91, 0.8125, 0.5], "theme_id": [0, 1, 0],
    },
    "themes": {
        "nps_group": ["detractor", "promoter", "promoter"], "theme_id": [0, 1, 0],
        "theme_label": ["Lieferung", "Beratung", "Lieferung"],
        "keywords": [["lieferung", "spät"], ["beratung", "filiale"], ["lieferung"]], "size": [1, 1, 1],
        "share_of_group": [1.0, 1.0, 1.0], "positive_share": [0.0, 1.0, math.nan],
        "neutral_share": [0.0, 0.0, math.nan], "negative_share": [1.0, 0.0, math.nan],
        "representative_comments": [["Die Lieferung kam zu spät"], ["Super Beratung in der Filiale"], []],
    },
    "improvement_areas": {
        "rank": [1, 2], "theme_id": [0, 2], "theme_label": ["Lieferung", "Hotline"], "detractor_count": [2, 1],
        "share_of_detractors": [0.6667, 0.3333], "nps_impact": [20.0, 10.0],
        "example_comments": [["Die Lieferung kam zu spät", "Lieferung dauerte zwei Wochen"], ["Hotline nie erreichbar"]],
        "nps": [-20.0, -20.0], "nps_without_theme": [0.0, -11.1], "nps_gap": [-30.0, math.nan],
        "promoter_count": [1, 0], "theme_responses": [4, 1], "lift": [np.inf, 2.5], "p_value": [0.5, 1.0],
        "significant": [False, False], "current_period": ["2026-W03", _NA], "previous_period": ["2026-W02", _NA],
        "share_of_detractors_current": [0.5, math.nan], "share_of_detractors_previous": [1.0, math.nan],
        "trend": [-50.0, math.nan], "trend_p_value": [0.4, math.nan], "emerging": [False, False],
    },
    "follow_up": {
        "follow_up": ["call_back_detractor", "no_comment", "thank_promoter"], "response_id": ["1", "3", "2"],
        "score": [3, 8, 9], "nps_group": ["detractor", "passive", "promoter"],
        "comment_status": ["text", "non_informative", "text"],
        "comment": ["Die Lieferung kam zu spät", "-", "Super Beratung in der Filiale"],
        "theme_id": [0, _NA, 1], "theme_label": ["Lieferung", _NA, "Beratung"],
        "sentiment": ["negative", _NA, "positive"],
    },
    "theme_trends": {
        "theme_id": [0, 0, 1], "theme_label": ["Lieferung", "Lieferung", "Beratung"],
        "period": ["2026-W02", "2026-W03", "2026-W03"], "previous_period": [_NA, "2026-W02", "2026-W02"],
        "count": [1, 2, 0], "base": [1, 2, 2], "share": [1.0, 1.0, 0.0], "previous_count": [0, 1, 1],
        "previous_base": [0, 1, 1], "previous_share": [math.nan, 1.0, 1.0], "change_vs_previous": [math.nan, 0.0, -100.0],
        "z": [math.nan, 0.0, -1.7], "p_value": [math.nan, 1.0, 0.09], "trend": ["stable", "stable", "fading"],
    },
}
_WITH_PASSTHROUGH = ("responses", "follow_up")
_REJECTED_ORIGINALS = ("ID", "Bewertung", "Kommentar")


def sample_table(name: str) -> pd.DataFrame:
    """``name`` with realistic rows: the contract's columns (``empty_frame``'s order), then passthrough columns."""
    rows = _ROWS[name]
    columns = [column for column in empty_frame(name).columns]
    columns += [column for column in rows if column not in columns]
    frame = pd.DataFrame({column: rows[column] for column in columns if column in rows})
    if name in _WITH_PASSTHROUGH:
        frame = frame.assign(**{key: values[: len(frame)] for key, values in _PASSTHROUGH.items()})
    if name == "rejected":  # the original values, as text
        frame = frame.astype({column: "string" for column in _REJECTED_ORIGINALS})
    return check_table(frame, name)


def sample_tables(filled: bool) -> dict[str, pd.DataFrame]:
    return {name: sample_table(name) if filled else empty_frame(name) for name in TABLES}


# --- the registry ---------------------------------------------------------------------------------------


def test_the_registry_lists_every_contract_and_describes_it() -> None:
    assert list(TABLES) == list(dict.fromkeys(TABLES))
    assert set(TABLES) == set(TABLE_SPECS) == set(schema.PRODUCED_BY)
    assert "theme_trends" in TABLES
    assert all(description and "\n" not in description for description in TABLES.values())
    assert set(_ROWS) == set(TABLES)  # a new table needs sample rows here


@pytest.mark.parametrize("name", list(TABLES))
def test_the_sample_rows_are_realistic(name: str) -> None:
    frame = sample_table(name)
    assert len(frame) >= 1
    assert list(frame.columns[: len(empty_frame(name).columns)]) == list(empty_frame(name).columns)


def test_sql_kind_is_per_table_and_column() -> None:
    assert schema.sql_kind("theme_trends", "trend") == "text"
    assert schema.sql_kind("improvement_areas", "trend") == "float"
    assert schema.sql_kind("themes", "keywords") == "text"  # JSON text
    assert schema.sql_kind("responses", "theme_id") == "integer"
    assert schema.sql_kind("improvement_areas", "significant") == "boolean"
    assert schema.sql_kind("responses", "Filiale") is None  # passthrough: typed from its values
    assert schema.sql_kind("no_such_table", "score") is None


# --- every table through every writer -------------------------------------------------------------------
# The type each writer gives a contract dtype (read back from the file / database).
PARQUET_TYPES = {schema.TEXT: "string", schema.INT: "int64", schema.NULLABLE_INT: "int64", schema.FLOAT: "double",
                 schema.BOOL: "bool", schema.TEXT_LIST: "list<string>", schema.INT_LIST: "list<int64>"}
DUCKDB_TYPES = {schema.TEXT: "VARCHAR", schema.INT: "BIGINT", schema.NULLABLE_INT: "BIGINT", schema.FLOAT: "DOUBLE",
                schema.BOOL: "BOOLEAN", schema.TEXT_LIST: "VARCHAR[]", schema.INT_LIST: "BIGINT[]"}
SQL_TYPES = {schema.TEXT: "TEXT", schema.INT: "BIGINT", schema.NULLABLE_INT: "BIGINT", schema.FLOAT: "DOUBLE",
             schema.BOOL: "BOOLEAN", schema.TEXT_LIST: "TEXT", schema.INT_LIST: "TEXT"}  # lists: JSON text
PASSTHROUGH_TYPES = {  # what the writers make of the passthrough columns (from their values)
    "parquet": {"Filiale": "string", "Kanal_Nr": "int64", "date": "timestamp[ns]"}
    | dict.fromkeys(_REJECTED_ORIGINALS, "string"),
    "duckdb": {"Filiale": "VARCHAR", "Kanal_Nr": "BIGINT", "date": "TIMESTAMP"}
    | dict.fromkeys(_REJECTED_ORIGINALS, "VARCHAR"),
    "sql": {"Filiale": "TEXT", "Kanal_Nr": "BIGINT", "date": "DATETIME"} | dict.fromkeys(_REJECTED_ORIGINALS, "TEXT"),
}


@pytest.fixture(scope="module", params=["rows", "empty"])
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every table written once through every writer (with rows, and with none)."""
    tables = dict(reversed(sample_tables(request.param == "rows").items()))  # writers order them by the registry
    out = tmp_path_factory.mktemp(f"writers-{request.param}")
    for name, frame in tables.items():
        write_parquet(frame, out / f"{name}.parquet")
        write_csv(frame, out / f"{name}.csv")
    write_excel(tables, out / "nps_text.xlsx")
    write_duckdb(tables, out / "nps_text.duckdb")
    report = write_database(tables, f"sqlite:///{out / 'nps_text.db'}")
    return {"tables": tables, "out": out, "database": report}


def _contract_dtype(table: str, column: str) -> str | None:
    spec = TABLE_SPECS[table].columns.get(column)
    return spec.dtype if spec else None


def _expected(table: str, frame: pd.DataFrame, types: dict[str, str], passthrough: dict[str, str]) -> dict[str, str]:
    expected = {}
    for column in frame.columns:
        dtype = _contract_dtype(table, column)
        expected[column] = types[dtype] if dtype else passthrough[column]
    return expected


def _arrow_name(kind: pa.DataType) -> str:
    if pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"list<{_arrow_name(kind.value_type)}>"
    if pa.types.is_timestamp(kind):
        return "timestamp[ns]"  # the unit pandas picks is not the contract's business
    return str(kind)


def _plain(value: Any) -> Any:
    """A cell as plain Python for comparisons: None for every kind of missing, lists for arrays."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        return value  # 1.0 stays 1.0
    return value


def _column(frame: pd.DataFrame, column: str) -> list[Any]:
    return [_plain(value) for value in frame[column].tolist()]


@pytest.mark.parametrize("name", list(TABLES))
def test_parquet_has_the_contract_types(written: dict[str, Any], name: str) -> None:
    frame = written["tables"][name]
    arrow = pq.read_schema(written["out"] / f"{name}.parquet")
    actual = {field.name: _arrow_name(field.type) for field in arrow}
    assert list(actual) == list(frame.columns)
    assert actual == _expected(name, frame, PARQUET_TYPES, PASSTHROUGH_TYPES["parquet"])
    back = pd.read_parquet(written["out"] / f"{name}.parquet")
    for column in frame.columns:
        if _contract_dtype(name, column):
            assert _column(back, column) == _column(frame, column), column


@pytest.mark.parametrize("name", list(TABLES))
def test_duckdb_has_the_contract_types(written: dict[str, Any], name: str) -> None:
    frame = written["tables"][name]
    with duckdb.connect(str(written["out"] / "nps_text.duckdb"), read_only=True) as connection:
        described = connection.execute(f'describe "{name}"').fetchall()
        rows = connection.execute(f'select * from "{name}"').fetchall()
    actual = {row[0]: re.sub(r"^TIMESTAMP_\w+", "TIMESTAMP", row[1]) for row in described}  # any time unit
    assert list(actual) == list(frame.columns)
    assert actual == _expected(name, frame, DUCKDB_TYPES, PASSTHROUGH_TYPES["duckdb"])
    for position, column in enumerate(frame.columns):
        if _contract_dtype(name, column):
            assert [_plain(row[position]) for row in rows] == _column(frame, column), column


@pytest.mark.parametrize("name", list(TABLES))
def test_sql_has_the_contract_types(written: dict[str, Any], name: str) -> None:
    frame = written["tables"][name]
    engine = sa.create_engine(f"sqlite:///{written['out'] / 'nps_text.db'}")
    with engine.connect() as conn:
        reflected = sa.inspect(conn).get_columns(name)
        rows = conn.execute(sa.text(f'select * from "{name}"')).all()
    engine.dispose()
    actual = {column["name"]: str(column["type"]) for column in reflected}
    assert list(actual) == list(frame.columns)
    assert actual == _expected(name, frame, SQL_TYPES, PASSTHROUGH_TYPES["sql"])
    assert written["database"]["tables"][name]["rows"] == len(frame) == len(rows)
    assert list(written["database"]["tables"]) == list(TABLES)  # written in the registry's order
    for position, column in enumerate(frame.columns):
        dtype = _contract_dtype(name, column)
        if dtype is None:
            continue
        values = [row[position] for row in rows]
        if dtype in (schema.TEXT_LIST, schema.INT_LIST):
            values = [None if value is None else json.loads(value) for value in values]
        if dtype == schema.BOOL:
            values = [bool(value) for value in values]
        assert [_plain(value) for value in values] == _column(frame, column), column


_CSV_PARSERS: dict[str, Callable[[str], Any]] = {
    schema.TEXT: lambda text: text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text,
    schema.INT: int, schema.NULLABLE_INT: int, schema.FLOAT: float,
    schema.BOOL: lambda text: {"True": True, "False": False}[text],
    schema.TEXT_LIST: lambda text: text.split(" | "),
    schema.INT_LIST: lambda text: [int(item) for item in text.split(" | ")],
}


@pytest.mark.parametrize("name", list(TABLES))
def test_csv_cells_parse_as_the_contract_types(written: dict[str, Any], name: str) -> None:
    """CSV has no types: the header is the contract's, and every cell parses back to the value written."""
    frame = written["tables"][name]
    back = pd.read_csv(written["out"] / f"{name}.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(back.columns) == list(frame.columns)
    assert len(back) == len(frame)
    for column in frame.columns:
        dtype = _contract_dtype(name, column)
        if dtype is None:
            continue
        expected = _column(frame, column)
        if dtype in (schema.TEXT_LIST, schema.INT_LIST):  # an empty list and a missing cell both read as ""
            expected = [None if value == [] else value for value in expected]
        parsed = [None if text == "" else _CSV_PARSERS[dtype](text) for text in back[column].tolist()]
        assert parsed == expected, column


_XLSX_TYPES: dict[str, tuple[type, ...]] = {
    schema.TEXT: (str,), schema.INT: (int,), schema.NULLABLE_INT: (int,), schema.FLOAT: (float, int),
    schema.BOOL: (bool,), schema.TEXT_LIST: (str,), schema.INT_LIST: (str, int),  # lists: "a | b" (one item: 0)
}


@pytest.mark.parametrize("name", list(TABLES))
def test_xlsx_sheets_have_the_contract_columns_and_cell_types(written: dict[str, Any], name: str) -> None:
    frame = written["tables"][name]
    workbook = openpyxl.load_workbook(written["out"] / "nps_text.xlsx", read_only=True)
    try:
        assert list(workbook.sheetnames) == list(written["tables"])  # in the caller's order (the flow: registry's)
        rows = list(workbook[name].iter_rows(values_only=True))
    finally:
        workbook.close()
    assert list(rows[0]) == list(frame.columns)
    assert len(rows) - 1 == len(frame)
    for position, column in enumerate(frame.columns):
        dtype = _contract_dtype(name, column)
        cells = [row[position] for row in rows[1:]]
        if dtype is None:
            if column == "date":
                assert all(isinstance(cell, datetime) for cell in cells)
            continue
        for cell, value in zip(cells, _column(frame, column), strict=True):
            if value is None or value == []:
                assert cell in (None, ""), column
                continue
            if dtype == schema.FLOAT and math.isinf(value):
                assert cell == "inf", column  # Excel has no infinity: openpyxl writes it as text
                continue
            assert isinstance(cell, _XLSX_TYPES[dtype]), (column, cell)
            if dtype in (schema.TEXT_LIST, schema.INT_LIST):
                assert str(cell) == " | ".join(str(item) for item in value), column
            else:
                assert cell == value, column


# --- the README's table list ----------------------------------------------------------------------------


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", text, flags=re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_readme_lists_every_table_of_the_registry() -> None:
    """"What a run writes" has one row per registry table (in registry order), saying what one row is."""
    rows = re.findall(r"^\| `(\w+)\.parquet`[^|]*\| ([^|]+) \|$", _section("What a run writes"), flags=re.M)
    assert [name for name, _ in rows] == list(TABLES)
    for name, text in rows:
        assert text.startswith(TABLES[name]), f"README row of {name}: {text!r} should start with {TABLES[name]!r}"


def test_readme_database_section_names_every_table() -> None:
    section = _section("Database output")
    listed = re.search(r"writes every table \(([^)]*)\)", section.replace("\n", " "))
    assert listed, "the Database output section lists the tables it writes"
    assert re.findall(r"`(\w+)`", listed.group(1)) == list(TABLES)


def _readme_sql() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", _section("Database output"), flags=re.S)


def test_readme_drill_down_join_gives_one_row_per_response(written: dict[str, Any]) -> None:
    """``themes`` repeats a theme_id once per NPS group: the README's join must not multiply responses (its
    join on ``theme_id`` alone gave 1,373 rows for 596 responses on the demo)."""
    joins = [sql for sql in _readme_sql() if " join " in sql]
    assert joins
    engine = sa.create_engine(f"sqlite:///{written['out'] / 'nps_text.db'}")
    with engine.connect() as conn:
        for sql in joins:
            rows = conn.execute(sa.text(sql.strip().rstrip(";"))).all()
            assert len(rows) == len(written["tables"]["responses"]), sql
    engine.dispose()
