"""Configuration of the HTML report (owned by the report module)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReportConfig(BaseModel):
    """What the report shows and in which language (``auto``: the data's main language).

    The row caps keep the page small (well under 5 MB) however many responses a run has; the
    complete tables are in the exports.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    language: Literal["auto", "de", "en"] = "auto"
    title: str = Field(
        default="NPS report", description="Page title; the default shows as 'NPS-Bericht' in German reports."
    )
    top_improvement_areas: int = Field(default=5, ge=1, le=50)
    quotes_per_area: int = Field(default=3, ge=0, le=10)
    praise_themes: int = Field(default=5, ge=1, le=20)
    follow_up_rows: int = Field(default=10, ge=0, le=200)
    max_periods: int = Field(default=104, ge=2, le=1000, description="Trend chart shows at most the last N periods.")
    max_segment_values: int = Field(default=15, ge=1, le=100, description="Per segment chart, the N largest values.")
    quote_length: int = Field(default=300, ge=40, le=2000, description="Quotes are cut to this many characters.")
    artifact_quotes: bool = Field(
        default=False,
        description="Prefect artifacts quote comments (redacted, in the improvement-areas table); "
        "off: artifacts hold figures and labels only.",
    )
