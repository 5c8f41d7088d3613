"""Configuration of the themes step (owned by the themes module)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class GuidedTheme(BaseModel):
    """A user's own category: comments whose lemmas match a seed word are assigned to it.

    Seed words are compared with the comments' lemmas in lower case (``"Lieferung"`` also matches
    "Lieferungen"); a trailing ``*`` matches a prefix (``"liefer*"``). German and English seeds can be mixed.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    seed_words: list[str] = Field(min_length=1)
    phrases: list[str] = Field(
        default_factory=list, description="Short descriptions in any language, matched by embedding similarity."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Display name per language ('de', 'en'); default: name."
    )

    @field_validator("seed_words")
    @classmethod
    def _non_blank(cls, value: list[str]) -> list[str]:
        cleaned = [word.strip() for word in value if word.strip()]
        if not cleaned:
            raise ValueError("seed_words must hold at least one non-blank word")
        return cleaned


TAXONOMY_METHOD: Literal["keywords", "keywords+similarity", "similarity"] = "keywords+similarity"
TAXONOMY_SIMILARITY = 0.3


class ThemesConfig(BaseModel):
    """How themes are discovered, named and guided.

    Example (``pipeline/*.yaml``)::

        themes:
          min_theme_size: 15
          filler_words: [Zufriedenheit]
          guided:
            - name: Lieferung
              seed_words: [Lieferung, liefer*, delivery, shipping]
          rename: {3: "App & Website"}
          merge: [[4, 7]]
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    seed: int = 42
    encoder: str | None = Field(
        default="use",
        description="Encoder for themes; None = the shared embeddings.model. 'use' clustered best in our measurements.",
    )
    min_theme_size: int | None = Field(
        default=None, ge=2, description="Smallest theme (HDBSCAN min_cluster_size); None = about 1% of comments, 10 to 100."
    )
    target_themes: int | None = Field(
        default=None, ge=1, description="Merge the most similar themes until at most this many remain; None = automatic."
    )
    merge_similarity: float = Field(
        default=0.9, gt=0.0, le=1.0, description="Merge themes whose centroids are at least this cosine-similar."
    )
    max_outlier_share: float = Field(
        default=0.05, ge=0.0, le=1.0, description="At most this share of comments stays in theme -1 (Other)."
    )
    outlier_similarity: float = Field(
        default=0.0, ge=-1.0, le=1.0, description="Outliers join their nearest theme if at least this cosine-similar."
    )
    reduction: Literal["umap", "pca"] = Field(
        default="umap", description="Dimensionality reduction before HDBSCAN; pca is faster, umap clusters better."
    )
    smoothing_neighbors: int = Field(
        default=0, ge=0, description="Majority vote of this many nearest neighbours after HDBSCAN (0 = off)."
    )
    umap_neighbors: int = Field(default=15, ge=2)
    umap_components: int = Field(default=5, ge=2)
    max_fit_comments: int = Field(
        default=20000, ge=100,
        description="Fit on a seeded sample of at most this many distinct comments; each other comment takes the most "
        "common theme of its nearest fitted comments (umap_neighbors of them).",
    )
    refit_share: float = Field(
        default=0.2, ge=0.0, le=10.0,
        description=(
            "Re-runs into the same out folder: while the distinct comments added since the last fit are at most this "
            "share of the fitted ones, comments seen before keep their theme and new ones join the saved themes "
            "(guided match, else nearest theme centroid); above it, or after a change of the themes config or "
            "encoder, the themes are fitted afresh. 0 = fit every run."
        ),
    )
    keywords: int = Field(default=8, ge=1, le=30)
    representative_comments: int = Field(default=3, ge=3, le=5)
    filler_words: list[str] = Field(
        default_factory=list, description="Extra survey filler to drop from keywords (on top of the built-in list)."
    )
    default_filler: bool = Field(default=True, description="Use the built-in German/English filler list.")
    clean_text: bool = Field(default=True, description="Strip mentions, URLs, greetings and sign-offs before embedding.")
    taxonomy: str | None = Field(
        default=None,
        description="Built-in starter taxonomy (retail, mobility, hospitality, telecom, banking, software) or a "
        "YAML file; its categories join 'guided' (your own categories with the same name win).",
    )
    guided: list[GuidedTheme] = Field(default_factory=list)
    guided_method: Literal["keywords", "keywords+similarity", "similarity"] = Field(
        default="keywords",
        description="How comments join guided categories; with a taxonomy the default is keywords+similarity.",
    )
    guided_similarity: float = Field(
        default=0.5, ge=-1.0, le=1.0, description="Cosine (centred embeddings) a comment needs to join a category."
    )
    sentence_themes: bool = Field(
        default=True,
        description="Also theme each clause/sentence, so a comment naming two problems counts for both (theme_ids).",
    )
    sentence_similarity: float = Field(
        default=0.35, ge=-1.0, le=1.0,
        description="A clause joins a theme only if its centred cosine similarity to the theme is at least this.",
    )
    rename: dict[int, str] = Field(default_factory=dict, description="Stable theme id -> your name for it.")
    merge: list[list[int]] = Field(default_factory=list, description="Groups of theme ids merged into the first id.")

    @model_validator(mode="after")
    def _check(self) -> ThemesConfig:
        if self.taxonomy:
            from nps_text.themes.taxonomies import load_taxonomy

            own = {theme.name for theme in self.guided}
            extra = [GuidedTheme(**item) for item in load_taxonomy(self.taxonomy) if item["name"] not in own]
            self.guided = [*self.guided, *extra]
            if "guided_method" not in self.model_fields_set:
                self.guided_method = TAXONOMY_METHOD
            if "guided_similarity" not in self.model_fields_set:
                self.guided_similarity = TAXONOMY_SIMILARITY
        names = [theme.name for theme in self.guided]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"guided theme names must be unique; repeated: {duplicates}")
        for group in self.merge:
            if len(group) < 2:
                raise ValueError(f"each merge group needs at least two theme ids, got {group}")
            if -1 in group:
                raise ValueError(f"theme -1 (Other) cannot be merged, got {group}")
        return self
