"""A table made of another table's rows in a new order plus columns of its own, materialised only in slices.

The ``follow_up`` table is every response, most urgent first: as a plain frame it is a second copy of
``responses``, the largest table (about 190 MB at a million rows). A :class:`TableView` keeps only the row order
and its own columns; the writers stream it in slices (:func:`batches`), the report takes the few rows it
shows (:meth:`TableView.rows`), and :meth:`TableView.to_frame` builds the whole table where one is needed.
A run's ``tables`` map holds frames or views (:data:`Table`).

Example:
    >>> source = pd.DataFrame({"id": ["a", "b", "c"], "score": [3, 9, 7]})
    >>> view = TableView(source, np.array([2, 0, 1]), pd.DataFrame({"rank": [1, 2, 3]}), ("rank", "id", "score"))
    >>> view.to_frame().values.tolist()
    [[1, 'c', 7], [2, 'a', 3], [3, 'b', 9]]
    >>> [len(part) for part in batches(view, 2)]
    [2, 1]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray


@dataclass(frozen=True)
class TableView:
    """Rows ``order`` (positions) of ``source``, beside the columns of ``own`` (one row per position of ``order``),
    with the columns in the order ``columns`` (each a column of ``own`` or of ``source``)."""

    source: pd.DataFrame
    order: np.ndarray
    own: pd.DataFrame
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.own) != len(self.order):
            raise ValueError(f"own columns have {len(self.own)} rows for {len(self.order)} positions")
        unknown = [name for name in self.columns if name not in self.own.columns and name not in self.source.columns]
        if unknown:
            raise ValueError(f"columns {unknown} are neither own columns nor columns of the source")

    def __len__(self) -> int:
        return len(self.order)

    @property
    def empty(self) -> bool:
        return len(self.order) == 0 or not self.columns

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.order), len(self.columns)

    def rows(self, positions: slice | np.ndarray) -> pd.DataFrame:
        """The rows at ``positions`` of the view (a slice or an array of positions), as a frame indexed from 0."""
        own, picked = self.own.iloc[positions], self.order[positions]
        columns = {  # column by column: only the picked rows of each source column are copied
            name: own[name].array if name in own.columns else take(self.source[name].array, picked)
            for name in self.columns
        }
        return pd.DataFrame(columns, columns=list(self.columns))

    def head(self, count: int) -> pd.DataFrame:
        return self.rows(slice(0, count))

    def to_frame(self) -> pd.DataFrame:
        """The whole table as one frame (a copy of every row: use :func:`batches` where slices will do)."""
        return self.rows(slice(None))


def take(values: ExtensionArray, positions: np.ndarray) -> ExtensionArray:
    """``values[positions]``; an Arrow column of several chunks is taken chunk by chunk, since pyarrow's take on
    a chunked text column with scattered positions first concatenates every chunk (a copy of the whole column,
    122 MB for the comments of a million rows, for each slice).

    Example:
        >>> column = pd.arrays.ArrowStringArray(pa.chunked_array([["a", "b"], ["c", None]], pa.large_string()))
        >>> take(column, np.array([3, 0, 2])).tolist()
        [<NA>, 'a', 'c']
    """
    if not isinstance(values, pd.arrays.ArrowExtensionArray):
        return values.take(positions)
    chunked = pa.array(values)
    if not isinstance(chunked, pa.ChunkedArray) or chunked.num_chunks < 2 or len(positions) == 0:
        return values.take(positions)
    bounds = np.cumsum([0, *(len(chunk) for chunk in chunked.chunks)])
    chunk_of = np.searchsorted(bounds, positions, side="right") - 1
    by_chunk = np.argsort(chunk_of, kind="stable")
    starts = np.searchsorted(chunk_of[by_chunk], np.arange(chunked.num_chunks + 1))
    pieces = [
        chunked.chunk(index).take(pa.array(positions[by_chunk[starts[index] : starts[index + 1]]] - bounds[index]))
        for index in range(chunked.num_chunks)
        if starts[index + 1] > starts[index]
    ]
    back = np.empty_like(by_chunk)
    back[by_chunk] = np.arange(len(by_chunk))
    taken = pa.concat_arrays(pieces).take(pa.array(back))  # one chunk: no concatenation
    if isinstance(values, pd.arrays.ArrowStringArray):
        return pd.arrays.ArrowStringArray(pa.chunked_array([taken]), dtype=values.dtype)
    return pd.arrays.ArrowExtensionArray(pa.chunked_array([taken]))


Table: TypeAlias = pd.DataFrame | TableView
"""A run's table: a frame, or a :class:`TableView` streamed by the writers."""


def batches(table: Table, size: int) -> Iterator[pd.DataFrame]:
    """``table`` in consecutive slices of at most ``size`` rows (one empty slice for an empty table); a frame's
    slices keep its index."""
    for start in range(0, max(len(table), 1), size):
        if isinstance(table, TableView):
            part = table.rows(slice(start, start + size))
            part.index = pd.RangeIndex(start, start + len(part))
            yield part
        else:
            yield table.iloc[start : start + size]


def without_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s columns and dtypes without rows, holding none of its memory (``frame.iloc[:0]`` is a slice that
    keeps every Arrow buffer of ``frame`` alive).

    Example:
        >>> without_rows(pd.DataFrame({"a": pd.array(["x"], dtype="string")})).dtypes.tolist()
        [<StringDtype(na_value=<NA>)>]
    """
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in frame.dtypes.items()}, columns=frame.columns)


def as_frame(table: Table) -> pd.DataFrame:
    """``table`` as a frame (a view is materialised)."""
    return table.to_frame() if isinstance(table, TableView) else table
