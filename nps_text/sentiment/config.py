"""Configuration of the sentiment step (owned by the sentiment backends)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nps_text.schema import SENTIMENTS


class SentimentConfig(BaseModel):
    """Which sentiment backend to use and how.

    ``model`` is a registered backend name (``"default"`` = our offline model in ``models/``: the 6-layer
    student on CPU, the teacher on a GPU; ``"accurate"`` = the 12-layer teacher everywhere; ``"baseline"`` =
    logistic head on frozen embeddings, ``"commercial"`` = such a head trained only on commercially usable
    data) or a Hugging Face model id / local path.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str = "default"
    batch_size: int = Field(default=64, ge=1)
    per_sentence: bool = True
    max_tokens: int = Field(
        default=256, ge=16, le=512, description="Tokens per window; longer comments are chunked and averaged."
    )
    quantize: bool = Field(default=True, description="int8 dynamic quantisation of Linear layers (CPU speed).")
    threads: int | None = Field(default=None, ge=1, description="torch threads; None = all cores torch sees.")
    runtime: Literal["auto", "torch", "onnx"] = Field(
        default="auto",
        description=(
            "Inference engine for our e5 model: auto = torch (measured faster on CPU than ONNX Runtime, "
            "0.90x; and the GPU path); onnx = ONNX Runtime on CPU (opt-in)."
        ),
    )
    cpu_precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description=(
            "Our e5 model on CPU: the fine-tuned top layers in bf16 or fp32 (the frozen lower layers stay int8). "
            "auto = bf16 where the CPU has native bf16 instructions (AVX-512 BF16 / AMX), else fp32."
        ),
    )
    device: str = Field(default="auto", description="auto = cuda when torch sees a GPU, else cpu; or e.g. cpu, cuda:1.")
    comment_from: Literal["document", "sentences"] = Field(
        default="document",
        description=(
            "How a multi-sentence comment's label is derived when per_sentence is on: 'document' = the whole "
            "comment scored once (single-sentence comments: that one pass is also the sentence result); "
            "'sentences' = the word-weighted mean of its sentences' probabilities (fewer tokens, but measured "
            "0.035 micro-F1 worse on the held-out splits)."
        ),
    )
    label_map: dict[str, str] | None = Field(
        default=None, description="Model label name -> positive/neutral/negative, for unusual label names."
    )

    @field_validator("label_map")
    @classmethod
    def _known_sentiments(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value:
            bad = {key: target for key, target in value.items() if target not in SENTIMENTS}
            if bad:
                raise ValueError(f"label_map targets must be one of {list(SENTIMENTS)}, got {bad}")
        return value
