"""Behavioural tests for sentiment models (CheckList-style): load the cases, run a backend, report.

The cases live in ``checklist_cases.yaml`` next to this module (hand-written, German and English, grouped
by capability: implicit complaints, negation, contrast, hedges, politeness, code-mixing, dialect, emoji...).
They are a test set only: :func:`nps_text.training.sentiment_data.split_corpus` removes them from every
training set and asserts it did (:func:`checklist_keys`, :func:`exclude_checklist`).

A case passes when the comment-level label (argmax of the backend's probabilities for the whole text,
exactly what ``nps-text evaluate sentiment`` scores) is one of its allowed labels.

Example:
    >>> cases = load_cases()
    >>> len(cases) >= 200, sorted({c.language for c in cases})
    (True, ['de', 'en', 'mixed'])
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from nps_text.errors import InputError
from nps_text.schema import SENTIMENTS

CASES_FILE = Path(__file__).resolve().with_name("checklist_cases.yaml")
LANGUAGES = ("de", "en", "mixed")
TARGET_OVERALL = 0.90
TARGET_PER_CAPABILITY = 0.80
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ChecklistCase:
    """One behavioural test: ``text`` must be labelled one of ``expected``."""

    id: str
    text: str
    expected: tuple[str, ...]
    capability: str
    language: str


def text_key(text: str) -> str:
    """Normalised form used to keep checklist texts out of training (case, width and spacing folded)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", str(text)).casefold()).strip()


def load_cases(path: str | Path | None = None) -> list[ChecklistCase]:
    """Read and validate the cases file (default: the shipped ``checklist_cases.yaml``)."""
    import yaml

    source = Path(path) if path is not None else CASES_FILE
    data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("capabilities"), dict):
        raise InputError(f"{source}: expected a mapping with 'capabilities'")
    cases: list[ChecklistCase] = []
    seen: set[str] = set()
    for capability, block in data["capabilities"].items():
        for index, row in enumerate(block.get("cases") or [], start=1):
            if not (isinstance(row, list) and len(row) == 3):
                raise InputError(f"{source}: {capability} case {index} must be [language, expected, text], got {row!r}")
            language, expected_text, text = (str(item) for item in row)
            expected = tuple(label.strip() for label in expected_text.split("|"))
            if language not in LANGUAGES or not expected or any(label not in SENTIMENTS for label in expected):
                raise InputError(f"{source}: {capability} case {index} has a bad language or label: {row!r}")
            key = text_key(text)
            if key in seen:
                raise InputError(f"{source}: duplicate case text {text!r}")
            seen.add(key)
            cases.append(ChecklistCase(f"{capability}-{index:03d}", text.strip(), expected, str(capability), language))
    return cases


@lru_cache(maxsize=1)
def checklist_keys() -> frozenset[str]:
    """Normalised texts of the shipped cases (for keeping them out of training)."""
    return frozenset(text_key(case.text) for case in load_cases())


def exclude_checklist(frame: pd.DataFrame, text_column: str = "text") -> pd.DataFrame:
    """``frame`` without rows whose text is a checklist case (normalised match)."""
    keys = checklist_keys()
    keep = ~frame[text_column].astype(str).map(text_key).isin(keys)
    return frame[keep].reset_index(drop=True)


def assert_no_checklist(frame: pd.DataFrame, text_column: str = "text") -> None:
    """Raise if any checklist text is in ``frame`` (training data must never contain them)."""
    keys = checklist_keys()
    leaked = sorted({t for t in frame[text_column].astype(str) if text_key(t) in keys})
    if leaked:
        raise AssertionError(f"checklist cases found in training data: {leaked[:5]}")


@dataclass
class ChecklistResult:
    """Pass rates of one model on the checklist."""

    model: str
    rows: pd.DataFrame  # one row per case: id, capability, language, text, expected, predicted, confidence, passed
    per_capability: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        grouped = self.rows.groupby("capability", sort=False)["passed"]
        self.per_capability = pd.DataFrame({"cases": grouped.size(), "passed": grouped.sum()}).astype(int)
        self.per_capability["pass_rate"] = self.per_capability["passed"] / self.per_capability["cases"]

    @property
    def overall(self) -> float:
        return float(self.rows["passed"].mean())

    @property
    def failures(self) -> pd.DataFrame:
        return self.rows[~self.rows["passed"]]

    def per_language(self) -> pd.Series:
        return self.rows.groupby("language")["passed"].mean()

    def meets_targets(self) -> bool:
        return self.overall >= TARGET_OVERALL and bool((self.per_capability["pass_rate"] >= TARGET_PER_CAPABILITY).all())

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "cases": int(len(self.rows)),
            "overall": round(self.overall, 4),
            "per_capability": {
                str(name): {"cases": int(row.cases), "passed": int(row.passed), "pass_rate": round(float(row.pass_rate), 4)}
                for name, row in self.per_capability.iterrows()
            },
            "per_language": {str(k): round(float(v), 4) for k, v in self.per_language().items()},
            "failures": [
                {"id": r.id, "text": r.text, "expected": r.expected, "predicted": r.predicted,
                 "confidence": round(float(r.confidence), 3)}
                for r in self.failures.itertuples()
            ],
        }

    def format(self, show_failures: bool = True) -> str:
        """Plain-text report: pass rate per capability (flagging those under target), overall, failures."""
        lines = [f"model {self.model}: {len(self.rows)} cases", f"{'capability':<20} {'cases':>5} {'passed':>6}  rate"]
        for name, row in self.per_capability.iterrows():
            flag = "" if row.pass_rate >= TARGET_PER_CAPABILITY else f"  < {TARGET_PER_CAPABILITY:.0%}"
            lines.append(f"{name!s:<20} {int(row.cases):>5} {int(row.passed):>6}  {row.pass_rate:.1%}{flag}")
        flag = "" if self.overall >= TARGET_OVERALL else f"  < {TARGET_OVERALL:.0%}"
        lines.append(f"{'OVERALL':<20} {len(self.rows):>5} {int(self.rows['passed'].sum()):>6}  {self.overall:.1%}{flag}")
        lines.append("per language: " + ", ".join(f"{k} {v:.1%}" for k, v in self.per_language().items()))
        if show_failures and len(self.failures):
            lines.append(f"failures ({len(self.failures)}):")
            for r in self.failures.itertuples():
                lines.append(f"  [{r.id}] expected {r.expected}, got {r.predicted} ({r.confidence:.2f}): {r.text}")
        return "\n".join(lines)


def run_checklist(backend: Any, cases: Iterable[ChecklistCase] | None = None, model: str | None = None) -> ChecklistResult:
    """Label every case with ``backend`` (a :class:`~nps_text.sentiment.base.SentimentBackend`) and score it."""
    from nps_text.sentiment.annotate import score_texts

    chosen = list(cases) if cases is not None else load_cases()
    labels, confidences = score_texts(backend, [case.text for case in chosen])
    rows = pd.DataFrame(
        {
            "id": [case.id for case in chosen],
            "capability": [case.capability for case in chosen],
            "language": [case.language for case in chosen],
            "text": [case.text for case in chosen],
            "expected": ["|".join(case.expected) for case in chosen],
            "predicted": labels,
            "confidence": [float(value) for value in confidences],
            "passed": [label in case.expected for label, case in zip(labels, chosen, strict=True)],
        }
    )
    return ChecklistResult(model or str(getattr(backend, "name", "model")), rows)
