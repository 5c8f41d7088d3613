"""Personal data in passthrough columns: detect the columns, apply a policy to each, record what was done.

A passthrough column holds personal data when its header names it (German or English: ``E-Mail``,
``Telefon``, ``Vorname``, ``customer name``, ``Straße``, ``IBAN``, ...) or when enough of a sample of its
values are e-mail addresses, valid phone numbers, IBANs or card numbers (:func:`nps_text.pii.value_kind`).
The id column is checked by content too (some exports use the e-mail address as respondent id).

Policies (``privacy.columns`` in the config names them per column; ``privacy.default_policy`` applies to
every detected column the config does not name):

- ``hash``: a stable keyed pseudonym ``anon_<16 hex>`` (HMAC-SHA256). The same value gives the same
  pseudonym in every table of the run, and across runs as long as the key is the same. The key comes from
  the environment variable ``NPS_TEXT_PSEUDONYM_KEY``; without it, a random key is created once and kept
  in ``<out>/.state/pseudonym.key`` (permissions 0600), so pseudonyms are stable across runs into the
  same output folder. Set the variable to get the same pseudonyms across output folders and machines.
- ``drop``: the column is removed from every table.
- ``keep``: the values stay as they are (for call-back lists). Only a column the config names gets it.
- ``not_personal``: for a column detection got wrong: it is handled like any other column.

Columns with personal data (any policy but ``not_personal``) are never NPS segments. Every other text
passthrough cell is redacted like a comment. Everything here is pure except :func:`pseudonym_key`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from nps_text.config import PrivacyConfig
from nps_text.errors import ConfigError
from nps_text.pii import redact, value_kind

KEY_ENV = "NPS_TEXT_PSEUDONYM_KEY"
KEY_FILE = "pseudonym.key"
REDACTED_LINE = "[REDACTED]"
"""Replaces ``raw_line`` of unparseable rejected rows when the input has personal-data columns."""

DetectedBy = Literal["name", "content", "config"]

# Header words (folded: lower case, umlauts as ae/oe/ue, ss) that name personal data on their own, and
# endings of German compounds ("Kundenmail", "Lieferadresse", "Mobilnummer").
_PERSONAL_WORDS = frozenset(
    {
        "email", "mail", "emailadresse", "mailadresse", "telefon", "tel", "telefonnummer", "telnr", "phone",
        "phonenumber", "telephone", "mobile", "mobil", "mobilnummer", "handy", "handynummer", "cell",
        "cellphone", "fax", "faxnummer", "adresse", "address", "anschrift", "strasse", "street", "hausnummer",
        "iban", "bic", "kontonummer", "bankverbindung", "vorname", "nachname", "familienname", "firstname",
        "lastname", "surname", "fullname", "givenname", "kundenname", "customername", "clientname",
        "contactname", "ansprechpartner", "geburtsdatum", "geburtstag", "birthday", "birthdate",
        "dateofbirth", "dob", "ip", "ipadresse", "ipaddress", "kreditkarte", "kreditkartennummer",
        "kartennummer", "creditcard", "cardnumber", "username", "benutzername", "nutzername", "login",
        "steuernummer", "steuerid", "sozialversicherungsnummer", "svnr", "ausweisnummer", "passport",
    }
)
_PERSONAL_ENDINGS = (
    "email", "mail", "telefon", "telefonnummer", "handynummer", "mobilnummer", "adresse", "anschrift",
    "strasse", "vorname", "nachname", "kundenname", "iban", "geburtsdatum",
)
_NOT_PERSONAL_ENDINGS = ("webadresse", "ipadressetyp")
# "Name" and "Kunde" alone (or only with person words: "customer name", "Name des Kunden") are personal;
# "Produktname", "Filiale Name", "Kundentyp" are not.
_NAME_WORDS = frozenset({"name", "namen", "kunde", "kunden", "kundin"})
_PERSON_QUALIFIERS = frozenset(
    {
        "customer", "client", "contact", "first", "last", "full", "given", "family", "person", "respondent",
        "teilnehmer", "teilnehmerin", "befragter", "des", "der", "die", "von", "vor", "nach", "your", "ihr",
        "ihre", "of", "the",
    }
) | _NAME_WORDS
_PHRASES = (("e", "mail"), ("phone", "number"), ("mobile", "number"), ("credit", "card"), ("card", "number"),
            ("ip", "address"), ("date", "of", "birth"), ("zip", "street"), ("bank", "account"))


def _words(header: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", header)  # camelCase -> camel Case
    folded = spaced.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    return [word for word in re.split(r"[^a-z0-9]+", folded) if word]


def personal_by_name(header: str) -> bool:
    """Whether a column header names personal data (German or English).

    Example:
        >>> [personal_by_name(h) for h in ["E-Mail", "Telefon", "customer name", "Kunde", "Kundentyp", "Produktname"]]
        [True, True, True, True, False, False]
    """
    words = _words(header)
    if not words:
        return False
    joined = "".join(words)
    if joined.endswith(_NOT_PERSONAL_ENDINGS):
        return False
    if any(word in _PERSONAL_WORDS or word.endswith(_PERSONAL_ENDINGS) for word in words) or joined in _PERSONAL_WORDS:
        return True
    if any(all(part in words for part in phrase) for phrase in _PHRASES):
        return True
    return bool(_NAME_WORDS.intersection(words)) and all(word in _PERSON_QUALIFIERS for word in words)


def personal_by_content(values: Iterable[object], *, sample_size: int = 500, threshold: float = 0.3) -> str | None:
    """The kind (``EMAIL``, ``PHONE``, ``IBAN``, ``CARD``) most values of a column are, if its share of a sample
    of the non-empty values reaches ``threshold``; else ``None``.

    Example:
        >>> personal_by_content(["a@b.de", "c@d.com", None, "keine"])
        'EMAIL'
    """
    sample: list[str] = []
    for value in values:
        if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
            continue
        text = str(value).strip()
        if text:
            sample.append(text)
        if len(sample) >= sample_size:
            break
    if not sample:
        return None
    counts: dict[str, int] = {}
    for text in sample:
        kind = value_kind(text)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return None
    kind, count = max(counts.items(), key=lambda item: item[1])
    return kind if sum(counts.values()) / len(sample) >= threshold else None


def content_sample(columns: Iterable[pd.Series], sample_size: int = 500) -> pd.Series:
    """The first ``sample_size`` non-empty values of ``columns`` read one after the other (what
    :func:`personal_by_content` looks at), without turning whole columns into Python objects."""
    found: list[object] = []
    for series in columns:
        step = max(4 * sample_size, 1_000)
        for start in range(0, len(series), step):
            for value in series.iloc[start : start + step].dropna().tolist():
                if str(value).strip():
                    found.append(value)
                    if len(found) >= sample_size:
                        return pd.Series(found, dtype=object)
    return pd.Series(found, dtype=object)


@dataclass(frozen=True)
class ColumnDecision:
    """What happens to one input column with personal data."""

    column: str
    """the input column's name"""
    policy: str
    detected_by: DetectedBy
    kind: str | None = None
    """for detection by content: the kind of values found (``EMAIL``, ``PHONE``, ...)"""

    def record(self) -> dict[str, str]:
        entry = {"policy": self.policy, "detected_by": self.detected_by}
        if self.kind is not None:
            entry["kind"] = self.kind
        return entry


