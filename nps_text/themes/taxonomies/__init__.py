"""Built-in starter taxonomies (YAML files in this folder), selectable as ``themes.taxonomy: retail``.

Each category has an English and a German name (the English one is its stable key), keywords in both
languages (matched against comment words and lemmas, ``liefer*`` = prefix) and short seed phrases in
both languages (matched by embedding similarity).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

BUILTIN = ("retail", "mobility", "hospitality", "telecom", "banking", "software")
"""retail & e-commerce, mobility & travel, hospitality, telecom & utilities, banking & insurance, software."""


def available() -> list[str]:
    """Names of the built-in taxonomies."""
    return [name for name in BUILTIN if resources.files(__name__).joinpath(f"{name}.yaml").is_file()]


@lru_cache(maxsize=16)
def _read(source: str) -> dict[str, Any]:
    if source in BUILTIN:
        text = resources.files(__name__).joinpath(f"{source}.yaml").read_text(encoding="utf-8")
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"unknown taxonomy {source!r}: use one of {list(BUILTIN)} or a path to a YAML file")
        text = path.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or not isinstance(document.get("categories"), list):
        raise ValueError(f"taxonomy {source!r} has no 'categories' list")
    return document


def load_taxonomy(source: str) -> list[dict[str, Any]]:
    """Categories of a built-in taxonomy (by name) or of a YAML file, as ``GuidedTheme`` keyword arguments.

    Raises:
        ValueError: unknown name, missing file or malformed taxonomy.
    """
    categories = []
    for item in _read(source)["categories"]:
        names = item.get("name") or {}
        if isinstance(names, str):
            names = {"en": names}
        key = names.get("en") or next(iter(names.values()), None)
        keywords = item.get("keywords") or {}
        phrases = item.get("phrases") or {}
        words = [str(w) for values in keywords.values() for w in values] if isinstance(keywords, dict) else list(keywords)
        texts = [str(p) for values in phrases.values() for p in values] if isinstance(phrases, dict) else list(phrases)
        if not key or not words:
            raise ValueError(f"taxonomy {source!r}: every category needs a name and keywords, got {item!r}")
        categories.append({"name": str(key), "seed_words": words, "phrases": texts, "labels": dict(names)})
    return categories
