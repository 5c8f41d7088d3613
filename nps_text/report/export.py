"""Exports for analysts: a run folder's Parquet tables as Excel, CSV, Parquet or DuckDB.

The file writing itself is :mod:`nps_text.writers` (atomic writes; spreadsheet formula safety: a text
cell starting with ``= + - @``, tab or carriage return gets a leading ``'`` in CSV and is stored as
quote-prefixed text in Excel, so it is shown as text and never executed; list cells are joined with
`` | ``). This module decides what goes where.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from nps_text.errors import InputError

ExportFormat = Literal["xlsx", "csv", "parquet", "duckdb"]
EXPORT_FORMATS: tuple[str, ...] = ("xlsx", "csv", "parquet", "duckdb")
EXCEL_MAX_ROWS = 1_048_575  # one row of the sheet is the header
EXPORT_BASENAME = "nps_tables"

# Tables in the order analysts look at them; any other table in the run folder follows alphabetically.
TABLE_ORDER: tuple[str, ...] = (
    "responses",
    "improvement_areas",
    "follow_up",
    "themes",
    "nps_summary",
    "nps_changes",
    "sentences",
    "rejected",
)


def load_run(run_dir: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Read a run folder back: every ``*.parquet`` as a table named by its stem, and ``manifest.json``.

    Raises:
        InputError: The folder does not exist or holds no Parquet tables.

    Example:
        >>> tables, manifest = load_run("out/sample")  # doctest: +SKIP
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise InputError(f"run folder not found: {folder} (pass the --out folder of `nps-text run`)")
    paths = sorted(folder.glob("*.parquet"))
    if not paths:
        raise InputError(f"no *.parquet tables in {folder}; is it the --out folder of `nps-text run`?")
    tables: dict[str, pd.DataFrame] = {}
    for path in sorted(paths, key=lambda p: _table_rank(p.stem)):
        try:
            tables[path.stem] = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise InputError(f"cannot read table {path}: {exc}") from exc
    manifest: dict[str, Any] = {}
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        try:
            loaded = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{manifest_path} is not valid JSON: {exc}") from exc
        if isinstance(loaded, dict):
            manifest = loaded
    return tables, manifest


def _table_rank(name: str) -> tuple[int, str]:
    return (TABLE_ORDER.index(name) if name in TABLE_ORDER else len(TABLE_ORDER), name)


def export_run(
    run_dir: Path,
    fmt: ExportFormat,
    out: Path | None = None,
    *,
    csv_delimiter: str = ",",
    csv_bom: bool = True,
) -> list[Path]:
    """Write a run folder's tables in ``fmt`` and return the files written.

    - ``xlsx``: one workbook, one sheet per table, frozen header row, readable column widths, no cell
      that Excel would run as a formula. ``out`` is the file (default ``RUN_DIR/export/nps_tables.xlsx``).
    - ``duckdb``: one database file with one table per Parquet file (default ``.../nps_tables.duckdb``).
    - ``csv``: one file per table in the folder ``out`` (default ``RUN_DIR/export``), UTF-8 with a BOM by
      default; use ``csv_delimiter=";"`` for German Excel.
    - ``parquet``: one file per table in the folder ``out``.

    For ``xlsx`` and ``duckdb`` an ``out`` without a file suffix is taken as a folder.

    Raises:
        InputError: No such run folder, no tables, or a table too long for an Excel sheet.

    Example:
        >>> export_run(Path("out/sample"), "xlsx")  # doctest: +SKIP
        [PosixPath('out/sample/export/nps_tables.xlsx')]
    """
    from nps_text import writers

    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose one of {list(EXPORT_FORMATS)}")
    if csv_delimiter not in (",", ";", "\t", "|"):
        raise InputError(f"CSV delimiter {csv_delimiter!r} is not one of [',', ';', '\\t', '|']")
    run_dir = Path(run_dir)
    tables, _manifest = load_run(run_dir)
    default_folder = run_dir / "export"

    if fmt in ("xlsx", "duckdb"):
        target = _single_file_target(out, default_folder, fmt)
        if fmt == "xlsx":
            too_long = {name: len(frame) for name, frame in tables.items() if len(frame) > EXCEL_MAX_ROWS}
            if too_long:
                raise InputError(
                    f"table(s) {too_long} have more rows than an Excel sheet holds ({EXCEL_MAX_ROWS}); "
                    "export as csv, parquet or duckdb instead"
                )
            return [writers.write_excel(tables, target)]
        return [writers.write_duckdb(tables, target)]

    folder = Path(out) if out is not None else default_folder
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder} is a file; for {fmt} it must be a folder")
    written = []
    for name, frame in tables.items():
        if fmt == "csv":
            written.append(writers.write_csv(frame, folder / f"{name}.csv", delimiter=csv_delimiter, bom=csv_bom))
        else:
            written.append(writers.write_parquet(frame, folder / f"{name}.parquet"))
    return written


def _single_file_target(out: Path | None, default_folder: Path, fmt: str) -> Path:
    if out is None:
        return default_folder / f"{EXPORT_BASENAME}.{fmt}"
    out = Path(out)
    if out.is_dir() or not out.suffix:
        return out / f"{EXPORT_BASENAME}.{fmt}"
    return out
