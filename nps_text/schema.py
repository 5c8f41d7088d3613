"""Table contracts: every output table's columns, dtypes and allowed values, written down once.

Other tools (BI dashboards, analysts' notebooks) and our own steps rely on these names and types. This module
is the one source of

* the labels (NPS groups, comment statuses, sentiments, follow-up actions, change directions) and their order;
* each table's columns (:data:`TABLE_CONTRACTS`) and each column's pandas dtype (:data:`TABLE_SPECS`), so a
  table has the same Parquet schema whatever the config (sentiment or themes disabled, input without text);
* the checks: :func:`check_table` coerces a frame to the contract dtypes and validates it with pandera
  (lazily: every violation at once), raising :class:`~nps_text.errors.SchemaError` with a readable list.

Example:
    >>> frame = empty_frame("sentences")
    >>> str(frame["sentence_index"].dtype)
    'int64'
    >>> check_table(frame, "sentences").empty
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nps_text.errors import SchemaError
from nps_text.table_view import Table, TableView, batches

if TYPE_CHECKING:
    import pandera.pandas as pa

# --- values -----------------------------------------------------------------------------------------
PROMOTER, PASSIVE, DETRACTOR = "promoter", "passive", "detractor"
NPS_GROUPS: tuple[str, ...] = (PROMOTER, PASSIVE, DETRACTOR)

STATUS_TEXT, STATUS_EMPTY, STATUS_NON_INFORMATIVE = "text", "empty", "non_informative"
COMMENT_STATUSES: tuple[str, ...] = (STATUS_TEXT, STATUS_EMPTY, STATUS_NON_INFORMATIVE)

POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"
SENTIMENTS: tuple[str, ...] = (POSITIVE, NEUTRAL, NEGATIVE)

OUTLIER_THEME_ID = -1

FOLLOW_UP_ORDER: tuple[str, ...] = ("call_back_detractor", "convert_passive", "thank_promoter", "no_comment")
"""The follow-up actions, most urgent first (the order of the ``follow_up`` table)."""

CHANGE_DIRECTIONS: tuple[str, ...] = ("drop", "rise", "none")
"""``nps_changes.direction``: a significant drop or rise, or ``none`` (not significant)."""

THEME_TRENDS: tuple[str, ...] = ("emerging", "fading", "stable")
"""``theme_trends.trend``: a theme's share rose or fell significantly vs. the previous period, or neither."""

# --- dtypes -----------------------------------------------------------------------------------------
TEXT = "string"
"""Text columns: ``pd.StringDtype()`` (missing = ``pd.NA``); Parquet ``large_string``."""
INT = "int64"
NULLABLE_INT = "Int64"
FLOAT = "float64"
"""Floats, missing = NaN; Parquet ``double``."""
BOOL = "bool"
TEXT_LIST = "list[str]"
"""A cell holding a list of strings (pandas ``object``); Parquet ``list<string>``."""
INT_LIST = "list[int]"
"""A cell holding a list of integers (pandas ``object``); Parquet ``list<int64>``."""

_PANDAS_DTYPES: dict[str, Any] = {
    TEXT: pd.StringDtype(),
    INT: np.dtype("int64"),
    NULLABLE_INT: pd.Int64Dtype(),
    FLOAT: np.dtype("float64"),
    BOOL: np.dtype("bool"),
    TEXT_LIST: np.dtype("object"),
    INT_LIST: np.dtype("object"),
}
_LIST_DTYPES = (TEXT_LIST, INT_LIST)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract: dtype (one of the names above), nullability and allowed values."""

    dtype: str
    nullable: bool = False
    isin: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    unique: bool = False
    required: bool = True


@dataclass(frozen=True)
class TableSpec:
    """A table's contract: its columns in order, whether other columns may follow, and row-level rules."""

    columns: Mapping[str, ColumnSpec]
    strict: bool = True
    """False: columns not in the contract (passthrough columns of the input) may follow, unchecked."""
    row_checks: tuple[str, ...] = field(default=())
    """Names of entries in :data:`_ROW_CHECKS` that relate several columns of one row."""

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.columns.items() if spec.required)


