"""Insights: improvement areas, the follow-up list and theme trends (:mod:`nps_text.insights`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from nps_text.stages.edges import RunEdges
from nps_text.table_view import Table


@dataclass
class InsightsInputs:
    """The responses with themes, the ``themes`` table and the ``sentences`` table (``None``: none)."""

    responses: pd.DataFrame
    themes: pd.DataFrame
    sentences: pd.DataFrame | None = None


def run(inputs: InsightsInputs, section: Any = None, edges: RunEdges | None = None) -> dict[str, Table]:
    """The ``improvement_areas`` (latest period compared with the one before), ``follow_up`` (a
    :class:`~nps_text.table_view.TableView` of the responses: no second copy of them) and ``theme_trends``
    tables. Insights have no config section of their own."""
    from nps_text.insights import follow_up_view, improvement_areas, theme_trends

    responses, sentences = inputs.responses, inputs.sentences
    return {
        "improvement_areas": improvement_areas(responses, inputs.themes, sentences=sentences),
        "follow_up": follow_up_view(responses),
        "theme_trends": theme_trends(responses, sentences=sentences),
    }
