"""Ingest: read a survey export into a raw table of text values. The only module (with the writers)
that touches input files.

Supported: CSV (delimiter ``, ; TAB |`` detected, encoding detected by :mod:`nps_text.decoding`, quoted
multi-line fields, mixed line endings), Excel (``.xlsx``/``.xlsm``, cached formula values), Parquet, JSON Lines
(or one JSON array), and a read-only SQL query through a SQLAlchemy URL (``sqlite:///survey.db`` plus
``input.sql_query``).

Reading never drops a record: a record that cannot be used as a row (a broken JSON line, a CSV line with too
many fields, a field over :data:`MAX_FIELD_CHARS`) comes back in :attr:`RawInput.unparseable` with its 1-based
``row_number`` and a reason, so the validation step can put it into the ``rejected`` table. Control characters
(NUL and the other C0 controls except TAB, LF, CR) are removed from every cell and counted in ``details``.

Wide exports (one column per question and matrix cell) are read up to :data:`MAX_COLUMNS` columns (Excel's limit),
keeping only the columns a run needs (:func:`nps_text.validate.columns_to_read`: score, comment, id, date, the
configured segments and passthrough columns, else the first 100 others); ``details`` counts what was left out.

Limits (each a one-line :class:`InputError` past it): at most :data:`MAX_COLUMNS` columns; an ``.xlsx`` may
unpack to at most :data:`XLSX_MAX_UNCOMPRESSED` bytes and no large part may compress better than
:data:`XLSX_MAX_RATIO`:1 (decompression bombs); a sheet's declared dimension is ignored, only real cells count.

Errors: problems with the input itself raise :class:`InputError` (permanent: retrying cannot help); an
``OSError`` while reading a file (e.g. a network share) propagates unchanged, and a database that cannot be
reached raises :class:`SourceUnavailableError` (both transient: a retry may help).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nps_text.config import CSV_DELIMITERS, ColumnsConfig, InputConfig
from nps_text.decoding import open_text
from nps_text.errors import InputError, SourceUnavailableError

SQL_URL_PREFIXES = ("sqlite:", "postgresql", "postgres:", "mysql", "mariadb", "mssql", "oracle", "duckdb:")
MAX_COLUMNS = 16_384
"""Excel's limit; more columns than this is not a survey export (a transposed sheet, a broken delimiter)."""
MAX_FIELD_CHARS = 16 * 1024 * 1024
"""A cell longer than this (16 Mi characters) rejects its row; the row's ``raw_line`` is shortened."""
MAX_HEADER_CHARS = 1_000
"""Longer column names are cut to this length (and made unique)."""
RAW_LINE_SHOWN = 2_000
XLSX_MAX_UNCOMPRESSED = 1 << 30
XLSX_MAX_RATIO = 200
XLSX_RATIO_MIN_BYTES = 10 << 20
_CONTROL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # one pattern for Python's re and Arrow's RE2
_CONTROL = re.compile(_CONTROL_RE2)
_SHORTENED = re.compile(r"… \[[\d,]+ more characters\]$")
CHUNK_ROWS = 50_000
"""Records are parsed and turned into compact (Arrow) text columns this many at a time..."""
CHUNK_CELLS = 5_000_000
"""... or fewer, so that a chunk holds at most this many cells (a wide input)."""
LEFT_OUT_SHOWN = 10
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_SQL_STRING = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
UNPARSEABLE_COLUMNS = ["row_number", "raw_line", "reason"]


@dataclass
class RawInput:
    """What was read: every record as text, plus the records that could not be parsed."""

    frame: pd.DataFrame
    """One row per parsed record; column ``row_number`` (1-based, ``int64``) first, then every input column as
    text: dtype ``pd.StringDtype()`` (Arrow-backed, compact), values ``str`` or missing (``pd.NA``)."""
    unparseable: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNPARSEABLE_COLUMNS))
    source: str = ""
    source_hash: str = ""
    format: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        """Records found in the input, parsed or not."""
        return len(self.frame) + len(self.unparseable)


