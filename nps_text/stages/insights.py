"""Insights: improvement areas, the follow-up list and theme trends (:mod:`nps_text.insights`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from nps_text.stages.edges import RunEdges


@dataclass
class InsightsInputs:
    """The responses with themes, the ``themes`` table and the ``sentences`` table (``None``: none)."""

    responses: pd.DataFrame
    themes: pd.DataFrame
    sentences: pd.DataFrame | None = None


def run(inputs: InsightsInputs, section: Any = None, edges: RunEdges | None = None) -> dict[str, pd.DataFrame]:
    """The ``improvement_areas`` (latest period compared with the one before), ``follow_up`` and
    ``theme_trends`` tables. Insights have no config section of their own."""
    from nps_text.insights import follow_up, improvement_areas, theme_trends

    responses, sentences = inputs.responses, inputs.sentences
    return {
        "improvement_areas": improvement_areas(responses, inputs.themes, sentences=sentences),
        "follow_up": follow_up(responses),
        "theme_trends": theme_trends(responses, sentences=sentences),
    }