def _text(nullable: bool = False, isin: tuple[str, ...] | None = None, **kw: Any) -> ColumnSpec:
    return ColumnSpec(TEXT, nullable=nullable, isin=isin, **kw)


def _share(nullable: bool = False) -> ColumnSpec:
    return ColumnSpec(FLOAT, nullable=nullable, min=0.0, max=1.0)


def _nps_points(nullable: bool = True) -> ColumnSpec:
    return ColumnSpec(FLOAT, nullable=nullable, min=-100.0, max=100.0)


# --- tables -----------------------------------------------------------------------------------------
_RESPONSES = TableSpec(
    columns={
        "response_id": _text(unique=True),
        "score": ColumnSpec(INT, min=0, max=10),
        "nps_group": _text(isin=NPS_GROUPS),
        "comment": _text(nullable=True),
        "comment_status": _text(isin=COMMENT_STATUSES),
        "language": _text(nullable=True),
        "sentiment": _text(nullable=True, isin=SENTIMENTS),
        "sentiment_confidence": _share(nullable=True),
        "theme_id": ColumnSpec(NULLABLE_INT, nullable=True, min=OUTLIER_THEME_ID),
        "theme_label": _text(nullable=True),
        # every theme the comment raises (one per clause/sentence), the primary theme_id first
        "theme_ids": ColumnSpec(INT_LIST, nullable=True),
        "theme_labels": ColumnSpec(TEXT_LIST, nullable=True),
        "period": _text(nullable=True, required=False),
        # the comment was longer than comments.max_chars and is cut (see nps_text.comments)
        "comment_truncated": ColumnSpec(BOOL, required=False),
    },
    strict=False,
    row_checks=(
        "nps_group_matches_score", "sentiment_only_with_text", "theme_only_with_text", "theme_ids_only_with_text",
    ),
)

_REJECTED = TableSpec(
    columns={
        "row_number": ColumnSpec(INT, min=1, unique=True),
        "response_id": _text(nullable=True),
        "reason": _text(),
    },
    strict=False,
)

_SENTENCES = TableSpec(
    columns={
        "response_id": _text(),
        "sentence_index": ColumnSpec(INT, min=0),
        "sentence": _text(),
        "sentiment": _text(isin=SENTIMENTS),
        "confidence": _share(),
        "theme_id": ColumnSpec(NULLABLE_INT, nullable=True, min=OUTLIER_THEME_ID),  # null: themes not run
    }
)

_THEMES = TableSpec(
    columns={
        "nps_group": _text(isin=NPS_GROUPS),
        "theme_id": ColumnSpec(NULLABLE_INT, min=OUTLIER_THEME_ID),
        "theme_label": _text(),
        "keywords": ColumnSpec(TEXT_LIST),
        "size": ColumnSpec(INT, min=1),
        "share_of_group": _share(),
        "positive_share": _share(nullable=True),
        "neutral_share": _share(nullable=True),
        "negative_share": _share(nullable=True),
        "representative_comments": ColumnSpec(TEXT_LIST),
    }
)

_IMPROVEMENT_AREAS = TableSpec(
    columns={
        "rank": ColumnSpec(INT, min=1, unique=True),
        "theme_id": ColumnSpec(NULLABLE_INT, min=0),
        "theme_label": _text(),
        "detractor_count": ColumnSpec(INT, min=1),
        "share_of_detractors": _share(),
        "nps_impact": ColumnSpec(FLOAT, min=0.0, max=100.0),
        "example_comments": ColumnSpec(TEXT_LIST),
        # the extra columns (see nps_text.insights for their definitions)
        "nps": _nps_points(),
        "nps_without_theme": _nps_points(),
        "nps_gap": ColumnSpec(FLOAT, nullable=True),
        "promoter_count": ColumnSpec(INT, min=0),
        "theme_responses": ColumnSpec(INT, min=1),
        "lift": ColumnSpec(FLOAT, min=0.0),
        "p_value": _share(),
        "significant": ColumnSpec(BOOL),
        "current_period": _text(nullable=True),
        "previous_period": _text(nullable=True),
        "share_of_detractors_current": _share(nullable=True),
        "share_of_detractors_previous": _share(nullable=True),
        "trend": ColumnSpec(FLOAT, nullable=True),
        "trend_p_value": _share(nullable=True),
        "emerging": ColumnSpec(BOOL),
    }
)

