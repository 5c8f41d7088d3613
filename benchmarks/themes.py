"""Speed, memory and quality figures for the themes step.

Usage (from the repository root):

    # speed: themes for 20,000 real comments (women's clothing reviews, CC0) in a fresh process,
    # embeddings cached first (the encoder's time is printed separately)
    python benchmarks/themes.py speed --n 20000 --encoder use --cache-dir /tmp/nps-bench-cache

    # memory growth beyond the fit sample: synthetic inputs of growing size (jittered real vectors)
    python benchmarks/themes.py scale --sizes 20000,50000,100000

    # quality: nps-text vs BERTopic's defaults on the labelled sets in ../shared/data (<= 1500 per set)
    python benchmarks/themes.py quality --encoder use --cache-dir /tmp/nps-bench-cache
    # ... with the starter taxonomy of each set's domain
    python benchmarks/themes.py quality --encoder use --taxonomy auto --no-baseline

Each figure is printed as one line; UMAP's numba compilation is part of the first (and only) fit.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reviews(n: int) -> list[str]:
    frame = pd.read_csv(SHARED_DATA / "womens_clothing_reviews" / "reviews.csv")
    texts = frame["Review Text"].dropna().astype(str).drop_duplicates().tolist()
    if n > len(texts):
        texts = [f"{text} ({i // len(texts)})" if i >= len(texts) else text for i, text in enumerate(texts * (n // len(texts) + 1))]
    return texts[:n]


def _responses(texts: list[str], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 11, size=len(texts))
    return pd.DataFrame(
        {
            "response_id": [str(i) for i in range(len(texts))],
            "score": scores,
            "nps_group": np.where(scores >= 9, "promoter", np.where(scores >= 7, "passive", "detractor")),
            "comment": texts,
            "comment_status": "text",
            "language": "en",
            "sentiment": rng.choice(["positive", "neutral", "negative"], size=len(texts)),
        }
    )


def speed(args: argparse.Namespace) -> None:
    """Embed (cached) and assign themes to ``--n`` real comments; print timings and peak memory."""
    from nps_text.cache import open_store
    from nps_text.embeddings import embed_texts, get_encoder
    from nps_text.text import clean_for_embedding
    from nps_text.themes import ThemesConfig, assign_themes

    texts = _reviews(args.n)
    encoder = get_encoder(args.encoder)
    cache = open_store(args.cache_dir)
    start = time.perf_counter()
    embed_texts([clean_for_embedding(text) for text in texts], encoder, cache)
    print(f"embed {len(texts)} comments with {encoder.name} (cache warm if re-run): {time.perf_counter() - start:.1f} s")
    responses = _responses(texts)
    start = time.perf_counter()
    _, themes = assign_themes(
        responses, ThemesConfig(), embed=lambda batch: embed_texts(list(batch), encoder, cache)
    )
    elapsed = time.perf_counter() - start
    print(
        f"assign_themes {len(texts)} comments: {elapsed:.1f} s (incl. UMAP compilation), "
        f"{themes['theme_id'].nunique()} themes, peak RSS {_peak_rss_mb():.0f} MB"
    )


def scale(args: argparse.Namespace) -> None:
    """Peak memory and time for growing synthetic inputs; each size runs in its own process."""
    import subprocess

    for size in [int(value) for value in args.sizes.split(",")]:
        output = subprocess.run(
            [sys.executable, __file__, "_scale_one", "--n", str(size)], capture_output=True, text=True, check=False
        )
        print(output.stdout.strip() or output.stderr.strip()[-500:])


def _scale_one(args: argparse.Namespace) -> None:
    from collections.abc import Sequence

    from nps_text.themes import ThemesConfig, assign_themes

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(40, 512)).astype(np.float32)
    texts = [f"comment {i} about topic {i % 40}" for i in range(args.n)]

    def embed(batch: Sequence[str]) -> np.ndarray:
        topic = np.array([int(text.rsplit(" ", 1)[1]) for text in batch])
        vectors = centers[topic] + 0.8 * rng.normal(size=(len(batch), 512)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    responses = _responses(texts)
    before = _peak_rss_mb()
    start = time.perf_counter()
    _, themes = assign_themes(responses, ThemesConfig(), embed=embed)
    print(
        f"n={args.n}: {time.perf_counter() - start:.1f} s, {themes['theme_id'].nunique()} themes, "
        f"peak RSS {_peak_rss_mb():.0f} MB (inputs {before:.0f} MB)"
    )


def _germeval() -> pd.DataFrame:
    rows = []
    for document in ET.parse(SHARED_DATA / "germeval2017" / "dev.xml").getroot():
        categories = {opinion.get("category", "").split("#")[0] for opinion in document.iter("Opinion")}
        categories.discard("Allgemein")
        if len(categories) == 1:
            rows.append((document.findtext("text"), categories.pop(), "de"))
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def _hotel() -> pd.DataFrame:
    rows = []
    for split in ("train", "dev"):
        for line in (SHARED_DATA / "hotel_aspect_de" / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            labels, _, text = line.partition("\t")
            aspects = {label.split(":")[0].replace("__label__", "") for label in labels.split()}
            if len(aspects) == 1 and text.strip():
                rows.append((text, aspects.pop(), "de"))
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def _restaurants() -> pd.DataFrame:
    rows = []
    for sentence in ET.parse(SHARED_DATA / "semeval2014_restaurants_en" / "train.xml").getroot():
        categories = {category.get("category") for category in sentence.iter("aspectCategory")}
        if len(categories) == 1:
            rows.append((sentence.findtext("text"), categories.pop(), "en"))
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def _mams() -> pd.DataFrame:
    """MAMS sentences name two or more aspects; keep those with exactly one besides "miscellaneous"."""
    rows = []
    for split in ("train", "val"):
        for sentence in ET.parse(SHARED_DATA / "mams_acsa_en" / f"{split}.xml").getroot():
            categories = {category.get("category") for category in sentence.iter("aspectCategory")}
            categories.discard("miscellaneous")
            if len(categories) == 1:
                rows.append((sentence.findtext("text"), categories.pop(), "en"))
    return pd.DataFrame(rows, columns=["text", "label", "language"])


LABELLED_SETS = {
    "germeval_aspects": _germeval,
    "hotel_aspects": _hotel,
    "restaurant_aspects": _restaurants,
    "mams_aspects": _mams,
}
"""Single-label subsets: GermEval 2017 dev (categories other than Allgemein), hotel aspects (train+dev),
SemEval-2014 restaurant categories, MAMS (train+val, one category besides miscellaneous). Texts
de-duplicated, then a seeded sample of at most ``--max`` comments per set."""

TAXONOMY_FOR_SET = {
    "germeval_aspects": "mobility",
    "hotel_aspects": "hospitality",
    "restaurant_aspects": "hospitality",
    "mams_aspects": "hospitality",
}
"""The built-in starter taxonomy a user of each domain would pick (``--taxonomy auto``)."""


def quality(args: argparse.Namespace) -> None:
    """nps-text vs BERTopic's defaults on the same embeddings, per labelled set."""
    from nps_text.cache import open_store
    from nps_text.embeddings import embed_texts, get_encoder
    from nps_text.themes import ThemesConfig
    from nps_text.themes.evaluate import evaluate_on_table

    encoder = get_encoder(args.encoder)
    cache = open_store(args.cache_dir)
    overrides = json.loads(args.config) if args.config else {}
    for name, loader in LABELLED_SETS.items():
        if args.only and name not in args.only.split(","):
            continue
        table = loader().drop_duplicates("text")
        if len(table) > args.max:
            table = table.sample(n=args.max, random_state=0).sort_index()
        settings = dict(overrides)
        if args.taxonomy:
            settings["taxonomy"] = TAXONOMY_FOR_SET[name] if args.taxonomy == "auto" else args.taxonomy
        results = evaluate_on_table(
            table,
            "text",
            "label",
            ThemesConfig(**settings),
            embed=lambda t: embed_texts(list(t), encoder, cache),
            baseline=not args.no_baseline,
        )
        ours = results["nps-text"]
        base = results.get("bertopic-defaults", {key: float("nan") for key in ours})
        print(json.dumps({"set": name, "encoder": encoder.name, "config": settings, "nps-text": ours, "bertopic-defaults": base}))
        print(
            f"{name:20s} {encoder.name:9s} NMI {ours['nmi']:.3f} vs {base['nmi']:.3f} "
            f"(x{ours['nmi'] / base['nmi']:.2f})  ARI {ours['ari']:.3f} vs {base['ari']:.3f}  "
            f"outliers {ours['outlier_share']:.1%} vs {base['outlier_share']:.1%}  "
            f"themes {ours['themes']} vs {base['themes']}  NPMI {ours['coherence_npmi']:.3f} vs "
            f"{base['coherence_npmi']:.3f}  diversity {ours['diversity']:.2f} vs {base['diversity']:.2f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    speed_parser = commands.add_parser("speed")
    speed_parser.add_argument("--n", type=int, default=20000)
    speed_parser.add_argument("--encoder", default="use")
    speed_parser.add_argument("--cache-dir", default="/tmp/nps-bench-cache")
    scale_parser = commands.add_parser("scale")
    scale_parser.add_argument("--sizes", default="20000,50000,100000")
    one = commands.add_parser("_scale_one")
    one.add_argument("--n", type=int, required=True)
    quality_parser = commands.add_parser("quality")
    quality_parser.add_argument("--encoder", default="use")
    quality_parser.add_argument("--cache-dir", default="/tmp/nps-bench-cache")
    quality_parser.add_argument("--only", default=None, help="Comma-separated set names.")
    quality_parser.add_argument("--max", type=int, default=1500, help="Seeded sample of at most this many comments per set.")
    quality_parser.add_argument("--taxonomy", default=None, help="Built-in taxonomy name, or 'auto' (the set's domain).")
    quality_parser.add_argument("--config", default=None, help='ThemesConfig overrides as JSON, e.g. \'{"target_themes": 12}\'.')
    quality_parser.add_argument("--no-baseline", action="store_true", help="Skip BERTopic's defaults.")
    args = parser.parse_args()
    {"speed": speed, "scale": scale, "_scale_one": _scale_one, "quality": quality}[args.command](args)


if __name__ == "__main__":
    main()
