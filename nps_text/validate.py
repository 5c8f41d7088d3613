"""Column mapping and row validation: raw text records in, ``responses`` and ``rejected`` out. Pure.

Every input record ends up exactly once in ``responses`` or ``rejected``; a rejected row keeps its
original values as text, its 1-based ``row_number`` and a human-readable ``reason``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from nps_text.config import ColumnsConfig
from nps_text.dates import DateColumnInfo, parse_date, parse_dates
from nps_text.errors import ColumnMappingError
from nps_text.rules import input_name
from nps_text.schema import REJECTED_COLUMNS, RESPONSES_COLUMNS

# Normalised header names (lower case, umlauts folded, non-alphanumerics removed), best first.
ID_NAMES = (
    "responseid", "id", "respondentid", "surveyresponseid", "recordid", "antwortid", "teilnehmerid",
    "rueckmeldungid", "feedbackid", "interviewid", "uuid", "lfdnr", "nr",
)
SCORE_NAMES = (
    "npsscore", "score", "nps", "npswert", "npsbewertung", "empfehlung", "weiterempfehlung",
    "empfehlungswahrscheinlichkeit", "weiterempfehlungswahrscheinlichkeit", "bewertung", "likelihoodtorecommend",
    "ltr", "recommend", "recommendation", "recommendscore", "wahrscheinlichkeit", "punkte", "punktzahl",
)
COMMENT_NAMES = (
    "comment", "comments", "kommentar", "kommentare", "feedback", "anmerkung", "anmerkungen", "freitext",
    "verbatim", "begruendung", "bemerkung", "bemerkungen", "text", "reviewtext", "review", "remarks",
    "openanswer", "offeneantwort", "antwort", "grund", "reason", "why", "warum", "npscomment", "npskommentar",
)
DATE_NAMES = (
    "date", "datum", "responsedate", "surveydate", "submittedat", "submitted", "createdat", "created",
    "timestamp", "zeitstempel", "zeitpunkt", "antwortdatum", "erstelltam", "erstellt", "eingangsdatum",
    "completedat", "enddate", "startdate",
)
FUZZY = {
    "score": ("nps", "score", "empfehl", "recommend", "bewertung"),
    "comment": ("comment", "kommentar", "feedback", "anmerkung", "verbatim", "freitext"),
    "date": ("date", "datum"),
}
RESERVED = set(RESPONSES_COLUMNS) | {"period", "date", "row_number", "comment_truncated"}
MISSING_MARKERS = frozenset({"nan", "none", "null", "na", "n/a", "n.a.", "#n/a", "nil", "-", "--", "?", "k.a.", "keine angabe"})
_SCORE = re.compile(
    r"([+-]?\d+(?:[.,]\d+)?)\s*(?:(?:/|von|of|out\s+of|aus)\s*10|punkte?|pkt\.?|points?|pts?\.?)?", re.IGNORECASE
)
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2060\ufeff]")

MAX_PASSTHROUGH_COLUMNS = 100
"""Without ``input.columns.passthrough``, at most this many columns besides the roles and segments are read (the
first ones); a wider export (one column per question and matrix cell) keeps only what the run needs."""

__all__ = [
    "ColumnMapping", "ValidationInfo", "Validation", "columns_to_read", "detect_columns", "normalise_header",
    "parse_date", "parse_score", "shown_columns", "validate", "validate_records",
]


def shown_columns(columns: Sequence[str], limit: int = 20, width: int = 60) -> str:
    """Columns for an error message: at most ``limit`` names, each cut to ``width`` characters."""
    names = [name if len(name) <= width else name[: width - 1] + "…" for name in list(columns)[:limit]]
    more = len(columns) - limit
    return f"{names}" + (f" and {more} more" if more > 0 else "")


def normalise_header(name: str) -> str:
    """``"Kommentar (optional)"`` -> ``"kommentaroptional"``; umlauts folded (``ü`` -> ``ue``)."""
    folded = name.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    folded = unicodedata.normalize("NFKD", folded)
    return re.sub(r"[^a-z0-9]", "", folded)


@dataclass(frozen=True)
class ColumnMapping:
    """Which input column plays which role; ``passthrough`` keeps everything else, renamed if reserved."""

    score: str
    comment: str | None
    id: str | None
    date: str | None
    passthrough: dict[str, str] = field(default_factory=dict)
    """input column name -> output column name"""

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "score": self.score,
            "comment": self.comment,
            "date": self.date,
            "passthrough": dict(self.passthrough),
        }


def _pick(role: str, columns: list[str], names: tuple[str, ...], taken: set[str]) -> str | None:
    normalised = {column: normalise_header(column) for column in columns if column not in taken}
    for name in names:
        hits = [column for column, norm in normalised.items() if norm == name]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ColumnMappingError(
                f"cannot decide which column holds the {role}: {shown_columns(hits)} all look like it; "
                f"set input.columns.{role} in the config. Columns found: {shown_columns(columns)}"
            )
    fuzzy = FUZZY.get(role, ())
    hits = [column for column, norm in normalised.items() if any(part in norm for part in fuzzy)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1 and role == "score":
        raise ColumnMappingError(
            f"cannot decide which column holds the score: {shown_columns(hits)} all look like it; "
            f"set input.columns.score in the config. Columns found: {shown_columns(columns)}"
        )
    return None


def detect_columns(columns: list[str], config: ColumnsConfig | None = None) -> ColumnMapping:
    """Map input columns to roles from config, else from common German and English names.

    Raises:
        ColumnMappingError: a configured column is missing, or no score column can be found; the message
            lists the columns found.

    Example:
        >>> detect_columns(["ID", "Bewertung", "Kommentar", "Filiale"]).score
        'Bewertung'
    """
    config = config or ColumnsConfig()
    columns = [column for column in columns if column != "row_number"]
    roles = _detect_roles(columns, config)
    score = roles["score"]
    if score is None:
        raise ColumnMappingError(
            "no score column found (looked for names like score, NPS, Bewertung, Empfehlung); "
            f"set input.columns.score in the config. Columns found: {shown_columns(columns)}"
        )
    taken = {name for name in roles.values() if name is not None}
    passthrough = {}
    for column in columns:
        if column in taken:
            continue
        passthrough[column] = input_name(column, RESERVED)
    return ColumnMapping(
        score=score, comment=roles["comment"], id=roles["id"], date=roles["date"], passthrough=passthrough
    )


def columns_to_read(columns: Sequence[str], config: ColumnsConfig | None = None) -> list[int]:
    """Positions (in input order) of the columns a run needs; an input of up to :data:`MAX_PASSTHROUGH_COLUMNS`
    columns besides its roles is read whole.

    Always read: the score, comment, id and date columns (configured or detected as :func:`detect_columns`
    does), and the columns named in ``input.columns.segments``. Then the columns named in
    ``input.columns.passthrough`` when it is set, else the first :data:`MAX_PASSTHROUGH_COLUMNS` others.

    Raises:
        ColumnMappingError: a configured role or passthrough column is not in the input, or a role is
            ambiguous.

    Example:
        >>> header = ["ID", "Bewertung", "Kommentar", *[f"Q{number}" for number in range(1, 1001)]]
        >>> len(columns_to_read(header)), columns_to_read(header, ColumnsConfig(passthrough=["Q7"]))
        (103, [0, 1, 2, 9])
    """
    config = config or ColumnsConfig()
    columns = list(columns)
    roles = _detect_roles([column for column in columns if column != "row_number"], config)
    wanted = {name for name in roles.values() if name is not None} | set(config.segments or ())
    if config.passthrough is not None:
        missing = [name for name in config.passthrough if name not in columns]
        if missing:
            raise ColumnMappingError(
                f"input.columns.passthrough names {shown_columns(missing)}, which the input does not have. "
                f"Columns found: {shown_columns(columns)}"
            )
        wanted |= set(config.passthrough)
        return [position for position, column in enumerate(columns) if column in wanted]
    others = [position for position, column in enumerate(columns) if column not in wanted]
    first = set(others[:MAX_PASSTHROUGH_COLUMNS])
    return [position for position, column in enumerate(columns) if column in wanted or position in first]


def _detect_roles(columns: list[str], config: ColumnsConfig) -> dict[str, str | None]:
    """Role -> input column (None when not found): configured, else by the common names.

    Raises:
        ColumnMappingError: a configured column is missing, or several columns look like the same role.
    """
    roles: dict[str, str | None] = {}
    taken: set[str] = set()
    for role in ("score", "id", "comment", "date"):
        wanted = getattr(config, role)
        if wanted is not None:
            if wanted not in columns:
                raise ColumnMappingError(
                    f"input.columns.{role} is {wanted!r}, but the input has no such column. "
                    f"Columns found: {shown_columns(columns)}"
                )
            roles[role] = wanted
            taken.add(wanted)
    names = {"score": SCORE_NAMES, "id": ID_NAMES, "comment": COMMENT_NAMES, "date": DATE_NAMES}
    for role in ("score", "id", "comment", "date"):
        if role not in roles:
            roles[role] = _pick(role, columns, names[role], taken)
            if roles[role]:
                taken.add(str(roles[role]))
    return roles


# --- values -----------------------------------------------------------------------------------------


def parse_score(value: object) -> tuple[int | None, str | None]:
    """Parse one score: ``(score, None)`` if it is an integer 0-10, else ``(None, reason)``.

    Accepted besides plain numbers: a decimal comma (``9,0``), full-width digits (``１０``, NFKC), a sign
    (``-0`` is 0), a unit (``10 Punkte``, ``8 pts``) and an out-of-ten form (``9/10``, ``9 von 10``).
    Rejected: missing-value markers (``NaN``, ``None``, ``null``, ``n/a``), infinities, and scientific
    notation (``1e1``: no survey tool writes a 0-10 score that way, so it is more likely a broken cell).

    Example:
        >>> parse_score(" 9,0 ")
        (9, None)
        >>> parse_score("9/10")
        (9, None)
        >>> parse_score("7.5")
        (None, 'score 7.5 is not a whole number')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "score is empty"
    if isinstance(value, bool):
        return None, f"score {value!r} is not a number"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None, f"score {value!r} is not a number"
        number = float(value)
        text = str(value)
    else:
        text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", str(value))).strip()
        if not text:
            return None, "score is empty"
        shown = text if len(text) <= 40 else text[:39] + "…"
        if text.lower() in MISSING_MARKERS:
            return None, f"score {shown!r} is not a number (a missing-value marker)"
        match = _SCORE.fullmatch(text)
        if match is None:
            return None, f"score {shown!r} is not a number"
        digits = match.group(1)
        number = float(digits.replace(",", "."))
        text = digits
    if not number.is_integer():
        return None, f"score {text} is not a whole number"
    if not 0 <= number <= 10:
        return None, f"score {text} is outside 0-10"
    return int(number), None


