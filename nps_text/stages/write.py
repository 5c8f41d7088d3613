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
from nps_text.table_view import Table
from nps_text.writers import write_outputs


@dataclass
class WriteInputs:
    """The run's tables by name and its manifest so far (the report shows parts of it)."""

    tables: dict[str, Table]
    manifest: dict[str, Any]


def run(inputs: WriteInputs, section: PipelineConfig, edges: RunEdges) -> list[Path]:
    """:func:`nps_text.writers.write_outputs` into the edges' staging folder; ``section`` is the whole config (its ``output``
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
