"""CSV: delimiter ``, ; TAB |`` detected (or configured), encoding detected by :mod:`nps_text.decoding`, quoted
multi-line fields, mixed line endings; a line with more fields than the header is unparseable."""

from __future__ import annotations

import contextlib
import csv
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nps_text.config import CSV_DELIMITERS, InputConfig
from nps_text.errors import InputError
from nps_text.ingest.table import RawInput, TableBuilder, check_width, input_from_table, shorten, text_lines


def check_csv(path: Path, config: InputConfig) -> None:
    """Only the header: more than :data:`~nps_text.ingest.table.MAX_COLUMNS` columns raise :class:`InputError`."""
    lines, delimiter, _ = csv_lines(path, config)
    with csv_field_limit(path.stat().st_size + 1), contextlib.suppress(csv.Error):
        for record in csv.reader(lines, delimiter=delimiter):
            if any(cell.strip() for cell in record):
                check_width(len(record), f"{path}: the header", delimiter_advice(delimiter))
                return


def delimiter_advice(delimiter: str) -> str:
    return f"; delimiter {delimiter!r}: set input.delimiter if that is wrong"


@contextlib.contextmanager
def csv_field_limit(limit: int) -> Iterator[None]:
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


def csv_lines(path: Path, config: InputConfig) -> tuple[Iterator[str], str, dict[str, Any]]:
    """The decoded lines of a CSV file, its delimiter (configured, else sniffed from the first MiB) and the
    decoding details."""
    lines, details = text_lines(path, config)
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


def read_csv(path: Path, config: InputConfig, min_columns: int = 2) -> RawInput:
    lines, delimiter, details = csv_lines(path, config)
    header: list[str] | None = None
    table = TableBuilder(details, config.columns)
    bad: list[dict[str, Any]] = []
    number = 0
    with csv_field_limit(path.stat().st_size + 1):  # no field has more characters than the file has bytes
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                if header is None:
                    header = record
                    check_width(len(header), f"{path}: the header", delimiter_advice(delimiter))
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
                                "raw_line": shorten(delimiter.join(record)),
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
            f"{path}: found only one column {shorten(header[0], 80)!r} (delimiter {delimiter!r}); "
            "an NPS export needs at least a score and a comment column; set input.delimiter if detection failed"
        )
    return input_from_table(table, bad, "csv")


