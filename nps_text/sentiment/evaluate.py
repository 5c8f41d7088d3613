"""Measure a sentiment backend on labelled data: accuracy, micro/macro-F1, per-class F1, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nps_text.errors import InputError
from nps_text.schema import SENTIMENTS
from nps_text.sentiment.annotate import score_comments
from nps_text.sentiment.base import SentimentBackend
from nps_text.sentiment.config import SentimentConfig
from nps_text.sentiment.labels import canonical_label

_NUMERIC_LABELS = {"-1": "negative", "0": "neutral", "1": "positive"}


@dataclass
class SentimentScores:
    """Scores of one evaluation run (labels in :data:`SENTIMENTS` order)."""

    rows: int
    accuracy: float
    micro_f1: float
    macro_f1: float
    per_class_f1: dict[str, float]
    support: dict[str, int]
    confusion: pd.DataFrame  # rows = gold, columns = predicted

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "accuracy": round(self.accuracy, 4),
            "micro_f1": round(self.micro_f1, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class_f1": {k: round(v, 4) for k, v in self.per_class_f1.items()},
            "support": self.support,
            "confusion": self.confusion.to_dict(),
        }

    def format(self) -> str:
        """A plain-text report for the terminal."""
        lines = [
            f"rows        {self.rows}",
            f"accuracy    {self.accuracy:.4f}",
            f"micro-F1    {self.micro_f1:.4f}",
            f"macro-F1    {self.macro_f1:.4f}",
            "per-class F1 " + "  ".join(f"{k}={v:.4f} (n={self.support[k]})" for k, v in self.per_class_f1.items()),
            "confusion matrix (rows = gold, columns = predicted):",
            self.confusion.to_string(),
        ]
        return "\n".join(lines)


def normalise_gold_labels(values: pd.Series) -> pd.Series:
    """Gold labels to positive/neutral/negative (accepts pos/neg/positiv/-1/0/1/...); unknown -> error."""
    def convert(value: object) -> str | None:
        key = str(value).strip()
        return _NUMERIC_LABELS.get(key) or canonical_label(key, 3)

    converted = values.map(convert)
    bad = sorted({str(v) for v, c in zip(values, converted, strict=True) if c is None})
    if bad:
        raise InputError(
            f"label column has values that are not a sentiment: {bad[:10]}; use positive/neutral/negative "
            "(or pos/neu/neg, positiv/negativ, -1/0/1)"
        )
    return converted.astype(str)


def scores_from_labels(gold: list[str], predicted: list[str]) -> SentimentScores:
    """Compute the scores for aligned gold and predicted labels."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    labels = list(SENTIMENTS)
    per_class = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    present = [label for label in labels if label in set(gold)]
    matrix = confusion_matrix(gold, predicted, labels=labels)
    return SentimentScores(
        rows=len(gold),
        accuracy=float(accuracy_score(gold, predicted)),
        micro_f1=float(f1_score(gold, predicted, labels=labels, average="micro", zero_division=0)),
        macro_f1=float(f1_score(gold, predicted, labels=present, average="macro", zero_division=0)),
        per_class_f1={label: float(value) for label, value in zip(labels, per_class, strict=True)},
        support={label: int(sum(1 for g in gold if g == label)) for label in labels},
        confusion=pd.DataFrame(np.asarray(matrix), index=labels, columns=labels),
    )


def evaluate_sentiment(
    frame: pd.DataFrame,
    backend: SentimentBackend,
    *,
    text_column: str,
    label_column: str,
    config: SentimentConfig | None = None,
) -> SentimentScores:
    """Score ``backend`` on the rows of ``frame`` that have both a text and a label.

    Comment labels are derived exactly as the pipeline does (:func:`score_comments` with ``config``,
    default: per-sentence on, comment label from its sentences), so the scores are the product's.
    """
    for column in (text_column, label_column):
        if column not in frame.columns:
            raise InputError(f"column {column!r} not found; the file has {list(frame.columns)}")
    rows = frame[[text_column, label_column]].dropna()
    rows = rows[rows[text_column].astype(str).str.strip() != ""]
    if rows.empty:
        raise InputError(f"no rows with both {text_column!r} and {label_column!r} to evaluate")
    gold = normalise_gold_labels(rows[label_column]).tolist()
    texts = rows[text_column].astype(str).str.strip().tolist()
    distinct = list(dict.fromkeys(texts))
    probabilities, _, _ = score_comments(backend, distinct, config, sentences=False)
    by_text = {text: SENTIMENTS[int(np.argmax(probabilities[text]))] for text in distinct}
    return scores_from_labels(gold, [by_text[text] for text in texts])
