"""Behavioural tests (CheckList-style) for sentiment models: pass rate per capability and overall.

Usage:
    python benchmarks/checklist.py                                # the default model
    python benchmarks/checklist.py --model baseline --model default
    python benchmarks/checklist.py --model commercial --json /tmp/checklist-commercial.json

The cases (256 hand-written German, English and mixed comments grouped by capability: implicit complaints,
negation, contrast, hedges, politeness, code-mixing, typos/dialect, emoji, neutral statements) are in
``nps_text/training/checklist_cases.yaml``; they are excluded from all training data. Targets: >= 90 %
overall and >= 80 % per capability. Prints the failing cases unless ``--no-failures``. Same as
``nps-text evaluate checklist --model NAME``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="default, baseline, commercial or a model folder (repeatable)")
    parser.add_argument("--cases", default=None, help="cases YAML (default: the shipped one)")
    parser.add_argument("--no-failures", action="store_true")
    parser.add_argument("--json", default=None, help="write all results as JSON here")
    args = parser.parse_args()

    from nps_text.sentiment import SentimentConfig, get_sentiment_backend
    from nps_text.training.checklist import load_cases, run_checklist

    cases = load_cases(args.cases)
    results = []
    for model in args.model or ["default"]:
        backend = get_sentiment_backend(model, SentimentConfig(model=model))
        result = run_checklist(backend, cases, model=f"{model} ({backend.version})")
        print(result.format(show_failures=not args.no_failures))
        print()
        results.append(result.as_dict())
    if len(results) > 1:
        print("summary: " + "; ".join(f"{r['model'].split(' ')[0]} {r['overall']:.1%}" for r in results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
