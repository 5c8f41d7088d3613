"""Parquet: read in batches of :data:`~nps_text.ingest.table.CHUNK_ROWS` rows; text columns stay Arrow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from nps_text.config import InputConfig
from nps_text.errors import InputError
from nps_text.ingest.table import (
    CHUNK_ROWS,
    RawInput,
    TableBuilder,
    check_width,
    first_line,
    input_from_table,
    reraise_if_transient,
)


def check_parquet(path: Path, config: InputConfig) -> None:
    """Only the schema: more than :data:`~nps_text.ingest.table.MAX_COLUMNS` columns raise :class:`InputError`."""
    try:
        import pyarrow.parquet as pq

        width = len(pq.read_schema(path).names)
    except Exception:  # an unreadable file: read_input says why
        return
    check_width(width, f"{path}: the input")


def read_parquet(path: Path, config: InputConfig | None = None) -> RawInput:
    try:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except Exception as exc:
        reraise_if_transient(exc)
        raise InputError(f"{path} is not a readable Parquet file: {first_line(exc)}") from exc
    check_width(len(schema.names), f"{path}: the input")
    index_columns = {name for name in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(name, str)}
    names = [name for name in schema.names if name not in index_columns]
    table = TableBuilder({}, config.columns if config is not None else None)
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
        reraise_if_transient(exc)
        raise InputError(f"{path} is not a readable Parquet file: {first_line(exc)}") from exc
    return input_from_table(table, [], "parquet")


def _parquet_text(table: TableBuilder, array: pa.Array) -> pa.Array:
    """A Parquet column as text: strings stay Arrow; other types through :func:`to_text`, like the other formats."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        return table.strip_controls(array.cast(pa.large_string()))
    return table.text_array(array.to_pylist())


def _check_oversized(table: TableBuilder, arrays: list[pa.Array], numbers: np.ndarray) -> None:
    """Rows of the chunk just added with an oversized cell go to ``table.oversized`` (and out of the chunk)."""
    keep = table.set_aside_oversized(arrays, numbers)
    if keep is not None:
        for chunks in table.chunks:
            chunks[-1] = chunks[-1].filter(keep)
        numbers = numbers[keep.to_numpy(zero_copy_only=False)]
    table.numbers.append(numbers)
    table.size += len(numbers)
