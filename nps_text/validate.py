"""Column mapping and row validation: raw text records in, ``responses`` and ``rejected`` out. Pure.

Every input record ends up exactly once in ``responses`` or ``rejected``; a rejected row keeps its
original values as text, its 1-based ``row_number`` and a human-readable ``reason``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from nps_text.config import ColumnsConfig
from nps_text.errors import ColumnMappingError
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
RESERVED = set(RESPONSES_COLUMNS) | {"period", "date", "row_number"}


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
                f"cannot decide which column holds the {role}: {hits} all look like it; "
                f"set input.columns.{role} in the config. Columns found: {columns}"
            )
    fuzzy = FUZZY.get(role, ())
    hits = [column for column, norm in normalised.items() if any(part in norm for part in fuzzy)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1 and role == "score":
        raise ColumnMappingError(
            f"cannot decide which column holds the score: {hits} all look like it; "
            f"set input.columns.score in the config. Columns found: {columns}"
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
    roles: dict[str, str | None] = {}
    taken: set[str] = set()
    for role in ("score", "id", "comment", "date"):
        wanted = getattr(config, role)
        if wanted is not None:
            if wanted not in columns:
                raise ColumnMappingError(
                    f"input.columns.{role} is {wanted!r}, but the input has no such column. Columns found: {columns}"
                )
            roles[role] = wanted
            taken.add(wanted)
    names = {"score": SCORE_NAMES, "id": ID_NAMES, "comment": COMMENT_NAMES, "date": DATE_NAMES}
    for role in ("score", "id", "comment", "date"):
        if role not in roles:
            roles[role] = _pick(role, columns, names[role], taken)
            if roles[role]:
                taken.add(str(roles[role]))
    score = roles["score"]
    if score is None:
        raise ColumnMappingError(
            "no score column found (looked for names like score, NPS, Bewertung, Empfehlung); "
            f"set input.columns.score in the config. Columns found: {columns}"
        )
    passthrough = {}
    for column in columns:
        if column in taken:
            continue
        output = column if column not in RESERVED else f"input_{column}"
        passthrough[column] = output
    return ColumnMapping(
        score=score, comment=roles["comment"], id=roles["id"], date=roles["date"], passthrough=passthrough
    )


# --- values -----------------------------------------------------------------------------------------

_GERMAN_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})(?:[ ,T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}([ T].*)?$")


def parse_score(value: object) -> tuple[int | None, str | None]:
    """Parse one score: ``(score, None)`` if it is an integer 0-10, else ``(None, reason)``.

    Example:
        >>> parse_score(" 9,0 ")
        (9, None)
        >>> parse_score("7.5")
        (None, 'score 7.5 is not a whole number')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "score is empty"
    text = str(value).strip()
    if not text:
        return None, "score is empty"
    number_text = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
    try:
        number = float(number_text)
    except ValueError:
        return None, f"score {text!r} is not a number"
    if not math.isfinite(number):
        return None, f"score {text!r} is not a number"
    if not number.is_integer():
        return None, f"score {text} is not a whole number"
    if not 0 <= number <= 10:
        return None, f"score {text} is outside 0-10"
    return int(number), None


def parse_date(value: object, date_format: str = "auto") -> tuple[pd.Timestamp | None, str | None]:
    """Parse an ISO (``2026-03-05``, with optional time) or German (``05.03.2026``) date."""
    if value is None:
        return None, None
    text = str(value).strip()
    if not text:
        return None, None
    german = _GERMAN_DATE.match(text)
    if german and date_format in ("auto", "german"):
        day, month, year = int(german.group(1)), int(german.group(2)), int(german.group(3))
        year = year + 2000 if year < 100 else year
        hour = int(german.group(4) or 0)
        minute = int(german.group(5) or 0)
        second = int(german.group(6) or 0)
        try:
            return pd.Timestamp(year=year, month=month, day=day, hour=hour, minute=minute, second=second), None
        except ValueError:
            return None, f"date {text!r} is not a valid calendar date"
    if _ISO_DATE.match(text) and date_format in ("auto", "iso"):
        try:
            stamp = pd.Timestamp(text)
        except (ValueError, TypeError):
            return None, f"date {text!r} is not a valid calendar date"
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp, None
    expected = {"auto": "YYYY-MM-DD or DD.MM.YYYY", "iso": "YYYY-MM-DD", "german": "DD.MM.YYYY"}[date_format]
    return None, f"date {text!r} is not a date (expected {expected})"


