"""The distilled student (issue 20, phase 2; plan in ``DISTILLATION.md``): its initialisation from a teacher.

Trained with :func:`nps_text.training.sentiment_train.run_training` on ``TrainingData.soft_targets`` (the
teacher's probabilities), whose loss is :func:`~nps_text.training.sentiment_train.distillation_loss`. Not yet
here: scoring the text pool with the teacher and the ``nps-text train distill`` command.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nps_text.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    from nps_text.sentiment.e5_head import E5ForSequenceClassification

EVERY_OTHER_LAYER = (0, 2, 4, 6, 8, 10)  # the default student: 6 of 12 layers, depth profile kept


def keep_layers(model: E5ForSequenceClassification, layers: Sequence[int]) -> E5ForSequenceClassification:
    """``model`` cut to the encoder layers ``layers`` (in that order; the others are dropped), in place."""
    import torch

    total = len(model.bert.encoder.layer)
    if not layers or any(not 0 <= index < total for index in layers) or len(set(layers)) != len(layers):
        raise ModelError(f"layers must be distinct indices in 0..{total - 1}, got {list(layers)}")
    model.bert.encoder.layer = torch.nn.ModuleList([model.bert.encoder.layer[index] for index in layers])
    model.config.num_hidden_layers = len(layers)
    return model


def student_from_teacher(
    teacher_dir: str | Path, layers: Sequence[int] = EVERY_OTHER_LAYER, seed: int = 13
) -> E5ForSequenceClassification:
    """A trainable student: the teacher artifact's weights (e5 base where the artifact stores none), cut to ``layers``.

    Built with :func:`~nps_text.sentiment.e5_model.build_base_classifier` (own copies of the weights, safe to
    train), then the teacher's trained tensors are copied in; embeddings, embedding LayerNorm and head come along.
    """
    from safetensors.torch import load_file

    from nps_text.sentiment.e5_model import ARTIFACT_WEIGHTS, E5ClassifierMeta, build_base_classifier

    folder = Path(teacher_dir)
    meta = E5ClassifierMeta.read(folder)
    model = build_base_classifier(meta.labels, meta.num_layers, seed=seed)
    trained = {key: value.float() for key, value in load_file(str(folder / ARTIFACT_WEIGHTS)).items()}
    unexpected = model.load_state_dict(trained, strict=False).unexpected_keys
    if unexpected:
        raise ModelError(f"{folder}: teacher tensors do not fit the e5 model: {unexpected[:3]}")
    return keep_layers(model, layers)
