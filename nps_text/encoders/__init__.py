"""Encoders: the registry that turns names into text encoders and caches their embeddings
(:mod:`nps_text.encoders.registry`: ``get_encoder``, ``embed_texts``, ``CachedEmbedder``), and the models rebuilt
from PyPI packages as torch / transformers models, offline (:mod:`~nps_text.encoders.e5_rebuild`,
:mod:`~nps_text.encoders.torch_e5`)."""
