"""Output formats: one writer per format (:data:`FORMATS`), used by the flow's outputs
(:func:`nps_text.writers.write_outputs`), :func:`write_table` and the export command.

Every file is written atomically (:func:`nps_text.writers.publish.atomic_path`).
Spreadsheet outputs are made safe against formula injection (the OWASP "CSV injection" advice): a text cell
that starts with ``= + - @`` (or a tab / carriage return) is, in CSV, prefixed with a single quote ``'``; in
Excel it keeps its value and is stored as a string cell with the quote-prefix style, so Excel shows it as
text and never executes it. Column headers get the same treatment (a column named ``=1+1`` stays text).
Characters XML cannot hold (control characters such as ESC, BEL, VT) are replaced by U+FFFD in workbooks,
which would otherwise refuse them; CSV and Parquet keep the text as it is.

Tables longer than a worksheet, one policy everywhere (the run's outputs and ``nps-text export``): a workbook
holds the first :data:`EXCEL_MAX_ROWS` rows (header included) of each table, and a ``notes`` sheet says what was
left out (:func:`excel_truncations`); every other format stays complete.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nps_text.errors import InputError
from nps_text.table_view import Table, TableView, as_frame, batches
from nps_text.writers.publish import atomic_path

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXCEL_MAX_ROWS = 1_048_576
"""Rows in one worksheet, the header row included (so a sheet holds 1,048,575 data rows)."""
EXCEL_NOTES_SHEET = "notes"
_EXCEL_REPLACEMENT = "\ufffd"


def spreadsheet_safe(value: Any) -> Any:
    """Return ``value`` so that a spreadsheet will not execute it as a formula.

    Example:
        >>> spreadsheet_safe("=HYPERLINK(1)")
        "'=HYPERLINK(1)"
        >>> spreadsheet_safe("-5")
        "'-5"
        >>> spreadsheet_safe(-5)
        -5
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def excel_text(value: Any) -> Any:
    """``value`` with the characters an xlsx file cannot hold (XML-illegal control characters) replaced.

    Example:
        >>> excel_text("bad\\x1b[31m")
        'bad\ufffd[31m'
    """
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        return ILLEGAL_CHARACTERS_RE.sub(_EXCEL_REPLACEMENT, value)
    return value


def flatten_for_spreadsheet(frame: pd.DataFrame, *, formula_safe: bool = True) -> pd.DataFrame:
    """A copy with list/array cells joined by ``" | "`` and (by default) every text cell and header made
    formula-safe."""
    flat = frame.copy()
    for position in range(flat.shape[1]):
        series = flat.iloc[:, position]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            values = [_flatten_cell(value) for value in series.tolist()]
            if formula_safe:
                values = [spreadsheet_safe(value) for value in values]
            flat.isetitem(position, pd.Series(values, index=flat.index, dtype=object))
    if formula_safe:
        flat.columns = [spreadsheet_safe(str(column)) for column in flat.columns]
    return flat


def _flatten_cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return " | ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


WRITE_CHUNK_ROWS = 100_000
"""Rows converted at a time when writing Parquet (one row group each) and CSV: memory stays flat in the rows."""


def _arrow_schema(table: Table) -> Any:
    """The Arrow schema ``table`` is written with: a frame's from all its rows, a view's from its first slice
    (:func:`nps_text.schema.arrow_schema`: no Arrow "null" columns, whatever the rows)."""
    from nps_text.schema import arrow_schema

    return arrow_schema(table.head(WRITE_CHUNK_ROWS) if isinstance(table, TableView) else table)


