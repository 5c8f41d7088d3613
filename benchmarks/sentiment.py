"""Sentiment speed: comments/s and peak memory for typical NPS comments (~20 words, German and English).

Usage:
    python benchmarks/sentiment.py [--model default] [--n 600] [--threads 2] [--no-quantize]

Prints the load time, comments/s through the backend alone and through ``annotate_sentiment`` (comment
+ per-sentence), and the peak resident memory of the process. Comments are generated from templates
(seeded, all distinct), so the benchmark needs no data files.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

GERMAN = [
    "Die Beratung im Laden war {adj} und sehr kompetent, {conj} die Lieferung hat leider {days} Tage gedauert.",
    "Ich bin seit {years} Jahren Kunde und finde den Service insgesamt {adj}, die Preise sind in Ordnung.",
    "Die Hotline war {adj}, ich musste {times} Mal anrufen, bis mein Problem mit der Rechnung gelöst war.",
    "Die App funktioniert {adj}, aber seit dem letzten Update stürzt sie beim Bezahlen {times} Mal am Tag ab.",
    "Das Produkt ist {adj}, die Qualität stimmt und ich würde es meinen Freunden jederzeit weiterempfehlen.",
]
ENGLISH = [
    "The staff in the store were {adj} and helpful, {conj} my order took {days} days to arrive at home.",
    "I have been a customer for {years} years and the service is {adj}, prices are fair for what you get.",
    "Support was {adj}, I had to call {times} times before anyone fixed the problem with my last invoice.",
    "The app works {adj} most of the time, but checkout crashes {times} times a day since the last update.",
    "Great product, the quality is {adj} and I would recommend it to my friends and family without doubt.",
]
FILL = {
    "adj": ["super", "gut", "okay", "schlecht", "great", "fine", "terrible", "excellent", "mediocre", "wunderbar"],
    "conj": ["aber", "doch", "und", "but", "and", "although"],
    "days": [str(d) for d in range(2, 30)],
    "years": [str(y) for y in range(1, 25)],
    "times": [str(t) for t in range(2, 12)],
}


def make_comments(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct comments of about 20 words, half German, half English."""
    rng = random.Random(seed)
    comments: list[str] = []
    seen: set[str] = set()
    while len(comments) < n:
        template = rng.choice(GERMAN if len(comments) % 2 == 0 else ENGLISH)
        text = template.format(**{key: rng.choice(values) for key, values in FILL.items()})
        if text not in seen:
            seen.add(text)
            comments.append(text)
    return comments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-quantize", action="store_true")
    args = parser.parse_args()

    import pandas as pd

    from nps_text.sentiment import SentimentConfig, annotate_sentiment, get_sentiment_backend

    config = SentimentConfig(
        model=args.model, threads=args.threads, batch_size=args.batch_size, quantize=not args.no_quantize
    )
    comments = make_comments(args.n)
    words = sum(len(c.split()) for c in comments) / len(comments)
    started = time.perf_counter()
    backend = get_sentiment_backend(args.model, config)
    loaded = time.perf_counter() - started
    backend.predict_proba(comments[:8])  # warm-up

    import torch

    started = time.perf_counter()
    backend.predict_proba(comments)
    backend_rate = len(comments) / (time.perf_counter() - started)

    frame = pd.DataFrame({"response_id": range(len(comments)), "comment": make_comments(args.n, seed=8)})
    started = time.perf_counter()
    _, sentences = annotate_sentiment(frame, config, status_column=None, backend=backend)
    annotate_rate = len(frame) / (time.perf_counter() - started)

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model               {args.model} ({backend.version})")
    print(f"torch threads       {torch.get_num_threads()}  (cpu cores visible: {os.cpu_count()})")
    print(f"comments            {len(comments)} distinct, {words:.1f} words on average")
    print(f"load time           {loaded:.1f} s")
    print(f"backend only        {backend_rate:.1f} comments/s")
    print(f"annotate_sentiment  {annotate_rate:.1f} comments/s (comment + {len(sentences)} sentence rows)")
    print(f"peak memory (RSS)   {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