_NPS_SUMMARY = TableSpec(
    columns={
        "segment": _text(),
        "segment_value": _text(),
        "period": _text(),
        "responses": ColumnSpec(INT, min=0),
        "promoters": ColumnSpec(INT, min=0),
        "passives": ColumnSpec(INT, min=0),
        "detractors": ColumnSpec(INT, min=0),
        "nps": _nps_points(),
        "nps_ci_low": _nps_points(),
        "nps_ci_high": _nps_points(),
    },
    row_checks=("groups_add_up",),
)

_NPS_CHANGES = TableSpec(
    columns={
        "segment": _text(),
        "segment_value": _text(),
        "period": _text(),
        "previous_period": _text(),
        "responses": ColumnSpec(INT, min=0),
        "nps": _nps_points(),
        "previous_nps": _nps_points(),
        "change": ColumnSpec(FLOAT, nullable=True, min=-200.0, max=200.0),
        "p_value": _share(nullable=True),
        "significant": ColumnSpec(BOOL),
        "direction": _text(isin=CHANGE_DIRECTIONS),
    }
)

_THEME_TRENDS = TableSpec(
    columns={
        "theme_id": ColumnSpec(NULLABLE_INT, min=0),
        "theme_label": _text(),
        "period": _text(),
        "previous_period": _text(nullable=True),
        "count": ColumnSpec(INT, min=0),
        "base": ColumnSpec(INT, min=0),
        "share": _share(),
        "previous_count": ColumnSpec(INT, min=0),
        "previous_base": ColumnSpec(INT, min=0),
        "previous_share": _share(nullable=True),
        "change_vs_previous": ColumnSpec(FLOAT, nullable=True, min=-100.0, max=100.0),
        "z": ColumnSpec(FLOAT, nullable=True),
        "p_value": _share(nullable=True),
        "trend": _text(isin=THEME_TRENDS),
    }
)

# follow_up: its own columns, then the responses' columns (same dtypes), then passthrough columns.
_FOLLOW_UP_OWN = ("follow_up", "response_id", "score", "nps_group", "comment_status")
_FOLLOW_UP = TableSpec(
    columns={
        "follow_up": _text(isin=FOLLOW_UP_ORDER),
        **{name: _RESPONSES.columns[name] for name in _FOLLOW_UP_OWN[1:]},
        **{
            name: ColumnSpec(**{**spec.__dict__, "required": False})
            for name, spec in _RESPONSES.columns.items()
            if name not in _FOLLOW_UP_OWN
        },
    },
    strict=False,
)

TABLE_SPECS: dict[str, TableSpec] = {
    "responses": _RESPONSES,
    "rejected": _REJECTED,
    "sentences": _SENTENCES,
    "themes": _THEMES,
    "improvement_areas": _IMPROVEMENT_AREAS,
    "nps_summary": _NPS_SUMMARY,
    "nps_changes": _NPS_CHANGES,
    "follow_up": _FOLLOW_UP,
    "theme_trends": _THEME_TRENDS,
}
"""Every output table's contract, by table name (the file stem in the output folder)."""

