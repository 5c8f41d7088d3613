"""Configuration of the HTML report (owned by the report module)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ReportConfig(BaseModel):
    """What the report shows and in which language (``auto``: the data's main language)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    language: Literal["auto", "de", "en"] = "auto"
    title: str = "NPS report"
