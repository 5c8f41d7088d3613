"""Write: the tables in the configured formats and the HTML report, into the run's staging folder.

The manifest comes last (:mod:`nps_text.manifest`); :func:`nps_text.writers.publish` moves the files into place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nps_text.config import PipelineConfig
from nps_text.schema import RESPONSES_COLUMNS, check_table
from nps_text.stages.edges import RunEdges
from nps_text.writers import write_csv, write_duckdb, write_excel, write_parquet, write_text


@dataclass
class WriteInputs:
    """The run's tables by name and its manifest so far (the report shows parts of it)."""

    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]


def run(inputs: WriteInputs, section: PipelineConfig, edges: RunEdges) -> list[Path]:
    """:func:`write_outputs` into the edges' staging folder; ``section`` is the whole config (its ``output``
    and ``report`` sections)."""
    return write_outputs(inputs.tables, inputs.manifest, section, edges.staging)


def order_responses(responses: pd.DataFrame) -> pd.DataFrame:
    """The responses table as written: contract columns first, then date/period, then the passthrough columns
    in input order."""
    responses = check_table(responses, "responses", stage="themes")
    leading = list(RESPONSES_COLUMNS) + [
        column for column in ("comment_truncated", "date", "period") if column in responses.columns
    ]
    rest = [column for column in responses.columns if column not in leading]
    return responses[leading + rest]


def write_outputs(tables: dict[str, pd.DataFrame], manifest: dict[str, Any], config: PipelineConfig, out: Path) -> list[Path]:
    """Write tables in the configured formats and the HTML report into ``out`` (the manifest comes last).

    In a run ``out`` is the staging folder; :func:`nps_text.writers.publish` moves the files into place.
    """
    out.mkdir(parents=True, exist_ok=True)
    formats = set(config.output.formats)
    written: list[Path] = []
    for name, frame in tables.items():
        if "parquet" in formats or name in ("responses", "rejected"):
            written.append(write_parquet(frame, out / f"{name}.parquet"))
        if "csv" in formats:
            written.append(write_csv(frame, out / f"{name}.csv", delimiter=config.output.csv_delimiter, bom=config.output.csv_bom))
    if "xlsx" in formats:
        written.append(write_excel(tables, out / "nps_text.xlsx"))
    if "duckdb" in formats:
        written.append(write_duckdb(tables, out / "nps_text.duckdb"))
    if config.report.enabled:
        from nps_text.report import render_report

        written.append(write_text(render_report(tables, manifest, config.report), out / "report.html"))
    return written