TABLES: dict[str, str] = {
    "responses": "valid input response",
    "rejected": "input row that could not be used",
    "nps_summary": "segment value x period",
    "nps_changes": "segment value x period, compared with the period before",
    "sentences": "sentence of a comment",
    "themes": "theme within an NPS group",
    "improvement_areas": "theme, ranked by the NPS its detractors cost",
    "follow_up": "response, most urgent follow-up first",
    "theme_trends": "theme x period: share of detractors raising it vs. the period before",
}
"""The registry of output tables, in output order: name (file stem, worksheet, DuckDB and SQL table) -> what one
row is. Writers, the README's table list and the tests take the list of tables from here; every name has a
contract in :data:`TABLE_SPECS`."""


def in_table_order(names: Iterable[str]) -> list[str]:
    """``names`` in the registry's order (:data:`TABLES`); names not in the registry follow as given.

    Example:
        >>> in_table_order(["themes", "extra", "responses"])
        ['responses', 'themes', 'extra']
    """
    names = list(names)
    return [name for name in TABLES if name in names] + [name for name in names if name not in TABLES]


def sql_kind(table: str, column: str) -> str | None:
    """The SQL type family of a contract column: ``integer``, ``float``, ``boolean`` or ``text`` (list columns
    are JSON text); ``None`` for a column without a contract (a passthrough column: typed from its values).

    Example:
        >>> sql_kind("theme_trends", "trend"), sql_kind("improvement_areas", "trend")
        ('text', 'float')
        >>> sql_kind("responses", "Filiale") is None
        True
    """
    spec = TABLE_SPECS.get(table)
    if spec is None or column not in spec.columns:
        return None
    return _SQL_KINDS[spec.columns[column].dtype]


_SQL_KINDS: dict[str, str] = {
    TEXT: "text", INT: "integer", NULLABLE_INT: "integer", FLOAT: "float", BOOL: "boolean",
    TEXT_LIST: "text", INT_LIST: "text",
}

RESPONSES_COLUMNS: tuple[str, ...] = _RESPONSES.required
"""Required columns of ``responses``; every passthrough column of the input follows them."""

REJECTED_COLUMNS: tuple[str, ...] = _REJECTED.required
"""Required columns of ``rejected``; the original values follow as text, one column each."""

SENTENCES_COLUMNS: tuple[str, ...] = _SENTENCES.required
THEMES_COLUMNS: tuple[str, ...] = _THEMES.required
IMPROVEMENT_AREAS_COLUMNS: tuple[str, ...] = _IMPROVEMENT_AREAS.required[:7]
IMPROVEMENT_AREAS_EXTRA: tuple[str, ...] = _IMPROVEMENT_AREAS.required[7:]
NPS_SUMMARY_COLUMNS: tuple[str, ...] = _NPS_SUMMARY.required
NPS_CHANGES_COLUMNS: tuple[str, ...] = _NPS_CHANGES.required
FOLLOW_UP_COLUMNS: tuple[str, ...] = _FOLLOW_UP.required
THEME_TRENDS_COLUMNS: tuple[str, ...] = _THEME_TRENDS.required

TABLE_CONTRACTS: dict[str, tuple[str, ...]] = {name: spec.required for name, spec in TABLE_SPECS.items()}
"""Required columns per table (in output order)."""

RESPONSES_STAGES: dict[str, tuple[str, ...]] = {
    "validate": ("response_id", "score", "comment"),
    "comments": ("response_id", "score", "comment", "comment_status", "language"),
    "nps": ("response_id", "score", "nps_group", "comment", "comment_status", "language"),
    "sentiment": RESPONSES_COLUMNS[:8],
    "themes": RESPONSES_COLUMNS,
}
"""The ``responses`` columns that exist after each step (later columns are checked if already present)."""


# --- row-level checks -------------------------------------------------------------------------------
def _group_matches_score(frame: pd.DataFrame) -> pd.Series | bool:
    if not {"score", "nps_group"} <= set(frame.columns):
        return True
    from nps_text.rules import nps_group_codes  # the rules build on this module's values

    # compared as positions in NPS_GROUPS (-1: any other value), not as a million Python strings
    expected = nps_group_codes(pd.to_numeric(frame["score"], errors="coerce").to_numpy())
    return pd.Series(category_codes(frame["nps_group"], NPS_GROUPS) == expected, index=frame.index)