# --- validation -------------------------------------------------------------------------------------


def validate(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    unparseable: pd.DataFrame | None = None,
    *,
    date_format: str = "auto",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw records into valid ``responses`` and ``rejected`` rows, each with a reason.

    ``responses`` gets ``response_id`` (the id column, or the row number when the input has none),
    ``score`` (int), ``comment`` (raw text, not yet redacted), ``date`` (datetime or NaT), and the passthrough
    columns. Duplicate ids keep the first occurrence.
    """
    raw_columns = [column for column in frame.columns if column != "row_number"]
    reasons: list[str | None] = []
    scores: list[int | None] = []
    dates: list[pd.Timestamp | None] = []
    ids: list[str | None] = []
    first_seen: dict[str, int] = {}
    score_values = frame[mapping.score].tolist()
    date_values = frame[mapping.date].tolist() if mapping.date else [None] * len(frame)
    id_values = frame[mapping.id].tolist() if mapping.id else [str(n) for n in frame["row_number"]]
    for row_number, raw_score, raw_date, raw_id in zip(
        frame["row_number"].tolist(), score_values, date_values, id_values, strict=True
    ):
        response_id = None if raw_id is None else str(raw_id).strip() or None
        score, reason = parse_score(raw_score)
        stamp, date_reason = parse_date(raw_date, date_format) if mapping.date else (None, None)
        reason = reason or date_reason
        if reason is None and response_id is None:
            reason = f"response id (column {mapping.id!r}) is empty"
        if reason is None and response_id is not None:
            if response_id in first_seen:
                reason = f"duplicate response_id {response_id!r} (first seen in row {first_seen[response_id]})"
            else:
                first_seen[response_id] = int(row_number)
        reasons.append(reason)
        scores.append(score)
        dates.append(stamp)
        ids.append(response_id)

    valid = pd.Series([reason is None for reason in reasons], index=frame.index)
    responses = pd.DataFrame(
        {
            "response_id": pd.Series(ids, index=frame.index, dtype="string"),
            "score": pd.Series(scores, index=frame.index, dtype="Int64"),
            "comment": frame[mapping.comment] if mapping.comment else pd.Series(None, index=frame.index, dtype=object),
            "date": pd.to_datetime(pd.Series(dates, index=frame.index, dtype=object)),
        }
    )
    for source, target in mapping.passthrough.items():
        responses[target] = frame[source]
    responses = responses.loc[valid].reset_index(drop=True)
    responses["score"] = responses["score"].astype("int64")
    responses["comment"] = responses["comment"].astype(object)
    if not mapping.date:
        responses = responses.drop(columns=["date"])

    rejected_rows = frame.loc[~valid, raw_columns].copy()
    rejected_rows.columns = [column if column not in REJECTED_COLUMNS else f"input_{column}" for column in raw_columns]
    rejected = pd.concat(
        [
            pd.DataFrame(
                {
                    "row_number": frame.loc[~valid, "row_number"].astype("int64"),
                    "response_id": pd.Series(ids, index=frame.index, dtype="string").loc[~valid],
                    "reason": pd.Series(reasons, index=frame.index, dtype="string").loc[~valid],
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
        rejected = pd.concat([rejected, broken], ignore_index=True)
    rejected = rejected.sort_values("row_number", kind="stable").reset_index(drop=True)
    for column in rejected.columns:
        if column not in ("row_number", "response_id", "reason"):
            rejected[column] = rejected[column].astype("string")
    return responses, rejected
