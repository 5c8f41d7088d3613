"""The light baseline: a logistic-regression head on frozen sentence embeddings.

The head (``head.npz``: ``coef`` (3, dim), ``intercept`` (3,), ``classes``) lives in
``models/sentiment-baseline`` with a ``meta.json`` naming the encoder it was trained on. At run time it
uses the shared cached embedding function the flow passes in, so the step costs almost nothing on
top of the embeddings the themes need anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nps_text.errors import ModelError
from nps_text.schema import SENTIMENTS
from nps_text.sentiment.base import EmbedFunction

HEAD_FILE = "head.npz"
META_FILE = "meta.json"


class LogisticHeadBackend:
    """Softmax(``embeddings @ coef.T + intercept``), classes reordered to (positive, neutral, negative)."""

    def __init__(self, folder: str | Path, embed: EmbedFunction | None = None) -> None:
        path = Path(folder)
        if not (path / HEAD_FILE).is_file():
            raise ModelError(
                f"baseline sentiment head not found in {path}; train it with "
                "`nps-text train sentiment --baseline --out models/sentiment-baseline`"
            )
        with np.load(path / HEAD_FILE, allow_pickle=False) as data:
            coef, intercept, classes = data["coef"], data["intercept"], [str(c) for c in data["classes"]]
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8")) if (path / META_FILE).is_file() else {}
        self.encoder_name = str(meta.get("encoder", "e5-small"))
        order = [classes.index(label) for label in SENTIMENTS]
        self.coef = np.asarray(coef, dtype=np.float32)[order]
        self.intercept = np.asarray(intercept, dtype=np.float32)[order]
        self._embed = embed
        self.name = "baseline"
        from nps_text.cache import folder_digest

        self.version = f"{path.name}+{folder_digest(path)}:{self.encoder_name}"

    def _embedding_function(self) -> EmbedFunction:
        if self._embed is None:
            from nps_text.encoders.registry import embed_texts, get_encoder

            encoder = get_encoder(self.encoder_name)
            self._embed = lambda texts: embed_texts(list(texts), encoder)
        return self._embed

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities (positive, neutral, negative) from the frozen embeddings."""
        if len(texts) == 0:
            return np.zeros((0, 3), dtype=np.float32)
        embeddings = np.asarray(self._embedding_function()(list(texts)), dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.coef.shape[1]:
            raise ModelError(
                f"the baseline head expects {self.coef.shape[1]}-d embeddings from {self.encoder_name!r} but got "
                f"shape {embeddings.shape}; set embeddings.model: {self.encoder_name} or use sentiment.model: default"
            )
        logits = embeddings @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def train_baseline_head(
    texts: Sequence[str], labels: Sequence[str], embed: EmbedFunction, out_dir: str | Path, encoder: str, seed: int = 13
) -> Path:
    """Fit the logistic head on frozen embeddings and save it (a few KB) into ``out_dir``."""
    from sklearn.linear_model import LogisticRegression

    embeddings = np.asarray(embed(list(texts)), dtype=np.float32)
    head = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced", random_state=seed)
    head.fit(embeddings, list(labels))
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    np.savez(
        target / HEAD_FILE,
        coef=head.coef_.astype(np.float32),
        intercept=head.intercept_.astype(np.float32),
        classes=np.asarray(head.classes_, dtype=str),
    )
    (target / META_FILE).write_text(
        json.dumps({"encoder": encoder, "rows": len(texts), "seed": seed, "C": 4.0}, indent=2) + "\n", encoding="utf-8"
    )
    return target
