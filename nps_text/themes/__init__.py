"""Themes: BERTopic on the shared embeddings, one model for all comments, reported per NPS group.

Entry point for the flow: :func:`assign_themes`. Only rows with ``comment_status == "text"`` reach the
topic model; each distinct (cleaned) comment is embedded and clustered once.

Example:
    >>> import numpy as np, pandas as pd
    >>> from nps_text.themes.config import ThemesConfig
    >>> frame = pd.DataFrame({"response_id": ["1", "2", "3"], "score": [0, 3, 10],
    ...     "nps_group": ["detractor", "detractor", "promoter"], "comment_status": ["text"] * 3,
    ...     "comment": ["Zug zu spät", "Zug fiel aus", "Personal freundlich"]})
    >>> fake = lambda texts: np.eye(3, 8, dtype=np.float32)[: len(texts)]
    >>> responses, themes = assign_themes(frame, ThemesConfig(), embed=fake)
    >>> responses["theme_id"].tolist()  # a few comments: a theme needs a word two customers used
    [0, 0, -1]

Every complaint counted: with ``config.sentence_themes`` each clause/sentence of a multi-sentence comment is
assigned too (:mod:`nps_text.themes.sentences`), giving ``theme_ids`` / ``theme_labels`` (primary first).
"""

from nps_text.themes.assign import ThemesError, assign_themes, assign_themes_and_sentences, themes_table
from nps_text.themes.config import GuidedTheme, ThemesConfig

__all__ = [
    "GuidedTheme", "ThemesConfig", "ThemesError", "assign_themes", "assign_themes_and_sentences", "themes_table",
]
