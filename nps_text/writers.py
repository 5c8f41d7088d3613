"""Writers: the only place (with ingest) that touches files.

Every file is written atomically: to a temporary file in the target folder, then renamed over the
target with :func:`os.replace`, so a crash never leaves a half-written table behind.
Spreadsheet outputs are made safe against formula injection (the OWASP "CSV injection" advice): a text cell
that starts with ``= + - @`` (or a tab / carriage return) is, in CSV, prefixed with a single quote ``'``; in
Excel it keeps its value and is stored as a string cell with the quote-prefix style, so Excel shows it as
text and never executes it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success rename it over ``target``.

    Example:
        >>> with atomic_path(tmp / "table.csv") as part:  # doctest: +SKIP
        ...     frame.to_csv(part)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        # mkstemp creates 0600 files; give the output the permissions a normal write would (umask).
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def flatten_for_spreadsheet(frame: pd.DataFrame, *, formula_safe: bool = True) -> pd.DataFrame:
    """A copy with list/array cells joined by ``" | "`` and (by default) every text cell made formula-safe."""
    flat = frame.copy()
    for column in flat.columns:
        series = flat[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            values = [_flatten_cell(value) for value in series.tolist()]
            if formula_safe:
                values = [spreadsheet_safe(value) for value in values]
            flat[column] = pd.Series(values, index=flat.index, dtype=object)
    return flat


def _flatten_cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return " | ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to Parquet atomically."""
    path = Path(path)
    with atomic_path(path) as part:
        frame.to_parquet(part, index=False)
    return path


def write_csv(frame: pd.DataFrame, path: str | Path, *, delimiter: str = ",", bom: bool = True) -> Path:
    """Write ``frame`` as formula-safe CSV (UTF-8, with BOM by default so Excel detects the encoding)."""
    path = Path(path)
    with atomic_path(path) as part:
        flatten_for_spreadsheet(frame).to_csv(
            part, index=False, sep=delimiter, encoding="utf-8-sig" if bom else "utf-8", lineterminator="\n"
        )
    return path


def write_excel(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write one sheet per table: frozen header row, readable widths, text cells never formulas.

    Unlike CSV, a workbook can say "this is text" itself: a cell that starts with ``= + - @`` keeps its value
    unchanged and is stored as a string with Excel's quote-prefix style, so Excel shows it and never runs it.
    """
    from openpyxl.utils import get_column_letter

    path = Path(path)
    with atomic_path(path) as part, pd.ExcelWriter(part, engine="openpyxl") as writer:
        for name, frame in tables.items():
            sheet_name = name[:31]
            flat = flatten_for_spreadsheet(_excel_compatible(frame), formula_safe=False)
            flat.to_excel(writer, sheet_name=sheet_name, index=False)
            sheet = writer.sheets[sheet_name]
            sheet.freeze_panes = "A2"
            for index, column in enumerate(flat.columns, start=1):
                sample = flat[column].head(200).map(lambda v: len(str(v)) if v is not None else 0)
                longest = max([len(str(column)), *sample.tolist()]) if len(flat) else len(str(column))
                sheet.column_dimensions[get_column_letter(index)].width = min(max(10, longest + 2), 60)
            # openpyxl turns any string starting with "=" into a formula: store it as quoted text instead.
            for row in sheet.iter_rows(min_row=2):
                for cell in row:
                    if isinstance(cell.value, str) and (cell.data_type == "f" or cell.value.startswith(FORMULA_PREFIXES)):
                        cell.data_type = "s"
                        cell.quotePrefix = True
    return path


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


def write_duckdb(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write every table into one DuckDB database file (tables replaced as a whole)."""
    import duckdb

    path = Path(path)
    with atomic_path(path) as part:
        part.unlink(missing_ok=True)  # duckdb refuses to open an empty non-database file
        connection = duckdb.connect(str(part))
        try:
            for name, frame in tables.items():
                if frame.shape[1] == 0:
                    continue
                connection.register("_frame", frame)
                connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _frame')
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


TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx", ".jsonl")


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write one table, format chosen by the file suffix (``.csv .parquet .xlsx .jsonl``), atomically.

    CSV and Excel get the same formula safety as the pipeline's outputs.

    Raises:
        InputError: the suffix is not one of :data:`TABLE_SUFFIXES`.
    """
    from nps_text.errors import InputError

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return write_csv(frame, path)
    if suffix == ".parquet":
        return write_parquet(frame, path)
    if suffix == ".xlsx":
        return write_excel({"data": frame}, path)
    if suffix == ".jsonl":
        with atomic_path(path) as part:
            frame.to_json(part, orient="records", lines=True, force_ascii=False, date_format="iso")
        return path
    raise InputError(f"cannot write {path}: use one of {', '.join(TABLE_SUFFIXES)}")
