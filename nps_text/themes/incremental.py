"""Re-runs without re-fitting: comments seen before keep their theme, new ones join the saved themes.

A weekly re-run over the grown export would otherwise fit UMAP + HDBSCAN (and label every theme) again
for a handful of new comments, and could reshuffle themes a CX team has already named. After a fit, the
themes step saves, next to the theme state (:mod:`nps_text.themes.state`):

* in ``themes_state.json``'s ``fit`` entry: a fingerprint of the themes config and encoder dimension, the
  mean vector the embeddings were centred with, the outlier cut-off, and how many distinct comments the
  fit saw (:class:`~nps_text.themes.state.FitRecord`);
* ``themes_texts.npz``: for every distinct comment of the fit (and those added since), the first 8 bytes of
  the sha256 of its cleaned, *redacted* text and its theme id. No text is stored, as in the result store.

A later run reuses the fit (:func:`plan`) while the distinct comments added since the fit stay within
``refit_share`` of the fitted ones and the config fingerprint is unchanged; otherwise it fits afresh (the
stable ids of :func:`~nps_text.themes.state.stable_ids` then keep the themes' ids where they match).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nps_text.cache import text_hash
from nps_text.themes.config import ThemesConfig
from nps_text.themes.state import ThemeState
from nps_text.writers import atomic_path

TEXTS_FILE = "themes_texts.npz"
LOGGER = logging.getLogger(__name__)
_NEW = -2  # "not seen before" in a plan's theme ids (-1 is the outlier theme)
_NOT_FINGERPRINTED = {"enabled", "rename", "representative_comments", "refit_share"}


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """First 8 bytes of each (cleaned, redacted) text's result-store key (its sha256), as unsigned 64-bit integers."""
    return np.array([int(text_hash(text)[:16], 16) for text in texts], dtype=np.uint64)


def fingerprint(config: ThemesConfig, dim: int) -> str:
    """What a fit depends on: every themes setting that changes clusters, ids, keywords or labels, and the
    embedding dimension (a proxy for the encoder, which also changes the result-store keys)."""
    settings = config.model_dump(mode="json", exclude=_NOT_FINGERPRINTED)
    payload = json.dumps({"config": settings, "dim": dim}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def load_texts(state_dir: Path | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The saved (key, theme id) arrays, or ``None`` when there are none or the file is damaged."""
    if state_dir is None or not (Path(state_dir) / TEXTS_FILE).is_file():
        return None
    try:
        with np.load(Path(state_dir) / TEXTS_FILE, allow_pickle=False) as data:
            keys, ids = np.asarray(data["keys"], dtype=np.uint64), np.asarray(data["ids"], dtype=np.int64)
    except (OSError, ValueError, KeyError) as exc:
        LOGGER.warning("saved theme assignments are damaged and were dropped (%s); themes are fitted afresh", exc)
        return None
    if keys.shape != ids.shape or keys.ndim != 1:
        LOGGER.warning("saved theme assignments have the wrong shape; themes are fitted afresh")
        return None
    return keys, ids


def save_texts(state_dir: Path | None, keys: np.ndarray, ids: np.ndarray) -> None:
    """Write the (key, theme id) arrays atomically (nothing when ``state_dir`` is ``None``)."""
    if state_dir is None:
        return
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / TEXTS_FILE) as part, part.open("wb") as stream:
        np.savez(stream, keys=keys.astype(np.uint64), ids=ids.astype(np.int64))


@dataclass
class Plan:
    """A re-run's reuse of the saved fit: the known theme id per distinct comment, new ones marked."""

    theme_ids: np.ndarray  # per distinct comment: its saved theme id, or _NEW
    keys: np.ndarray
    saved_keys: np.ndarray
    saved_ids: np.ndarray

    @property
    def new_rows(self) -> np.ndarray:
        return np.flatnonzero(self.theme_ids == _NEW)


def plan(
    state: ThemeState, state_dir: Path | None, config: ThemesConfig, distinct: Sequence[str], dim: int
) -> Plan | None:
    """How to reuse the last fit for ``distinct`` (``None``: fit afresh, and say why in the log)."""
    fit = state.fit
    if state_dir is None or fit is None or config.refit_share <= 0:
        return None
    if fit.fingerprint != fingerprint(config, dim) or state.dim != dim:
        LOGGER.info("themes: config or encoder changed since the last fit; fitting afresh")
        return None
    saved = load_texts(state_dir)
    if saved is None:
        return None
    saved_keys, saved_ids = saved
    keys = text_keys(distinct)
    order = np.argsort(saved_keys, kind="stable")
    sorted_keys = saved_keys[order]
    position = np.clip(np.searchsorted(sorted_keys, keys), 0, max(len(sorted_keys) - 1, 0))
    found = (sorted_keys[position] == keys) if len(sorted_keys) else np.zeros(len(keys), dtype=bool)
    theme_ids = np.full(len(keys), _NEW, dtype=np.int64)
    theme_ids[found] = saved_ids[order[position[found]]]
    new = int((~found).sum())
    if fit.added + new > config.refit_share * max(fit.fitted, 1):
        LOGGER.info(
            "themes: %d new distinct comments (%d added before) exceed refit_share %.2f of the %d fitted; fitting afresh",
            new, fit.added, config.refit_share, fit.fitted,
        )
        return None
    known_ids = set(state.themes) | {-1}
    if not set(np.unique(theme_ids[found]).tolist()) <= known_ids:
        LOGGER.warning("saved theme assignments name themes the state does not know; fitting afresh")
        return None
    return Plan(theme_ids=theme_ids, keys=keys, saved_keys=saved_keys, saved_ids=saved_ids)


def remember(state: ThemeState, state_dir: Path | None, the_plan: Plan, theme_ids: np.ndarray) -> None:
    """Append the newly assigned comments to the saved assignments and count them against ``refit_share``."""
    new_rows = the_plan.new_rows
    if state.fit is not None:
        state.fit.added += int(new_rows.size)
    if new_rows.size:
        save_texts(
            state_dir,
            np.concatenate([the_plan.saved_keys, the_plan.keys[new_rows]]),
            np.concatenate([the_plan.saved_ids, theme_ids[new_rows]]),
        )
