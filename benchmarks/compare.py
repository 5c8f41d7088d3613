"""nps-text against the notebook a data scientist would write with the same models, on one survey.

Usage (from the repository root; each variant is a separate child process, run one after the other):

    python benchmarks/compare.py                       # 20,000 rows, all variants
    python benchmarks/compare.py --rows 300            # a quick end-to-end check
    python benchmarks/compare.py --skip-naive          # only nps-text and its re-run
    python benchmarks/compare.py --variants naive-batched,nps-text --work-dir /tmp/nps-bench

Variants:

* ``naive``: the notebook. pandas for NPS groups and NPS per channel, region and week; our default sentiment
  model (``models/sentiment-e5-small``, assembled by ``load_e5_classifier`` and wrapped in a
  ``PreTrainedTokenizerFast`` built from the e5 tokenizer, producing the same token ids) called through
  ``transformers.pipeline("text-classification", ...)`` with its defaults (one text per forward pass,
  fp32, no deduplication: every non-empty comment, fillers and repeats included; only ``truncation=True``
  is added, as anyone does after the first over-long comment); multilingual USE embeddings
  (``nps_text.encoders.registry.get_encoder("use")``) of every non-empty comment; ``BERTopic(language="multilingual")``
  with its defaults fit on them; the enriched table written to one Parquet file.
* ``naive-batched``: the same notebook with ``batch_size=64`` in the pipeline call.
* ``nps-text``: ``nps-text run`` with its defaults (all outputs and the report) into a fresh out folder.
* ``rerun``: ``nps-text run`` on the same survey plus 5 % new responses (the first N rows are identical,
  see ``survey.py``) into the same out folder, so its caches apply; reported as % of the first run.

Prints one table: variant, wall seconds, peak RSS (largest process, exact), tree RSS (sum over the child's
processes, sampled), and the ratios to ``nps-text``. Logs and outputs stay in ``--work-dir``.
The child processes share the machine with whatever else runs: measure on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Measurement, run_measured, tail  # noqa: E402
from survey import DEFAULT_DATA_DIR, build_survey  # noqa: E402

VARIANTS = ("naive", "naive-batched", "nps-text", "rerun")
LABELS = {
    "naive": "notebook: pipeline, 1 text/call",
    "naive-batched": "notebook: pipeline batch_size=64",
    "nps-text": "nps-text run (defaults)",
    "rerun": "nps-text re-run, +5% new rows",
}


# --------------------------------------------------------------------------------------------------------------
# The notebook (runs inside its own child process: ``compare.py notebook ...``)
# --------------------------------------------------------------------------------------------------------------
def load_default_sentiment_for_pipeline() -> tuple[object, object, str, object]:
    """Our default sentiment model as a plain ``transformers`` model + fast tokenizer (same token ids)."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    from nps_text.encoders.e5_rebuild import load_e5_tokenizer, unigram_tokenizer
    from nps_text.sentiment.base import DEFAULT_MODEL_NAME, models_dir
    from nps_text.sentiment.e5_model import load_e5_classifier

    model, meta = load_e5_classifier(models_dir() / DEFAULT_MODEL_NAME)
    e5_tokenizer = load_e5_tokenizer()
    backend = unigram_tokenizer()  # what a notebook loads: a Hugging Face fast tokenizer of the same vocabulary
    pieces = {index: piece for piece, index in backend.get_vocab().items()}
    bos, eos, pad = pieces[e5_tokenizer.bos], pieces[e5_tokenizer.eos], pieces[e5_tokenizer.pad]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, e5_tokenizer.bos), (eos, e5_tokenizer.eos)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        model_max_length=e5_tokenizer.max_positions,
        model_input_names=["input_ids", "attention_mask"],
    )
    return model, tokenizer, meta.prefix, e5_tokenizer.normalise


