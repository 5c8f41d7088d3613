"""Stable theme ids across runs: themes are matched to last run's by centroid, and keep their id.

The state is one JSON file, ``<state_dir>/themes_state.json``: per theme id its kind (guided or
discovered), guided name, centroid, label and keywords, plus the next free id. A user's ``rename`` and
``merge`` entries in the config refer to these ids, so they keep working as data grows.

The file is written atomically (unique temporary file, fsync, rename). A damaged file (truncated, edited
by hand, wrong shape) is never fatal: it is dropped with a warning and the ids are computed afresh.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nps_text.errors import NpsTextError
from nps_text.writers import atomic_path

STATE_FILE = "themes_state.json"
STATE_VERSION = 1
LOGGER = logging.getLogger(__name__)
MATCH_SIMILARITY = 0.8
"""A new theme inherits an old id when their centroids (centred embedding space) are this cosine-similar."""


class ThemeStateError(NpsTextError):
    """The saved theme state cannot be read (:func:`load_state` drops such a file with a warning)."""


@dataclass
class ThemeRecord:
    """One theme as remembered between runs."""

    theme_id: int
    kind: str  # "guided" or "discovered"
    centroid: list[float]
    name: str | None = None
    label: str = ""
    keywords: list[str] = field(default_factory=list)


@dataclass
class FitRecord:
    """What a re-run needs to put new comments into the last fit's themes without fitting again
    (:mod:`nps_text.themes.incremental`)."""

    fingerprint: str  # themes config + encoder dimension the fit was made with
    centre: list[float]  # mean embedding subtracted before clustering
    cutoff: float  # similarity to the nearest discovered centroid below which a comment stays an outlier
    fitted: int  # distinct comments in the fit
    added: int = 0  # distinct comments added to the fit's themes since
    outlier_keywords: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # theme id -> the fit's own label (before any rename)


@dataclass
class ThemeState:
    """All remembered themes, the embedding dimension they were computed in, and the next free id."""

    dim: int | None = None
    next_id: int = 0
    themes: dict[int, ThemeRecord] = field(default_factory=dict)
    fit: FitRecord | None = None


def load_state(state_dir: Path | None) -> ThemeState:
    """Read the state from ``state_dir`` (empty state when there is none, or when the file is damaged:
    then a warning is logged and theme ids start afresh)."""
    if state_dir is None:
        return ThemeState()
    path = Path(state_dir) / STATE_FILE
    if not path.is_file():
        return ThemeState()
    try:
        return parse_state(path.read_bytes())
    except (OSError, ThemeStateError) as exc:
        LOGGER.warning("theme state %s is damaged and was dropped (%s); theme ids are computed afresh", path, exc)
        return ThemeState()


def parse_state(data: bytes) -> ThemeState:
    """Parse and check a state file's content.

    Raises:
        ThemeStateError: not valid JSON, or not the shape :func:`save_state` writes.
    """
    try:
        document = json.loads(data.decode("utf-8"))
        if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
            raise ValueError(f"not a version-{STATE_VERSION} theme state")
        dim = document.get("dim")
        if dim is not None and (not isinstance(dim, int) or dim <= 0):
            raise ValueError(f"bad dimension {dim!r}")
        themes: dict[int, ThemeRecord] = {}
        for item in document["themes"]:
            record = ThemeRecord(**item)
            if not isinstance(record.theme_id, int) or record.theme_id < 0 or record.theme_id in themes:
                raise ValueError(f"bad or repeated theme id {record.theme_id!r}")
            if record.kind not in ("guided", "discovered"):
                raise ValueError(f"bad theme kind {record.kind!r}")
            if record.kind == "guided" and not record.name:
                raise ValueError(f"guided theme {record.theme_id} has no name")
            if record.kind == "discovered" and (dim is None or len(record.centroid) != dim):
                raise ValueError(f"theme {record.theme_id} has a centroid of the wrong length")
            if not all(isinstance(value, (int, float)) and np.isfinite(value) for value in record.centroid):
                raise ValueError(f"theme {record.theme_id} has a non-numeric centroid")
            themes[record.theme_id] = record
        next_id = document["next_id"]
        if not isinstance(next_id, int) or next_id < (max(themes) + 1 if themes else 0):
            raise ValueError(f"bad next_id {next_id!r}")
        fit = None
        if document.get("fit") is not None:
            fit = FitRecord(**document["fit"])
            if dim is None or len(fit.centre) != dim or not np.all(np.isfinite(fit.centre)):
                raise ValueError("the saved fit has a centre of the wrong length")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ThemeStateError(str(exc)) from exc
    return ThemeState(dim=dim, next_id=next_id, themes=themes, fit=fit)


def save_state(state: ThemeState, state_dir: Path | None) -> None:
    """Write the state atomically to ``state_dir`` (nothing when ``None``)."""
    if state_dir is None:
        return
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "version": STATE_VERSION,
        "dim": state.dim,
        "next_id": state.next_id,
        "themes": [record.__dict__ for _, record in sorted(state.themes.items())],
        "fit": None if state.fit is None else state.fit.__dict__,
    }
    with atomic_path(folder / STATE_FILE) as part:
        part.write_bytes(json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8"))


def stable_ids(
    state: ThemeState,
    guided_names: Sequence[str],
    discovered_centroids: Mapping[int, np.ndarray],
    dim: int,
) -> tuple[dict[str, int], dict[int, int]]:
    """Map guided theme names and discovered cluster ids to stable theme ids, updating ``state`` in place.

    Guided themes keep their id by name. Discovered clusters are matched one-to-one with remembered
    discovered themes, most similar pair first, when their centroids are at least
    :data:`MATCH_SIMILARITY` cosine-similar; the others get fresh ids. A change of embedding dimension
    (another encoder) forgets the remembered centroids but keeps guided ids.

    Returns:
        (guided name -> theme id, discovered cluster id -> theme id)
    """
    if state.dim is not None and state.dim != dim:
        state.themes = {key: record for key, record in state.themes.items() if record.kind == "guided"}
    state.dim = dim
    guided_ids: dict[str, int] = {}
    by_name = {record.name: key for key, record in state.themes.items() if record.kind == "guided"}
    for name in guided_names:
        if name not in by_name:
            by_name[name] = state.next_id
            state.themes[state.next_id] = ThemeRecord(theme_id=state.next_id, kind="guided", centroid=[], name=name)
            state.next_id += 1
        guided_ids[name] = by_name[name]

    remembered = [(key, record) for key, record in state.themes.items() if record.kind == "discovered"]
    cluster_ids = sorted(discovered_centroids)
    pairs: list[tuple[float, int, int]] = []
    for cluster in cluster_ids:
        for key, record in remembered:
            if len(record.centroid) == dim:
                sim = float(np.dot(discovered_centroids[cluster], np.asarray(record.centroid, dtype=np.float32)))
                if sim >= MATCH_SIMILARITY:
                    pairs.append((sim, cluster, key))
    mapping: dict[int, int] = {}
    used: set[int] = set()
    for _, cluster, key in sorted(pairs, key=lambda item: (-item[0], item[1], item[2])):
        if cluster not in mapping and key not in used:
            mapping[cluster] = key
            used.add(key)
    for cluster in cluster_ids:
        if cluster not in mapping:
            mapping[cluster] = state.next_id
            state.next_id += 1
        state.themes[mapping[cluster]] = ThemeRecord(
            theme_id=mapping[cluster],
            kind="discovered",
            centroid=[round(float(value), 6) for value in discovered_centroids[cluster]],
        )
    return guided_ids, mapping
