"""The distilled student (issue 20, phase 2; plan in ``DISTILLATION.md``): its initialisation from a teacher.

Trained with :func:`nps_text.training.sentiment_train.run_training` on ``TrainingData.soft_targets`` (the
teacher's probabilities, scored once and resumably by :func:`score_in_chunks` with :func:`teacher_soft_labels`),
whose loss is :func:`~nps_text.training.sentiment_train.distillation_loss`. Not yet here: the text pool
(labelled and unlabelled, never held-out rows or suite cases) and the ``nps-text train distill`` command.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

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


def score_in_chunks(
    texts: Sequence[str], score: Callable[[list[str]], np.ndarray], out_dir: str | Path, chunk: int = 2000
) -> np.ndarray:
    """``score`` every text in chunks, each written as ``out_dir/part-NNNNN.npy`` (atomically); resumable.

    A chunk already on disk (from a killed session) is read, not scored again; the chunk files are keyed by the
    chunk size and a hash of the chunk's texts, so a different text list never reuses them. Returns all rows.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for start in range(0, len(texts), chunk):
        piece = list(texts[start : start + chunk])
        digest = hashlib.sha256("\x1f".join(piece).encode("utf-8")).hexdigest()[:12]
        path = folder / f"part-{start // chunk:05d}-{chunk}-{digest}.npy"
        if path.is_file():
            parts.append(np.load(path))
            continue
        scores = np.asarray(score(piece), dtype=np.float32)
        if len(scores) != len(piece):
            raise ModelError(f"the scorer returned {len(scores)} rows for {len(piece)} texts")
        tmp = path.with_name(path.stem + ".tmp.npy")
        np.save(tmp, scores)
        os.replace(tmp, path)
        parts.append(scores)
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def teacher_soft_labels(
    teacher_dir: str | Path, temperature: float, max_length: int = 96, batch_size: int = 64
) -> Callable[[list[str]], np.ndarray]:
    """A scorer for :func:`score_in_chunks`: the teacher's probabilities at ``temperature``, in its label order.

    Full-precision teacher (no int8, no bf16), inputs as in training (prefix, ``max_length`` tokens).
    """
    import torch

    from nps_text.encoders.e5_rebuild import load_e5_tokenizer, pad_batch
    from nps_text.sentiment.e5_model import load_e5_classifier

    model, meta = load_e5_classifier(teacher_dir)
    tokenizer = load_e5_tokenizer()

    def score(texts: list[str]) -> np.ndarray:
        ids = tokenizer.encode(texts, prefix=meta.prefix, max_length=max_length)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), len(meta.labels)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                input_ids, mask = pad_batch([ids[i] for i in chosen], tokenizer.pad)
                logits = model(input_ids=input_ids, attention_mask=mask).logits
                out[chosen] = torch.softmax(logits / temperature, dim=-1).numpy()
        return out

    return score
