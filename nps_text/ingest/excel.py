"""Excel: ``.xlsx``/``.xlsm`` (cached formula values), one sheet; decompression bombs refused before unpacking."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nps_text.config import InputConfig
from nps_text.errors import InputError
from nps_text.ingest.table import (
    MAX_COLUMNS,
    RawInput,
    check_width,
    first_line,
    input_from_rows,
    reraise_if_transient,
)

XLSX_MAX_UNCOMPRESSED = 1 << 30
XLSX_MAX_RATIO = 200
XLSX_RATIO_MIN_BYTES = 10 << 20


def _check_xlsx_archive(path: Path) -> None:
    """Refuse decompression bombs before openpyxl unpacks anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise InputError(f"{path} is not a readable .xlsx workbook (broken zip archive: {exc})") from exc
    total = sum(member.file_size for member in members)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise InputError(
            f"{path}: the workbook unpacks to {total:,} bytes, more than the limit of {XLSX_MAX_UNCOMPRESSED:,}; "
            "export the sheet as CSV instead"
        )
    for member in members:
        if member.file_size > XLSX_RATIO_MIN_BYTES and member.file_size > XLSX_MAX_RATIO * max(member.compress_size, 1):
            raise InputError(
                f"{path}: part {member.filename!r} compresses {member.file_size // max(member.compress_size, 1):,}:1 "
                "(a decompression bomb?); refusing to open it"
            )


def read_excel(path: Path, config: InputConfig) -> RawInput:
    _check_xlsx_archive(path)
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        reraise_if_transient(exc)
        raise InputError(f"{path} is not a readable .xlsx workbook: {first_line(exc)}") from exc
    try:
        sheet = config.sheet if config.sheet is not None else 0
        names = workbook.sheetnames
        if isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise InputError(f"{path}: there is no sheet number {sheet} (0-based); sheets: {names}")
            sheet_name = names[sheet]
        elif sheet in names:
            sheet_name = sheet
        else:
            raise InputError(f"{path}: there is no sheet {sheet!r}; sheets: {names}")
        worksheet = workbook[sheet_name]
        if not hasattr(worksheet, "reset_dimensions"):
            raise InputError(f"{path}: sheet {sheet_name!r} is a chart sheet, not a table")
        declared = worksheet.calculate_dimension() if worksheet.max_row and worksheet.max_column else None
        worksheet.reset_dimensions()  # the declared size can be absurd (A1:XFD1048576); count real cells only
        columns, rows, numbers, bad, skipped = _sheet_rows(worksheet.iter_rows(values_only=True), f"{path}")
    except InputError:
        raise
    except Exception as exc:
        reraise_if_transient(exc)
        raise InputError(f"{path} is not a readable .xlsx workbook: {first_line(exc)}") from exc
    finally:
        workbook.close()
    if columns is None:
        raise InputError(f"{path}: sheet {sheet_name!r} is empty")
    details: dict[str, Any] = {"sheet": sheet_name}
    if declared:
        details["declared_dimension"] = declared
    if skipped:
        details["title_rows_skipped"] = skipped
    return input_from_rows(columns, rows, numbers, bad, "xlsx", details, config.columns)


def _sheet_rows(
    values: Iterator[tuple[Any, ...]], name: str
) -> tuple[list[Any] | None, list[list[Any]], list[int], list[dict[str, Any]], int]:
    """Header and data rows of a sheet; title rows above the header (one cell, e.g. merged) are skipped."""

    def filled(row: tuple[Any, ...] | list[Any]) -> list[Any]:
        cells = list(row)
        while cells and (cells[-1] is None or (isinstance(cells[-1], str) and not cells[-1].strip())):
            cells.pop()
        return cells

    pending: list[list[Any]] = []
    header: list[Any] | None = None
    rows: list[list[Any]] = []
    numbers: list[int] = []
    bad: list[dict[str, Any]] = []
    number = 0
    for raw in values:
        cells = filled(raw)
        if not cells:
            continue
        if header is None:
            check_width(len(cells), f"{name}: the sheet's header")
            non_empty = sum(1 for cell in cells if cell is not None)
            if non_empty < 2 and len(pending) < 10:
                pending.append(cells)
                continue
            header = cells
            continue
        number += 1
        if len(cells) > len(header):
            bad.append(
                {
                    "row_number": number,
                    "raw_line": "\t".join("" if cell is None else str(cell) for cell in cells[:MAX_COLUMNS]),
                    "reason": f"row has {len(cells)} cells but the header has {len(header)}",
                }
            )
            continue
        rows.append(cells)
        numbers.append(number)
    skipped = len(pending)
    if header is None and pending:  # a one-column sheet: the first row is the header after all
        header, body = pending[0], pending[1:]
        skipped = 0
        rows = body
        numbers = list(range(1, len(body) + 1))
    return header, rows, numbers, bad, skipped
