"""Inference runtimes: device / runtime selection, length-bucketed batches, ONNX export equal to torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nps_text.sentiment.transformer import (
    TransformerBackend,
    length_batches,
    select_device,
    select_runtime,
)


class CountingRunner:
    """Logits from the token ids (sum of ids mod 3 wins); records every batch it was given."""

    device = "cpu"

    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []
        self.rows = 0

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.batches.append(input_ids.shape)
        self.rows += input_ids.shape[0]
        assert attention_mask.sum(axis=1).max() == input_ids.shape[1]  # no batch wider than its longest row
        out = np.zeros((input_ids.shape[0], 3), dtype=np.float32)
        out[np.arange(len(out)), (input_ids * attention_mask).sum(axis=1) % 3] = 5.0
        return out


def _backend(runner: CountingRunner, batch_size: int = 4, token_budget: int | None = None) -> TransformerBackend:
    def windowing(text: str) -> list[list[int]]:
        return [[1, *[len(word) for word in text.split()], 2]]

    return TransformerBackend(
        runner, windowing, 0, {0: "negative", 1: "neutral", 2: "positive"},
        name="fake", version="1", batch_size=batch_size, token_budget=token_budget,
    )


def test_batches_are_length_bucketed_and_results_come_back_in_input_order() -> None:
    runner = CountingRunner()
    texts = ["a " * n for n in (9, 1, 5, 3, 7, 2, 8, 4, 6, 1)]
    probabilities = _backend(runner).predict_proba(texts)
    assert runner.rows == len(texts)  # each text once
    assert [width for _, width in runner.batches] == sorted(width for _, width in runner.batches)
    one_by_one = np.vstack([_backend(CountingRunner()).predict_proba([text]) for text in texts])
    np.testing.assert_allclose(probabilities, one_by_one, atol=1e-6)


def test_length_batches_respect_rows_and_token_budget() -> None:
    lengths = [5, 50, 6, 7, 48, 5, 9]
    batches = length_batches(lengths, batch_size=3, token_budget=100)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3 and len(batch) * max(lengths[i] for i in batch) <= 100
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(flat)


def test_device_follows_cuda_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device() == "cuda" and select_device("auto") == "cuda"
    assert select_device("cpu") == "cpu"  # an explicit choice wins
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device() == "cpu"


def test_runtime_is_onnx_on_cpu_and_torch_on_gpu() -> None:
    assert select_runtime("auto", "cpu", onnx_ok=True) == "torch"  # measured faster on CPU
    assert select_runtime("onnx", "cpu", onnx_ok=True) == "onnx"
    assert select_runtime("onnx", "cpu", onnx_ok=False) == "torch"
    assert select_runtime("auto", "cpu", onnx_ok=False) == "torch"
    assert select_runtime("auto", "cuda", onnx_ok=True) == "torch"
    assert select_runtime("onnx", "cuda", onnx_ok=True) == "torch"
    assert select_runtime("torch", "cpu", onnx_ok=True) == "torch"


def test_gpu_runner_uses_half_precision_and_large_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    from nps_text.sentiment import transformer

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert transformer.gpu_dtype("cuda") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert transformer.gpu_dtype("cuda:0") == torch.float16
    assert transformer.gpu_dtype("cpu") == torch.float32

    moved: dict[str, object] = {}

    class FakeModel:
        def to(self, **kwargs: object) -> FakeModel:
            moved.update(kwargs)
            return self

        def eval(self) -> None:
            moved["eval"] = True

    runner = transformer.TorchRunner(FakeModel(), "cuda")
    assert moved == {"device": "cuda", "dtype": torch.float16, "eval": True} and runner.device == "cuda"
    assert transformer._batch_size(64, "cuda") >= 256 and transformer._batch_size(64, "cpu") == 64


def _tiny_classifier(seed: int = 0):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    from transformers import BertConfig

    from nps_text.sentiment.e5_head import E5ForSequenceClassification

    config = BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, num_labels=3,
    )
    torch.manual_seed(seed)
    return E5ForSequenceClassification(config).eval()


@pytest.mark.parametrize("frozen", [0, 1])
def test_onnx_export_equals_torch(tmp_path: Path, frozen: int) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch = pytest.importorskip("torch")
    from nps_text.sentiment.onnx_runtime import OnnxRunner, build_onnx_model
    from nps_text.sentiment.transformer import TorchRunner, pad_numpy, quantize_linear

    model = _tiny_classifier()
    path = build_onnx_model(model, frozen, tmp_path / "model.onnx")
    embeddings = model.bert.embeddings.word_embeddings.weight.detach().numpy().copy()
    onnx_runner = OnnxRunner(path, embeddings, threads=1)
    if frozen:
        model.bert.encoder.layer[0] = quantize_linear(model.bert.encoder.layer[0])  # torch's int8, as shipped
    input_ids, attention_mask = pad_numpy([[2, 7, 9, 11, 3], [2, 30, 3], [2, *range(4, 40), 3]], pad_id=1)
    with torch.inference_mode():
        expected = TorchRunner(model).logits(input_ids, attention_mask)
    np.testing.assert_allclose(onnx_runner.logits(input_ids, attention_mask), expected, atol=2e-3)


def test_onnx_export_with_the_4_bit_word_embeddings(tmp_path: Path) -> None:
    """The shipped model keeps its word embeddings in 4-bit blocks: the graph still takes ``inputs_embeds`` and
    the runner gathers the rows from the blocks."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch = pytest.importorskip("torch")
    from nps_text.encoders.e5_rebuild import _q4_matrix
    from nps_text.sentiment.e5_head import Q4Embedding
    from nps_text.sentiment.onnx_runtime import OnnxRunner, build_onnx_model
    from nps_text.sentiment.transformer import TorchRunner, pad_numpy

    model = _tiny_classifier(seed=2)
    rng = np.random.default_rng(3)
    blocks = 50 * 32 // 32
    scales = rng.normal(0, 0.05, blocks).astype(np.float16).view(np.uint8).reshape(blocks, 2)
    packed = np.concatenate([scales, rng.integers(0, 256, (blocks, 16), dtype=np.uint8)], axis=1).tobytes()
    model.bert.embeddings.word_embeddings = Q4Embedding(_q4_matrix(packed, 50, 32))
    path = build_onnx_model(model, 0, tmp_path / "model.onnx")
    assert path.stat().st_size < 2_000_000
    onnx_runner = OnnxRunner(path, model.bert.embeddings.word_embeddings.take_rows, threads=1)
    input_ids, attention_mask = pad_numpy([[2, 7, 9, 11, 3], [2, 30, 3]], pad_id=1)
    with torch.inference_mode():
        expected = TorchRunner(model).logits(input_ids, attention_mask)
    np.testing.assert_allclose(onnx_runner.logits(input_ids, attention_mask), expected, atol=2e-3)


