"""Synthetic clustered embeddings: a fake ``embed`` that needs no model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

TOPICS = {
    "Lieferung": ["Lieferung", "Paket", "Zustellung", "Versand", "Lieferzeit"],
    "Preis": ["Preis", "Kosten", "Gebühr", "Rechnung", "Tarif"],
    "Personal": ["Personal", "Mitarbeiter", "Beratung", "Hotline", "Service"],
    "App": ["App", "Absturz", "Update", "Login", "Passwort"],
}


def stable_seed(text: str) -> int:
    """A seed from the text that is the same in every process (Python's ``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")


def make_responses(n_per_topic: int = 40, seed: int = 0) -> tuple[pd.DataFrame, Callable[[Sequence[str]], np.ndarray]]:
    """Responses whose comments come from four topics, and an ``embed`` giving each topic its own cluster."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(TOPICS), 24))
    rows, vectors = [], {}
    for index in range(n_per_topic * len(TOPICS)):
        topic = index % len(TOPICS)
        name = list(TOPICS)[topic]
        first, second = rng.choice(TOPICS[name], 2, replace=False)
        text = f"{first} und {second} Fall {index}"
        score = int([2, 7, 9, 1][topic] + rng.integers(0, 2))
        rows.append(
            {
                "response_id": f"r{index}",
                "score": score,
                "nps_group": "promoter" if score >= 9 else "passive" if score >= 7 else "detractor",
                "comment": text,
                "comment_status": "text",
                "language": "de",
                "sentiment": ["negative", "neutral", "positive"][index % 3],
                "segment": "web" if index % 2 else "shop",
                "true_topic": name,
            }
        )
        vector = centers[topic] + 0.25 * rng.normal(size=24)
        vectors[text] = vector / np.linalg.norm(vector)

    def embed(texts: Sequence[str]) -> np.ndarray:
        out = []
        for text in texts:
            if text not in vectors:  # e.g. guided seed descriptions: a stable pseudo-random vector
                vec = np.random.default_rng(stable_seed(text)).normal(size=24)
                vectors[text] = vec / np.linalg.norm(vec)
            out.append(vectors[text])
        return np.vstack(out).astype(np.float32)

    return pd.DataFrame(rows), embed


@pytest.fixture
def synthetic() -> tuple[pd.DataFrame, Callable[[Sequence[str]], np.ndarray]]:
    return make_responses()


@pytest.fixture
def make_synthetic() -> Callable[..., tuple[pd.DataFrame, Callable[[Sequence[str]], np.ndarray]]]:
    return make_responses
