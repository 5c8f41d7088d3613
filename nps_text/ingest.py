"""Ingest: read a survey export into a raw table of text values. The only module (with the writers)
that touches input files.

Supported: CSV (delimiter ``, ; TAB |`` detected, UTF-8 with or without BOM, Windows-1252 / Latin-1 as
German Excel writes it, quoted multi-line fields), Excel (``.xlsx``), Parquet, JSON Lines, and a SQL query
through a SQLAlchemy URL (``sqlite:///survey.db`` plus ``input.sql_query`` in the config).

Reading never drops a record: a line that cannot be parsed (a broken JSON line, a CSV line with too many
fields) comes back in :attr:`RawInput.unparseable` with its 1-based ``row_number`` and a reason, so the
validation step can put it into the ``rejected`` table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nps_text.config import CSV_DELIMITERS, InputConfig
from nps_text.errors import InputError

SQL_URL_PREFIXES = ("sqlite:", "postgresql", "postgres:", "mysql", "mariadb", "mssql", "oracle", "duckdb:")
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


@dataclass
class RawInput:
    """What was read: every record as text, plus the records that could not be parsed."""

    frame: pd.DataFrame
    """One row per parsed record; all values as ``str`` or ``None``; column ``row_number`` (1-based) first."""
    unparseable: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["row_number", "raw_line", "reason"])
    )
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


def read_input(source: str | Path, config: InputConfig | None = None) -> RawInput:
    """Read a file or SQL query into a :class:`RawInput`.

    Raises:
        InputError: the file does not exist, is empty, is binary, or has an unknown format.
    """
    config = config or InputConfig()
    text_source = str(source)
    if is_sql_url(text_source):
        return _read_sql(text_source, config)
    path = Path(source)
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a folder, not a file: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"input file is empty: {path}")
    suffix = path.suffix.lower()
    head = path.open("rb").read(8)
    if suffix in (".xlsx", ".xlsm") or head.startswith(b"PK\x03\x04"):
        raw = _read_excel(path, config)
    elif suffix == ".parquet" or head.startswith(b"PAR1"):
        raw = _read_parquet(path)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        raw = _read_json_lines(path)
    elif suffix in (".xls",):
        raise InputError(f"{path}: old binary Excel (.xls) is not supported; save it as .xlsx or CSV")
    else:
        raw = _read_csv(path, config)
    raw.source = str(path)
    raw.source_hash = file_hash(path)
    if raw.frame.empty and raw.unparseable.empty:
        raise InputError(f"input file has no data rows: {path}")
    return raw


def read_table(source: str | Path, config: InputConfig | None = None) -> pd.DataFrame:
    """Read any supported input into a plain DataFrame of text values (for analysts' CLI commands).

    Unlike :func:`read_input` it fails on unparseable records instead of quarantining them.
    """
    raw = read_input(source, config)
    if not raw.unparseable.empty:
        first = raw.unparseable.iloc[0]
        raise InputError(
            f"{raw.source}: {len(raw.unparseable)} record(s) could not be parsed, "
            f"first at row {first['row_number']}: {first['reason']}"
        )
    return raw.frame.drop(columns=["row_number"])


# --- formats -----------------------------------------------------------------------------------------


def _to_text(value: Any) -> str | None:
    """A raw cell as text: None for missing, integers without a trailing '.0', timestamps as ISO."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return str(value.isoformat())
    return str(value)


def _finish(frame: pd.DataFrame, row_numbers: list[int] | None = None) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [_clean_header(column, index) for index, column in enumerate(frame.columns)]
    frame.columns = _deduplicate_headers(list(frame.columns))
    for column in frame.columns:
        frame[column] = pd.Series([_to_text(value) for value in frame[column].tolist()], index=frame.index, dtype=object)
    numbers = row_numbers if row_numbers is not None else list(range(1, len(frame) + 1))
    frame.insert(0, "row_number", numbers)
    return frame.reset_index(drop=True)


def _clean_header(column: Any, index: int) -> str:
    name = str(column).replace("\ufeff", "").strip()
    if not name or name.lower().startswith("unnamed:"):
        return f"column_{index + 1}"
    return name


def _deduplicate_headers(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        if name == "row_number":
            name = "input_row_number"
        count = seen.get(name, 0)
        seen[name] = count + 1
        result.append(name if count == 0 else f"{name}_{count + 1}")
    return result


def _decode(path: Path, config: InputConfig) -> tuple[str, str]:
    data = path.read_bytes()
    sample = data[:65536]
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path} looks like a binary file, not CSV/JSON text (found NUL bytes)")
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    encodings = (config.encoding,) if config.encoding else ENCODINGS
    for encoding in encodings:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    raise InputError(f"{path}: cannot decode the file as {', '.join(encodings)}; set input.encoding")


def _sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters="".join(CSV_DELIMITERS))
        return dialect.delimiter
    except csv.Error:
        header = lines[0]
        counts = {delimiter: header.count(delimiter) for delimiter in CSV_DELIMITERS}
        return max(counts, key=lambda delimiter: counts[delimiter]) if max(counts.values()) else ","


