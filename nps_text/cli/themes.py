"""Theme commands: ``nps-text themes`` (assign themes to any table) and ``nps-text evaluate themes``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import click
import numpy as np
import pandas as pd

from nps_text.errors import InputError


def read_any_table(path: Path) -> pd.DataFrame:
    """Read CSV/TSV, Parquet, Excel or JSON Lines as the pipeline does (delimiter and encoding detected)."""
    from nps_text.ingest import read_table

    return read_table(path)


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    from nps_text.writers import write_table

    write_table(frame, path)


def _embedder(encoder_name: str, cache_dir: Path | None) -> Callable[[Sequence[str]], np.ndarray]:
    from nps_text.encoders.registry import CachedEmbedder

    return CachedEmbedder(encoder_name, cache_dir)


def _responses_from_table(table: pd.DataFrame, text_column: str) -> pd.DataFrame:
    if text_column not in table.columns:
        raise InputError(f"column {text_column!r} not found; the table has {list(table.columns)}")
    from nps_text.schema import STATUS_EMPTY, STATUS_TEXT

    text = table[text_column].astype("string").str.strip()
    status = np.where(text.fillna("").ne(""), STATUS_TEXT, STATUS_EMPTY)
    language = table["language"] if "language" in table.columns else None
    return pd.DataFrame(
        {
            "response_id": [str(i) for i in range(len(table))],
            "nps_group": table["nps_group"] if "nps_group" in table.columns else "passive",
            "comment": text.astype(object).where(text.notna(), None),
            "comment_status": status,
            "language": language,
        },
        index=table.index,
    )


def _themes_config(config_path: Path | None, **overrides: object):  # type: ignore[no-untyped-def]
    from nps_text.config import load_config

    themes = load_config(config_path).themes
    updates = {key: value for key, value in overrides.items() if value is not None}
    return themes.model_copy(update=updates) if updates else themes


def register(cli: click.Group, train: click.Group, evaluate: click.Group) -> None:
    """Attach ``themes`` and ``evaluate themes`` to the CLI groups."""

    @cli.command("themes")
    @click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--text-column", required=True, help="Column holding the comments.")
    @click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="Output table (.csv, .parquet, .xlsx, .jsonl): the input plus theme_id and theme_label.")
    @click.option("--themes-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Also write the themes table (keywords, sizes, representative comments) here.")
    @click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  default=None, help="Pipeline YAML; its 'themes' section is used.")
    @click.option("--encoder", default=None, help="Encoder name (default: themes.encoder, else 'use').")
    @click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cache/embeddings"),
                  show_default=True, help="Embedding cache.")
    @click.option("--min-theme-size", type=int, default=None, help="Smallest theme (default: about 1% of comments).")
    @click.option("--target-themes", type=int, default=None, help="Merge themes until at most this many remain.")
    def themes_command(
        input_path: Path,
        text_column: str,
        out_path: Path,
        themes_out: Path | None,
        config_path: Path | None,
        encoder: str | None,
        cache_dir: Path,
        min_theme_size: int | None,
        target_themes: int | None,
    ) -> None:
        """Assign themes to the comments of any table.

        Example:

            nps-text themes comments.csv --text-column Kommentar --out comments_themes.parquet
        """
        from nps_text.themes import assign_themes

        table = read_any_table(input_path)
        responses = _responses_from_table(table, text_column)
        config = _themes_config(config_path, min_theme_size=min_theme_size, target_themes=target_themes)
        embed = _embedder(encoder or config.encoder or DEFAULT_THEMES_ENCODER, cache_dir)
        assigned, themes = assign_themes(responses, config, embed=embed)
        output = table.assign(theme_id=assigned["theme_id"].to_numpy(), theme_label=assigned["theme_label"].to_numpy())
        _write_table(output, out_path)
        if themes_out is not None:
            _write_table(themes, themes_out)
        n_themes = themes["theme_id"].nunique() if not themes.empty else 0
        click.echo(f"{int(assigned['theme_id'].notna().sum())} comments in {n_themes} themes -> {out_path}")

    @evaluate.command("themes")
    @click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--text-column", required=True, help="Column holding the comments.")
    @click.option("--label-column", required=True, help="Column holding your reference category per comment.")
    @click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  default=None, help="Pipeline YAML; its 'themes' section is evaluated.")
    @click.option("--encoder", default=None, help="Encoder name (default: themes.encoder, else 'use').")
    @click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cache/embeddings"),
                  show_default=True, help="Embedding cache.")
    @click.option("--min-theme-size", type=int, default=None, help="Smallest theme (default: about 1% of comments).")
    @click.option("--target-themes", type=int, default=None, help="Merge themes until at most this many remain.")
    @click.option("--baseline", is_flag=True, help="Also score BERTopic's defaults on the same embeddings.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    def evaluate_themes_command(
        input_path: Path,
        text_column: str,
        label_column: str,
        config_path: Path | None,
        encoder: str | None,
        cache_dir: Path,
        min_theme_size: int | None,
        target_themes: int | None,
        baseline: bool,
        as_json: bool,
    ) -> None:
        """Score themes against your own labels: NMI, ARI, outliers, theme count, NPMI coherence, diversity.

        Rows without text or label are skipped. Outliers count as one cluster in NMI/ARI.

        Example:

            nps-text evaluate themes labelled.csv --text-column text --label-column category --baseline
        """
        from nps_text.themes.evaluate import evaluate_on_table

        table = read_any_table(input_path)
        if label_column not in table.columns:
            raise InputError(f"column {label_column!r} not found; the table has {list(table.columns)}")
        config = _themes_config(config_path, min_theme_size=min_theme_size, target_themes=target_themes)
        embed = _embedder(encoder or config.encoder or DEFAULT_THEMES_ENCODER, cache_dir)
        results = evaluate_on_table(table, text_column, label_column, config, embed=embed, baseline=baseline)
        if as_json:
            click.echo(json.dumps(results, indent=2))
            return
        names = list(results)
        metrics = list(next(iter(results.values())))
        click.echo(f"{'metric':16s}" + "".join(f"{name:>18s}" for name in names))
        for metric in metrics:
            cells = []
            for name in names:
                value = results[name][metric]
                cells.append(f"{value:>18d}" if isinstance(value, int) else f"{value:>18.3f}")
            click.echo(f"{metric:16s}" + "".join(cells))


DEFAULT_THEMES_ENCODER = "use"
"""Encoder for the standalone theme commands when neither --encoder nor themes.encoder is set."""
