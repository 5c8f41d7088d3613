"""The sentiment backend protocol and the registry that picks a backend by name.

A backend turns texts into class probabilities in :data:`nps_text.schema.SENTIMENTS` order
(positive, neutral, negative). Registered names:

    ``default``   our e5 student (6 layers) in ``models/sentiment-e5-student`` on CPU; the teacher on a GPU
    ``accurate``  the fully fine-tuned 12-layer e5 teacher in ``models/sentiment-e5-teacher`` (slower on CPU)
    ``baseline``  a logistic head on frozen e5 embeddings (``models/sentiment-baseline``)
    ``commercial`` the same kind of head trained only on commercially usable data (``models/sentiment-commercial``)
anything else     a Hugging Face text-classification model: a local folder, or a hub id (the only path
                  that may go online, and only because the user named it)

Tests register a fake backend with :func:`register_sentiment_backend`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from nps_text.errors import ModelError
from nps_text.sentiment.config import SentimentConfig

EmbedFunction = Callable[[Sequence[str]], np.ndarray]


@runtime_checkable
class SentimentBackend(Protocol):
    """Anything that scores texts as positive / neutral / negative."""

    name: str
    version: str

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return a ``(len(texts), 3)`` float array of probabilities (positive, neutral, negative)."""
        ...


BackendFactory = Callable[[SentimentConfig, EmbedFunction | None], SentimentBackend]

DEFAULT_MODEL_NAME = "sentiment-e5-student"
"""``default`` on CPU: 6 layers distilled from the teacher (issue 20)."""
ACCURATE_MODEL_NAME = "sentiment-e5-teacher"
"""``accurate``, and ``default`` on a GPU: the fully fine-tuned 12-layer teacher."""
BASELINE_MODEL_NAME = "sentiment-baseline"
COMMERCIAL_MODEL_NAME = "sentiment-commercial"


MODELS_DIR_ENV = "NPS_TEXT_MODELS_DIR"
INSTALLED_MODELS = ("share", "nps-text", "models")
"""Where a wheel installs the shipped models, relative to the install scheme's data folder (``sys.prefix`` in a
virtual environment): ``pyproject.toml``'s ``[tool.setuptools.data-files]`` puts them there."""


def _source_models_dir() -> Path:
    """The repository's ``models/`` beside this package (a source checkout or an editable install)."""
    return Path(__file__).resolve().parents[2] / "models"


@functools.lru_cache(maxsize=1)
def installed_models_dir() -> Path | None:
    """The models a wheel installed with this distribution (found through its ``RECORD``), or None."""
    from importlib import metadata

    try:
        files = metadata.distribution("nps-text").files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        parts = Path(file).parts
        for start in range(len(parts) - len(INSTALLED_MODELS)):
            if parts[start : start + len(INSTALLED_MODELS)] == INSTALLED_MODELS:
                located = Path(str(file.locate())).resolve()
                folder = located.parents[len(parts) - start - len(INSTALLED_MODELS) - 1]
                if folder.is_dir():
                    return folder
    return None


def model_dirs() -> list[Path]:
    """Folders searched for a named model, in order: ``$NPS_TEXT_MODELS_DIR``, the source tree's ``models/``
    (where ``nps-text train`` saves in a checkout), the copy installed with the package."""
    configured = os.environ.get(MODELS_DIR_ENV)
    candidates = [Path(configured).expanduser()] if configured else []
    candidates.append(_source_models_dir())
    installed = installed_models_dir()
    if installed is not None:
        candidates.append(installed)
    return candidates


def models_dir() -> Path:
    """The first existing folder of :func:`model_dirs` (``$NPS_TEXT_MODELS_DIR`` even when missing)."""
    candidates = model_dirs()
    if os.environ.get(MODELS_DIR_ENV):
        return candidates[0]
    return next((folder for folder in candidates if folder.is_dir()), candidates[0])


def model_path(name: str) -> Path:
    """The folder of the shipped or trained model ``name``: the first of :func:`model_dirs` that holds it.

    Example:
        >>> model_path(DEFAULT_MODEL_NAME).name
        'sentiment-e5-student'
    """
    for folder in model_dirs():
        if (folder / name).is_dir():
            return folder / name
    return models_dir() / name  # missing everywhere: the loader's error names this path


def default_model_folder(config: SentimentConfig) -> Path:
    """The folder ``default`` resolves to: the teacher on a GPU (it is fast enough there), else the student."""
    from nps_text.sentiment.transformer import select_device

    on_gpu = select_device(config.device) != "cpu"
    return model_path(ACCURATE_MODEL_NAME if on_gpu else DEFAULT_MODEL_NAME)


def _default_factory(config: SentimentConfig, embed: EmbedFunction | None) -> SentimentBackend:
    from nps_text.sentiment.transformer import load_transformer_backend

    return load_transformer_backend(str(default_model_folder(config)), config, name="default")


def _accurate_factory(config: SentimentConfig, embed: EmbedFunction | None) -> SentimentBackend:
    from nps_text.sentiment.transformer import load_transformer_backend

    return load_transformer_backend(str(model_path(ACCURATE_MODEL_NAME)), config, name="accurate")


