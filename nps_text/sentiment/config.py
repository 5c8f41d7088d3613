"""Configuration of the sentiment step (owned by the sentiment backends)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SentimentConfig(BaseModel):
    """Which sentiment backend to use and how.

    ``model`` is a registered backend name (``"default"`` = our offline model in ``models/``,
    ``"baseline"`` = logistic head on frozen embeddings) or a Hugging Face model id / local path.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str = "default"
    batch_size: int = 64
    per_sentence: bool = True
