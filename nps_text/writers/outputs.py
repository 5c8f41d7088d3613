"""A run's outputs: its tables in the configured formats (through :data:`~nps_text.writers.formats.FORMATS`) and
the HTML report, written into the run's staging folder (the manifest comes last, see
:func:`nps_text.writers.publish.publish`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from nps_text.writers.formats import FORMATS, CsvOptions, write_tables, write_text

if TYPE_CHECKING:
    from nps_text.config import PipelineConfig

RUN_BASENAME = "nps_text"
"""File name (without suffix) of the formats that hold every table in one file: ``nps_text.xlsx``, ``nps_text.duckdb``."""
ALWAYS_PARQUET = ("responses", "rejected")
"""Tables written as Parquet whatever ``output.formats`` says: ``nps-text report`` and ``export`` read them back."""


def write_outputs(
    tables: dict[str, pd.DataFrame], manifest: dict[str, Any], config: PipelineConfig, out: Path
) -> list[Path]:
    """Write tables in the configured formats and the HTML report into ``out`` (the manifest comes last).

    Per-table formats first (one file per table, table by table), then the formats that hold every table in one
    file (``nps_text.xlsx``, ``nps_text.duckdb``), then ``report.html``. In a run ``out`` is the staging folder;
    :func:`nps_text.writers.publish.publish` moves the files into place.
    """
    out.mkdir(parents=True, exist_ok=True)
    formats = set(config.output.formats)
    csv = CsvOptions(delimiter=config.output.csv_delimiter, bom=config.output.csv_bom)
    per_table = [name for name, table_format in FORMATS.items() if table_format.per_table]
    written: list[Path] = []
    for table, frame in tables.items():
        for fmt in per_table:
            if fmt in formats or (fmt == "parquet" and table in ALWAYS_PARQUET):
                written += write_tables({table: frame}, fmt, out, csv)
    for fmt, table_format in FORMATS.items():
        if not table_format.per_table and fmt in formats:
            written += write_tables(tables, fmt, out / f"{RUN_BASENAME}{table_format.suffix}", csv)
    if config.report.enabled:
        from nps_text.report import render_report

        written.append(write_text(render_report(tables, manifest, config.report), out / "report.html"))
    return written
