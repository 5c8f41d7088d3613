"""Configuration of the themes step (owned by the themes module)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ThemesConfig(BaseModel):
    """How themes are discovered, named and guided."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    seed: int = 42
