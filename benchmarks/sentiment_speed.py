"""Sentiment speed and quality, old path vs new path side by side in one run.

Usage:
    python benchmarks/sentiment_speed.py [--n 1000] [--repeats 2] [--max-rows 0] [--skip-quality]

* old path = torch, int8 lower layers, fp32 top layers (``cpu_precision="fp32"``), token-budget length
  buckets, comments and sentences each scored once (a single-sentence comment is one forward pass for
  both results).
* new path = the defaults: the same, with the fine-tuned top layers in bf16 where the CPU multiplies bf16
  natively (``cpu_precision="auto"``; on a CPU without it both paths are the same).
* ``--with-onnx`` adds ONNX Runtime (``runtime="onnx"``, same int8 recipe, fp32 top layers).
* ``--with-sentences`` adds a third column: the new runtime with ``comment_from="sentences"`` (one pass
  over each comment's tokens; comment label = word-weighted mean of its sentences).

Speed: comments/s through ``annotate_sentiment`` (comment + per-sentence results, no result cache) on
``--n`` distinct ~20-word German and English comments taken from the held-out splits in ../shared/data;
old and new runs alternate (``--repeats``) so that load from other processes hits both alike; the
ratio is the number to trust on a busy machine. Quality: micro/macro-F1 of both paths on the held-out
splits that ``nps-text evaluate sentiment`` is run on (``nps-text train sentiment --write-eval-splits``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def sample_comments(splits: dict, n: int, seed: int = 7, low: int = 12, high: int = 30) -> list[str]:
    """``n`` distinct held-out comments of ``low``..``high`` words, half German and half English."""
    import pandas as pd

    from nps_text.training.sentiment_data import TEST_SPLITS

    frame = pd.concat([frame for name, frame in splits.items() if name in TEST_SPLITS], ignore_index=True)
    words = frame["text"].str.split().map(len)
    frame = frame[(words >= low) & (words <= high)].drop_duplicates("text")
    parts = []
    for language in ("de", "en"):
        rows = frame[frame["language"] == language]
        parts.append(rows.sample(n=min(len(rows), n // 2), random_state=seed))
    sample = pd.concat(parts).sample(frac=1.0, random_state=seed)
    return sample["text"].tolist()


def rate(config, backend, comments: list[str]) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    import pandas as pd

    from nps_text.sentiment import annotate_sentiment

    frame = pd.DataFrame({"response_id": range(len(comments)), "comment": comments})
    started = time.perf_counter()
    _, sentences = annotate_sentiment(frame, config, status_column=None, backend=backend)
    return len(comments) / (time.perf_counter() - started), len(sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="comments for the speed runs")
    parser.add_argument("--repeats", type=int, default=2, help="alternating old/new timing rounds")
    parser.add_argument("--max-rows", type=int, default=0, help="cap rows per held-out split (0 = all)")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--with-sentences", action="store_true", help="also measure comment_from=sentences")
    parser.add_argument("--with-onnx", action="store_true", help="also measure ONNX Runtime")
    args = parser.parse_args()

    from nps_text.sentiment import SentimentConfig, get_sentiment_backend
    from nps_text.sentiment.evaluate import evaluate_sentiment, scores_from_labels
    from nps_text.training.sentiment_data import split_corpus

    paths = {
        "old": SentimentConfig(runtime="torch", cpu_precision="fp32"),
        "new": SentimentConfig(),
    }
    if args.with_onnx:
        paths["onnx"] = SentimentConfig(runtime="onnx")
    if args.with_sentences:
        paths["sent"] = SentimentConfig(comment_from="sentences")
    backends, loads = {}, {}
    for name, config in paths.items():
        started = time.perf_counter()
        backends[name] = get_sentiment_backend("default", config)
        loads[name] = time.perf_counter() - started
    splits = split_corpus(args.data_dir)
    comments = sample_comments(splits, args.n)
    words = sum(len(c.split()) for c in comments) / len(comments)
    for name in paths:  # warm-up (first-call allocations, ONNX Runtime's kernel selection)
        rate(paths[name], backends[name], comments[:32])
    rates: dict[str, list[float]] = {name: [] for name in paths}
    sentence_rows = {}
    for _ in range(args.repeats):
        for name in paths:
            value, sentence_rows[name] = rate(paths[name], backends[name], comments)
            rates[name].append(value)

    import torch

    print(f"cpu cores visible   {len(os.sched_getaffinity(0))}; torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.1f} (timings are only comparable side by side)")
    print(f"comments            {len(comments)} distinct held-out comments, {words:.1f} words on average")
    for name in paths:
        print(f"{name:4s} {backends[name].version}: load {loads[name]:.1f} s; annotate_sentiment "
              f"{max(rates[name]):.1f} comments/s (best of {args.repeats}: "
              f"{', '.join(f'{r:.1f}' for r in rates[name])}), {sentence_rows[name]} sentence rows")
    print(f"speed-up new/old    {max(rates['new']) / max(rates['old']):.2f}x (best), "
          f"{sum(rates['new']) / sum(rates['old']):.2f}x (mean)")
    if args.skip_quality:
        return
    print("held-out split       rows   " + "   ".join(f"{name:>4s} micro/macro" for name in paths))
    pooled: dict[str, tuple[list[str], list[str]]] = {name: ([], []) for name in paths}
    from nps_text.training.sentiment_data import TEST_SPLITS

    for split, frame in splits.items():
        if split not in TEST_SPLITS:
            continue
        rows = frame.head(args.max_rows) if args.max_rows else frame
        line = f"{split:20s} {len(rows):5d}"
        for name in paths:
            scores = evaluate_sentiment(rows, backends[name], text_column="text", label_column="label",
                                        config=paths[name])
            predicted = [label for label, count in _predictions(scores) for _ in range(count)]
            gold = [label for label, count in _gold(scores) for _ in range(count)]
            pooled[name][0].extend(gold)
            pooled[name][1].extend(predicted)
            line += f"   {scores.micro_f1:.4f}/{scores.macro_f1:.4f}"
        print(line, flush=True)
    line = f"{'all (pooled)':20s} {len(pooled['old'][0]):5d}"
    for name in paths:
        scores = scores_from_labels(*pooled[name])
        line += f"   {scores.micro_f1:.4f}/{scores.macro_f1:.4f}"
    print(line)


def _gold(scores):  # type: ignore[no-untyped-def]
    """(gold, count) pairs from a confusion matrix, in a fixed order matching :func:`_predictions`."""
    return [(gold, int(scores.confusion.loc[gold, predicted])) for gold in scores.confusion.index
            for predicted in scores.confusion.columns]


def _predictions(scores):  # type: ignore[no-untyped-def]
    return [(predicted, int(scores.confusion.loc[gold, predicted])) for gold in scores.confusion.index
            for predicted in scores.confusion.columns]


if __name__ == "__main__":
    main()
