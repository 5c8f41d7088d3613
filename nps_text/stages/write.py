"""Write: the tables in the configured formats and the HTML report, into the run's staging folder.

An output whose content would not change (the published run recorded the same digest of what it is built from,
:func:`nps_text.writers.outputs.output_digests`) is carried over from the published folder instead of written again,
unless ``output.keep_unchanged`` is off or the run is forced. The manifest comes last (:mod:`nps_text.manifest`);
:func:`nps_text.writers.publish` moves the files into place.
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
from nps_text.writers import output_digests, unchanged_outputs, write_outputs


@dataclass
class WriteInputs:
    """The run's tables by name, its manifest so far (the report shows parts of it) and whether unchanged
    outputs may be carried over (``False``: a forced run writes everything)."""

    tables: dict[str, Table]
    manifest: dict[str, Any]
    keep_unchanged: bool = True


@dataclass
class Written:
    """The files in the staging folder, the digest of what each is built from (by file name), and the names carried
    over unchanged from the published folder."""

    paths: list[Path]
    digests: dict[str, str]
    kept: list[str]


def run(inputs: WriteInputs, section: PipelineConfig, edges: RunEdges) -> Written:
    """:func:`nps_text.writers.write_outputs` into the edges' staging folder, keeping the published outputs whose
    digest did not change; ``section`` is the whole config (its ``output`` and ``report`` sections)."""
    digests = output_digests(inputs.tables, inputs.manifest, section)
    keep = unchanged_outputs(edges.out, digests) if inputs.keep_unchanged and section.output.keep_unchanged else []
    paths = write_outputs(inputs.tables, inputs.manifest, section, edges.staging, keep=keep, published=edges.out)
    return Written(paths, digests, keep)


def order_responses(responses: pd.DataFrame) -> pd.DataFrame:
    """The responses table as written: contract columns first, then date/period, then the passthrough columns
    in input order."""
    responses = check_table(responses, "responses", stage="themes")
    leading = list(RESPONSES_COLUMNS) + [
        column for column in ("comment_truncated", "date", "period") if column in responses.columns
    ]
    rest = [column for column in responses.columns if column not in leading]
    return responses[leading + rest]
