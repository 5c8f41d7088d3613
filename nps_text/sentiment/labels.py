"""Map a classifier's label names onto positive / neutral / negative.

Hugging Face sentiment models name their classes in many ways (``POSITIVE``, ``pos``, ``LABEL_2``,
``5 stars``, ``negativ``...). :func:`label_mapping` turns a model's ``id2label`` into a matrix that sums
the model's class probabilities into our three classes, in :data:`nps_text.schema.SENTIMENTS` order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from nps_text.errors import ModelError
from nps_text.schema import NEGATIVE, NEUTRAL, POSITIVE, SENTIMENTS

_NAMES: dict[str, str] = {
    **dict.fromkeys(["positive", "pos", "positiv", "p", "good", "favorable", "joy", "happy"], POSITIVE),
    **dict.fromkeys(["neutral", "neu", "neut", "n/a", "none", "mixed", "objective", "other"], NEUTRAL),
    **dict.fromkeys(["negative", "neg", "negativ", "bad", "unfavorable", "anger", "sad"], NEGATIVE),
}
_STARS = re.compile(r"^([1-5])\s*(?:star|stars|sterne|stern)?$")
_GENERIC = re.compile(r"^label[_ ]?(\d+)$")


def canonical_label(name: str, n_labels: int, overrides: Mapping[str, str] | None = None) -> str | None:
    """Our class for one model label name, or ``None`` when it cannot be told.

    Example:
        >>> canonical_label("LABEL_2", 3), canonical_label("5 stars", 5), canonical_label("NEG", 2)
        ('positive', 'positive', 'negative')
    """
    if overrides and name in overrides:
        return overrides[name]
    key = str(name).strip().lower()
    if key in _NAMES:
        return _NAMES[key]
    stars = _STARS.match(key)
    if stars and n_labels == 5:
        value = int(stars.group(1))
        return NEGATIVE if value <= 2 else NEUTRAL if value == 3 else POSITIVE
    generic = _GENERIC.match(key)
    if generic:
        index = int(generic.group(1))
        order = {2: (NEGATIVE, POSITIVE), 3: (NEGATIVE, NEUTRAL, POSITIVE)}.get(n_labels)
        if order and index < len(order):
            return order[index]
    return None


def label_mapping(id2label: Mapping[int, str], overrides: Mapping[str, str] | None = None) -> np.ndarray:
    """A ``(n_model_labels, 3)`` 0/1 matrix: model probabilities @ matrix = our class probabilities.

    Raises:
        ModelError: when a label cannot be mapped; the message lists the labels and how to override.
    """
    if overrides:
        bad = {key: value for key, value in overrides.items() if value not in SENTIMENTS}
        if bad:
            raise ModelError(f"sentiment.label_map values must be one of {list(SENTIMENTS)}, got {bad}")
    n_labels = len(id2label)
    matrix = np.zeros((n_labels, len(SENTIMENTS)), dtype=np.float32)
    unknown = []
    for index in range(n_labels):
        name = str(id2label[index])
        ours = canonical_label(name, n_labels, overrides)
        if ours is None:
            unknown.append(name)
        else:
            matrix[index, SENTIMENTS.index(ours)] = 1.0
    if unknown:
        raise ModelError(
            f"cannot map model label(s) {unknown} (all labels: {[id2label[i] for i in range(n_labels)]}) to "
            f"{list(SENTIMENTS)}; set sentiment.label_map in the config, e.g. {{'{unknown[0]}': 'positive'}}"
        )
    return matrix