# --- validation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationInfo:
    """Facts about the validation that the manifest records (the row counts live on the tables)."""

    dates_unparsed: int = 0
    """Valid responses whose date could not be read: kept, with a null date."""
    date_order: str | None = None
    """``"dayfirst"`` / ``"monthfirst"`` as decided for the date column; None when no value was ambiguous."""
    date_order_assumed: bool = False
    unparsed_date_examples: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "dates_unparsed": self.dates_unparsed,
            "date_order": self.date_order,
            "date_order_assumed": self.date_order_assumed,
            "unparsed_date_examples": list(self.unparsed_date_examples),
        }


class Validation(NamedTuple):
    """What :func:`validate_records` returns."""

    responses: pd.DataFrame
    rejected: pd.DataFrame
    info: ValidationInfo


def validate(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    unparseable: pd.DataFrame | None = None,
    *,
    date_format: str = "auto",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(responses, rejected)``; see :func:`validate_records`, which also returns the :class:`ValidationInfo`."""
    result = validate_records(frame, mapping, unparseable, date_format=date_format)
    return result.responses, result.rejected


def validate_records(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    unparseable: pd.DataFrame | None = None,
    *,
    date_format: str = "auto",
) -> Validation:
    """Split raw records into valid ``responses`` and ``rejected`` rows, each with a reason.

    ``responses`` gets ``response_id`` (the id column, or the row number when the input has none),
    ``score`` (int), ``comment`` (raw text, not yet redacted), ``date`` (datetime or NaT), and the passthrough
    columns. Duplicate ids keep the first occurrence. A row is never rejected for its date alone: a date that
    cannot be read stays null and is counted in :attr:`ValidationInfo.dates_unparsed`.
    """
    raw_columns = [column for column in frame.columns if column != "row_number"]
    row_numbers = frame["row_number"].to_numpy(dtype="int64")
    scores, reasons = _parse_scores(frame[mapping.score])
    if mapping.id:
        ids = _stripped_ids(frame[mapping.id])
        empty_id = ids.isna().to_numpy(dtype=bool)
        reasons[(reasons == None) & empty_id] = f"response id (column {mapping.id!r}) is empty"  # noqa: E711
    else:
        ids = pd.Series(frame["row_number"].astype("int64").astype(str), index=frame.index, dtype="string")
        empty_id = np.zeros(len(frame), dtype=bool)
    candidates = np.asarray(reasons == None, dtype=bool)  # noqa: E711
    id_codes, _ = pd.factorize(ids[candidates])  # duplicates found on integer codes, not on Python strings
    _, first_index = np.unique(id_codes, return_index=True)
    duplicated = np.ones(len(id_codes), dtype=bool)
    duplicated[first_index] = False
    if duplicated.any():
        positions = np.flatnonzero(candidates)
        first_position = np.empty(int(id_codes.max()) + 1, dtype="int64")
        first_position[id_codes[first_index]] = positions[first_index]
        for position, code in zip(positions[duplicated].tolist(), id_codes[duplicated].tolist(), strict=True):
            response_id = str(ids.iat[position])
            first_seen = int(row_numbers[first_position[code]])
            reasons[position] = f"duplicate response_id {response_id[:80]!r} (first seen in row {first_seen})"
    valid_mask = np.asarray(reasons == None, dtype=bool)  # noqa: E711
    valid = pd.Series(valid_mask, index=frame.index, dtype=bool)
    score_values = np.where(np.isnan(scores), 0, scores).astype("int64")
    columns: dict[str, pd.Series] = {
        "response_id": ids,
        "score": pd.Series(pd.arrays.IntegerArray(score_values, np.isnan(scores)), index=frame.index),
        "comment": frame[mapping.comment] if mapping.comment else pd.Series(None, index=frame.index, dtype=object),
    }
    info = ValidationInfo()
    if mapping.date:
        columns["date"], info = _parse_date_column(frame[mapping.date], valid_mask, date_format)
    for source, target in mapping.passthrough.items():
        columns[target] = frame[source]
    if valid_mask.all():
        responses = pd.DataFrame(columns, index=frame.index).reset_index(drop=True)
    else:
        keep = np.flatnonzero(valid_mask)
        responses = pd.DataFrame({name: column.iloc[keep].reset_index(drop=True) for name, column in columns.items()})
    responses["score"] = responses["score"].astype("int64")
    if not isinstance(responses["comment"].dtype, pd.StringDtype):
        responses["comment"] = responses["comment"].astype(object)

    invalid = ~valid
    rejected_rows = frame.loc[invalid, raw_columns].copy()
    rejected_rows.columns = [input_name(column, REJECTED_COLUMNS) for column in raw_columns]
    rejected = pd.concat(
        [
            pd.DataFrame(
                {
                    "row_number": frame.loc[invalid, "row_number"].astype("int64"),
                    "response_id": ids.loc[invalid].astype("string"),
                    "reason": pd.Series(reasons[~valid_mask], index=frame.index[~valid_mask], dtype="string"),
                }
            ),
            rejected_rows,
        ],
        axis=1,
    )
    if unparseable is not None and not unparseable.empty:
        broken = pd.DataFrame(
            {
                "row_number": unparseable["row_number"].astype("int64"),
                "response_id": pd.Series(pd.NA, index=unparseable.index, dtype="string"),
                "reason": unparseable["reason"].astype("string"),
                "raw_line": unparseable["raw_line"].astype(object),
            }
        )
        rejected = pd.concat([rejected, broken], ignore_index=True) if len(rejected) else broken.reset_index(drop=True)
    rejected = rejected.sort_values("row_number", kind="stable").reset_index(drop=True)
    rejected = rejected.astype(
        {column: "string" for column in rejected.columns if column not in ("row_number", "response_id", "reason")}
    )
    return Validation(responses, rejected, info)


def _parse_scores(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(scores as float with NaN, reasons as an object array with None)`` per row; text parsed once per
    distinct value."""
    if isinstance(values.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(values)
        distinct: list[object] = uniques.tolist() + [None]  # factorize leaves missing values out (code -1)
        codes = np.where(codes < 0, len(distinct) - 1, codes)
    else:  # any other column (a frame built by hand): every value on its own, as it is
        distinct = values.tolist()
        codes = np.arange(len(distinct))
    parsed = [parse_score(value) for value in distinct]
    scores = np.array([np.nan if score is None else score for score, _ in parsed], dtype="float64")
    reasons = np.array([reason for _, reason in parsed] or [None], dtype=object)
    return scores[codes] if len(distinct) else np.empty(0), reasons[codes] if len(distinct) else np.empty(0, dtype=object)


def _stripped_ids(values: pd.Series) -> pd.Series:
    """Response ids without surrounding whitespace; empty ones missing (``string`` dtype)."""
    if isinstance(values.dtype, pd.StringDtype):
        stripped = values.astype(pd.StringDtype()).str.strip()
    else:
        stripped = pd.Series(
            [None if value is None else str(value).strip() for value in values.tolist()], index=values.index, dtype="string"
        )
    return stripped.mask(stripped == "")


def _parse_date_column(values: pd.Series, valid: np.ndarray, date_format: str) -> tuple[pd.Series, ValidationInfo]:
    """Dates of the valid rows (NaT elsewhere); each distinct text parsed once, counts per row."""
    codes, uniques = pd.factorize(values[valid])
    distinct = uniques.tolist()  # factorize leaves missing values out (code -1)
    stamps, date_info = parse_dates(distinct, date_format)
    counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
    unparsed = [index for index, stamp in enumerate(stamps) if stamp is None and _clean_text(distinct[index])]
    date_info = replace(
        date_info,
        parsed=int(sum(counts[index] for index, stamp in enumerate(stamps) if stamp is not None)),
        unparsed=int(sum(counts[index] for index in unparsed)),
    )
    distinct_stamps = pd.DatetimeIndex(pd.to_datetime(pd.Series([*stamps, None], dtype=object)))
    row_codes = np.full(len(values), len(distinct), dtype="int64")
    row_codes[valid] = np.where(codes < 0, len(distinct), codes)
    dates = pd.Series(distinct_stamps.take(row_codes), index=values.index)
    return dates, _info(date_info)


def _clean_text(value: object) -> bool:
    return value is not None and bool(str(value).strip())


def _info(date_info: DateColumnInfo) -> ValidationInfo:
    order = None if date_info.day_first is None else ("dayfirst" if date_info.day_first else "monthfirst")
    return ValidationInfo(
        dates_unparsed=date_info.unparsed,
        date_order=order,
        date_order_assumed=date_info.order_assumed,
        unparsed_date_examples=date_info.unparsed_examples,
    )
