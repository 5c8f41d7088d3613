"""JSON Lines (``.jsonl``, ``.ndjson``, ``.json``), or one JSON array / one pretty-printed object; a line that is
not a JSON object is unparseable."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nps_text.config import InputConfig
from nps_text.ingest.table import RawInput, TableBuilder, check_width, input_from_table, shorten, text_lines


def read_json_lines(path: Path, config: InputConfig) -> RawInput:
    lines, details = text_lines(path, config)
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
    table = TableBuilder(details, config.columns)
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
                {"row_number": number, "raw_line": shorten(line), "reason": f"invalid JSON: {exc.msg} at column {exc.colno}"}
            )
            continue
        except RecursionError:
            bad.append({"row_number": number, "raw_line": shorten(line), "reason": "invalid JSON: nested too deeply"})
            continue
        if not isinstance(record, dict):
            bad.append(
                {"row_number": number, "raw_line": shorten(line), "reason": f"JSON line is a {type(record).__name__}, not an object"}
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
    return input_from_table(table, bad, "jsonl")


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
