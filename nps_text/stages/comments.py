"""Comments: comment status (text / empty / non_informative), language and PII redaction."""

from __future__ import annotations

import pandas as pd

from nps_text.comments import prepare_comments
from nps_text.config import CommentsConfig
from nps_text.schema import check_table
from nps_text.stages.edges import RunEdges


def run(inputs: pd.DataFrame, section: CommentsConfig, edges: RunEdges | None = None) -> pd.DataFrame:
    """The responses ``inputs`` with comment status, language and redacted comments (languages cached in the
    edges' result store, keyed by the redacted text)."""
    prepared = prepare_comments(
        inputs,
        languages=section.languages,
        extra_non_informative=section.non_informative,
        redact=section.redact_pii,
        cache=edges.store if edges is not None else None,
        max_chars=section.max_chars,
    )
    return check_table(prepared, "responses", stage="comments")