def _only_with_text(column: str) -> Callable[[pd.DataFrame], pd.Series | bool]:
    def check(frame: pd.DataFrame) -> pd.Series | bool:
        if not {column, "comment_status"} <= set(frame.columns):
            return True
        from nps_text.rules import has_text  # the rules build on this module's values

        return pd.Series(has_text(frame).to_numpy() | frame[column].isna().to_numpy(), index=frame.index)

    return check


def _groups_add_up(frame: pd.DataFrame) -> pd.Series | bool:
    parts = ["promoters", "passives", "detractors", "responses"]
    if not set(parts) <= set(frame.columns):
        return True
    total = frame["promoters"] + frame["passives"] + frame["detractors"]
    return pd.Series((total == frame["responses"]).to_numpy(dtype=bool), index=frame.index)


_ROW_CHECKS: dict[str, tuple[Callable[[pd.DataFrame], pd.Series | bool], str]] = {
    "nps_group_matches_score": (_group_matches_score, "nps_group must follow from score (9-10, 7-8, 0-6)"),
    "sentiment_only_with_text": (_only_with_text("sentiment"), "sentiment must be null unless comment_status is 'text'"),
    "theme_only_with_text": (_only_with_text("theme_id"), "theme_id must be null unless comment_status is 'text'"),
    "theme_ids_only_with_text": (
        _only_with_text("theme_ids"), "theme_ids must be null unless comment_status is 'text'",
    ),
    "groups_add_up": (_groups_add_up, "promoters + passives + detractors must equal responses"),
}


# --- building frames --------------------------------------------------------------------------------
def pandas_dtype(table: str, column: str) -> Any:
    """The pandas dtype of ``column`` in ``table``.

    Example:
        >>> pandas_dtype("responses", "theme_id")
        Int64Dtype()
    """
    return _PANDAS_DTYPES[TABLE_SPECS[table].columns[column].dtype]


def null_column(table: str, column: str, index: pd.Index) -> pd.Series:
    """An all-missing column of the contract dtype (e.g. ``sentiment`` when sentiment is disabled)."""
    return pd.Series(index=index, dtype=pandas_dtype(table, column), name=column)


def empty_frame(table: str) -> pd.DataFrame:
    """A table with no rows, the contract's required columns and their dtypes."""
    spec = TABLE_SPECS[table]
    return pd.DataFrame(
        {name: pd.Series(dtype=_PANDAS_DTYPES[column.dtype]) for name, column in spec.columns.items() if column.required}
    )


def _has_dtype(series: pd.Series, dtype: str) -> bool:
    target = _PANDAS_DTYPES[dtype]
    if dtype == TEXT:  # "str" (NaN-missing) and python-storage strings are different dtypes
        return isinstance(series.dtype, pd.StringDtype) and series.dtype == target
    return bool(series.dtype == target)


def _coerce(frame: pd.DataFrame, table: str) -> tuple[pd.DataFrame, list[str]]:
    """Cast every contract column present to its contract dtype; a column that cannot be cast is reported."""
    spec = TABLE_SPECS[table]
    problems: list[str] = []
    casts: dict[str, pd.Series] = {}
    for name, column in spec.columns.items():
        if name not in frame.columns or _has_dtype(frame[name], column.dtype):
            continue
        series = frame[name]
        if column.dtype in (INT, BOOL) and series.isna().any():
            continue  # reported by the validation as null values in a non-nullable column
        try:
            casts[name] = series.astype(_PANDAS_DTYPES[column.dtype])
        except (TypeError, ValueError, OverflowError) as error:
            problems.append(
                f"column '{name}': cannot convert dtype {series.dtype} to {column.dtype} ({_short(str(error))})"
            )
    if casts:
        frame = frame.assign(**casts)
    return frame, problems