def notebook(input_path: Path, out_path: Path, batch_size: int | None) -> None:
    """What a notebook does, top to bottom, with the same models as nps-text."""
    import pandas as pd
    from bertopic import BERTopic
    from transformers import pipeline
    from transformers.utils import logging as transformers_logging

    from nps_text.encoders.registry import get_encoder

    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps[name] = round(now - clock, 2)
        clock = now

    df = pd.read_csv(input_path)
    df["nps_group"] = pd.cut(df["score"], bins=[-1, 6, 8, 10], labels=["detractor", "passive", "promoter"])

    def nps(groups: pd.Series) -> float:
        return 100.0 * ((groups == "promoter").mean() - (groups == "detractor").mean())

    df["week"] = pd.to_datetime(df["date"]).dt.to_period("W").astype(str)
    summary = {
        column: df.groupby(column, observed=True)["nps_group"].apply(nps)
        for column in ("channel", "region", "week")
    }
    print({column: values.round(1).to_dict() for column, values in summary.items() if column != "week"})
    has_text = df["comment"].fillna("").str.strip() != ""
    texts = df.loc[has_text, "comment"].astype(str).tolist()
    lap("pandas")

    model, tokenizer, prefix, normalise = load_default_sentiment_for_pipeline()
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity(transformers_logging.CRITICAL)  # "... is not supported" (it works)
    classifier = pipeline("text-classification", model=model, tokenizer=tokenizer)
    transformers_logging.set_verbosity(verbosity)
    lap("load sentiment")
    inputs = [prefix + normalise(text) for text in texts]
    if batch_size is None:
        predictions = classifier(inputs, truncation=True)
    else:
        predictions = classifier(inputs, batch_size=batch_size, truncation=True)
    df.loc[has_text, "sentiment"] = [prediction["label"] for prediction in predictions]
    df.loc[has_text, "sentiment_score"] = [prediction["score"] for prediction in predictions]
    lap("sentiment")

    encoder = get_encoder("use")
    embeddings = encoder.encode(texts)
    lap("embeddings")
    topic_model = BERTopic(language="multilingual")
    topics, _ = topic_model.fit_transform(texts, embeddings=embeddings)
    names = dict(
        zip(topic_model.get_topic_info()["Topic"], topic_model.get_topic_info()["Name"], strict=True)
    )
    df.loc[has_text, "topic"] = topics
    df["topic_label"] = df["topic"].map(names)
    lap("bertopic")

    df.to_parquet(out_path, index=False)
    lap("write")
    print(f"topics: {len(names)}  comments: {len(texts)}")
    print("STEPS " + json.dumps(steps))


