"""The shared table builder of every reader: raw cell values -> a :class:`RawInput` of compact text columns.

Cells become text (:func:`to_text`), control characters are removed (counted in ``details``), a row with a
cell over :data:`MAX_FIELD_CHARS` is set aside as unparseable, headers are cleaned and made unique, and only the
columns a run needs are kept (:func:`nps_text.validate.columns_to_read`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nps_text.config import ColumnsConfig, InputConfig
from nps_text.decoding import open_text
from nps_text.errors import InputError

MAX_COLUMNS = 16_384
"""Excel's limit; more columns than this is not a survey export (a transposed sheet, a broken delimiter)."""
MAX_FIELD_CHARS = 16 * 1024 * 1024
"""A cell longer than this (16 Mi characters) rejects its row; the row's ``raw_line`` is shortened."""
MAX_HEADER_CHARS = 1_000
"""Longer column names are cut to this length (and made unique)."""
RAW_LINE_SHOWN = 2_000
_CONTROL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # one pattern for Python's re and Arrow's RE2
_CONTROL = re.compile(_CONTROL_RE2)
_SHORTENED = re.compile(r"… \[[\d,]+ more characters\]$")
CHUNK_ROWS = 50_000
"""Records are parsed and turned into compact (Arrow) text columns this many at a time..."""
CHUNK_CELLS = 5_000_000
"""... or fewer, so that a chunk holds at most this many cells (a wide input)."""
LEFT_OUT_SHOWN = 10
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


def check_width(width: int, what: str = "the input", advice: str = "") -> None:
    """Raise a one-line :class:`InputError` when ``width`` columns are more than :data:`MAX_COLUMNS`.

    Example:
        >>> check_width(20_000, "survey.csv: the header")
        Traceback (most recent call last):
        nps_text.errors.InputError: survey.csv: the header: 20,000 columns, more than the 16,384 supported (Excel's limit)
    """
    if width > MAX_COLUMNS:
        raise InputError(f"{what}: {width:,} columns, more than the {MAX_COLUMNS:,} supported (Excel's limit){advice}")


def to_text(value: Any) -> str | None:
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


def reraise_if_transient(exc: BaseException) -> None:
    """A real I/O error (errno set: network share gone, timeout) stays an ``OSError`` so the flow may retry."""
    if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, FileNotFoundError):
        raise exc


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def shorten(text: str, limit: int = RAW_LINE_SHOWN) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters]"


class TableBuilder:
    """Rows of raw cell values -> compact text columns (Arrow ``large_string``), :data:`CHUNK_ROWS` at a time.

    Each chunk's cells become text (:func:`to_text`), lose their control characters (counted in
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
        self.details["columns_left_out_first"] = [shorten(name, 80) for name in left_out[:LEFT_OUT_SHOWN]]
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
            arrays.append(self.text_array(cells.pop(0)))
        keep = self.set_aside_oversized(arrays, numbers)
        if keep is not None:
            arrays = [array.filter(keep) for array in arrays]
            numbers = numbers[keep.to_numpy(zero_copy_only=False)]
        for chunks, array in zip(self.chunks, arrays, strict=True):
            chunks.append(array)
        self.numbers.append(numbers)
        self.size += len(numbers)

    def text_array(self, values: list[Any]) -> pa.Array:
        if any(value is not None and value.__class__ is not str for value in values):
            values = [to_text(value) for value in values]
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

    def set_aside_oversized(self, arrays: list[pa.Array], numbers: np.ndarray) -> pa.Array | None:
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
            line = "\t".join(shorten(array[index].as_py() or "", 200) for array in arrays)
            self.oversized.append(
                {
                    "row_number": int(numbers[index]),
                    "raw_line": shorten(line),
                    "reason": f"column {self.names[position]!r} has {length:,} characters, "
                    f"more than the limit of {MAX_FIELD_CHARS:,}",
                }
            )
        keep = np.ones(len(numbers), dtype=bool)
        keep[list(first)] = False
        return pa.array(keep)

    def frame(self) -> pd.DataFrame:
        """The text frame with ``row_number`` first; each column one Arrow array (:func:`single_chunk`)."""
        self.flush()
        numbers = np.concatenate(self.numbers) if self.numbers else np.empty(0, dtype="int64")
        data: dict[str, Any] = {"row_number": pd.Series(numbers, dtype="int64")}
        for position, name in enumerate(self.names):
            chunks, self.chunks[position] = self.chunks[position], []  # one column's chunks at a time
            data[name] = pd.Series(pd.arrays.ArrowStringArray(single_chunk(chunks)))
            del chunks
            pa.default_memory_pool().release_unused()  # the chunks' memory back before the next column
        return pd.DataFrame(data, columns=["row_number", *self.names])


def single_chunk(chunks: list[pa.Array]) -> pa.ChunkedArray:
    """``chunks`` as one Arrow text array (in a chunked wrapper, as pandas holds it).

    Built once here, it saves a copy of the whole column later: pandas selects the rows of a frame (a boolean
    mask, ``iloc``, a sort) with Arrow's take, which first concatenates every chunk of a chunked text column,
    for each selection (+150 MB per selection for the comments of a million rows).
    """
    if not chunks:
        return pa.chunked_array([pa.array([], type=pa.large_string())])
    return pa.chunked_array([pa.concat_arrays([chunk.cast(pa.large_string()) for chunk in chunks])])


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


def input_from_rows(
    columns: list[Any],
    rows: list[list[Any]],
    numbers: list[int],
    bad: list[dict[str, Any]],
    fmt: str,
    details: dict[str, Any],
    columns_config: ColumnsConfig | None = None,
) -> RawInput:
    """Rows held in memory (Excel, SQL) -> :class:`RawInput`."""
    table = TableBuilder(details, columns_config)
    table.set_columns(columns)
    for row, number in zip(rows, numbers, strict=True):
        table.add(row, number)
    return input_from_table(table, bad, fmt)


def input_from_table(table: TableBuilder, bad: list[dict[str, Any]], fmt: str) -> RawInput:
    frame = table.frame()
    unparseable = pd.DataFrame(bad + table.oversized, columns=UNPARSEABLE_COLUMNS)
    unparseable["raw_line"] = [_CONTROL.sub("", _shown(str(line))) for line in unparseable["raw_line"]]
    unparseable = unparseable.sort_values("row_number", kind="stable").reset_index(drop=True)
    return RawInput(frame=frame, unparseable=unparseable, format=fmt, details=table.details)


def _shown(line: str) -> str:
    """``raw_line`` as shown: shortened once (lines set aside while reading are shortened already)."""
    return line if len(line) <= RAW_LINE_SHOWN or _SHORTENED.search(line) else shorten(line)


def text_lines(path: Path, config: InputConfig) -> tuple[Iterator[str], dict[str, Any]]:
    """The decoded lines of a text file, streamed (see :func:`nps_text.decoding.open_text`)."""
    return open_text(lambda: path.open("rb"), config.encoding, str(path))