def _baseline_factory(config: SentimentConfig, embed: EmbedFunction | None) -> SentimentBackend:
    from nps_text.sentiment.baseline import LogisticHeadBackend

    return LogisticHeadBackend(model_path(BASELINE_MODEL_NAME), embed=embed)


def _commercial_factory(config: SentimentConfig, embed: EmbedFunction | None) -> SentimentBackend:
    from nps_text.sentiment.baseline import LogisticHeadBackend

    backend = LogisticHeadBackend(model_path(COMMERCIAL_MODEL_NAME), embed=embed)
    backend.name = "commercial"
    return backend


_BACKENDS: dict[str, BackendFactory] = {
    "default": _default_factory,
    "accurate": _accurate_factory,
    "baseline": _baseline_factory,
    "commercial": _commercial_factory,
}
_REGISTERED = dict(_BACKENDS)
"""The built-in factories: a version probe applies only while its name still maps to its own factory."""


VersionProbe = Callable[[SentimentConfig], str]


def _default_version(config: SentimentConfig) -> str:
    from nps_text.sentiment.transformer import e5_backend_version

    return e5_backend_version(default_model_folder(config), config)


def _accurate_version(config: SentimentConfig) -> str:
    from nps_text.sentiment.transformer import e5_backend_version

    return e5_backend_version(model_path(ACCURATE_MODEL_NAME), config)


_VERSION_PROBES: dict[str, VersionProbe] = {"default": _default_version, "accurate": _accurate_version}
"""Backends whose ``version`` is known without loading the model (see :class:`LazyBackend`)."""


class LazyBackend:
    """A backend that loads its model on the first :meth:`predict_proba`.

    ``name`` and ``version`` (the result cache's key) are known up front, so a run whose texts are all cached
    never loads the model (about 10 s of imports and weights for the default model). After loading, the
    loaded backend's version must equal the probed one, else the cache would file results under a wrong key.
    """

    def __init__(self, name: str, version: str, load: Callable[[], SentimentBackend]) -> None:
        self.name = name
        self.version = version
        self._load = load
        self._backend: SentimentBackend | None = None

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def backend(self) -> SentimentBackend:
        """The loaded backend (loads it on the first call)."""
        if self._backend is None:
            backend = self._load()
            if backend.version != self.version:
                raise ModelError(
                    f"sentiment model {self.name!r} loaded as version {backend.version!r}, but its cache key was "
                    f"{self.version!r}: a bug in its version probe"
                )
            self._backend = backend
        return self._backend

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.backend().predict_proba(texts)


def lazy_sentiment_backend(
    name_or_path: str, config: SentimentConfig | None = None, embed: EmbedFunction | None = None
) -> SentimentBackend:
    """:func:`get_sentiment_backend`, loaded only when a text needs the model, where the backend's version is
    known without loading it (``default``); any other backend is loaded now."""
    settings = (config or SentimentConfig()).model_copy(update={"model": name_or_path})
    probe = _VERSION_PROBES.get(name_or_path) if _BACKENDS.get(name_or_path) is _REGISTERED.get(name_or_path) else None
    if probe is None:
        return get_sentiment_backend(name_or_path, settings, embed)
    return LazyBackend(name_or_path, probe(settings), lambda: get_sentiment_backend(name_or_path, settings, embed))


def register_sentiment_backend(name: str, factory: BackendFactory) -> None:
    """Register ``factory(config, embed) -> SentimentBackend`` under ``name`` (plugins and tests)."""
    _BACKENDS[name] = factory


def registered_backends() -> list[str]:
    """Names that :func:`get_sentiment_backend` resolves without treating them as model ids."""
    return sorted(_BACKENDS)


def get_sentiment_backend(
    name_or_path: str,
    config: SentimentConfig | None = None,
    embed: EmbedFunction | None = None,
) -> SentimentBackend:
    """Resolve a backend: a registered name, a local model folder, or a Hugging Face hub id.

    Example:
        >>> backend = get_sentiment_backend("default")  # doctest: +SKIP
        >>> backend.predict_proba(["Super Service!"]).round(2)  # doctest: +SKIP
        array([[0.97, 0.02, 0.01]], dtype=float32)
    """
    settings = (config or SentimentConfig()).model_copy(update={"model": name_or_path})
    factory = _BACKENDS.get(name_or_path)
    if factory is not None:
        return factory(settings, embed)
    from nps_text.sentiment.transformer import load_transformer_backend

    return load_transformer_backend(name_or_path, settings)


def check_probabilities(probabilities: np.ndarray, n_texts: int, backend: str) -> np.ndarray:
    """Validate a backend's output shape and values (a buggy plugin fails loudly, not silently)."""
    array = np.asarray(probabilities, dtype=np.float32)
    if array.shape != (n_texts, 3) or not np.all(np.isfinite(array)):
        raise ModelError(
            f"sentiment backend {backend!r} returned shape {array.shape} (or non-finite values); "
            f"expected ({n_texts}, 3) probabilities in order positive, neutral, negative"
        )
    return array
