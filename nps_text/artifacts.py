"""The run's Prefect artifacts: the NPS headline with the top improvement areas, and the improvement areas and
the NPS summary as tables (called by :func:`nps_text.flow.run_pipeline` after publishing)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from nps_text.config import PipelineConfig
from nps_text.rules import ALL

ARTIFACT_PREFIX = "nps-text"


def publish_artifacts(tables: dict[str, pd.DataFrame], manifest: dict[str, Any], config: PipelineConfig) -> None:
    """Markdown headline + top improvement areas, and the improvement areas and NPS summary as tables."""
    from nps_text.report import improvement_areas_rows, markdown_summary

    create_markdown_artifact(
        key=f"{ARTIFACT_PREFIX}-headline",
        markdown=markdown_summary(tables, manifest, config.report),
        description="NPS headline and top improvement areas",
    )
    rows = improvement_areas_rows(tables, config.report)
    if rows:
        create_table_artifact(
            key=f"{ARTIFACT_PREFIX}-improvement-areas", table=rows, description="Improvement areas ranked by NPS impact"
        )
    summary = tables["nps_summary"]
    overall = summary.loc[summary["segment"] == ALL].round(2)
    create_table_artifact(
        key=f"{ARTIFACT_PREFIX}-nps-summary",
        table=json.loads(overall.to_json(orient="records")),
        description="NPS with 95% confidence interval, overall and per period",
    )