def _read_csv(path: Path, config: InputConfig) -> RawInput:
    text, encoding = _decode(path, config)
    if not text.strip():
        raise InputError(f"input file is empty: {path}")
    delimiter = config.delimiter or _sniff_delimiter(text)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    records = [record for record in records if any(cell.strip() for cell in record)] if records else []
    if not records:
        raise InputError(f"input file is empty: {path}")
    header, body = records[0], records[1:]
    if len(header) < 2:
        raise InputError(
            f"{path}: found only one column {header!r} (delimiter {delimiter!r}); "
            "an NPS export needs at least a score and a comment column; set input.delimiter if detection failed"
        )
    good_rows: list[list[str | None]] = []
    good_numbers: list[int] = []
    bad: list[dict[str, Any]] = []
    for number, record in enumerate(body, start=1):
        if len(record) > len(header):
            extra = record[len(header) :]
            if any(cell.strip() for cell in extra):
                bad.append(
                    {
                        "row_number": number,
                        "raw_line": delimiter.join(record),
                        "reason": f"line has {len(record)} fields but the header has {len(header)}",
                    }
                )
                continue
            record = record[: len(header)]
        padded: list[str | None] = list(record) + [None] * (len(header) - len(record))
        good_rows.append(padded)
        good_numbers.append(number)
    frame = pd.DataFrame(good_rows, columns=header, dtype=object)
    frame = frame.map(lambda value: None if value is None or value == "" else value)
    return RawInput(
        frame=_finish(frame, good_numbers),
        unparseable=pd.DataFrame(bad, columns=["row_number", "raw_line", "reason"]),
        format="csv",
        details={"encoding": encoding, "delimiter": delimiter},
    )


def _read_excel(path: Path, config: InputConfig) -> RawInput:
    sheet = config.sheet if config.sheet is not None else 0
    try:
        frame = pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl")
    except ValueError as exc:
        raise InputError(f"{path}: cannot read sheet {sheet!r}: {exc}") from exc
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise InputError(f"{path} is not a readable .xlsx workbook: {exc}") from exc
    frame = frame.dropna(how="all")
    return RawInput(frame=_finish(frame), format="xlsx", details={"sheet": sheet})


def _read_parquet(path: Path) -> RawInput:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        raise InputError(f"{path} is not a readable Parquet file: {exc}") from exc
    return RawInput(frame=_finish(frame), format="parquet")


def _read_json_lines(path: Path) -> RawInput:
    text, encoding = _decode(path, InputConfig())
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: invalid JSON array: {exc}") from exc
        lines = [json.dumps(record, ensure_ascii=False) for record in records]
    else:
        lines = text.splitlines()
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    bad: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append({"row_number": number, "raw_line": line, "reason": f"invalid JSON: {exc.msg} at column {exc.colno}"})
            continue
        if not isinstance(record, dict):
            bad.append({"row_number": number, "raw_line": line, "reason": "JSON line is not an object"})
            continue
        rows.append({key: _json_cell(value) for key, value in record.items()})
        numbers.append(number)
    frame = pd.DataFrame(rows, dtype=object)
    return RawInput(
        frame=_finish(frame, numbers),
        unparseable=pd.DataFrame(bad, columns=["row_number", "raw_line", "reason"]),
        format="jsonl",
        details={"encoding": encoding},
    )


def _json_cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _read_sql(url: str, config: InputConfig) -> RawInput:
    if not config.sql_query:
        raise InputError(f"reading from {url.split('://')[0]}:// needs input.sql_query in the config (or --query)")
    try:
        from sqlalchemy import create_engine, text
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise InputError("SQL input needs SQLAlchemy: pip install sqlalchemy") from exc
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            frame = pd.read_sql(text(config.sql_query), connection)
    except Exception as exc:
        raise InputError(f"SQL query failed on {engine_name(url)}: {exc}") from exc
    digest = hashlib.sha256(f"{engine_name(url)}\n{config.sql_query}".encode()).hexdigest()
    # The content hash of the result, so task caching follows the data, not the query text.
    content = hashlib.sha256(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes())
    return RawInput(
        frame=_finish(frame),
        source=engine_name(url),
        source_hash=content.hexdigest() if len(frame) else digest,
        format="sql",
        details={"query": config.sql_query},
    )


def engine_name(url: str) -> str:
    """The URL without credentials, safe to log and to store in the manifest."""
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}://{rest}"
