"""The SQL guard: only one read-only ``SELECT``/``WITH``/``VALUES`` statement is run."""

from __future__ import annotations

import re

from nps_text.errors import InputError

_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_SQL_STRING = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


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