def plan_columns(
    frame: pd.DataFrame, candidates: Iterable[str], config: PrivacyConfig, *, id_column: str | None = None
) -> dict[str, ColumnDecision]:
    """Decide, per input column of ``frame`` among ``candidates`` (and ``id_column``), whether it holds
    personal data and what to do with it. Columns without personal data are left out.

    The config's ``columns`` win; then detection by name, then by content (``config.detect``). The id
    column is checked by content only and is never dropped (``drop`` becomes ``hash``).
    """
    columns = list(dict.fromkeys(candidates))
    unknown = [name for name in config.columns if name not in columns and name != id_column]
    if unknown:
        raise ConfigError(
            f"privacy.columns names {unknown}, which the input does not have as passthrough columns; "
            f"they are {columns}"
        )
    decisions: dict[str, ColumnDecision] = {}
    for column in [*columns, *([id_column] if id_column and id_column not in columns else [])]:
        is_id = column == id_column
        explicit = config.columns.get(column)
        if explicit is not None:
            if is_id and explicit == "drop":
                raise ConfigError(f"privacy.columns: the id column {column!r} cannot be dropped; use hash or keep")
            if explicit != "not_personal":
                decisions[column] = ColumnDecision(column, explicit, "config")
            continue
        if not config.detect:
            continue
        if not is_id and personal_by_name(column):
            decisions[column] = ColumnDecision(column, config.default_policy, "name")
            continue
        if column in frame.columns:
            kind = personal_by_content(
                frame[column].tolist(), sample_size=config.sample_size, threshold=config.content_threshold
            )
            if kind is not None:
                policy = "hash" if is_id else config.default_policy
                decisions[column] = ColumnDecision(column, policy, "content", kind)
    return decisions


