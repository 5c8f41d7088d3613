"""Exports for analysts: a run folder's Parquet tables as Excel, CSV, Parquet or DuckDB.

The file writing itself is the writers' map of formats, :data:`nps_text.writers.formats.FORMATS`, the same
the run uses (atomic writes; spreadsheet formula safety: a text cell starting with ``= + - @``, tab or carriage
return gets a leading ``'`` in CSV and is stored as quote-prefixed text in Excel, so it is shown as text and
never executed; list cells are joined with `` | ``; a table longer than a worksheet is cut in the workbook and
listed on its ``notes`` sheet). This module decides what goes where.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import pandas as pd

from nps_text.errors import InputError

if TYPE_CHECKING:
    from nps_text.config import OutputFormat
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
    fmt: OutputFormat,
    out: Path | None = None,
    *,
    csv_delimiter: str = ",",
    csv_bom: bool = True,
) -> list[Path]:
    """Write a run folder's tables in ``fmt`` and return the files written.

    - ``xlsx``: one workbook, one sheet per table, frozen header row, readable column widths, no cell
      that Excel would run as a formula; a table longer than a worksheet is cut there, and the workbook's
      ``notes`` sheet says what was left out (as in a run's ``nps_text.xlsx``). ``out`` is the file (default
      ``RUN_DIR/export/nps_tables.xlsx``).
    - ``duckdb``: one database file with one table per Parquet file (default ``.../nps_tables.duckdb``).
    - ``csv``: one file per table in the folder ``out`` (default ``RUN_DIR/export``), UTF-8 with a BOM by
      default; use ``csv_delimiter=";"`` for German Excel.
    - ``parquet``: one file per table in the folder ``out``.

    For ``xlsx`` and ``duckdb`` an ``out`` without a file suffix is taken as a folder.

    Raises:
        InputError: No such run folder, no tables, or an unknown format or CSV delimiter.

    Example:
        >>> export_run(Path("out/sample"), "xlsx")  # doctest: +SKIP
        [PosixPath('out/sample/export/nps_tables.xlsx')]
    """
    from nps_text.config import CSV_DELIMITERS, OutputFormat
    from nps_text.writers import FORMATS, CsvOptions, excel_truncations, write_tables

    if fmt not in get_args(OutputFormat):  # the formats a run can write (``output.formats``)
        raise InputError(f"unknown export format {fmt!r}; choose one of {list(get_args(OutputFormat))}")
    if csv_delimiter not in CSV_DELIMITERS:
        raise InputError(f"CSV delimiter {csv_delimiter!r} is not one of {list(CSV_DELIMITERS)}")
    run_dir = Path(run_dir)
    tables, _manifest = load_run(run_dir)
    default_folder = run_dir / "export"
    csv = CsvOptions(delimiter=csv_delimiter, bom=csv_bom)
    if fmt == "xlsx" and (truncated := excel_truncations(tables)):
        logging.getLogger(__name__).warning(
            "the workbook holds only the first rows of: %s (see its notes sheet)", ", ".join(truncated)
        )
    if not FORMATS[fmt].per_table:
        return write_tables(tables, fmt, _single_file_target(out, default_folder, fmt), csv)
    folder = Path(out) if out is not None else default_folder
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder} is a file; for {fmt} it must be a folder")
    return write_tables(tables, fmt, folder, csv)


def _single_file_target(out: Path | None, default_folder: Path, fmt: str) -> Path:
    if out is None:
        return default_folder / f"{EXPORT_BASENAME}.{fmt}"
    out = Path(out)
    if out.is_dir() or not out.suffix:
        return out / f"{EXPORT_BASENAME}.{fmt}"
    return out