def test_onnx_model_is_cached_by_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxscript")
    from nps_text.sentiment import onnx_runtime

    monkeypatch.setenv("NPS_TEXT_ONNX_CACHE", str(tmp_path))
    built: list[Path] = []

    def fake_build(model: object, frozen: int, target: Path) -> Path:
        built.append(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"onnx")
        return target

    monkeypatch.setattr(onnx_runtime, "build_onnx_model", fake_build)
    first = onnx_runtime.cached_onnx_model(object(), 6, "model+aaaa")
    assert onnx_runtime.cached_onnx_model(object(), 6, "model+aaaa") == first and len(built) == 1
    assert onnx_runtime.cached_onnx_model(object(), 6, "model+bbbb") != first and len(built) == 2
    assert first.is_relative_to(tmp_path)


@pytest.mark.slow
def test_default_model_onnx_agrees_with_torch() -> None:
    """The shipped model: ONNX Runtime and torch give the same labels on clear sentences (int8 noise aside)."""
    pytest.importorskip("onnxruntime")
    from nps_text.sentiment import SentimentConfig, get_sentiment_backend, models_dir

    if not (models_dir() / "sentiment-e5-student").is_dir():
        pytest.skip("default sentiment model not present")
    texts = [
        "Super Beratung, ich bin rundum zufrieden!",
        "Katastrophaler Service, nie wieder!",
        "Great value for money, highly recommended.",
        "The app keeps crashing and support never answers.",
    ]
    onnx_backend = get_sentiment_backend("default", SentimentConfig(runtime="onnx"))
    torch_backend = get_sentiment_backend("default", SentimentConfig(runtime="torch"))
    assert onnx_backend.version.endswith("+onnx") and onnx_backend.version != torch_backend.version
    from_onnx, from_torch = onnx_backend.predict_proba(texts), torch_backend.predict_proba(texts)
    assert (from_onnx.argmax(axis=1) == from_torch.argmax(axis=1)).all()
    np.testing.assert_allclose(from_onnx, from_torch, atol=0.1)


def test_cpu_precision_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text.sentiment import transformer

    monkeypatch.setattr(transformer, "cpu_bf16_supported", lambda: True)
    assert transformer.use_cpu_bf16("auto") and transformer.use_cpu_bf16("bf16")
    assert not transformer.use_cpu_bf16("fp32")
    monkeypatch.setattr(transformer, "cpu_bf16_supported", lambda: False)
    assert not transformer.use_cpu_bf16("auto") and transformer.use_cpu_bf16("bf16")


def test_bf16_layers_stay_close_to_fp32() -> None:
    torch = pytest.importorskip("torch")
    from nps_text.sentiment.e5_head import Bf16Layer

    model = _tiny_classifier()
    ids = torch.randint(3, 50, (4, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    with torch.inference_mode():
        reference = torch.softmax(model(input_ids=ids, attention_mask=mask).logits, dim=-1)
        layers = model.bert.encoder.layer
        for index in range(len(layers)):
            layers[index] = Bf16Layer(layers[index])
        out = model(input_ids=ids, attention_mask=mask).logits
    assert out.dtype == torch.float32
    assert torch.allclose(torch.softmax(out, dim=-1), reference, atol=0.03)