# --------------------------------------------------------------------------------------------------------------
# The comparison (parent process)
# --------------------------------------------------------------------------------------------------------------
def nps_text_command() -> list[str]:
    """The ``nps-text`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("nps-text")
    if script.exists():
        return [str(script)]
    found = shutil.which("nps-text")
    if found:
        return [found]
    return [sys.executable, "-c", "from nps_text.cli import main; main()"]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    return env


def _steps(log: Path) -> str:
    for line in reversed(log.read_text(encoding="utf-8", errors="replace").splitlines()):
        if line.startswith("STEPS "):
            return ", ".join(f"{name} {seconds:.1f}s" for name, seconds in json.loads(line[6:]).items())
    return ""


def _manifest_steps(out_dir: Path) -> str:
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    timings = manifest.get("timings") or manifest.get("timings_s") or {}
    if not isinstance(timings, dict):
        return ""
    return ", ".join(
        f"{name} {float(value):.1f}s" for name, value in timings.items() if isinstance(value, (int, float))
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    inner = sub.add_parser("notebook", help="(internal) run the notebook variant in this process")
    inner.add_argument("--input", type=Path, required=True)
    inner.add_argument("--out", type=Path, required=True)
    inner.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}"
    )
    parser.add_argument("--skip-naive", action="store_true", help="drop the two notebook variants")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/nps-text-bench/compare"))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    if args.command == "notebook":
        notebook(args.input, args.out, args.batch_size)
        return

    variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    if args.skip_naive:
        variants = [name for name in variants if not name.startswith("naive")]
    work = args.work_dir / f"rows_{args.rows}_seed_{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    survey = work / "survey.csv"
    if not survey.exists():
        print(f"building {survey} ...", flush=True)
        build_survey(args.rows, survey, seed=args.seed, data_dir=args.data_dir)
    more_rows = args.rows + max(1, round(args.rows * 0.05))
    survey_more = work / "survey_plus5.csv"
    if "rerun" in variants and not survey_more.exists():
        build_survey(more_rows, survey_more, seed=args.seed, data_dir=args.data_dir)

    env = child_env()
    here = Path(__file__).resolve()
    out_dir = work / "out_nps_text"
    results: dict[str, Measurement] = {}
    details: dict[str, str] = {}
    for name in VARIANTS:
        if name not in variants:
            continue
        log = work / f"{name}.log"
        if name.startswith("naive"):
            command = [
                sys.executable,
                str(here),
                "notebook",
                "--input",
                str(survey),
                "--out",
                str(work / f"{name}.parquet"),
            ]
            if name == "naive-batched":
                command += ["--batch-size", "64"]
        elif name == "nps-text":
            shutil.rmtree(out_dir, ignore_errors=True)
            command = [*nps_text_command(), "run", str(survey), "--out", str(out_dir)]
        else:
            if not (out_dir / "manifest.json").exists():
                print("rerun: no first run in the out folder; running nps-text first (not timed)", flush=True)
                run_measured(
                    [*nps_text_command(), "run", str(survey), "--out", str(out_dir)],
                    work / "nps-text-untimed.log",
                    env,
                )
            command = [*nps_text_command(), "run", str(survey_more), "--out", str(out_dir)]
        print(f"running {name} ...", flush=True)
        measurement = run_measured(command, log, env)
        if measurement.returncode != 0:
            print(
                f"  {name} failed (exit {measurement.returncode}); last lines of {log}:\n{tail(log)}",
                flush=True,
            )
        results[name] = measurement
        details[name] = _steps(log) if name.startswith("naive") else _manifest_steps(out_dir)
        print(f"  {measurement.wall_s:.1f} s, peak RSS {measurement.peak_rss_mib:.0f} MiB", flush=True)

    print()
    print(f"survey: {args.rows:,} rows (seed {args.seed}), {survey}")
    reference = results.get("nps-text")
    header = f"{'variant':<34} {'wall s':>8} {'peak RSS MiB':>13} {'tree MiB':>9} {'wall vs nps-text':>17} {'RSS vs nps-text':>16}"
    print(header)
    print("-" * len(header))
    for name, measurement in results.items():
        if name == "rerun" and reference is not None:
            wall_ratio = f"{100 * measurement.wall_s / reference.wall_s:.0f}% of 1st"
            rss_ratio = f"{100 * measurement.peak_rss_mib / reference.peak_rss_mib:.0f}% of 1st"
        elif reference is not None:
            wall_ratio = f"{measurement.wall_s / reference.wall_s:.2f}x"
            rss_ratio = f"{measurement.peak_rss_mib / reference.peak_rss_mib:.2f}x"
        else:
            wall_ratio = rss_ratio = "-"
        failed = "  FAILED" if measurement.returncode else ""
        print(
            f"{LABELS[name]:<34} {measurement.wall_s:>8.1f} {measurement.peak_rss_mib:>13.0f} "
            f"{measurement.tree_rss_mib:>9.0f} {wall_ratio:>17} {rss_ratio:>16}{failed}"
        )
    for name, text in details.items():
        if text:
            print(f"  {name}: {text}")
    record = {
        "rows": args.rows,
        "seed": args.seed,
        "cpus": os.cpu_count(),
        "results": {name: vars(measurement) for name, measurement in results.items()},
    }
    (work / "compare.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if any(measurement.returncode for measurement in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
