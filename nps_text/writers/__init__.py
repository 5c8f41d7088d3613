"""Writers: the only place (with :mod:`nps_text.ingest`) that touches files.

- :mod:`~nps_text.writers.formats`: one writer per output format (:data:`FORMATS`: Parquet, CSV, JSON Lines,
  xlsx, DuckDB), formula-safe spreadsheets, and the one policy for tables longer than a worksheet
  (:data:`EXCEL_MAX_ROWS`: cut, with a ``notes`` sheet).
- :mod:`~nps_text.writers.publish`: the publish cycle: atomic writes, the locked output folder, the staging
  folder and the renames that publish a run.
- :mod:`~nps_text.writers.outputs`: a run's outputs in the configured formats, plus the report, and the digest of
  what each output is built from (an unchanged output is carried over, not written again).
"""

from __future__ import annotations

from nps_text.writers.formats import (
    EXCEL_MAX_ROWS,
    FORMATS,
    FORMULA_PREFIXES,
    WRITE_CHUNK_ROWS,
    CsvOptions,
    TableFormat,
    excel_text,
    excel_truncations,
    flatten_for_spreadsheet,
    format_for,
    spreadsheet_safe,
    write_csv,
    write_duckdb,
    write_excel,
    write_json,
    write_jsonl,
    write_parquet,
    write_table,
    write_tables,
    write_text,
)
from nps_text.writers.outputs import output_digests, write_outputs
from nps_text.writers.publish import (
    LOCK_FILE,
    STAGING_PREFIX,
    STATE_DIR,
    OutputBusyError,
    atomic_path,
    clean_stale,
    file_record,
    keep_published,
    output_folder,
    prepare_state,
    publish,
    unchanged_outputs,
)

__all__ = [
    "EXCEL_MAX_ROWS",
    "FORMATS",
    "FORMULA_PREFIXES",
    "LOCK_FILE",
    "STAGING_PREFIX",
    "STATE_DIR",
    "WRITE_CHUNK_ROWS",
    "CsvOptions",
    "OutputBusyError",
    "TableFormat",
    "atomic_path",
    "clean_stale",
    "excel_text",
    "excel_truncations",
    "file_record",
    "flatten_for_spreadsheet",
    "format_for",
    "keep_published",
    "output_digests",
    "output_folder",
    "prepare_state",
    "publish",
    "spreadsheet_safe",
    "unchanged_outputs",
    "write_csv",
    "write_duckdb",
    "write_excel",
    "write_json",
    "write_jsonl",
    "write_outputs",
    "write_parquet",
    "write_table",
    "write_tables",
    "write_text",
]
