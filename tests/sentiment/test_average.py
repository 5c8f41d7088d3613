"""`nps-text train average`: weight-space average of fine-tuned e5 artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file  # noqa: E402

from nps_text.sentiment.e5_model import ARTIFACT_WEIGHTS, E5ClassifierMeta  # noqa: E402
from nps_text.training.sentiment_train import average_artifacts  # noqa: E402


def _artifact(folder: Path, value: float, frozen: int = 6) -> Path:
    folder.mkdir()
    save_file({"classifier.weight": torch.full((3, 4), value).half(), "classifier.bias": torch.full((3,), value).half()},
              str(folder / ARTIFACT_WEIGHTS))
    E5ClassifierMeta(labels=["negative", "neutral", "positive"], num_layers=12, frozen_layers=frozen,
                     base_sha256="abc", training={"seed": int(value)}, temperature=1.7).write(folder)
    return folder


def test_average_weights_and_records_the_recipe(tmp_path: Path) -> None:
    a, b = _artifact(tmp_path / "a", 1.0), _artifact(tmp_path / "b", 3.0)
    summary = average_artifacts([a, b], [0.7, 0.3], tmp_path / "out")
    weights = load_file(str(tmp_path / "out" / ARTIFACT_WEIGHTS))
    assert torch.allclose(weights["classifier.weight"].float(), torch.full((3, 4), 1.6), atol=1e-2)
    meta = E5ClassifierMeta.read(tmp_path / "out")
    assert meta.temperature == 1.0 and meta.frozen_layers == 6  # recalibrate after averaging
    assert [item["weight"] for item in summary["average_of"]] == [0.7, 0.3]
    assert meta.training["average_of"][1]["training"] == {"seed": 3}


def test_average_refuses_artifacts_that_do_not_fit(tmp_path: Path) -> None:
    a, b = _artifact(tmp_path / "a", 1.0), _artifact(tmp_path / "b", 3.0, frozen=4)
    with pytest.raises(ValueError, match="cannot average"):
        average_artifacts([a, b], [0.5, 0.5], tmp_path / "out")
    with pytest.raises(ValueError, match="one weight per artifact"):
        average_artifacts([a], [1.0], tmp_path / "out")


def test_class_weights_and_source_selection() -> None:
    import numpy as np
    import pandas as pd

    from nps_text.training.sentiment_train import TrainSentimentConfig, class_weights, select_training_rows

    labels = np.array([0] * 10 + [1] * 30 + [2] * 60)
    weights = class_weights(labels, 0.5)
    assert weights[0] > weights[1] > weights[2] and np.allclose(class_weights(labels, 0.0), 1.0)
    train = pd.DataFrame({"text": [f"t{i}" for i in range(6)], "label": ["neutral"] * 6,
                          "source": ["germeval", "marc_de", "marc_de", "potts", "sb10k", "sb10k"]})
    kept = select_training_rows(train, TrainSentimentConfig(sources=["germeval", "sb10k"], max_per_source={}))
    assert sorted(kept["source"]) == ["germeval", "sb10k", "sb10k"]
    with pytest.raises(ValueError, match="unknown training sources"):
        select_training_rows(train, TrainSentimentConfig(sources=["nope"]))