def coerce_table(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """A copy of ``frame`` whose contract columns have the contract dtypes (other columns untouched).

    Raises:
        SchemaError: a column cannot be converted (e.g. text in ``score``).
    """
    coerced, problems = _coerce(frame, table)
    if problems:
        raise SchemaError(_message(table, None, problems))
    return coerced


def arrow_schema(frame: pd.DataFrame) -> Any:
    """The ``pyarrow.Schema`` to write ``frame`` with: as inferred, but a column that is empty or all null is
    ``list<string>`` / ``list<int64>`` for a list column of the contracts (``keywords``, ``theme_ids``, ...) and
    ``string`` otherwise, never Arrow's ``null`` type, so a table without rows has the same Parquet schema as
    one with rows.
    """
    import pyarrow as pa

    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    for position, arrow_field in enumerate(schema):
        name = arrow_field.name
        if pa.types.is_null(arrow_field.type) or (
            name in _INT_LIST_COLUMNS and pa.types.is_list(arrow_field.type) and pa.types.is_null(arrow_field.type.value_type)
        ):
            kind = (
                pa.list_(pa.int64()) if name in _INT_LIST_COLUMNS
                else pa.list_(pa.string()) if name in _LIST_COLUMNS
                else pa.string()
            )
            schema = schema.set(position, arrow_field.with_type(kind))
    return schema


_LIST_COLUMNS = frozenset(
    name for spec in TABLE_SPECS.values() for name, column in spec.columns.items() if column.dtype in _LIST_DTYPES
)
_INT_LIST_COLUMNS = frozenset(
    name for spec in TABLE_SPECS.values() for name, column in spec.columns.items() if column.dtype == INT_LIST
)


# --- validation -------------------------------------------------------------------------------------
def _is_text_list(value: object) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(item, str) for item in value)


def _is_int_list(value: object) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and all(
        isinstance(item, (int, np.integer)) and not isinstance(item, bool) for item in value
    )


def _column_checks(name: str, column: ColumnSpec) -> list[pa.Check]:
    import pandera.pandas as pa

    checks = []
    if column.isin is not None:
        checks.append(pa.Check.isin(list(column.isin), error=f"allowed values: {', '.join(column.isin)}"))
    if column.min is not None and column.max is not None:
        checks.append(pa.Check.in_range(column.min, column.max, error=f"must be within {column.min:g}..{column.max:g}"))
    elif column.min is not None:
        checks.append(pa.Check.ge(column.min, error=f"must be >= {column.min:g}"))
    if column.dtype == TEXT_LIST:
        checks.append(pa.Check(_is_text_list, element_wise=True, error="each cell must be a list of strings"))
    if column.dtype == INT_LIST:
        checks.append(pa.Check(_is_int_list, element_wise=True, error="each cell must be a list of integers"))
    if column.unique and column.dtype == TEXT:
        checks.append(pa.Check(_not_duplicated, error=_CHECK_WORDS["field_uniqueness"]))
    return checks


def _not_duplicated(values: pd.Series) -> pd.Series:
    """False for every occurrence of a value that occurs more than once; found on integer codes (the text
    column's dictionary encoding), not on a Python string per row as pandera's ``unique`` does."""
    codes, _ = pd.factorize(values)
    return pd.Series(~pd.Series(codes).duplicated(keep=False).to_numpy(), index=values.index)


