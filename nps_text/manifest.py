"""The run manifest (``manifest.json``): what was read, with which config and models, how many rows went
where, how long each stage took, what was written. Its contract is :class:`Manifest`; :func:`write` checks
every manifest against it before writing.

Order in a run (:func:`nps_text.flow.run_pipeline`): :func:`build` after the stages, the write stage's files,
then the database and alerts status, :func:`finish` (outputs, finish time) and :func:`write` (last: a reader
sees a manifest only when everything else is in place).

The run's ``run_id``, ``fingerprint`` and the records of its files and state (``files``, ``state``: size and
modification time, plus for each output the digest of what it is built from) let the next run into the same
folder find it up to date (:mod:`nps_text.freshness`) or keep its unchanged outputs (:mod:`nps_text.stages.write`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, NonNegativeInt, ValidationError, model_validator

from nps_text import __version__
from nps_text.config import PipelineConfig
from nps_text.errors import SchemaError
from nps_text.schema import COMMENT_STATUSES
from nps_text.stages.edges import RunEdges
from nps_text.stages.nps import NpsTables
from nps_text.stages.validate import ValidatedInput
from nps_text.stages.write import Written
from nps_text.writers import excel_truncations, file_record, write_json

FILE = "manifest.json"


class InputRecord(BaseModel):
    """The input: the path as given (a database URL without password), its content hash, its format, and
    what the reader found out (encoding, delimiter, sheet, ...)."""

    model_config = ConfigDict(extra="allow")

    path: str
    sha256: str
    format: str


class Manifest(BaseModel):
    """The contract of ``manifest.json`` (the design's table contracts: "run" row)."""

    model_config = ConfigDict(extra="forbid")

    nps_text_version: str
    run_id: str | None = None
    fingerprint: dict[str, str] | None = None
    started_at: AwareDatetime
    input: InputRecord
    column_mapping: dict[str, Any]
    privacy: dict[str, dict[str, Any]]
    segments: list[str]
    config: dict[str, Any]
    models: dict[str, Any]
    rows_in: NonNegativeInt
    rows_valid: NonNegativeInt
    rows_rejected: NonNegativeInt
    dates_unparsed: NonNegativeInt
    comment_status: dict[str, NonNegativeInt]
    comments_truncated: NonNegativeInt
    timings_s: dict[str, float]
    database: dict[str, Any] | None
    alerts: list[dict[str, Any]]
    xlsx_truncated: dict[str, dict[str, int]] | None = None
    outputs: list[str]
    files: dict[str, dict[str, Any]] | None = None
    state: dict[str, dict[str, int]] | None = None
    finished_at: AwareDatetime

    @model_validator(mode="after")
    def _accounted(self) -> Manifest:
        if self.rows_in != self.rows_valid + self.rows_rejected:
            raise ValueError(f"rows_in {self.rows_in} != rows_valid {self.rows_valid} + rows_rejected {self.rows_rejected}")
        if set(self.comment_status) != set(COMMENT_STATUSES) or sum(self.comment_status.values()) != self.rows_valid:
            raise ValueError(f"comment_status {self.comment_status} must count every valid row once, by {COMMENT_STATUSES}")
        if not self.outputs or self.outputs[-1] != FILE:
            raise ValueError(f"outputs must end with {FILE} (written last), got {self.outputs}")
        if self.files is not None and set(self.files) != set(self.outputs[:-1]):
            raise ValueError(f"files must record every output but {FILE}, got {sorted(self.files)}")
        return self


def build(
    raw_input: dict[str, Any], validated: ValidatedInput, nps_tables: NpsTables, responses: pd.DataFrame,
    config: PipelineConfig, edges: RunEdges, started: datetime, fingerprint: dict[str, str],
) -> dict[str, Any]:
    """The manifest after the stages (the report shows parts of it; outputs come with :func:`finish`)."""
    return {
        "nps_text_version": __version__,
        "run_id": edges.run_id,
        "fingerprint": fingerprint,
        "started_at": started.isoformat(),
        "input": raw_input,
        "column_mapping": validated.mapping.as_dict(),
        "privacy": validated.privacy,
        "segments": nps_tables.segments,
        "config": config.model_dump(mode="json"),
        "models": models_record(edges),
        **row_counts(validated, responses),
        "timings_s": edges.timings,
    }


def models_record(edges: RunEdges) -> dict[str, Any]:
    """The manifest's ``models``: sentiment and themes models, the encoders used, the cache's hits/misses."""
    models = dict(edges.models)
    used = {name: info for name, info in edges.chunks.embeddings.items() if info.get("version") is not None}
    if used:
        models["embeddings"] = used
        edges.timings["embeddings"] = round(sum(float(info["seconds"]) for info in used.values()), 3)
    if edges.store is not None:
        counts = edges.chunks.cache
        for kind, stats in edges.store.stats().items():  # the comments stage's languages, in this process
            merged = counts.setdefault(kind, {"hits": 0, "misses": 0})
            merged["hits"] += stats["hits"]
            merged["misses"] += stats["misses"]
        models["cache"] = {"path": str(edges.store.path), **dict(sorted(counts.items()))}
    return models


def comment_counts(responses: pd.DataFrame) -> dict[str, int]:
    """Responses per comment status (every status present, zero if none)."""
    counts = responses["comment_status"].value_counts()
    return {status: int(counts.get(status, 0)) for status in COMMENT_STATUSES}


def row_counts(validated: ValidatedInput, responses: pd.DataFrame) -> dict[str, Any]:
    """The manifest's row counts."""
    return {
        "rows_in": validated.rows_in,
        "rows_valid": len(responses),
        "rows_rejected": len(validated.rejected),
        "dates_unparsed": validated.info.dates_unparsed,
        "comment_status": comment_counts(responses),
        "comments_truncated": int(responses["comment_truncated"].sum()) if "comment_truncated" in responses else 0,
    }


def finish(
    manifest: dict[str, Any], written: Written, tables: dict[str, pd.DataFrame], config: PipelineConfig,
    state: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """``manifest`` with the tables cut short in the workbook (``xlsx_truncated``), the ``outputs`` (the
    manifest last), their ``files`` records (size, modification time and the digest of what each is built from,
    taken in the staging folder: publishing renames keep them), the ``state`` records
    (:func:`nps_text.freshness.state_records`) and ``finished_at``."""
    if "xlsx" in set(config.output.formats):
        truncated = excel_truncations(tables)
        if truncated:
            manifest["xlsx_truncated"] = truncated
    manifest["outputs"] = [*sorted(path.name for path in written.paths), FILE]
    manifest["files"] = {path.name: {**(file_record(path) or {}), "inputs": written.digests.get(path.name)}
                         for path in sorted(written.paths)}
    manifest["state"] = state
    manifest["finished_at"] = datetime.now(UTC).isoformat()
    return manifest


def check(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` itself when it keeps the :class:`Manifest` contract.

    Raises:
        SchemaError: every way it breaks the contract (a bug: the flow writes what this module builds).
    """
    try:
        Manifest.model_validate(manifest)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(part) for part in error['loc']) or 'manifest'}: {error['msg']}"
                             for error in exc.errors())
        raise SchemaError(f"the run manifest breaks its contract: {problems}") from None
    return manifest


def write(manifest: dict[str, Any], folder: Path) -> Path:
    """Check ``manifest`` (:func:`check`) and write it atomically as ``folder/manifest.json``."""
    return write_json(check(manifest), folder / FILE)
