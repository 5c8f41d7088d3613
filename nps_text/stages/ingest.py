"""Ingest: read the export (CSV, Excel, Parquet, JSON Lines or a SQL query) into a frame of text cells."""

from __future__ import annotations

from nps_text.config import InputConfig
from nps_text.ingest import RawInput, read_input
from nps_text.stages.edges import RunEdges


def run(inputs: str, section: InputConfig, edges: RunEdges | None = None) -> RawInput:
    """The export at ``inputs`` (a path, or a SQLAlchemy URL with its password put back), read per ``section``."""
    return read_input(inputs, section)