def write_parquet(frame: Table, path: str | Path) -> Path:
    """Write ``frame`` (a frame or a :class:`~nps_text.table_view.TableView`) to Parquet atomically, with
    pyarrow, in row groups of :data:`WRITE_CHUNK_ROWS` rows, converted one row group at a time."""
    path = Path(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(path) as part:
        if len(frame) <= WRITE_CHUNK_ROWS:
            small = as_frame(frame)
            small.to_parquet(part, index=False, schema=_arrow_schema(small))
            return path
        schema = _arrow_schema(frame)
        with pq.ParquetWriter(part, schema) as writer:
            for chunk in batches(frame, WRITE_CHUNK_ROWS):
                writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
    return path


def write_csv(frame: Table, path: str | Path, *, delimiter: str = ",", bom: bool = True) -> Path:
    """Write ``frame`` (a frame or a :class:`~nps_text.table_view.TableView`) as formula-safe CSV (UTF-8, with
    BOM by default so Excel detects the encoding), :data:`WRITE_CHUNK_ROWS` rows at a time."""
    path = Path(path)
    with atomic_path(path) as part, open(part, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        for index, chunk in enumerate(batches(frame, WRITE_CHUNK_ROWS)):
            flatten_for_spreadsheet(chunk).to_csv(handle, index=False, sep=delimiter, lineterminator="\n", header=index == 0)
    return path


def excel_truncations(tables: Mapping[str, Table], max_rows: int | None = None) -> dict[str, dict[str, int]]:
    """Per table too long for one worksheet: ``{"rows": all rows, "rows_written": rows in the workbook}``."""
    limit = (max_rows or EXCEL_MAX_ROWS) - 1  # the header row takes one
    return {
        name: {"rows": len(frame), "rows_written": limit}
        for name, frame in tables.items()
        if len(frame) > limit
    }


def write_excel(tables: Mapping[str, Table], path: str | Path, *, max_rows: int | None = None) -> Path:
    """Write one sheet per table: frozen header row, readable widths, text cells never formulas.

    Unlike CSV, a workbook can say "this is text" itself: a cell (or header) that starts with ``= + - @`` keeps
    its value unchanged and is stored as a string with Excel's quote-prefix style, so Excel shows it and
    never runs it. XML-illegal control characters become U+FFFD. A table longer than a worksheet
    (``max_rows``, header included; default 1,048,576) is cut, and a ``notes`` sheet lists what was left out.

    Streams: XlsxWriter in ``constant_memory`` mode writes each row to disk as it comes, the table's rows
    converted :data:`WRITE_CHUNK_ROWS` at a time, so memory stays flat in the rows (pandas' ``to_excel`` through
    a normal openpyxl workbook kept a Python object per cell: +1.1 GiB for a 100,000-row run).
    """
    import xlsxwriter

    path = Path(path)
    limit = (max_rows or EXCEL_MAX_ROWS) - 1
    truncated = excel_truncations(tables, max_rows)
    sheets: dict[str, Table] = {name[:31]: table for name, table in tables.items()}
    if truncated:
        sheets[_notes_sheet_name(tables)] = pd.DataFrame(
            [
                {"table": name, "rows": item["rows"], "rows_written": item["rows_written"],
                 "rows_left_out": item["rows"] - item["rows_written"],
                 "note": f"a worksheet holds {limit:,} data rows: the full table is in the Parquet/CSV outputs"}
                for name, item in truncated.items()
            ]
        )
    with atomic_path(path) as part:
        options = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                   "strings_to_urls": False, "default_date_format": "yyyy-mm-dd hh:mm:ss"}
        workbook = xlsxwriter.Workbook(str(part), options)
        quoted = workbook.add_format({"quote_prefix": True})
        try:
            for sheet_name, table in sheets.items():
                sheet = workbook.add_worksheet(sheet_name)
                sheet.freeze_panes(1, 0)
                row = written = 0
                for index, chunk in enumerate(batches(table, WRITE_CHUNK_ROWS)):
                    flat = flatten_for_spreadsheet(_excel_compatible(chunk.iloc[: max(limit - written, 0)]), formula_safe=False)
                    columns = _excel_columns(flat)
                    if index == 0:  # the header, and widths from it and the first 200 rows
                        header = [excel_text(str(column)) for column in flat.columns]
                        for position, column in enumerate(header):
                            sample = flat.iloc[:200, position].map(lambda v: len(str(v)) if v is not None else 0)
                            sheet.set_column(position, position, min(max(10, max([len(column), *sample.tolist()]) + 2), 60))
                        if header:
                            _write_row(sheet, 0, header, quoted)
                            row = 1
                    writers = [_cell_writer(sheet, quoted, text_only) for _, text_only in columns]
                    for values in zip(*(values for values, _ in columns), strict=True):
                        for column, (value, write) in enumerate(zip(values, writers, strict=True)):
                            if value is not None:
                                write(row, column, value)
                        row += 1
                    written += len(flat)
        finally:
            workbook.close()
    return path


def _write_row(sheet: Any, row: int, values: Sequence[Any], quoted: Any) -> None:
    for column, value in enumerate(values):
        if value is not None:
            _write_cell(sheet, row, column, value, quoted)


def _write_cell(sheet: Any, row: int, column: int, value: Any, quoted: Any) -> None:
    if isinstance(value, str):
        if value.startswith(FORMULA_PREFIXES):
            sheet.write_string(row, column, value, quoted)
        else:
            sheet.write_string(row, column, value)
    else:
        sheet.write(row, column, value)


def _excel_columns(flat: pd.DataFrame) -> list[tuple[list[Any], bool]]:
    """``flat``'s columns as worksheet values, each with whether it holds text only (``None`` or ``str``): missing
    values ``None``, numpy scalars as Python ones, infinities as text (Excel has none; pandas wrote "inf" too),
    other values of text-like columns as cleaned text (:func:`excel_text`, only for the values that need it: a
    column is searched once)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    columns = []
    for position in range(flat.shape[1]):
        series = flat.iloc[:, position]
        values = series.astype(object).where(series.notna(), None).tolist()
        if pd.api.types.is_float_dtype(series):
            values = [("inf" if value > 0 else "-inf") if value is not None and math.isinf(value) else value
                      for value in values]
        elif pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            values = [value.item() if isinstance(value, np.generic) else value for value in values]
        elif not pd.api.types.is_datetime64_any_dtype(series):  # text, categories, objects
            if all(value is None or type(value) is str for value in values):
                if ILLEGAL_CHARACTERS_RE.search("\n".join(value for value in values if value is not None)):
                    values = [None if value is None else excel_text(value) for value in values]
                columns.append((values, True))
                continue
            values = [_excel_value(value) for value in values]
        columns.append((values, False))
    return columns


def _cell_writer(sheet: Any, quoted: Any, text_only: bool) -> Callable[[int, int, Any], Any]:
    """How the cells of one column are written: a column of text only through ``write_string`` (formula-like
    text quote-prefixed), any other through :func:`_write_cell` (XlsxWriter's ``write`` picks by type)."""
    if text_only:
        write_string = sheet.write_string

        def text(row: int, column: int, value: str) -> Any:
            if value.startswith(FORMULA_PREFIXES):
                return write_string(row, column, value, quoted)
            return write_string(row, column, value)

        return text
    return lambda row, column, value: _write_cell(sheet, row, column, value, quoted)


def _excel_value(value: Any) -> Any:
    """A value of a text-like column as a worksheet takes it: text cleaned (:func:`excel_text`), numbers, dates
    and booleans as they are, anything else as its text."""
    if value is None or isinstance(value, (bool, int, float, datetime.date, datetime.time)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return excel_text(value if isinstance(value, str) else str(value))


def _notes_sheet_name(tables: Mapping[str, Table]) -> str:
    names = {name[:31] for name in tables}
    candidate = EXCEL_NOTES_SHEET
    while candidate in names:
        candidate = "_" + candidate
    return candidate


def _excel_compatible(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel cannot hold timezone-aware datetimes or pandas Period objects."""
    compatible = frame.copy()
    for column in compatible.columns:
        series = compatible[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            compatible[column] = series.dt.tz_localize(None)
        elif isinstance(series.dtype, pd.PeriodDtype):
            compatible[column] = series.astype(str)
    return compatible


def write_duckdb(tables: Mapping[str, Table], path: str | Path) -> Path:
    """Write every table into one DuckDB database file (tables replaced as a whole).

    Tables go in through Arrow with the Parquet writer's schema (:func:`nps_text.schema.arrow_schema`), so a
    column has the same type with or without rows (an empty ``keywords`` is ``VARCHAR[]``, never ``NULL``),
    :data:`WRITE_CHUNK_ROWS` rows at a time.
    """
    import duckdb
    import pyarrow as pa

    path = Path(path)
    with atomic_path(path) as part:
        part.unlink(missing_ok=True)  # duckdb refuses to open an empty non-database file
        connection = duckdb.connect(str(part))
        try:
            for name, frame in tables.items():
                if frame.shape[1] == 0:
                    continue
                schema = _arrow_schema(frame)
                for index, chunk in enumerate(batches(frame, WRITE_CHUNK_ROWS)):  # memory flat in the rows
                    connection.register("_frame", pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
                    target = f'CREATE TABLE "{name}" AS' if index == 0 else f'INSERT INTO "{name}"'
                    connection.execute(f"{target} SELECT * FROM _frame")
                    connection.unregister("_frame")
        finally:
            connection.close()
    return path


def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write a JSON document (UTF-8, indented) atomically."""
    path = Path(path)
    with atomic_path(path) as part:
        part.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file (UTF-8) atomically."""
    path = Path(path)
    with atomic_path(path) as part:
        part.write_text(text, encoding="utf-8")
    return path


def write_jsonl(frame: Table, path: str | Path) -> Path:
    """Write ``frame`` as JSON Lines (one object per row, UTF-8, ISO dates) atomically, :data:`WRITE_CHUNK_ROWS`
    rows at a time."""
    path = Path(path)
    with atomic_path(path) as part, open(part, "w", encoding="utf-8", newline="") as handle:
        for chunk in batches(frame, WRITE_CHUNK_ROWS):
            handle.write(chunk.to_json(orient="records", lines=True, force_ascii=False, date_format="iso"))
    return path


@dataclass(frozen=True)
class CsvOptions:
    """How CSV is written: ``delimiter`` (``;`` for German Excel) and a UTF-8 ``bom`` (Excel detects UTF-8 by it)."""

    delimiter: str = ","
    bom: bool = True


@dataclass(frozen=True)
class TableFormat:
    """One output format: its file ``suffix`` and how tables are written.

    ``per_table``: one file per table (``write`` gets a single table); else one file holds every table (a
    workbook with a sheet each, a database with a table each).
    """

    suffix: str
    write: Callable[[Mapping[str, Table], Path, CsvOptions], Path]
    per_table: bool


def _only(tables: Mapping[str, Table]) -> Table:
    (frame,) = tables.values()
    return frame


FORMATS: dict[str, TableFormat] = {
    "parquet": TableFormat(".parquet", lambda tables, path, _csv: write_parquet(_only(tables), path), per_table=True),
    "csv": TableFormat(
        ".csv", lambda tables, path, csv: write_csv(_only(tables), path, delimiter=csv.delimiter, bom=csv.bom),
        per_table=True,
    ),
    "jsonl": TableFormat(".jsonl", lambda tables, path, _csv: write_jsonl(_only(tables), path), per_table=True),
    "xlsx": TableFormat(".xlsx", lambda tables, path, _csv: write_excel(tables, path), per_table=False),
    "duckdb": TableFormat(".duckdb", lambda tables, path, _csv: write_duckdb(tables, path), per_table=False),
}
"""Format name -> its writer: the one map the run's outputs, :func:`write_table` and ``nps-text export`` use."""


def format_for(path: str | Path) -> str:
    """The format a file name asks for, by its suffix.

    Example:
        >>> format_for("themes.XLSX")
        'xlsx'

    Raises:
        InputError: no format has this suffix.
    """
    suffix = Path(path).suffix.lower()
    for name, table_format in FORMATS.items():
        if table_format.suffix == suffix:
            return name
    suffixes = ", ".join(table_format.suffix for table_format in FORMATS.values())
    raise InputError(f"cannot write {path}: use one of {suffixes}")


def write_tables(
    tables: Mapping[str, Table], fmt: str, target: Path, csv: CsvOptions | None = None
) -> list[Path]:
    """Write ``tables`` in format ``fmt``: into the folder ``target`` as ``<name><suffix>`` each for a per-table
    format, else into the one file ``target``."""
    table_format, csv = FORMATS[fmt], csv or CsvOptions()
    if not table_format.per_table:
        return [table_format.write(tables, target, csv)]
    return [table_format.write({name: frame}, target / f"{name}{table_format.suffix}", csv) for name, frame in tables.items()]


def write_table(frame: Table, path: str | Path) -> Path:
    """Write one table, format chosen by the file suffix (:data:`FORMATS`: ``.parquet .csv .jsonl .xlsx .duckdb``),
    atomically. CSV and Excel get the same formula safety as the pipeline's outputs; a workbook's sheet (a database's
    table) is named ``data``.

    Raises:
        InputError: no format has the file's suffix.
    """
    path = Path(path)
    return FORMATS[format_for(path)].write({"data": frame}, path, CsvOptions())
