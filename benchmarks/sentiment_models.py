"""Sentiment models side by side: every held-out split, the pooled splits, ECE, the behavioural suite, speed.

Usage (from the repository root):

    python benchmarks/sentiment_models.py --model today=/path/to/old --model teacher=accurate --model student=default
    python benchmarks/sentiment_models.py --model default --skip-speed --markdown /tmp/side-by-side.md

``--model NAME=SPEC`` (repeatable; SPEC is anything ``sentiment.model`` accepts: ``default``, ``accurate``, a
model folder). Quality is measured exactly as the product labels a comment (``evaluate_sentiment``'s path:
``score_comments`` with the default config) on the held-out splits of ``split_corpus`` (never trained on):

* per split micro / macro-F1, the **pooled** micro / macro-F1 over all splits' rows together, and the mean of the
  per-split macro-F1 (each split counts once);
* ECE (15 bins) of the comment probabilities over the pooled rows (after the model's own temperature);
* a stand-in for "agrees with the NPS score group": on the star-labelled review splits, the share of positive and
  negative rows (promoter- and detractor-like) that get their own label;
* the behavioural suite (``checklist_cases.yaml``) per capability;
* speed: comments/s through ``annotate_sentiment`` (comment + per-sentence results, no result cache) on ``--n``
  distinct ~20-word held-out comments (half German, half English), the models alternating for ``--repeats``
  rounds so load from other processes hits all alike; best of the rounds, and each model's ratio to the first.

Prints plain tables; ``--markdown FILE`` also writes them as Markdown (for a model card).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sentiment_speed import rate, sample_comments  # noqa: E402

STAR_SPLITS = ("clothing", "marc_de", "marc_en", "holidaycheck_filmstarts")
"""Review splits labelled from stars: their positive / negative rows stand in for promoters / detractors (the issue's
"sentiment agrees with the score group" on NPS comments; no labelled NPS export is in the shared data)."""


def parse_models(values: list[str]) -> dict[str, str]:
    """``NAME=SPEC`` (or ``SPEC``, named by itself) pairs, in order."""
    models: dict[str, str] = {}
    for value in values:
        name, _, spec = value.partition("=") if "=" in value else (Path(value).name or value, "", value)
        models[name] = spec
    return models


def markdown_table(frame, index: bool = False) -> str:  # type: ignore[no-untyped-def]
    """``frame`` as a Markdown table (pandas' ``to_markdown`` needs ``tabulate``, which we do not install)."""
    shown = frame.reset_index() if index else frame
    lines = ["| " + " | ".join(str(column) for column in shown.columns) + " |",
             "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="NAME=SPEC, repeatable")
    parser.add_argument("--n", type=int, default=1000, help="comments for the speed runs")
    parser.add_argument("--repeats", type=int, default=2, help="alternating timing rounds")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--markdown", default=None, help="also write the tables as Markdown here")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from nps_text.schema import SENTIMENTS
    from nps_text.sentiment import SentimentConfig, get_sentiment_backend
    from nps_text.sentiment.annotate import score_comments
    from nps_text.sentiment.evaluate import normalise_gold_labels, scores_from_labels
    from nps_text.training.calibrate import expected_calibration_error
    from nps_text.training.checklist import load_cases, run_checklist
    from nps_text.training.sentiment_data import TEST_SPLITS, split_corpus

    models = parse_models(args.model)
    config = SentimentConfig(threads=args.threads)
    backends = {}
    for name, spec in models.items():
        started = time.perf_counter()
        backends[name] = get_sentiment_backend(spec, SentimentConfig(model=spec, threads=args.threads))
        print(f"{name}: {spec} ({backends[name].version}), loaded in {time.perf_counter() - started:.1f} s", flush=True)
    splits = split_corpus(args.data_dir)
    markdown: list[str] = []

    if not args.skip_quality:
        rows = []
        labelled: dict[tuple[str, str], list[str]] = {}
        pooled: dict[str, tuple[list[str], list[str], list[np.ndarray]]] = {name: ([], [], []) for name in models}
        for split in TEST_SPLITS:
            frame = splits[split]
            texts = frame["text"].astype(str).str.strip().tolist()
            gold = normalise_gold_labels(frame["label"]).tolist()
            distinct = list(dict.fromkeys(texts))
            row: dict[str, object] = {"split": split, "rows": len(texts)}
            for name, backend in backends.items():
                probabilities, _, _ = score_comments(backend, distinct, config, sentences=False)
                predicted = [SENTIMENTS[int(np.argmax(probabilities[text]))] for text in texts]
                labelled[(name, split)] = predicted
                scores = scores_from_labels(gold, predicted)
                row[name] = f"{scores.micro_f1:.3f} / {scores.macro_f1:.3f}"
                row[f"_{name}_macro"] = scores.macro_f1
                pooled[name][0].extend(gold)
                pooled[name][1].extend(predicted)
                pooled[name][2].extend(np.asarray(probabilities[text]) for text in texts)
            rows.append(row)
            print(f"{split:24s} {len(texts):5d}  " + "  ".join(f"{name} {row[name]}" for name in models), flush=True)
        table = pd.DataFrame(rows)
        pooled_row: dict[str, object] = {"split": "**pooled** (all rows)", "rows": len(pooled[next(iter(models))][0])}
        mean_row: dict[str, object] = {"split": "mean of the splits' macro-F1", "rows": ""}
        ece_row: dict[str, object] = {"split": "ECE, pooled (15 bins)", "rows": ""}
        for name in models:
            gold, predicted, probabilities = pooled[name]
            scores = scores_from_labels(gold, predicted)
            pooled_row[name] = f"{scores.micro_f1:.3f} / {scores.macro_f1:.3f}"
            mean_row[name] = f"{table[f'_{name}_macro'].mean():.3f}"
            label_ids = np.array([SENTIMENTS.index(label) for label in gold])
            ece_row[name] = f"{expected_calibration_error(np.vstack(probabilities), label_ids):.3f}"
        agree_row: dict[str, object] = {"split": "star reviews: pos/neg rows labelled so", "rows": ""}
        for name in models:
            hits = total = 0
            for split in STAR_SPLITS:
                gold = normalise_gold_labels(splits[split]["label"]).tolist()
                pairs = [(p, g) for p, g in zip(labelled[(name, split)], gold, strict=True) if g != "neutral"]
                hits += sum(p == g for p, g in pairs)
                total += len(pairs)
            agree_row[name] = f"{hits / total:.3f}"
            agree_row["rows"] = total
        table = pd.concat([table, pd.DataFrame([pooled_row, mean_row, ece_row, agree_row])], ignore_index=True)
        shown = table[["split", "rows", *models]]
        print(shown.to_string(index=False))
        markdown += ["Held-out splits, micro-F1 / macro-F1:", "", markdown_table(shown), ""]

        suite = {}
        for name, backend in backends.items():
            result = run_checklist(backend, load_cases(), model=name)
            per = result.rows.groupby("capability")["passed"].mean()
            per["OVERALL"] = result.rows["passed"].mean()
            suite[name] = per.map(lambda value: f"{100 * value:.1f} %")
        suite_table = pd.DataFrame(suite)
        print(suite_table.to_string())
        markdown += ["Behavioural suite, pass rate per capability:", "", markdown_table(suite_table.rename_axis("capability"), index=True), ""]

    if not args.skip_speed:
        comments = sample_comments(splits, args.n)
        words = sum(len(c.split()) for c in comments) / len(comments)
        for backend in backends.values():  # warm-up
            rate(config, backend, comments[:32])
        rates: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.repeats):
            for name, backend in backends.items():
                rates[name].append(rate(config, backend, comments)[0])
        first = max(rates[next(iter(models))])
        speed = pd.DataFrame({
            "model": list(models),
            "comments/s (best)": [f"{max(values):.1f}" for values in rates.values()],
            "rounds": [", ".join(f"{value:.1f}" for value in values) for values in rates.values()],
            "ratio": [f"{max(values) / first:.2f}x" for values in rates.values()],
        })
        print(f"speed: {len(comments)} distinct held-out comments, {words:.1f} words on average, comment + sentence "
              f"results, {args.threads} threads, load average {os.getloadavg()[0]:.1f}")
        print(speed.to_string(index=False))
        markdown += [f"Speed ({len(comments)} comments of {words:.1f} words, comment + sentence results, "
                     f"{args.threads} threads):", "", markdown_table(speed), ""]
    if args.markdown:
        Path(args.markdown).write_text("\n".join(markdown), encoding="utf-8")


if __name__ == "__main__":
    main()