def is_sql_url(source: str) -> bool:
    """True if ``source`` looks like a SQLAlchemy URL rather than a file path."""
    return "://" in source and source.lower().startswith(SQL_URL_PREFIXES)


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
        return _read_sql(text_source, config)
    path = Path(source)
    kind = _file_kind(path)
    if kind == "xlsx":
        raw = _read_excel(path, config)
    elif kind == "parquet":
        raw = _read_parquet(path, config)
    elif kind == "jsonl":
        raw = _read_json_lines(path, config)
    else:
        raw = _read_csv(path, config, min_columns)
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
    kind = _file_kind(path)
    if kind == "parquet":
        try:
            import pyarrow.parquet as pq

            width = len(pq.read_schema(path).names)
        except Exception:  # an unreadable file: read_input says why
            return
        check_width(width, f"{path}: the input")
    elif kind == "csv":
        lines, delimiter, _ = _csv_lines(path, config)
        with _csv_field_limit(path.stat().st_size + 1), contextlib.suppress(csv.Error):
            for record in csv.reader(lines, delimiter=delimiter):
                if any(cell.strip() for cell in record):
                    check_width(len(record), f"{path}: the header", _delimiter_advice(delimiter))
                    return


def check_width(width: int, what: str = "the input", advice: str = "") -> None:
    """Raise a one-line :class:`InputError` when ``width`` columns are more than :data:`MAX_COLUMNS`.

    Example:
        >>> check_width(20_000, "survey.csv: the header")
        Traceback (most recent call last):
        nps_text.errors.InputError: survey.csv: the header: 20,000 columns, more than the 16,384 supported (Excel's limit)
    """
    if width > MAX_COLUMNS:
        raise InputError(f"{what}: {width:,} columns, more than the {MAX_COLUMNS:,} supported (Excel's limit){advice}")


def _delimiter_advice(delimiter: str) -> str:
    return f"; delimiter {delimiter!r}: set input.delimiter if that is wrong"


def _file_kind(path: Path) -> str:
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


# --- cells and headers -------------------------------------------------------------------------------


