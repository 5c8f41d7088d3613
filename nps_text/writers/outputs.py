"""A run's outputs: its tables in the configured formats (through :data:`~nps_text.writers.formats.FORMATS`) and
the HTML report, written into the run's staging folder (the manifest comes last, see
:func:`nps_text.writers.publish.publish`).

Each output has a digest of what it is built from (:func:`output_digests`: its tables, its settings, the code and
library versions; for the report also the manifest's facts it shows). An output whose digest the published run
recorded is carried over from the published folder instead of written again (``keep`` in :func:`write_outputs`):
the report and the workbook are the slow writers, and a re-run that changed no table rewrites neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nps_text.table_view import Table, TableView, batches
from nps_text.writers.formats import FORMATS, WRITE_CHUNK_ROWS, CsvOptions, write_tables, write_text
from nps_text.writers.publish import keep_published

if TYPE_CHECKING:
    from nps_text.config import PipelineConfig

RUN_BASENAME = "nps_text"
"""File name (without suffix) of the formats that hold every table in one file: ``nps_text.xlsx``, ``nps_text.duckdb``."""
ALWAYS_PARQUET = ("responses", "rejected")
"""Tables written as Parquet whatever ``output.formats`` says: ``nps-text report`` and ``export`` read them back."""
REPORT = "report.html"
_RUN_SPECIFIC = frozenset({"started_at", "cache", "loaded", "seconds", "texts"})
"""Keys of the report's manifest facts (at any depth) that differ between two runs with the same results: not part of
its digest, so a kept report shows the start time and cache counts of the run that wrote it."""


@dataclass(frozen=True)
class Output:
    """One output file: its ``name``, its ``fmt`` (a key of ``FORMATS``, or ``"report"``) and the tables it holds."""

    name: str
    fmt: str
    tables: tuple[str, ...]


def planned_outputs(tables: Collection[str], config: PipelineConfig) -> list[Output]:
    """The outputs a run writes, in order: per-table formats table by table, then the formats that hold every
    table in one file (``nps_text.xlsx``, ``nps_text.duckdb``), then ``report.html``."""
    formats = set(config.output.formats)
    plan = [
        Output(f"{table}{table_format.suffix}", fmt, (table,))
        for table in tables
        for fmt, table_format in FORMATS.items()
        if table_format.per_table and (fmt in formats or (fmt == "parquet" and table in ALWAYS_PARQUET))
    ]
    plan += [Output(f"{RUN_BASENAME}{table_format.suffix}", fmt, tuple(tables))
             for fmt, table_format in FORMATS.items() if not table_format.per_table and fmt in formats]
    if config.report.enabled:
        plan.append(Output(REPORT, "report", tuple(tables)))
    return plan


def write_outputs(
    tables: Mapping[str, Table], manifest: dict[str, Any], config: PipelineConfig, out: Path,
    *, keep: Collection[str] = (), published: Path | None = None,
) -> list[Path]:
    """Write tables in the configured formats and the HTML report into ``out`` (the manifest comes last), in the
    order of :func:`planned_outputs`.

    In a run ``out`` is the staging folder; :func:`nps_text.writers.publish.publish` moves the files into place.
    The outputs named in ``keep`` (see :func:`nps_text.writers.publish.unchanged_outputs`) are not written: their
    published file in ``published`` is linked into ``out`` unchanged.
    """
    out.mkdir(parents=True, exist_ok=True)
    csv = CsvOptions(delimiter=config.output.csv_delimiter, bom=config.output.csv_bom)
    written: list[Path] = []
    for output in planned_outputs(tables, config):
        if output.name in keep and published is not None:
            written.append(keep_published(published, out, output.name))
        elif output.fmt == "report":
            from nps_text.report import render_report

            written.append(write_text(render_report(tables, manifest, config.report), out / REPORT))
        else:
            chosen = {name: tables[name] for name in output.tables}
            written += write_tables(chosen, output.fmt, out if FORMATS[output.fmt].per_table else out / output.name, csv)
    return written


def output_digests(tables: Mapping[str, Table], manifest: Mapping[str, Any], config: PipelineConfig) -> dict[str, str]:
    """Per output file of :func:`planned_outputs`: a digest of what it is built from (its tables' content, its
    format and settings, the nps-text code and library versions of ``manifest["fingerprint"]``; for the report
    also its settings and the manifest facts it shows, :func:`nps_text.report.manifest_facts`, but for what differs
    from run to run: start time, cache counts)."""
    from nps_text.report import manifest_facts

    table_digests = {name: table_digest(frame) for name, frame in tables.items()}
    fingerprint = manifest.get("fingerprint") or {}
    settings: dict[str, Any] = {
        "csv": {"delimiter": config.output.csv_delimiter, "bom": config.output.csv_bom},
        "report": {"config": config.report.model_dump(mode="json"), "manifest": _lasting(manifest_facts(manifest))},
    }
    digests = {}
    for output in planned_outputs(tables, config):
        parts = {"code": [fingerprint.get("nps_text"), fingerprint.get("libraries")], "format": output.fmt,
                 "tables": [[name, table_digests[name]] for name in output.tables],
                 "settings": settings.get(output.fmt)}
        digests[output.name] = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digests


def table_digest(frame: Table) -> str:
    """sha256 of the table (a frame or a :class:`~nps_text.table_view.TableView`) as an Arrow IPC stream (schema,
    column names and types, values), converted :data:`~nps_text.writers.formats.WRITE_CHUNK_ROWS` rows at a time
    (memory flat in the rows)."""
    import pyarrow as pa

    from nps_text.schema import arrow_schema

    sink = _HashSink()
    schema = arrow_schema(frame.head(WRITE_CHUNK_ROWS) if isinstance(frame, TableView) else frame)
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), schema) as stream:
        for chunk in batches(frame, WRITE_CHUNK_ROWS):
            if len(chunk):
                stream.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
    return sink.digest.hexdigest()


class _HashSink:
    """A write-only file object that hashes what is written to it."""

    closed = False

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _lasting(value: Any) -> Any:
    """``value`` (manifest facts) without the keys in :data:`_RUN_SPECIFIC`, at any depth."""
    if isinstance(value, Mapping):
        return {key: _lasting(item) for key, item in value.items() if key not in _RUN_SPECIFIC}
    if isinstance(value, list):
        return [_lasting(item) for item in value]
    return value
