"""Temperature scaling and expected calibration error (synthetic data, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nps_text.training.calibrate import (
    expected_calibration_error,
    fit_temperature,
    logits_from_probabilities,
    softmax,
)


def _sample_labels(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cumulative = probabilities.cumsum(axis=1)
    draws = rng.random((len(probabilities), 1))
    return np.minimum((draws > cumulative).sum(axis=1), probabilities.shape[1] - 1)


def test_ece_small_example_by_hand() -> None:
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    # bin (0.867, 0.933]: accuracy 1.0 vs 0.9; bin (0.6 edge) (0.533, 0.6]: accuracy 0.5 vs 0.6 -> 0.5*0.1 + 0.5*0.1
    assert expected_calibration_error(probs, [0, 0, 0, 1]) == pytest.approx(0.1)
    assert expected_calibration_error(np.array([[1.0, 0.0]]), [0]) == pytest.approx(0.0)


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2.0, size=(20000, 3))
    probs = softmax(logits)
    labels = _sample_labels(probs, rng)
    assert expected_calibration_error(probs, labels) < 0.02
    overconfident = softmax(logits, temperature=0.4)
    assert expected_calibration_error(overconfident, labels) > 0.1


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_a_known_temperature(true_temperature: float) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3.0, size=(20000, 3))
    labels = _sample_labels(softmax(logits, true_temperature), rng)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.07)
    assert expected_calibration_error(softmax(logits, fitted), labels) < 0.02


def test_fit_from_probabilities_composes_with_an_existing_temperature() -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3.0, size=(20000, 3))
    labels = _sample_labels(softmax(logits, 2.0), rng)
    shipped = softmax(logits, 0.8)  # what a backend with temperature 0.8 returns
    relative = fit_temperature(logits_from_probabilities(shipped), labels)
    assert 0.8 * relative == pytest.approx(2.0, rel=0.07)


def test_transformer_backend_divides_logits_by_the_temperature() -> None:
    from nps_text.sentiment.transformer import TransformerBackend

    class FixedRunner:
        device = "cpu"

        def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
            return np.tile(np.array([[2.0, 0.0, -1.0]], dtype=np.float32), (len(input_ids), 1))

    def make(temperature: float) -> TransformerBackend:
        return TransformerBackend(
            FixedRunner(), lambda text: [[1, 2, 3]], 0, {0: "negative", 1: "neutral", 2: "positive"},
            name="t", version="t", temperature=temperature,
        )

    expected = softmax(np.array([[2.0, 0.0, -1.0]]), 2.0)[0][::-1]  # model order neg/neu/pos -> pos/neu/neg
    assert make(2.0).predict_proba(["x"])[0] == pytest.approx(expected, abs=1e-6)
    assert make(1.0).predict_proba(["x"])[0] == pytest.approx(softmax(np.array([[2.0, 0.0, -1.0]]))[0][::-1], abs=1e-6)


def test_artifact_meta_reads_temperature_with_default(tmp_path: Path) -> None:
    from nps_text.sentiment.e5_model import ARTIFACT_KIND, ARTIFACT_META, E5ClassifierMeta

    data = {"labels": ["negative", "neutral", "positive"], "num_layers": 12, "frozen_layers": 6, "kind": ARTIFACT_KIND}
    (tmp_path / ARTIFACT_META).write_text(json.dumps(data), encoding="utf-8")
    assert E5ClassifierMeta.read(tmp_path).temperature == 1.0
    (tmp_path / ARTIFACT_META).write_text(json.dumps({**data, "temperature": 1.7}), encoding="utf-8")
    assert E5ClassifierMeta.read(tmp_path).temperature == 1.7


def test_shipped_default_config_has_a_sane_temperature() -> None:
    from nps_text.sentiment.base import DEFAULT_MODEL_NAME, models_dir

    meta = json.loads((models_dir() / DEFAULT_MODEL_NAME / "nps_text_sentiment.json").read_text(encoding="utf-8"))
    assert 0.2 <= float(meta.get("temperature", 1.0)) <= 5.0
