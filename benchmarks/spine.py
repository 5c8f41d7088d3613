"""Speed and memory of the spine (no models): ingest, validation, comments (status, PII, language), NPS.

Generates a synthetic German/English export of N rows (seeded), writes it as CSV, and times each step.

    python benchmarks/spine.py --rows 200000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nps_text.comments import prepare_comments
from nps_text.config import PipelineConfig
from nps_text.ingest import read_input
from nps_text.stages import nps, validate

COMMENTS = [
    "Die Lieferung hat fast drei Wochen gedauert, sehr ärgerlich.",
    "Super Beratung in der Filiale, gerne wieder!",
    "Customer service never called back, I am switching providers.",
    "Preis-Leistung stimmt, aber die App stürzt ständig ab.",
    "Bitte rufen Sie mich an: 0171 2345678",
    "k.A.", "", "-", "Great quality, fast delivery.", "Hotline nie erreichbar.",
]


def make_export(rows: int, path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-01-01")
    frame = pd.DataFrame(
        {
            "ID": [f"R{i}" for i in range(rows)],
            "Datum": pd.to_datetime(start + rng.integers(0, 180, rows)).strftime("%d.%m.%Y"),
            "Bewertung": rng.integers(0, 11, rows),
            # Distinct texts, as in real exports: a template plus a per-row suffix.
            "Kommentar": [f"{COMMENTS[k]} (#{i % 5000})" if COMMENTS[k] not in ("", "-", "k.A.") else COMMENTS[k]
                          for i, k in enumerate(rng.integers(0, len(COMMENTS), rows))],
            "Filiale": rng.choice(["Berlin", "Hamburg", "München", "Köln", "Wien"], rows),
            "Kanal": rng.choice(["Filiale", "Online", "Telefon"], rows),
        }
    )
    frame.to_csv(path, sep=";", index=False, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    config = PipelineConfig()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        make_export(args.rows, path)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        raw = read_input(path, config.input)
        timings["ingest"] = time.perf_counter() - start
        start = time.perf_counter()
        validated = validate.run(raw, config.input)
        timings["validate"] = time.perf_counter() - start
        start = time.perf_counter()
        responses = prepare_comments(validated.responses, languages=config.comments.languages)
        timings["comments"] = time.perf_counter() - start
        start = time.perf_counter()
        nps.run(nps.NpsInputs(responses, validated.mapping, config.input.columns.segments), config.nps)
        timings["nps"] = time.perf_counter() - start
    total = sum(timings.values())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows: {args.rows:,}")
    for step, seconds in timings.items():
        print(f"{step:>9}: {seconds:7.2f} s  ({args.rows / seconds:,.0f} rows/s)")
    print(f"{'total':>9}: {total:7.2f} s  ({args.rows / total:,.0f} rows/s)")
    print(f"peak RSS: {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
