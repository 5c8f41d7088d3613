"""SQL: a read-only query (:mod:`nps_text.ingest.sql_guard`) through a SQLAlchemy URL, in a transaction that is
rolled back; a database that cannot be reached raises :class:`SourceUnavailableError` (transient)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from nps_text.config import InputConfig
from nps_text.errors import InputError, SourceUnavailableError
from nps_text.ingest.sql_guard import check_read_only_query
from nps_text.ingest.table import RawInput, input_from_rows

SQL_URL_PREFIXES = ("sqlite:", "postgresql", "postgres:", "mysql", "mariadb", "mssql", "oracle", "duckdb:")


def is_sql_url(source: str) -> bool:
    """True if ``source`` looks like a SQLAlchemy URL rather than a file path."""
    return "://" in source and source.lower().startswith(SQL_URL_PREFIXES)


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


def read_sql(url: str, config: InputConfig) -> RawInput:
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
    raw = input_from_rows(
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