def privacy_record(decisions: Mapping[str, ColumnDecision]) -> dict[str, dict[str, str]]:
    """The manifest's ``privacy`` entry: per input column with personal data, its policy and how it was found.

    Example:
        >>> privacy_record({"E-Mail": ColumnDecision("E-Mail", "hash", "name")})
        {'E-Mail': {'policy': 'hash', 'detected_by': 'name'}}
    """
    return {name: decision.record() for name, decision in decisions.items()}


# --- applying policies ----------------------------------------------------------------------------------


def pseudonym_key(state_dir: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The pseudonym key: ``$NPS_TEXT_PSEUDONYM_KEY``, else ``state_dir/pseudonym.key`` (created once, 0600)."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return env[KEY_ENV].encode("utf-8")
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another run created it meanwhile
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ConfigError(f"pseudonym key file {path} is damaged (too short); delete it to create a new key")
    return key.encode("ascii")


KeySource = bytes | Callable[[], bytes]


def _normalise(value: str) -> str:
    text = " ".join(value.split()).casefold()
    if re.fullmatch(r"[+()\d ./\-]+", text):
        text = re.sub(r"[^\d+]", "", text)  # "030 123 45-67" and "030/1234567" are the same number
    return text


def _per_distinct(values: pd.Series, function: Callable[[str], object]) -> np.ndarray:
    """``function`` of each string cell, computed once per distinct value; other cells stay as they are."""
    codes, uniques = pd.factorize(values)
    distinct = uniques.tolist()
    results = np.empty(len(distinct) + 1, dtype=object)
    for index, value in enumerate(distinct):
        results[index] = function(value) if isinstance(value, str) else value
    results[len(distinct)] = None
    out = results[np.where(codes < 0, len(distinct), codes)]
    missing = codes < 0
    if missing.any() and values.dtype == object:  # keep the original missing markers of an object column
        out[missing] = values.to_numpy(dtype=object)[missing]
    return out


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """HMAC-SHA256 pseudonyms ``anon_<16 hex>`` of the values (nulls and empty strings stay as they are).

    Example:
        >>> pseudonymise(pd.Series(["Max@Example.de ", "max@example.de", None]), b"k" * 32).tolist()
        ['anon_42c170af271d4d57', 'anon_42c170af271d4d57', None]
    """

    def one(text: str) -> object:
        if not text.strip():
            return text
        digest = hmac.new(key, _normalise(text).encode("utf-8"), hashlib.sha256).hexdigest()
        return f"anon_{digest[:16]}"

    codes, uniques = pd.factorize(values)
    distinct = uniques.tolist()
    results = np.empty(len(distinct) + 1, dtype=object)
    for index, value in enumerate(distinct):
        results[index] = one(str(value)) if not isinstance(value, str) or value.strip() else value
    results[len(distinct)] = None
    return pd.Series(results[np.where(codes < 0, len(distinct), codes)], index=values.index, dtype=object)


def redact_cells(values: pd.Series) -> pd.Series:
    """Text redaction (:func:`nps_text.pii.redact`) of every string cell; other cells stay. Each distinct
    value is redacted once."""
    if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
        return values
    return pd.Series(_per_distinct(values, redact), index=values.index, dtype=values.dtype)


def apply_policies(
    frame: pd.DataFrame,
    decisions: Mapping[str, ColumnDecision],
    key: KeySource | None,
    *,
    redact_other: Iterable[str] = (),
) -> pd.DataFrame:
    """A copy of ``frame`` with each decided column hashed, dropped or kept, and the ``redact_other`` columns
    text-redacted. ``decisions`` are keyed by the column's name in ``frame``."""
    result = frame.copy()
    resolved: bytes | None = None
    for column, decision in decisions.items():
        if column not in result.columns:
            continue
        if decision.policy == "drop":
            result = result.drop(columns=column)
        elif decision.policy == "hash":
            if resolved is None:
                if key is None:
                    raise ConfigError(f"column {column!r} is to be hashed but no pseudonym key was given")
                resolved = key() if callable(key) else key
            hashed = pseudonymise(result[column], resolved)
            result[column] = hashed.astype("string") if isinstance(frame[column].dtype, pd.StringDtype) else hashed
    for column in redact_other:
        if column in result.columns and column not in decisions:
            result[column] = redact_cells(result[column])
    return result