def category_codes(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Each value's position in ``categories`` (-1: another value or missing), through the column's dictionary
    encoding: no Python string per row.

    Example:
        >>> category_codes(pd.Series(["passive", None, "promoter", "x"], dtype="string"), NPS_GROUPS).tolist()
        [1, -1, 0, -1]
    """
    codes, distinct = pd.factorize(values)
    lookup = np.array([categories.index(value) if value in categories else -1 for value in distinct] + [-1])
    return lookup[codes]  # code -1 (missing) takes the last entry


@lru_cache(maxsize=64)
def table_schema(table: str, required: frozenset[str] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of ``table``; ``required`` narrows the required columns (for partial tables)."""
    import pandera.pandas as pa

    spec = TABLE_SPECS[table]
    columns = {}
    for name, column in spec.columns.items():
        is_required = column.required if required is None else name in required
        dtype = None if column.dtype in _LIST_DTYPES else _PANDAS_DTYPES[column.dtype]
        columns[name] = pa.Column(
            dtype,
            checks=_column_checks(name, column),
            nullable=column.nullable,
            unique=column.unique and column.dtype != TEXT,  # text: _not_duplicated
            required=is_required,
        )
    checks = [pa.Check(_ROW_CHECKS[key][0], name=key, error=_ROW_CHECKS[key][1]) for key in spec.row_checks]
    return pa.DataFrameSchema(columns, checks=checks, strict=spec.strict, name=table)


def check_table(
    frame: pd.DataFrame, table: str, *, stage: str | None = None, required: Iterable[str] | None = None
) -> pd.DataFrame:
    """Coerce ``frame`` to ``table``'s contract dtypes, validate it, and return the coerced frame.

    Every violation is collected (pandera's lazy validation) and reported at once.

    Args:
        frame: the table (not modified).
        table: a name in :data:`TABLE_SPECS`.
        stage: the step that produced ``frame`` (named in the error); for ``responses`` also picks the
            columns that must exist after that step (:data:`RESPONSES_STAGES`).
        required: the columns that must exist (default: the contract's required columns, or the stage's).

    Raises:
        SchemaError: listing every missing column, wrong dtype, disallowed or null value.
    """
    import pandera.errors

    if required is None and table == "responses" and stage in RESPONSES_STAGES:
        required = RESPONSES_STAGES[stage]
    coerced, problems = _coerce(frame, table)
    if coerced is frame:  # pandera validates in place (no copy of every column): a new frame, the same data
        coerced = frame.copy(deep=False)
    schema = table_schema(table, None if required is None else frozenset(required))
    try:
        validated = schema.validate(coerced, lazy=True, inplace=True)
    except pandera.errors.SchemaErrors as errors:
        unconvertible = {problem.split("'")[1] for problem in problems}
        problems += _describe(errors.failure_cases, coerced, unconvertible)
    except pandera.errors.SchemaError as error:  # pandera raises some problems eagerly even when lazy
        problems.append(_short(str(error), 300))
    if problems:
        raise SchemaError(_message(table, stage, problems))
    return validated


PRODUCED_BY: dict[str, str] = {
    "responses": "themes",
    "rejected": "validate",
    "sentences": "sentiment",
    "themes": "themes",
    "improvement_areas": "insights",
    "follow_up": "insights",
    "nps_summary": "nps",
    "nps_changes": "nps",
    "theme_trends": "insights",
}
"""The step whose output each table is (named in errors from :func:`check_tables`)."""


CHECK_BATCH_ROWS = 100_000
"""A :class:`~nps_text.table_view.TableView` is validated this many rows at a time (:func:`check_view`)."""


def check_view(view: TableView, table: str, *, stage: str | None = None) -> TableView:
    """:func:`check_table` for a view: its own columns and its source's coerced to ``table``'s contract dtypes,
    its rows validated :data:`CHECK_BATCH_ROWS` at a time (never the whole table at once).

    Raises:
        SchemaError: a column cannot be converted, or a slice breaks the contract (its problems).
    """
    own, own_problems = _coerce(view.own, table)
    source, source_problems = _coerce(view.source, table)
    if own_problems or source_problems:
        raise SchemaError(_message(table, stage, own_problems + source_problems))
    checked = TableView(source, view.order, own, view.columns)
    for part in batches(checked, CHECK_BATCH_ROWS):
        check_table(part, table, stage=stage)
    return checked


def check_tables(tables: Mapping[str, Table]) -> dict[str, Table]:
    """:func:`check_table` (:func:`check_view` for a view) on every table with a contract (others pass
    through), e.g. just before writing.

    Returns the tables with contract dtypes, so each file's schema is the same whatever the config.

    Raises:
        SchemaError: every problem of every table, in one message.
    """
    checked: dict[str, Table] = {}
    messages: list[str] = []
    for name, frame in tables.items():
        if name not in TABLE_SPECS:
            checked[name] = frame
            continue
        try:
            if isinstance(frame, TableView):
                checked[name] = check_view(frame, name, stage=PRODUCED_BY.get(name))
                continue
            checked[name] = check_table(frame, name, stage=PRODUCED_BY.get(name))
        except SchemaError as error:
            messages.append(str(error))
    if messages:
        raise SchemaError("\n".join(messages))
    return checked


def check_columns(frame: pd.DataFrame, required: Iterable[str], table: str) -> None:
    """Raise :class:`SchemaError` naming every missing column of ``table`` (a step's input check).

    Example:
        >>> check_columns(pd.DataFrame({"a": [1]}), ["a"], "demo")
    """
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise SchemaError(f"table '{table}' is missing column(s) {missing}; it has {list(frame.columns)}")


# --- messages ---------------------------------------------------------------------------------------
_MAX_LISTED = 5
_CHECK_WORDS = {
    "column_in_dataframe": "missing column",
    "column_in_schema": "column not in the contract",
    "not_nullable": "null values not allowed",
    "field_uniqueness": "duplicate values",
}


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listed(values: Iterable[object]) -> str:
    items = list(values)
    shown = ", ".join(repr(value) if isinstance(value, str) else str(value) for value in items[:_MAX_LISTED])
    return shown + (f", ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")


def _describe(failures: pd.DataFrame, frame: pd.DataFrame, skip: set[str]) -> list[str]:
    """One line per (column, check) from pandera's ``failure_cases``; one per row-level check."""
    columns: list[str] = []
    rows: list[str] = []
    failures = failures.astype({"column": object, "check": object, "schema_context": object})
    row_level = failures["schema_context"].eq("DataFrameSchema") & ~failures["check"].isin(list(_CHECK_WORDS))
    for check, group in failures[row_level].groupby("check", sort=False):
        where = sorted({int(index) for index in group["index"].tolist() if not _missing(index)})
        rows.append(f"{check}: {len(where)} row(s) break it (rows {_listed(where)})")
    per_column = failures[~row_level]
    keys = per_column[["column", "check"]].astype(str).agg("\x00".join, axis=1)
    for key in dict.fromkeys(keys):
        group = per_column[keys == key]
        column, check = key.split("\x00", 1)
        first = group.iloc[0]
        if check == "column_in_dataframe":
            columns.append(f"missing column '{first['failure_case']}' (the table has {list(frame.columns)})")
        elif check == "column_in_schema":
            columns.append(f"column '{first['failure_case']}' is not in the contract")
        elif column in skip:
            continue  # already reported: it could not be converted to its dtype
        elif check.startswith("dtype("):
            actual = frame[column].dtype if column in frame.columns else first["failure_case"]
            columns.append(f"column '{column}': dtype {actual}, expected {check[6:-1]}")
        else:
            values = [value for value in group["failure_case"].tolist() if not _missing(value)]
            where = sorted({int(index) for index in group["index"].tolist() if not _missing(index)})
            detail = f"{len(group)} failing value(s)"
            if values and check != "not_nullable":
                detail += f": {_listed(dict.fromkeys(values))}"
            if where:
                detail += f" (rows {_listed(where)})"
            columns.append(f"column '{column}': {_CHECK_WORDS.get(check, check)}; {detail}")
    return columns + rows


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _message(table: str, stage: str | None, problems: list[str]) -> str:
    where = f" after the {stage} step" if stage else ""
    listed = "\n".join(f"  - {problem}" for problem in problems)
    # failing values can be personal data, and error messages reach logs and Prefect's result storage
    from nps_text.pii import redact

    return redact(f"table '{table}'{where} breaks its contract ({len(problems)} problem(s)):\n{listed}")
