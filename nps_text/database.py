"""SQL output: every table into a database (PostgreSQL first, SQLite and other SQLAlchemy dialects too).

* Types BI tools understand: integers (BIGINT), floats (DOUBLE PRECISION), booleans, timestamps, text; list and
  dict cells (keywords, representative comments) as JSON text. A contract column's type comes from its table's
  contract in :mod:`nps_text.schema` (per table and column); passthrough columns are typed from their values.
* ``responses`` is UPSERTED by ``response_id`` (``INSERT ... ON CONFLICT (response_id) DO UPDATE`` on PostgreSQL
  and SQLite; delete + insert elsewhere): a weekly re-run with overlapping exports neither duplicates nor loses
  rows. The table gets its primary key on first write; columns the input gained later are added.
* Run-level tables (``nps_summary``, ``themes``, ``improvement_areas``, ...) are replaced: rows deleted and
  re-inserted (the table, and views on it, stay) or, when a column changed type, dropped and re-created.
* Everything happens in ONE transaction: a dashboard never sees half a run.
* Credentials: the URL holds no password; it comes from ``password_env`` or libpq's own ``PGPASSWORD`` /
  ``~/.pgpass``. The password is set on the engine in memory only and never logged or returned.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    MetaData,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.schema import CreateSchema
from sqlalchemy.types import TypeEngine

from nps_text.alerts_config import database_url_problem
from nps_text.errors import ConfigError
from nps_text.schema import in_table_order, sql_kind
from nps_text.table_view import Table as RunTable
from nps_text.table_view import as_frame

KEY_TABLE = "responses"
KEY_COLUMN = "response_id"
BATCH_ROWS = 1000

INTEGER, FLOAT, BOOLEAN, TIMESTAMP, DATE, TEXT = "integer", "float", "boolean", "timestamp", "date", "text"

def with_installed_driver(url: str | URL) -> URL:
    """``postgresql://`` means psycopg2 to SQLAlchemy; we install psycopg 3, so name it (input and output)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def engine_url(url: str, password_env: str | None = None) -> URL:
    """The URL to connect with: no password in ``url``; ``password_env``'s value set in memory; psycopg 3."""
    if problem := database_url_problem(url):
        raise ConfigError(problem)
    parsed = with_installed_driver(url)
    if password_env and parsed.get_backend_name() != "sqlite":  # a file database has no password
        password = os.environ.get(password_env)
        if not password:
            raise ConfigError(f"environment variable {password_env} (the database password) is not set")
        parsed = parsed.set(password=password)
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with any password masked (for the manifest and logs)."""
    return make_url(url).render_as_string(hide_password=True)


def connect(url: str, password_env: str | None = None) -> Engine:
    """An engine; on SQLite with transactional DDL (pysqlite would otherwise commit around CREATE / DROP)."""
    engine = create_engine(engine_url(url, password_env))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")

    return engine


def column_kind(name: str, series: pd.Series, table: str | None = None) -> str:
    """The SQL type family of a column: integer, float, boolean, timestamp, date or text (JSON for lists).

    A column of ``table``'s contract takes its type from the contract (:func:`nps_text.schema.sql_kind`), so an
    empty table (themes disabled) is created with the types a later run fills in, and a name means the same
    only within its table (``trend`` is a float in ``improvement_areas``, text in ``theme_trends``). Other
    columns (the input's passthrough columns, tables without a contract) are typed from their values.
    """
    if table is not None and (kind := sql_kind(table, name)) is not None:
        return kind
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return BOOLEAN
    if pd.api.types.is_integer_dtype(dtype):
        return INTEGER
    if pd.api.types.is_float_dtype(dtype):
        return FLOAT
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return TIMESTAMP
    values = [value for value in series.tolist() if not _missing(value)]
    if values and all(isinstance(value, (bool, np.bool_)) for value in values):
        return BOOLEAN
    if values and all(isinstance(value, (datetime, pd.Timestamp)) for value in values):
        return TIMESTAMP
    if values and all(isinstance(value, date) and not isinstance(value, datetime) for value in values):
        return DATE
    return TEXT


def _sql_type(kind: str, series: pd.Series) -> TypeEngine[Any]:
    if kind == TIMESTAMP:
        tz = getattr(series.dtype, "tz", None) is not None or any(
            isinstance(value, datetime) and value.tzinfo is not None for value in series.dropna().head(20)
        )
        return DateTime(timezone=tz)
    types: dict[str, TypeEngine[Any]] = {
        INTEGER: BigInteger(), FLOAT: Double(), BOOLEAN: Boolean(), DATE: Date(), TEXT: Text(),
    }
    return types[kind]


def _reflected_kind(column_type: Any) -> str:
    affinity = getattr(column_type, "_type_affinity", type(column_type))
    from sqlalchemy import Float, Integer, Numeric, String

    if isinstance(column_type, Boolean) or (isinstance(affinity, type) and issubclass(affinity, Boolean)):
        return BOOLEAN
    if isinstance(affinity, type):
        if issubclass(affinity, Integer):
            return INTEGER
        if issubclass(affinity, (Float, Numeric)):
            return FLOAT
        if issubclass(affinity, DateTime):
            return TIMESTAMP
        if issubclass(affinity, Date):
            return DATE
        if issubclass(affinity, String):
            return TEXT
    return "other"


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _cell(value: Any, kind: str) -> Any:
    """One Python value as the database driver wants it (None for every kind of missing)."""
    if isinstance(value, (list, tuple, np.ndarray, dict)):
        return json.dumps(value.tolist() if isinstance(value, np.ndarray) else value, ensure_ascii=False, default=str)
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if _missing(value):
            return None
    if kind == INTEGER:
        return int(value)
    if kind == FLOAT:
        return float(value)
    if kind == BOOLEAN:
        return bool(value)
    if kind == TIMESTAMP:
        return pd.Timestamp(value).to_pydatetime()
    if kind == DATE:
        return value
    return value if isinstance(value, str) else str(value)


def _records(frame: pd.DataFrame, kinds: Mapping[str, str]) -> list[dict[str, Any]]:
    columns = {name: [_cell(value, kinds[name]) for value in frame[name].tolist()] for name in frame.columns}
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)] if columns else []


def _batches(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield rows[start : start + BATCH_ROWS]


def _table(name: str, frame: pd.DataFrame, kinds: Mapping[str, str], schema: str | None, key: str | None) -> Table:
    columns = [
        Column(column, _sql_type(kinds[column], frame[column]), primary_key=(column == key), nullable=column != key)
        for column in frame.columns
    ]
    return Table(name, MetaData(), *columns, schema=schema)


def _add_missing_columns(conn: Connection, table: Table, existing: set[str]) -> list[str]:
    preparer = conn.dialect.identifier_preparer
    added = []
    for column in table.columns:
        if column.name not in existing:
            conn.exec_driver_sql(
                f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.quote(column.name)} "
                f"{column.type.compile(dialect=conn.dialect)}"
            )
            added.append(column.name)
    return added


def _kinds(frame: pd.DataFrame, table: str | None) -> dict[str, str]:
    return {column: column_kind(column, frame[column], table) for column in frame.columns}


def upsert_responses(
    conn: Connection, name: str, frame: pd.DataFrame, schema: str | None, *, table: str = KEY_TABLE
) -> dict[str, Any]:
    """Insert or update ``frame`` by ``response_id`` into the SQL table ``name`` (typed by ``table``'s contract);
    creates the table (with its primary key) when missing."""
    frame = frame.drop_duplicates(KEY_COLUMN, keep="last")
    kinds = _kinds(frame, table)
    inspector = inspect(conn)
    added: list[str] = []
    if inspector.has_table(name, schema=schema):
        reflected = {col["name"]: col["type"] for col in inspector.get_columns(name, schema=schema)}
        for column, column_type in reflected.items():  # an existing text column keeps receiving text
            if column in kinds and _reflected_kind(column_type) == TEXT:
                kinds[column] = TEXT
        target = _table(name, frame, kinds, schema, KEY_COLUMN)
        added = _add_missing_columns(conn, target, set(reflected))
    else:
        target = _table(name, frame, kinds, schema, KEY_COLUMN)
        target.create(conn)
    before = conn.execute(select(func.count()).select_from(target)).scalar_one()
    rows = _records(frame, kinds)
    dialect = conn.dialect.name
    for batch in _batches(rows):
        if dialect in ("postgresql", "sqlite"):
            from sqlalchemy.dialects import postgresql, sqlite

            statement: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)
            updates = {c.name: statement.excluded[c.name] for c in target.columns if c.name != KEY_COLUMN}
            conn.execute(statement.on_conflict_do_update(index_elements=[KEY_COLUMN], set_=updates), batch)
        else:  # other dialects: delete the ids of this batch, then insert (same transaction)
            conn.execute(delete(target).where(target.c[KEY_COLUMN].in_([row[KEY_COLUMN] for row in batch])))
            conn.execute(insert(target), batch)
    after = conn.execute(select(func.count()).select_from(target)).scalar_one()
    return {"rows": len(rows), "inserted": int(after - before), "updated": int(len(rows) - (after - before)),
            "columns_added": added}


def replace_table(
    conn: Connection, name: str, frame: pd.DataFrame, schema: str | None, *, table: str | None = None
) -> dict[str, Any]:
    """Replace the rows of the run-level SQL table ``name``, typed by ``table``'s contract (delete + insert;
    drop + create when a column changed type)."""
    kinds = _kinds(frame, table if table is not None else name)
    target = _table(name, frame, kinds, schema, None)
    inspector = inspect(conn)
    recreated = False
    if inspector.has_table(name, schema=schema):
        reflected = {col["name"]: _reflected_kind(col["type"]) for col in inspector.get_columns(name, schema=schema)}
        compatible = all(reflected.get(column, kind) == kind for column, kind in kinds.items())
        if compatible:
            _add_missing_columns(conn, target, set(reflected))
            conn.execute(delete(target))
        else:
            target.drop(conn)
            target.create(conn)
            recreated = True
    else:
        target.create(conn)
    rows = _records(frame, kinds)
    for batch in _batches(rows):
        conn.execute(insert(target), batch)
    return {"rows": len(rows), "recreated": recreated}


def write_database(
    tables: Mapping[str, RunTable],
    url: str,
    *,
    schema: str | None = None,
    password_env: str | None = None,
    table_prefix: str = "",
) -> dict[str, Any]:
    """Write every table in one transaction; returns the manifest entry (masked URL, schema, rows per table)."""
    engine = connect(url, password_env)
    if schema and engine.dialect.name == "sqlite":
        raise ConfigError("output.database_schema is not supported for SQLite (use a separate database file)")
    written: dict[str, Any] = {}
    try:
        with engine.begin() as conn:
            if schema:
                conn.execute(CreateSchema(schema, if_not_exists=True))
            for name in in_table_order(tables):
                frame, target = as_frame(tables[name]), f"{table_prefix}{name}"  # a view as one frame
                if name == KEY_TABLE and KEY_COLUMN in frame.columns:
                    written[target] = upsert_responses(conn, target, frame, schema, table=name)
                else:
                    written[target] = replace_table(conn, target, frame, schema, table=name)
    finally:
        engine.dispose()
    return {
        "url": safe_url(url),
        "dialect": engine.dialect.name,
        "schema": schema,
        "tables": written,
        "written_at": datetime.now(UTC).isoformat(),
    }
