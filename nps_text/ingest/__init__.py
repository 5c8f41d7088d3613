"""Ingest: read a survey export into a raw table of text values. The only package (with the writers) that
touches input files.

One module per input format, each reading into the shared table builder (:mod:`nps_text.ingest.table`):
:mod:`~nps_text.ingest.csv` (delimiter ``, ; TAB |`` detected, encoding detected by :mod:`nps_text.decoding`,
quoted multi-line fields, mixed line endings), :mod:`~nps_text.ingest.excel` (``.xlsx``/``.xlsm``, cached formula
values), :mod:`~nps_text.ingest.parquet`, :mod:`~nps_text.ingest.jsonl` (JSON Lines, or one JSON array), and
:mod:`~nps_text.ingest.sql`: a read-only query (:mod:`~nps_text.ingest.sql_guard`) through a SQLAlchemy URL
(``sqlite:///survey.db`` plus ``input.sql_query``). :data:`READERS` maps a file format to its reader.

Reading never drops a record: a record that cannot be used as a row (a broken JSON line, a CSV line with too
many fields, a field over :data:`MAX_FIELD_CHARS`) comes back in :attr:`RawInput.unparseable` with its 1-based
``row_number`` and a reason, so the validation step can put it into the ``rejected`` table. Control characters
(NUL and the other C0 controls except TAB, LF, CR) are removed from every cell and counted in ``details``.

Wide exports (one column per question and matrix cell) are read up to :data:`MAX_COLUMNS` columns (Excel's limit),
keeping only the columns a run needs (:func:`nps_text.validate.columns_to_read`: score, comment, id, date, the
configured segments and passthrough columns, else the first 100 others); ``details`` counts what was left out.

Limits (each a one-line :class:`InputError` past it): at most :data:`MAX_COLUMNS` columns; an ``.xlsx`` may
unpack to at most :data:`~nps_text.ingest.excel.XLSX_MAX_UNCOMPRESSED` bytes and no large part may compress better
than :data:`~nps_text.ingest.excel.XLSX_MAX_RATIO`:1 (decompression bombs); a sheet's declared dimension is ignored,
only real cells count.

Errors: problems with the input itself raise :class:`InputError` (permanent: retrying cannot help); an
``OSError`` while reading a file (e.g. a network share) propagates unchanged, and a database that cannot be
reached raises :class:`SourceUnavailableError` (both transient: a retry may help).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nps_text.config import InputConfig
from nps_text.errors import InputError, SourceUnavailableError
from nps_text.ingest.csv import check_csv, read_csv
from nps_text.ingest.excel import read_excel
from nps_text.ingest.jsonl import read_json_lines
from nps_text.ingest.parquet import check_parquet, read_parquet
from nps_text.ingest.sql import engine_name, is_sql_url, read_sql
from nps_text.ingest.sql_guard import check_read_only_query
from nps_text.ingest.table import MAX_COLUMNS, MAX_FIELD_CHARS, RawInput, check_width

__all__ = [
    "MAX_COLUMNS",
    "MAX_FIELD_CHARS",
    "READERS",
    "FileReader",
    "RawInput",
    "SourceUnavailableError",
    "check_input",
    "check_read_only_query",
    "check_width",
    "engine_name",
    "file_hash",
    "file_format",
    "is_sql_url",
    "read_input",
    "read_table",
]


@dataclass(frozen=True)
class FileReader:
    """How one file format is read: ``read(path, config, min_columns)`` and, optionally, a cheap ``check(path,
    config)`` for :func:`check_input` (the header or schema only)."""

    read: Callable[[Path, InputConfig, int], RawInput]
    check: Callable[[Path, InputConfig], None] | None = None


READERS: dict[str, FileReader] = {
    "csv": FileReader(read_csv, check_csv),
    "xlsx": FileReader(lambda path, config, _min_columns: read_excel(path, config)),
    "parquet": FileReader(lambda path, config, _min_columns: read_parquet(path, config), check_parquet),
    "jsonl": FileReader(lambda path, config, _min_columns: read_json_lines(path, config)),
}
"""File format (:func:`file_format`) -> its reader. SQL sources (:func:`is_sql_url`) go to :func:`read_sql`."""


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes (streamed), for the manifest and for caching."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_input(source: str | Path, config: InputConfig | None = None, *, min_columns: int = 2) -> RawInput:
    """Read a file or SQL query into a :class:`RawInput`.

    ``min_columns``: a CSV with fewer columns is refused (an NPS export has a score and a comment column; one
    column usually means the delimiter was not detected). :func:`read_table` passes 1.

    Raises:
        InputError: the file does not exist, is empty, is binary, has an unknown format or breaks a limit.
        SourceUnavailableError: the database cannot be reached.
        OSError: the file cannot be read right now (transient).
    """
    config = config or InputConfig()
    text_source = str(source)
    if is_sql_url(text_source):
        return read_sql(text_source, config)
    path = Path(source)
    raw = READERS[file_format(path)].read(path, config, min_columns)
    raw.source = str(path)
    raw.source_hash = file_hash(path)
    if raw.frame.empty and raw.unparseable.empty:
        raise InputError(f"input file has no data rows: {path}")
    return raw


def check_input(source: str | Path, config: InputConfig | None = None) -> None:
    """Fail fast, before a run starts anything heavy: the input file is missing, empty, a folder, not text, or
    has more than :data:`MAX_COLUMNS` columns (only the header of a CSV and the schema of a Parquet file are
    read). Everything else is checked by :func:`read_input`; SQL sources are not checked here.

    Raises:
        InputError: what :func:`read_input` would raise for these problems, with the same one-line message.
    """
    config = config or InputConfig()
    if is_sql_url(str(source)):
        return
    path = Path(source)
    check = READERS[file_format(path)].check
    if check is not None:
        check(path, config)


def file_format(path: Path) -> str:
    """``xlsx``, ``parquet``, ``jsonl`` or ``csv`` (by suffix and signature) of a file that exists and has bytes.

    Raises:
        InputError: the file does not exist, is a folder or empty, or is an old binary ``.xls``.
    """
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a folder, not a file: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"input file is empty: {path}")
    suffix = path.suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(8)
    if suffix in (".xlsx", ".xlsm") or head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if suffix == ".parquet" or head.startswith(b"PAR1"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".xls",):
        raise InputError(f"{path}: old binary Excel (.xls) is not supported; save it as .xlsx or CSV")
    return "csv"


def read_table(source: str | Path, config: InputConfig | None = None) -> pd.DataFrame:
    """Read any supported input into a plain DataFrame of text values (for analysts' CLI commands).

    Unlike :func:`read_input` it fails on unparseable records instead of quarantining them.
    """
    raw = read_input(source, config, min_columns=1)  # a list of texts is a fine table here
    if not raw.unparseable.empty:
        first = raw.unparseable.iloc[0]
        raise InputError(
            f"{raw.source}: {len(raw.unparseable)} record(s) could not be parsed, "
            f"first at row {first['row_number']}: {first['reason']}"
        )
    return raw.frame.drop(columns=["row_number"])
