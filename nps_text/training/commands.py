"""CLI verbs for model quality work: ``train calibrate``, ``train commercial``, ``train average``,
``evaluate checklist``.

Registered by :func:`nps_text.cli.sentiment.register` (thin over :mod:`nps_text.training`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click


@click.command("calibrate")
@click.option("--model", default="default", show_default=True,
              help="default or an e5 artifact folder (its nps_text_sentiment.json gets the temperature).")
@click.option("--data-dir", default=None, help="The shared labelled data (default: ../shared/data).")
@click.option("--seed", default=13, show_default=True, type=int)
@click.option("--calibration-csv", default=None,
              help="Fit on this labelled CSV (text, label) instead of the built-in unseen rows (use a validation split).")
@click.option("--per-source", default=400, show_default=True, type=int, help="Calibration rows per source.")
@click.option("--test-per-split", default=300, show_default=True, type=int,
              help="Rows sampled per held-out test split to report ECE before/after.")
@click.option("--dry-run", is_flag=True, help="Report only; do not write the temperature.")
def train_calibrate_command(
    model: str, data_dir: str | None, seed: int, calibration_csv: str | None, per_source: int, test_per_split: int,
    dry_run: bool,
) -> None:
    """Fit temperature scaling for a sentiment model and store it in the model's config.

    Prints ECE (15 bins) and NLL before/after on the calibration rows and on held-out test samples.

    Example:

        nps-text train calibrate --model default
    """
    from nps_text.training.calibrate import calibrate_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = calibrate_model(
        model, data_dir, seed, calibration_csv, per_source=per_source, test_per_split=test_per_split, write=not dry_run
    )
    click.echo(json.dumps(report, indent=2))


@click.command("commercial")
@click.option("--out", "out_dir", default="models/sentiment-commercial", show_default=True)
@click.option("--data-dir", default=None, help="The shared labelled data (default: ../shared/data).")
@click.option("--seed", default=13, show_default=True, type=int)
@click.option("--write-eval-split", "eval_dir", default=None,
              help="Only write the held-out MAMS split as CSV into this folder (no training).")
def train_commercial_command(out_dir: str, data_dir: str | None, seed: int, eval_dir: str | None) -> None:
    """Train the commercially usable sentiment head (CC0 clothing reviews + Apache-2.0 MAMS only).

    Example:

        nps-text train commercial --out models/sentiment-commercial
    """
    from nps_text.training.commercial_train import train_commercial, write_commercial_eval_split

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if eval_dir:
        click.echo(f"wrote {write_commercial_eval_split(eval_dir, data_dir, seed)}")
        return
    click.echo(json.dumps(train_commercial(out_dir, data_dir, seed), indent=2))


@click.command("average")
@click.argument("artifacts", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--weights", required=True, help="One weight per artifact, comma-separated, e.g. 0.7,0.3.")
@click.option("--out", "out_dir", required=True, help="Folder for the averaged model.")
def train_average_command(artifacts: tuple[str, ...], weights: str, out_dir: str) -> None:
    """Average fine-tuned e5 sentiment models in weight space (a "model soup"; same base and layer split).

    One model, one pass per comment: unlike an ensemble it costs nothing at inference. Calibrate the result
    afterwards (`nps-text train calibrate --model OUT`).

    Example:

        nps-text train average /tmp/v1 /tmp/v2 --weights 0.7,0.3 --out models/sentiment-e5-small
    """
    from nps_text.training.sentiment_train import average_artifacts

    try:
        values = [float(value) for value in weights.split(",")]
        summary = average_artifacts(list(artifacts), values, out_dir)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(json.dumps({"out": out_dir, "weights": [item["weight"] for item in summary["average_of"]]}))


@click.command("distill")
@click.option("--teacher", "teacher_dir", default="models/sentiment-e5-teacher", show_default=True,
              type=click.Path(exists=True, file_okay=False),
              help="The teacher artifact (from `nps-text train sentiment --teacher`).")
@click.option("--out", "out_dir", default="models/sentiment-e5-student", show_default=True,
              help="Folder for the student (its checkpoint and soft labels too).")
@click.option("--data-dir", default=None, help="The shared labelled data (default: ../shared/data).")
@click.option("--resume", is_flag=True, help="Continue the run whose checkpoint is in --out, with its recipe.")
@click.option("--layers", default=None, help="Teacher layers the student keeps, e.g. 0,2,4,6,8,10 (the default).")
@click.option("--epochs", default=None, type=int, help="Epochs (default 2).")
@click.option("--pool-unlabelled", default=None, type=int, help="Unlabelled texts added to the pool (default 20000).")
@click.option("--augment-rows", default=None, type=int, help="Contrast joins added to the pool (default 3000).")
@click.option("--seed", default=None, type=int, help="Seed (default 13).")
@click.option("--checkpoint-minutes", default=5.0, show_default=True, type=float,
              help="Write a resumable checkpoint this often (0 = after every step).")
@click.option("--stop-after-steps", default=None, type=int,
              help="Stop with a checkpoint after this many steps in total (continue later with --resume).")
@click.option("--threads", default=2, show_default=True, type=int, help="torch threads.")
def train_distill_command(
    teacher_dir: str, out_dir: str, data_dir: str | None, resume: bool, layers: str | None, epochs: int | None,
    pool_unlabelled: int | None, augment_rows: int | None, seed: int | None, checkpoint_minutes: float,
    stop_after_steps: int | None, threads: int,
) -> None:
    """Distil a teacher into a smaller, faster student (6 of its 12 layers by default), resumably.

    First scores the student's text pool with the teacher (the teacher's labelled rows, unlabelled review text the
    caps left out, contrast joins; never a held-out row or a behavioural-suite case), kept in chunks under
    --out/soft-labels; then trains the student on those soft labels (plus cross-entropy where a gold label
    exists) with step checkpoints like `nps-text train sentiment`.

    Examples:

        nps-text train distill          # the shipped student: models/sentiment-e5-teacher -> models/sentiment-e5-student

        nps-text train distill --teacher /tmp/teacher-seed13 --out /tmp/student

        nps-text train distill --teacher /tmp/teacher-seed13 --out /tmp/student --resume
    """
    import dataclasses
    import logging

    from nps_text.errors import InputError
    from nps_text.training.distill import train_student
    from nps_text.training.sentiment_train import TrainSentimentConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    recipe: dict[str, object] = {
        key: value
        for key, value in {"epochs": epochs, "pool_unlabelled": pool_unlabelled, "augment_rows": augment_rows,
                           "seed": seed}.items()
        if value is not None
    }
    try:
        if layers:
            kept = [int(part) for part in layers.split(",") if part.strip()]
            recipe.update(student_layers=kept, num_layers=len(kept))
        config = dataclasses.replace(
            TrainSentimentConfig.student(**recipe),
            checkpoint_minutes=checkpoint_minutes, stop_after_steps=stop_after_steps, threads=threads,
        )
        summary = train_student(teacher_dir, out_dir, data_dir, config, resume=resume)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(summary, indent=2))


@click.command("checklist")
@click.option("--model", default="default", show_default=True,
              help="default, accurate, baseline, commercial, a local model folder or a Hugging Face model id.")
@click.option("--cases", "cases_path", default=None, type=click.Path(exists=True, path_type=Path),
              help="A cases YAML (default: the shipped behavioural tests).")
@click.option("--no-failures", is_flag=True, help="Do not list the failing cases.")
@click.option("--json", "json_path", default=None, help="Also write the results as JSON.")
def evaluate_checklist_command(model: str, cases_path: Path | None, no_failures: bool, json_path: str | None) -> None:
    """Behavioural tests (CheckList-style, German + English): pass rate per capability and overall.

    Example:

        nps-text evaluate checklist --model baseline
    """
    from nps_text.sentiment import SentimentConfig, get_sentiment_backend
    from nps_text.training.checklist import load_cases, run_checklist

    backend = get_sentiment_backend(model, SentimentConfig(model=model))
    result = run_checklist(backend, load_cases(cases_path), model=f"{model} ({backend.version})")
    click.echo(result.format(show_failures=not no_failures))
    if json_path:
        Path(json_path).write_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")


def register(cli: click.Group, train: click.Group, evaluate: click.Group) -> None:
    """Attach ``train calibrate``, ``train commercial`` and ``evaluate checklist``."""
    train.add_command(train_calibrate_command)
    train.add_command(train_commercial_command)
    train.add_command(train_average_command)
    train.add_command(train_distill_command)
    evaluate.add_command(evaluate_checklist_command)
