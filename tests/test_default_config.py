"""``pipeline/default.yaml`` claims to list every setting with its default: checked against the config models."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from nps_text.config import PipelineConfig, load_config

DEFAULT_YAML = Path(__file__).resolve().parents[1] / "pipeline" / "default.yaml"


def _section(annotation: Any) -> type[BaseModel] | None:
    """The config model a field holds (``X`` or ``X | None``), else None (a value, a list, a mapping)."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every setting of ``model`` as a dotted path, sections recursively."""
    keys = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        keys.add(path)
        section = _section(info.annotation)
        if section is not None:
            keys |= model_keys(section, f"{path}.")
    return keys


def yaml_keys(data: dict[str, Any], model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key of ``data`` as a dotted path, descending where the model has a section (not into mappings
    that are values, such as ``privacy.columns``)."""
    keys = set()
    for name, value in data.items():
        path = f"{prefix}{name}"
        keys.add(path)
        info = model.model_fields.get(name)
        section = _section(info.annotation) if info is not None else None
        if section is not None and isinstance(value, dict):
            keys |= yaml_keys(value, section, f"{path}.")
    return keys


def test_default_yaml_lists_every_setting_and_nothing_else() -> None:
    data = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    in_yaml, in_models = yaml_keys(data, PipelineConfig), model_keys(PipelineConfig)
    assert not in_models - in_yaml, f"settings missing from {DEFAULT_YAML.name}: {sorted(in_models - in_yaml)}"
    assert not in_yaml - in_models, f"keys in {DEFAULT_YAML.name} no model knows: {sorted(in_yaml - in_models)}"


def test_default_yaml_holds_the_defaults() -> None:
    assert load_config(DEFAULT_YAML).model_dump(mode="json") == PipelineConfig().model_dump(mode="json")