def _to_text(value: Any) -> str | None:
    """A raw cell as text: None for missing, integers without a trailing '.0', timestamps as ISO."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _reraise_if_transient(exc: BaseException) -> None:
    """A real I/O error (errno set: network share gone, timeout) stays an ``OSError`` so the flow may retry."""
    if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, FileNotFoundError):
        raise exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _shorten(text: str, limit: int = RAW_LINE_SHOWN) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters]"


class _Table:
    """Rows of raw cell values -> compact text columns (Arrow ``large_string``), :data:`CHUNK_ROWS` at a time.

    Each chunk's cells become text (:func:`_to_text`), lose their control characters (counted in
    ``details``), and rows with a cell over :data:`MAX_FIELD_CHARS` are set aside as unparseable. Columns may
    grow (JSON keys found later): earlier rows get nulls there. With ``columns`` (the config's column roles),
    only the columns a run needs are kept (:meth:`set_columns`, or :meth:`select_columns` once all are known).
    """

    def __init__(self, details: dict[str, Any], columns: ColumnsConfig | None = None) -> None:
        self.details = details
        self.columns_config = columns
        self.keep: list[int] | None = None
        """Positions of the kept columns in each row passed to :meth:`add` (None: every column)."""
        self.raw_columns: list[Any] = []
        self.names: list[str] = []
        self.chunks: list[list[pa.Array]] = []
        self.numbers: list[np.ndarray] = []
        self.size = 0
        self.pending: list[Any] = []
        self.pending_numbers: list[int] = []
        self.oversized: list[dict[str, Any]] = []

    def set_columns(self, columns: list[Any], select: bool = True) -> None:
        """The header; with ``select`` (and a config) only the columns a run needs are kept from here on."""
        check_width(len(columns))
        names = _deduplicate_headers([_clean_header(column, index) for index, column in enumerate(columns)])
        if select and self.columns_config is not None:
            keep = self._kept_positions(names)
            if keep is not None:
                self.keep = keep
                names = [names[position] for position in keep]
        for _ in names[len(self.names) :]:
            self.chunks.append([pa.nulls(self.size, pa.large_string())] if self.size else [])
        self.raw_columns = list(columns) if self.keep is None else [columns[position] for position in self.keep]
        self.names = names

    def _kept_positions(self, names: list[str]) -> list[int] | None:
        """Positions of the columns a run needs (recorded in ``details``); None when that is all of them."""
        from nps_text.validate import columns_to_read

        keep = columns_to_read(names, self.columns_config)
        if len(keep) == len(names):
            return None
        kept = set(keep)
        left_out = [name for position, name in enumerate(names) if position not in kept]
        self.details["columns_in_input"] = len(names)
        self.details["columns_left_out"] = len(left_out)
        self.details["columns_left_out_first"] = [_shorten(name, 80) for name in left_out[:LEFT_OUT_SHOWN]]
        return keep

    def select_columns(self) -> None:
        """Keep only the columns a run needs, once every column is known (JSON keys appear record by record)."""
        self.flush()
        if self.columns_config is None:
            return
        keep = self._kept_positions(self.names)
        if keep is not None:
            self.names = [self.names[position] for position in keep]
            self.raw_columns = [self.raw_columns[position] for position in keep]
            self.chunks = [self.chunks[position] for position in keep]

    def add(self, row: Any, number: int, blank_is_missing: bool = False) -> None:
        """One record's cells (all of them; the kept ones are picked here); ``blank_is_missing``: '' -> None."""
        if self.keep is not None:
            width = len(row)
            row = [row[position] if position < width else None for position in self.keep]
        if blank_is_missing:
            row = [cell if cell != "" else None for cell in row]
        self.pending.append(row)
        self.pending_numbers.append(number)
        if len(self.pending) >= CHUNK_ROWS or len(self.pending) * len(self.names) >= CHUNK_CELLS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        width = len(self.names)
        rows, numbers = self.pending, np.asarray(self.pending_numbers, dtype="int64")
        self.pending, self.pending_numbers = [], []
        padded = (row if len(row) == width else list(row[:width]) + [None] * (width - len(row)) for row in rows)
        cells = [list(column) for column in zip(*padded, strict=True)] if width else []
        del rows
        arrays: list[pa.Array] = []
        while cells:
            arrays.append(self._text_array(cells.pop(0)))
        keep = self._set_aside_oversized(arrays, numbers)
        if keep is not None:
            arrays = [array.filter(keep) for array in arrays]
            numbers = numbers[keep.to_numpy(zero_copy_only=False)]
        for chunks, array in zip(self.chunks, arrays, strict=True):
            chunks.append(array)
        self.numbers.append(numbers)
        self.size += len(numbers)

    def _text_array(self, values: list[Any]) -> pa.Array:
        if any(value is not None and value.__class__ is not str for value in values):
            values = [_to_text(value) for value in values]
        try:
            array = pa.array(values, type=pa.large_string())
        except (UnicodeError, pa.ArrowException):  # lone surrogates (JSON "\ud800") are not UTF-8
            array = pa.array(
                [None if value is None else value.encode("utf-8", "replace").decode("utf-8") for value in values],
                type=pa.large_string(),
            )
        return self.strip_controls(array)

    def strip_controls(self, array: pa.Array) -> pa.Array:
        """Control characters removed (counted in ``details``)."""
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        removed = pc.sum(pc.count_substring_regex(array, _CONTROL_RE2)).as_py() or 0
        if removed:
            array = pc.replace_substring_regex(array, _CONTROL_RE2, "")
            self.details["control_characters_removed"] = self.details.get("control_characters_removed", 0) + removed
        return array

    def _set_aside_oversized(self, arrays: list[pa.Array], numbers: np.ndarray) -> pa.Array | None:
        """Rows with a cell over :data:`MAX_FIELD_CHARS` into ``oversized``; the mask of rows to keep, or None."""
        first: dict[int, tuple[int, int]] = {}
        for position, array in enumerate(arrays):
            if len(array) == 0 or (pc.max(pc.binary_length(array)).as_py() or 0) <= MAX_FIELD_CHARS:
                continue  # bytes >= characters
            lengths = pc.utf8_length(array).to_numpy(zero_copy_only=False)
            for hit in np.flatnonzero(np.nan_to_num(lengths.astype("float64")) > MAX_FIELD_CHARS).tolist():
                first.setdefault(hit, (position, int(lengths[hit])))
        if not first:
            return None
        for index, (position, length) in sorted(first.items()):
            line = "\t".join(_shorten(array[index].as_py() or "", 200) for array in arrays)
            self.oversized.append(
                {
                    "row_number": int(numbers[index]),
                    "raw_line": _shorten(line),
                    "reason": f"column {self.names[position]!r} has {length:,} characters, "
                    f"more than the limit of {MAX_FIELD_CHARS:,}",
                }
            )
        keep = np.ones(len(numbers), dtype=bool)
        keep[list(first)] = False
        return pa.array(keep)

    def frame(self) -> pd.DataFrame:
        """The text frame with ``row_number`` first."""
        self.flush()
        numbers = np.concatenate(self.numbers) if self.numbers else np.empty(0, dtype="int64")
        data: dict[str, Any] = {"row_number": pd.Series(numbers, dtype="int64")}
        for name, chunks in zip(self.names, self.chunks, strict=True):
            column = pa.chunked_array(chunks, type=pa.large_string())
            data[name] = pd.Series(pd.arrays.ArrowStringArray(column))
        return pd.DataFrame(data, columns=["row_number", *self.names])


def _clean_header(column: Any, index: int) -> str:
    name = _CONTROL.sub("", str(column) if column is not None else "").replace("\ufeff", "").strip()
    if not name or name.lower().startswith("unnamed:") or name.lower() in ("nan", "none"):
        return f"column_{index + 1}"
    return name if len(name) <= MAX_HEADER_CHARS else name[:MAX_HEADER_CHARS] + "…"


def _deduplicate_headers(names: list[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for name in names:
        if name == "row_number":
            name = "input_row_number"
        candidate, count = name, 1
        while candidate in seen:
            count += 1
            candidate = f"{name}_{count}"
        seen.add(candidate)
        result.append(candidate)
    return result


def _raw_input(
    columns: list[Any],
    rows: list[list[Any]],
    numbers: list[int],
    bad: list[dict[str, Any]],
    fmt: str,
    details: dict[str, Any],
    columns_config: ColumnsConfig | None = None,
) -> RawInput:
    """Rows held in memory (Excel, SQL) -> :class:`RawInput`."""
    table = _Table(details, columns_config)
    table.set_columns(columns)
    for row, number in zip(rows, numbers, strict=True):
        table.add(row, number)
    return _table_input(table, bad, fmt)


def _table_input(table: _Table, bad: list[dict[str, Any]], fmt: str) -> RawInput:
    frame = table.frame()
    unparseable = pd.DataFrame(bad + table.oversized, columns=UNPARSEABLE_COLUMNS)
    unparseable["raw_line"] = [_CONTROL.sub("", _shown(str(line))) for line in unparseable["raw_line"]]
    unparseable = unparseable.sort_values("row_number", kind="stable").reset_index(drop=True)
    return RawInput(frame=frame, unparseable=unparseable, format=fmt, details=table.details)


def _shown(line: str) -> str:
    """``raw_line`` as shown: shortened once (lines set aside while reading are shortened already)."""
    return line if len(line) <= RAW_LINE_SHOWN or _SHORTENED.search(line) else _shorten(line)


# --- CSV ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """Raise the csv module's per-field limit (default 128 KiB) for one read; the text is in memory anyway."""
    previous = csv.field_size_limit()
    csv.field_size_limit(min(max(limit, previous), 2**31 - 1, sys.maxsize))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _sniff_delimiter(text: str) -> str:
    lines = [line for line in text[: 1 << 20].splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        dialect = csv.Sniffer().sniff("\n".join(line[:10_000] for line in lines[:20]), delimiters="".join(CSV_DELIMITERS))
        return dialect.delimiter
    except csv.Error:
        header = lines[0]
        counts = {delimiter: header.count(delimiter) for delimiter in CSV_DELIMITERS}
        return max(counts, key=lambda delimiter: counts[delimiter]) if max(counts.values()) else ","


def _text_lines(path: Path, config: InputConfig) -> tuple[Iterator[str], dict[str, Any]]:
    """The decoded lines of a text file, streamed (see :func:`nps_text.decoding.open_text`)."""
    return open_text(lambda: path.open("rb"), config.encoding, str(path))


def _csv_lines(path: Path, config: InputConfig) -> tuple[Iterator[str], str, dict[str, Any]]:
    """The decoded lines of a CSV file, its delimiter (configured, else sniffed from the first MiB) and the
    decoding details."""
    lines, details = _text_lines(path, config)
    head: list[str] = []
    size = 0
    for line in lines:  # the first MiB for the delimiter
        head.append(line)
        size += len(line)
        if size >= 1 << 20:
            break
    delimiter = config.delimiter or _sniff_delimiter("".join(head))
    details["delimiter"] = delimiter
    return itertools.chain(head, lines), delimiter, details


def _read_csv(path: Path, config: InputConfig, min_columns: int = 2) -> RawInput:
    lines, delimiter, details = _csv_lines(path, config)
    header: list[str] | None = None
    table = _Table(details, config.columns)
    bad: list[dict[str, Any]] = []
    number = 0
    with _csv_field_limit(path.stat().st_size + 1):  # no field has more characters than the file has bytes
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                if header is None:
                    header = record
                    check_width(len(header), f"{path}: the header", _delimiter_advice(delimiter))
                    table.set_columns(list(header))
                    continue
                number += 1
                if len(record) > len(header) == min_columns == 1:  # a list of texts: the delimiter is part of the text
                    record = [delimiter.join(record)]
                if len(record) > len(header):
                    if any(cell.strip() for cell in record[len(header) :]):
                        bad.append(
                            {
                                "row_number": number,
                                "raw_line": _shorten(delimiter.join(record)),
                                "reason": f"line has {len(record)} fields but the header has {len(header)}",
                            }
                        )
                        continue
                    record = record[: len(header)]
                table.add(record, number, blank_is_missing=True)
        except csv.Error as exc:
            raise InputError(f"{path}: CSV cannot be parsed near line {reader.line_num}: {exc}") from exc
    if header is None:
        raise InputError(f"input file is empty: {path}")
    if len(header) < min_columns:
        raise InputError(
            f"{path}: found only one column {_shorten(header[0], 80)!r} (delimiter {delimiter!r}); "
            "an NPS export needs at least a score and a comment column; set input.delimiter if detection failed"
        )
    return _table_input(table, bad, "csv")


# --- Excel -------------------------------------------------------------------------------------------


def _check_xlsx_archive(path: Path) -> None:
    """Refuse decompression bombs before openpyxl unpacks anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise InputError(f"{path} is not a readable .xlsx workbook (broken zip archive: {exc})") from exc
    total = sum(member.file_size for member in members)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise InputError(
            f"{path}: the workbook unpacks to {total:,} bytes, more than the limit of {XLSX_MAX_UNCOMPRESSED:,}; "
            "export the sheet as CSV instead"
        )
    for member in members:
        if member.file_size > XLSX_RATIO_MIN_BYTES and member.file_size > XLSX_MAX_RATIO * max(member.compress_size, 1):
            raise InputError(
                f"{path}: part {member.filename!r} compresses {member.file_size // max(member.compress_size, 1):,}:1 "
                "(a decompression bomb?); refusing to open it"
            )


def _read_excel(path: Path, config: InputConfig) -> RawInput:
    _check_xlsx_archive(path)
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        _reraise_if_transient(exc)
        raise InputError(f"{path} is not a readable .xlsx workbook: {_first_line(exc)}") from exc
    try:
        sheet = config.sheet if config.sheet is not None else 0
        names = workbook.sheetnames
        if isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise InputError(f"{path}: there is no sheet number {sheet} (0-based); sheets: {names}")
            sheet_name = names[sheet]
        elif sheet in names:
            sheet_name = sheet
        else:
            raise InputError(f"{path}: there is no sheet {sheet!r}; sheets: {names}")
        worksheet = workbook[sheet_name]
        if not hasattr(worksheet, "reset_dimensions"):
            raise InputError(f"{path}: sheet {sheet_name!r} is a chart sheet, not a table")
        declared = worksheet.calculate_dimension() if worksheet.max_row and worksheet.max_column else None
        worksheet.reset_dimensions()  # the declared size can be absurd (A1:XFD1048576); count real cells only
        columns, rows, numbers, bad, skipped = _sheet_rows(worksheet.iter_rows(values_only=True), f"{path}")
    except InputError:
        raise
    except Exception as exc:
        _reraise_if_transient(exc)
        raise InputError(f"{path} is not a readable .xlsx workbook: {_first_line(exc)}") from exc
    finally:
        workbook.close()
    if columns is None:
        raise InputError(f"{path}: sheet {sheet_name!r} is empty")
    details: dict[str, Any] = {"sheet": sheet_name}
    if declared:
        details["declared_dimension"] = declared
    if skipped:
        details["title_rows_skipped"] = skipped
    return _raw_input(columns, rows, numbers, bad, "xlsx", details, config.columns)


def _sheet_rows(
    values: Iterator[tuple[Any, ...]], name: str
) -> tuple[list[Any] | None, list[list[Any]], list[int], list[dict[str, Any]], int]:
    """Header and data rows of a sheet; title rows above the header (one cell, e.g. merged) are skipped."""

    def filled(row: tuple[Any, ...] | list[Any]) -> list[Any]:
        cells = list(row)
        while cells and (cells[-1] is None or (isinstance(cells[-1], str) and not cells[-1].strip())):
            cells.pop()
        return cells

    pending: list[list[Any]] = []
    header: list[Any] | None = None
    rows: list[list[Any]] = []
    numbers: list[int] = []
    bad: list[dict[str, Any]] = []
    number = 0
    for raw in values:
        cells = filled(raw)
        if not cells:
            continue
        if header is None:
            check_width(len(cells), f"{name}: the sheet's header")
            non_empty = sum(1 for cell in cells if cell is not None)
            if non_empty < 2 and len(pending) < 10:
                pending.append(cells)
                continue
            header = cells
            continue
        number += 1
        if len(cells) > len(header):
            bad.append(
                {
                    "row_number": number,
                    "raw_line": "\t".join("" if cell is None else str(cell) for cell in cells[:MAX_COLUMNS]),
                    "reason": f"row has {len(cells)} cells but the header has {len(header)}",
                }
            )
            continue
        rows.append(cells)
        numbers.append(number)
    skipped = len(pending)
    if header is None and pending:  # a one-column sheet: the first row is the header after all
        header, body = pending[0], pending[1:]
        skipped = 0
        rows = body
        numbers = list(range(1, len(body) + 1))
    return header, rows, numbers, bad, skipped


# --- Parquet and JSON --------------------------------------------------------------------------------


def _read_parquet(path: Path, config: InputConfig | None = None) -> RawInput:
    try:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except Exception as exc:
        _reraise_if_transient(exc)
        raise InputError(f"{path} is not a readable Parquet file: {_first_line(exc)}") from exc
    check_width(len(schema.names), f"{path}: the input")
    index_columns = {name for name in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(name, str)}
    names = [name for name in schema.names if name not in index_columns]
    table = _Table({}, config.columns if config is not None else None)
    table.set_columns(names)
    if table.keep is not None:
        names = [names[position] for position in table.keep]
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=names, use_pandas_metadata=False):
            table.flush()
            arrays = [_parquet_text(table, batch.column(position)) for position in range(batch.num_columns)]
            first = number + 1
            number += batch.num_rows
            for chunks, array in zip(table.chunks, arrays, strict=True):
                chunks.append(array)
            _check_oversized(table, arrays, np.arange(first, number + 1, dtype="int64"))
    except InputError:
        raise
    except Exception as exc:
        _reraise_if_transient(exc)
        raise InputError(f"{path} is not a readable Parquet file: {_first_line(exc)}") from exc
    return _table_input(table, [], "parquet")


def _parquet_text(table: _Table, array: pa.Array) -> pa.Array:
    """A Parquet column as text: strings stay Arrow; other types through :func:`_to_text`, like the other formats."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        return table.strip_controls(array.cast(pa.large_string()))
    return table._text_array(array.to_pylist())


def _check_oversized(table: _Table, arrays: list[pa.Array], numbers: np.ndarray) -> None:
    """Rows of the chunk just added with an oversized cell go to ``table.oversized`` (and out of the chunk)."""
    keep = table._set_aside_oversized(arrays, numbers)
    if keep is not None:
        for chunks in table.chunks:
            chunks[-1] = chunks[-1].filter(keep)
        numbers = numbers[keep.to_numpy(zero_copy_only=False)]
    table.numbers.append(numbers)
    table.size += len(numbers)


def _read_json_lines(path: Path, config: InputConfig) -> RawInput:
    lines, details = _text_lines(path, config)
    head: list[str] = []
    for line in lines:  # up to the first line with text
        head.append(line)
        if line.strip():
            break
    start = "".join(head).lstrip()
    records: Iterator[str]
    document = None
    if start.startswith("[") or (start.startswith("{") and not _complete_object(start.split("\n", 1)[0])):
        text = "".join(itertools.chain(head, lines))
        document = _json_document_lines(text.lstrip())
        if document is None:  # not one document after all: line by line, from the text already in memory
            head, lines = [], iter(text.splitlines(keepends=True))
    if document is not None:
        records = iter(document)
    else:
        records = (line for physical in itertools.chain(head, lines) for line in physical.splitlines())
    table = _Table(details, config.columns)
    bad: list[dict[str, Any]] = []
    keys: dict[str, None] = {}
    number = 0
    for line in records:
        if not line.strip():
            continue
        number += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(
                {"row_number": number, "raw_line": _shorten(line), "reason": f"invalid JSON: {exc.msg} at column {exc.colno}"}
            )
            continue
        except RecursionError:
            bad.append({"row_number": number, "raw_line": _shorten(line), "reason": "invalid JSON: nested too deeply"})
            continue
        if not isinstance(record, dict):
            bad.append(
                {"row_number": number, "raw_line": _shorten(line), "reason": f"JSON line is a {type(record).__name__}, not an object"}
            )
            continue
        known = len(keys)
        for key in record:
            keys.setdefault(str(key), None)
        check_width(len(keys), f"{path}: the records' keys")
        if len(keys) != known:
            table.flush()
            table.set_columns(list(keys), select=False)
        row = {str(key): _json_cell(value) for key, value in record.items()}
        table.add([row.get(column) for column in keys], number)
    table.select_columns()
    return _table_input(table, bad, "jsonl")


def _complete_object(line: str) -> bool:
    try:
        json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _json_document_lines(text: str) -> list[str] | None:
    """One JSON array (or one pretty-printed object) as one line per record; None for JSON Lines."""
    if not text.startswith(("[", "{")):
        return None
    if text.startswith("{"):
        try:
            json.loads(text.split("\n", 1)[0])
            return None  # the first line is a complete object: JSON Lines
        except (json.JSONDecodeError, RecursionError):
            pass
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None  # not one document: read it line by line and quarantine what does not parse
    records = document if isinstance(document, list) else [document]
    return [json.dumps(record, ensure_ascii=False) for record in records]


def _json_cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


# --- SQL ---------------------------------------------------------------------------------------------


def check_read_only_query(query: str) -> str:
    """The query without comments, if it is one ``SELECT``/``WITH``/``VALUES`` statement.

    Raises:
        InputError: the query is empty, has several statements or does not start with SELECT/WITH/VALUES.
    """
    code = _SQL_COMMENT.sub(" ", query).strip()
    without_strings = _SQL_STRING.sub("''", code)
    body = without_strings.rstrip().rstrip(";")
    if ";" in body:
        raise InputError("input.sql_query must be a single SELECT statement (found ';' between statements)")
    first = re.match(r"[\s(]*([A-Za-z_]+)", body)
    keyword = first.group(1).lower() if first else ""
    if keyword not in ("select", "with", "values"):
        shown = keyword.upper() or "an empty query"
        raise InputError(f"input.sql_query must be a read-only SELECT (or WITH ... SELECT) query, not {shown}")
    return code.rstrip().rstrip(";")


def _one_line(exc: BaseException, url: str) -> str:
    original = getattr(exc, "orig", None) or exc
    message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    scheme, _, rest = url.partition("://")
    credentials = rest.split("@", 1)[0] if "@" in rest.split("/", 1)[0] else ""
    if credentials:
        message = message.replace(credentials, "***")
        password = credentials.partition(":")[2]
        if password:
            message = message.replace(password, "***")
    return message


def _sqlite_file(url: str) -> Path | None:
    rest = url.split("://", 1)[1]
    if not rest.startswith("/") or rest in ("/", "/:memory:") or rest.startswith("/file:"):
        return None
    return Path(rest[1:].split("?", 1)[0])


def _read_sql(url: str, config: InputConfig) -> RawInput:
    if not config.sql_query:
        raise InputError(f"reading from {url.split('://')[0]}:// needs input.sql_query in the config (or --query)")
    query = check_read_only_query(config.sql_query)
    try:
        from sqlalchemy import create_engine, event, text
        from sqlalchemy.exc import DBAPIError
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise InputError("SQL input needs SQLAlchemy: pip install sqlalchemy") from exc
    name = engine_name(url)
    dialect = url.split(":", 1)[0].split("+", 1)[0].lower()
    connect_args: dict[str, Any] = {}
    if dialect == "sqlite":
        database = _sqlite_file(url)
        if database is not None and not database.is_file():
            raise InputError(f"SQLite database not found: {database}")
    if dialect == "duckdb":
        connect_args["read_only"] = True
    try:
        from nps_text.database import with_installed_driver

        engine = create_engine(with_installed_driver(url), connect_args=connect_args)
    except Exception as exc:
        raise InputError(f"cannot use {name}: {_one_line(exc, url)}") from exc
    if dialect == "sqlite":

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

    try:
        try:
            connection = engine.connect()
        except ImportError as exc:
            raise InputError(f"cannot use {name}: {_one_line(exc, url)}") from exc
        except DBAPIError as exc:
            raise SourceUnavailableError(f"cannot connect to {name}: {_one_line(exc, url)}") from exc
        except Exception as exc:
            raise InputError(f"cannot connect to {name}: {_one_line(exc, url)}") from exc
        with connection:
            if dialect in ("postgresql", "postgres"):
                connection = connection.execution_options(postgresql_readonly=True)
            transaction = connection.begin()
            try:
                if dialect in ("mysql", "mariadb"):
                    connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                frame = pd.read_sql(text(query), connection)
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise SourceUnavailableError(f"connection to {name} lost: {_one_line(exc, url)}") from exc
                raise InputError(f"SQL query failed on {name}: {_one_line(exc, url)}") from exc
            except Exception as exc:
                raise InputError(f"SQL query failed on {name}: {_one_line(exc, url)}") from exc
            finally:
                transaction.rollback()  # whatever the query did, nothing is kept
    finally:
        engine.dispose()
    digest = hashlib.sha256(f"{name}\n{query}".encode()).hexdigest()
    # The content hash of the result, so task caching follows the data, not the query text.
    content = hashlib.sha256(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes())
    raw = _raw_input(
        list(frame.columns), frame.to_numpy(dtype=object).tolist(), list(range(1, len(frame) + 1)), [], "sql",
        {"query": query}, config.columns,
    )
    raw.source = name
    raw.source_hash = content.hexdigest() if len(frame) else digest
    return raw


def engine_name(url: str) -> str:
    """The URL without credentials, safe to log and to store in the manifest."""
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}://{rest}"
