"""Build a reproducible NPS-like survey export of N rows from the real texts in ``../shared/data``.

Usage (from the repository root):

    python benchmarks/survey.py --rows 20000 --out /tmp/nps-bench/survey_20000.csv
    python benchmarks/survey.py --rows 1000000 --out /tmp/nps-bench/survey_1m.parquet   # streamed, flat memory

Columns: ``response_id, date, score, comment, channel, region`` (names that ``nps-text run`` detects on
its own; ``channel`` and ``region`` become its segments). The mix of a typical export:

* language: 60 % German, 40 % English rows (``--german-share``);
* comment: 15 % empty, 5 % filler ("k.A.", "-", "nichts", "n/a", ...), 5 % exact repeats of short comments
  (20 typical short answers per language such as "Alles super", "Too expensive", Zipf-weighted), the rest real review text trimmed at a
  sentence (or word) boundary to a target length drawn from a log-normal, so the median comment has about
  20 words with a long tail;
* date: uniform over 12 ISO weeks (84 days from Monday 2026-01-05);
* channel App / Web / Filiale / Hotline (35/30/20/15 %), region Nord / Süd / Ost / West (uniform);
* score 0-10 from the source's label: 1-2 stars or negative -> 0-6, 3 stars, neutral or mixed -> 7-8,
  4-5 stars or positive -> 9-10; 12 % of the rows move to a neighbouring group (noise). Rows without text
  get a score from the same mix.

Sources (read from ``--data-dir``, default ``$NPS_TEXT_DATA_DIR`` or ``<repo>/../shared/data``; see its README for
provenance):

| folder | language | label used | licence |
|---|---|---|---|
| marc_de | de | stars 1-5 | MARC terms: academic research only, no commercial use |
| holidaycheck_filmstarts_de (holidaycheck only) | de | positive / negative | not stated (research data) |
| hotel_aspect_de | de | aspect polarities (all pos / all neg / mixed) | not stated (research data) |
| germeval2017 (relevant documents without URLs) | de | document sentiment | CC BY-NC 4.0 (non-commercial) |
| womens_clothing_reviews | en | rating 1-5 | CC0 |
| marc_en | en | stars 1-5 | MARC terms: academic research only, no commercial use |
| semeval2014_restaurants_en | en | aspect-category polarities | research use, not stated |
| mams_acsa_en | en | mixed by construction -> neutral | Apache-2.0 |

Without that folder (a fresh clone, CI) the texts come from the repository's CC0 sample
(``data/sample_reviews_en.csv``, women's clothing reviews, label: rating 1-5) and every row is English; a warning
says so, since figures on it are not comparable with figures on the full mix.

The generated files are benchmark inputs only: never commit them (several sources are non-commercial).

Reproducibility and big inputs: rows are generated in blocks of 10,000, each from its own generator seeded
with ``(seed, block)``, so the same seed gives the same file whatever the write chunk size, and the first N
rows of a bigger build equal the N-row build (``compare.py`` uses this for its "5 % new responses" re-run).
Text row ``i`` of language L takes the base text ``perm_L[i mod P_L]`` (a seeded permutation of the P_L
texts of that language), so up to about P_L rows every text is a distinct source text. Beyond that
(100k, 300k, 1M rows) the pool is sampled again with replacement, and every re-used text is lightly
perturbed so that distinct texts keep growing with N: a new trim length and starting sentence, plus one or
two of: a sentence of another text with the same language and label appended, a short label-consistent
lead-in or closing phrase ("Insgesamt:", "Danke!", "Bitte verbessern."), or one typo (two letters swapped).
The labels stay consistent; the pool is loaded once (~70k texts) and rows are written in chunks
(``--chunk-rows``), so a 1M-row build needs a few hundred MB at most.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import sys
import time
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA_DIR = REPO.parent / "shared" / "data"
BUNDLED_SAMPLE = REPO / "data" / "sample_reviews_en.csv"
"""The CC0 sample in the repository: the texts (English only) when there is no data folder."""


def default_data_dir() -> Path:
    """``$NPS_TEXT_DATA_DIR``, else ``../shared/data`` (read when called)."""
    return Path(os.environ.get("NPS_TEXT_DATA_DIR") or SHARED_DATA_DIR)


DEFAULT_DATA_DIR = default_data_dir()

COLUMNS = ["response_id", "date", "score", "comment", "channel", "region"]
BLOCK_ROWS = 10_000
START_DATE = np.datetime64("2026-01-05")  # a Monday: 84 days = ISO weeks 2..13 of 2026
DAYS = 84
CHANNELS = ("App", "Web", "Filiale", "Hotline")
CHANNEL_WEIGHTS = (0.35, 0.30, 0.20, 0.15)
REGIONS = ("Nord", "Süd", "Ost", "West")
LANGUAGES = ("de", "en")

EMPTY_SHARE = 0.15
FILLER_SHARE = 0.05
REPEAT_SHARE = 0.05
SCORE_NOISE = 0.12
TARGET_MEDIAN_WORDS = 34.0  # trim targets; whole sentences and short sources bring the realised median to ~20
TARGET_SIGMA = 0.7

FILLERS = {
    "de": ["k.A.", "-", "nichts", "Keine Angabe", "nix", "/", "...", "Nichts", "kein Kommentar", "ka"],
    "en": ["n/a", "-", "none", "N/A", "nothing", "no comment", "/", "...", "Nothing to add", "na"],
}
# Short answers that recur verbatim in real exports (with their label level), most common first.
SHORT_COMMENTS = {
    "de": [
        ("Alles super", 4),
        ("Alles gut", 3),
        ("Top", 4),
        ("Guter Service", 3),
        ("Sehr zufrieden", 4),
        ("Zu teuer", 1),
        ("Freundliches Personal", 3),
        ("Lieferung zu langsam", 1),
        ("Weiter so!", 4),
        ("Passt", 3),
        ("Hotline nicht erreichbar", 0),
        ("Schnelle Lieferung", 3),
        ("Nie wieder", 0),
        ("Preis-Leistung stimmt", 3),
        ("App stürzt ständig ab", 0),
        ("Lange Wartezeit", 1),
        ("Alles bestens", 4),
        ("Könnte besser sein", 2),
        ("Gute Beratung", 3),
        ("Ganz ok", 2),
    ],
    "en": [
        ("All good", 3),
        ("Great service", 4),
        ("Love it", 4),
        ("Too expensive", 1),
        ("Fast delivery", 3),
        ("Friendly staff", 3),
        ("Slow delivery", 1),
        ("Excellent", 4),
        ("Could be better", 2),
        ("Never again", 0),
        ("Good value for money", 3),
        ("Long wait times", 1),
        ("Keep it up", 4),
        ("App keeps crashing", 0),
        ("Easy to use", 3),
        ("Okay", 2),
        ("Poor customer service", 0),
        ("Very happy", 4),
        ("Website is confusing", 1),
        ("Nice", 3),
    ],
}
# Label levels: 0 very negative, 1 negative, 2 neutral / mixed, 3 positive, 4 very positive.
LEADS = {
    "de": {
        0: ["Ehrlich gesagt:", "Leider:", "Enttäuschend."],
        1: ["Leider:", "Naja.", "Kurz gesagt:"],
        2: ["Insgesamt:", "Gemischt.", "Kurz gesagt:"],
        3: ["Insgesamt:", "Kurz gesagt:", "Gerne wieder."],
        4: ["Toll!", "Insgesamt:", "Super."],
    },
    "en": {
        0: ["Honestly:", "Sadly,", "Disappointing."],
        1: ["Sadly,", "Well.", "In short:"],
        2: ["Overall:", "Mixed feelings.", "In short:"],
        3: ["Overall:", "In short:", "Happy overall."],
        4: ["Great!", "Overall:", "Excellent."],
    },
}
TAILS = {
    "de": {
        0: ["Nie wieder.", "Sehr ärgerlich!", "Bitte verbessern."],
        1: ["Bitte verbessern.", "Schade.", "So nicht."],
        2: ["Geht so.", "Ganz okay.", "Da ist noch Luft nach oben."],
        3: ["Danke!", "Gerne wieder.", "Weiter so!"],
        4: ["Weiter so!", "Danke!", "Absolut empfehlenswert."],
    },
    "en": {
        0: ["Never again.", "Very annoying!", "Please fix this."],
        1: ["Please improve.", "Too bad.", "Not great."],
        2: ["It's okay.", "So-so.", "Room for improvement."],
        3: ["Thanks!", "Will come back.", "Keep it up!"],
        4: ["Keep it up!", "Thank you!", "Highly recommended."],
    },
}

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_SPACE = re.compile(r"\s+")
_WORDY = re.compile(r"^[^\W\d_]{4,}$")


@dataclass
class TextPool:
    """Source texts of one language with their label level (0-4) and where they came from."""

    texts: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, text: object, level: int, source: str) -> None:
        if not isinstance(text, str):
            return
        cleaned = _SPACE.sub(" ", text).strip()
        if len(cleaned.split()) >= 2:
            self.texts.append(cleaned)
            self.levels.append(level)
            self.sources.append(source)


def _star_level(stars: object) -> int:
    return int(stars) - 1


def _polarity_level(polarities: list[str], rng: np.random.Generator) -> int:
    values = {p.lower().rstrip("v") for p in polarities}  # German "positiv"/"negativ" -> "positi"/"negati"
    positive = any(v.startswith("positi") for v in values)
    negative = any(v.startswith("negati") for v in values)
    if positive and not negative:
        return int(rng.choice([3, 4]))
    if negative and not positive:
        return int(rng.choice([0, 1]))
    return 2


def load_pools(data_dir: Path | None = None, seed: int = 0) -> dict[str, TextPool]:
    """Read the source texts (deduplicated per language, in a fixed order) with their label levels (cached).

    Without the data folder (``data_dir``, else :func:`default_data_dir`), the English texts of
    :data:`BUNDLED_SAMPLE` and no German ones, with a warning.
    """
    data = Path(data_dir) if data_dir is not None else default_data_dir()
    if not data.is_dir():
        warnings.warn(
            f"data folder not found: {data} (pass --data-dir or set NPS_TEXT_DATA_DIR); using the bundled CC0 "
            f"sample {BUNDLED_SAMPLE.name}: English texts only",
            stacklevel=2,
        )
        return _bundled_pools()
    return _load_pools(data, seed)


@functools.lru_cache(maxsize=1)
def _bundled_pools() -> dict[str, TextPool]:
    english = TextPool()
    sample = pd.read_csv(BUNDLED_SAMPLE)
    for text, rating in zip(sample["Review Text"], sample["Rating"], strict=True):
        english.add(text, _star_level(rating), "womens_clothing_reviews")
    return {"de": TextPool(), "en": english}


@functools.lru_cache(maxsize=2)
def _load_pools(data: Path, seed: int) -> dict[str, TextPool]:
    rng = np.random.default_rng([seed, 999])  # only for polarity-only sources: 3 or 4, 0 or 1
    german, english = TextPool(), TextPool()

    marc_de = pd.read_csv(data / "marc_de" / "train.csv")
    for text, stars in zip(marc_de["text"], marc_de["stars"], strict=True):
        german.add(text, _star_level(stars), "marc_de")
    holiday = pd.read_csv(
        data / "holidaycheck_filmstarts_de" / "holidaycheck.china.sampled.edited.tsv", sep="\t"
    )
    for text, label in zip(holiday["text"], holiday["sentiment"], strict=True):
        german.add(text, _polarity_level([str(label)], rng), "holidaycheck")
    for name in ("train.txt", "dev.txt"):
        for line in (data / "hotel_aspect_de" / name).read_text(encoding="utf-8").splitlines():
            labels, _, text = line.partition("\t")
            if text and "$" not in text:  # anonymised placeholders ($HOTEL$, $CITY$) read badly
                german.add(text, _polarity_level(re.findall(r":(\w+)", labels), rng), "hotel_aspect_de")
    for document in ElementTree.parse(data / "germeval2017" / "dev.xml").iter("Document"):
        text = document.findtext("text") or ""
        if document.findtext("relevance") == "true" and "http" not in text and "@" not in text:
            german.add(
                text, _polarity_level([document.findtext("sentiment") or "neutral"], rng), "germeval2017"
            )

    clothing = pd.read_csv(data / "womens_clothing_reviews" / "reviews.csv")
    for text, rating in zip(clothing["Review Text"], clothing["Rating"], strict=True):
        english.add(text, _star_level(rating), "womens_clothing_reviews")
    marc_en = pd.read_csv(data / "marc_en" / "train.csv")
    for text, stars in zip(marc_en["text"], marc_en["stars"], strict=True):
        english.add(text, _star_level(stars), "marc_en")
    for sentence in ElementTree.parse(data / "semeval2014_restaurants_en" / "train.xml").iter("sentence"):
        polarities = [node.get("polarity", "neutral") for node in sentence.iter("aspectCategory")]
        english.add(sentence.findtext("text"), _polarity_level(polarities, rng), "semeval2014_restaurants_en")
    for name in ("train.xml", "val.xml"):
        for sentence in ElementTree.parse(data / "mams_acsa_en" / name).iter("sentence"):
            english.add(sentence.findtext("text"), 2, "mams_acsa_en")

    pools = {}
    for language, pool in (("de", german), ("en", english)):
        seen: set[str] = set()
        unique = TextPool()
        for text, level, source in zip(pool.texts, pool.levels, pool.sources, strict=True):
            if text not in seen:
                seen.add(text)
                unique.texts.append(text)
                unique.levels.append(level)
                unique.sources.append(source)
        pools[language] = unique
    return pools


def sentences(text: str) -> list[str]:
    """Split at sentence ends (., !, ?, …) followed by white space."""
    return [part for part in _SENTENCE_END.split(text) if part]


def trim(text: str, target_words: int, start_sentence: int = 0) -> str:
    """Whole sentences from ``start_sentence`` until about ``target_words`` words; one long sentence is cut."""
    parts = sentences(text)
    parts = parts[min(start_sentence, len(parts) - 1) :]
    chosen: list[str] = []
    words = 0
    for part in parts:
        count = len(part.split())
        if chosen and words + count > target_words * 1.3:
            break
        chosen.append(part)
        words += count
        if words >= target_words:
            break
    result = " ".join(chosen)
    tokens = result.split()
    if len(tokens) > target_words * 1.6:  # a run-on first sentence: cut at a word boundary
        result = " ".join(tokens[:target_words]).rstrip(",;:-") + "."
    return result


def _typo(text: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    candidates = [index for index, word in enumerate(words) if _WORDY.match(word)]
    if not candidates:
        return text + "!"
    index = candidates[int(rng.integers(len(candidates)))]
    word = words[index]
    position = int(rng.integers(1, len(word) - 2))
    words[index] = word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    return " ".join(words)


class SurveyBuilder:
    """Generates the survey block by block (see the module docstring for the recipe)."""

    def __init__(self, seed: int = 0, data_dir: Path | None = None, german_share: float = 0.6) -> None:
        self.seed = seed
        self.pools = load_pools(data_dir, seed)
        self.german_share = german_share if self.pools["de"].texts else 0.0  # the bundled sample is English
        self.order: dict[str, np.ndarray] = {}
        self.by_level: dict[tuple[str, int], np.ndarray] = {}
        self.repeats: dict[str, tuple[list[str], list[int], np.ndarray]] = {}
        for number, language in enumerate(LANGUAGES):
            pool = self.pools[language]
            rng = np.random.default_rng([seed, 1000 + number])
            self.order[language] = rng.permutation(len(pool.texts))
            levels = np.asarray(pool.levels)
            for level in range(5):
                self.by_level[(language, level)] = np.flatnonzero(levels == level)
            texts, levels = zip(*SHORT_COMMENTS[language], strict=True)
            weights = 1.0 / np.arange(1, len(texts) + 1)  # Zipf: a few answers are very common
            self.repeats[language] = (list(texts), list(levels), weights / weights.sum())

    def _score(self, level: int, rng: np.random.Generator) -> int:
        group = 0 if level <= 1 else 1 if level == 2 else 2
        if rng.random() < SCORE_NOISE:
            group = 1 if group != 1 else int(rng.choice([0, 2]))
        if group == 0:
            return int(rng.integers(0, 5)) if level == 0 else int(rng.integers(2, 7))
        if group == 1:
            return int(rng.choice([7, 8]))
        return int(rng.choice([9, 10], p=[0.6, 0.4] if level <= 3 else [0.3, 0.7]))

    def _perturb(self, text: str, base: int, language: str, level: int, rng: np.random.Generator) -> str:
        pool = self.pools[language]
        edits = rng.choice(4, size=int(rng.integers(1, 3)), replace=False)
        for edit in edits:
            if edit == 0:  # a sentence of another text with the same language and label
                others = self.by_level[(language, level)]
                other = int(others[int(rng.integers(len(others)))])
                if other != base:
                    addition = sentences(pool.texts[other])
                    text = f"{text} {addition[int(rng.integers(len(addition)))]}"
            elif edit == 1:
                options = LEADS[language][level]
                text = f"{options[int(rng.integers(len(options)))]} {text}"
            elif edit == 2:
                options = TAILS[language][level]
                text = f"{text} {options[int(rng.integers(len(options)))]}"
            else:
                text = _typo(text, rng)
        return text

    def block(self, index: int, rows: int | None = None) -> pd.DataFrame:
        """Rows ``index * BLOCK_ROWS ...`` (the first ``rows`` of them): always the same for a seed."""
        rng = np.random.default_rng([self.seed, index])
        size = BLOCK_ROWS
        first = index * BLOCK_ROWS
        language = np.where(rng.random(size) < self.german_share, "de", "en")
        kind = rng.choice(
            4,
            size=size,
            p=[EMPTY_SHARE, FILLER_SHARE, REPEAT_SHARE, 1 - EMPTY_SHARE - FILLER_SHARE - REPEAT_SHARE],
        )
        days = rng.integers(0, DAYS, size=size)
        channel = rng.choice(len(CHANNELS), size=size, p=CHANNEL_WEIGHTS)
        region = rng.integers(0, len(REGIONS), size=size)
        targets = np.clip(np.rint(rng.lognormal(np.log(TARGET_MEDIAN_WORDS), TARGET_SIGMA, size)), 3, 150)
        mix = rng.integers(0, 5, size=size)  # label level for rows without text (same mix as the texts)
        count = size if rows is None else min(rows, size)
        comments: list[str] = []
        scores: list[int] = []
        row_rng = rng  # per-row draws follow the block's vector draws in row order: prefix-stable
        for offset in range(count):
            lang = str(language[offset])
            pool = self.pools[lang]
            if kind[offset] == 0:
                comments.append("")
                level = int(mix[offset])
            elif kind[offset] == 1:
                options = FILLERS[lang]
                comments.append(options[int(row_rng.integers(len(options)))])
                level = int(mix[offset])
            elif kind[offset] == 2:
                texts, levels, weights = self.repeats[lang]
                pick = int(row_rng.choice(len(texts), p=weights))
                comments.append(texts[pick])
                level = levels[pick]
            else:
                slot = first + offset
                order = self.order[lang]
                if slot < len(order):  # each source text once (in a seeded order)
                    base = int(order[slot])
                    level = pool.levels[base]
                    comments.append(trim(pool.texts[base], int(targets[offset])))
                else:  # the pool is used up: sample with replacement and perturb
                    base = int(order[int(row_rng.integers(len(order)))])
                    level = pool.levels[base]
                    start = int(row_rng.integers(0, 3))
                    text = trim(pool.texts[base], int(targets[offset]), start)
                    comments.append(self._perturb(text, base, lang, level, row_rng))
            scores.append(self._score(level, row_rng))
        return pd.DataFrame(
            {
                "response_id": [f"R{first + offset:07d}" for offset in range(count)],
                "date": pd.to_datetime(START_DATE + days[:count]).strftime("%Y-%m-%d"),
                "score": np.asarray(scores, dtype=np.int64),
                "comment": comments,
                "channel": np.asarray(CHANNELS)[channel[:count]],
                "region": np.asarray(REGIONS)[region[:count]],
            },
            columns=COLUMNS,
        )

    def chunks(self, rows: int, chunk_rows: int = 50_000) -> Iterator[pd.DataFrame]:
        """The survey as frames of about ``chunk_rows`` rows (whole blocks; content independent of it)."""
        blocks_per_chunk = max(1, chunk_rows // BLOCK_ROWS)
        frames: list[pd.DataFrame] = []
        for index in range((rows + BLOCK_ROWS - 1) // BLOCK_ROWS):
            frames.append(self.block(index, rows - index * BLOCK_ROWS))
            if len(frames) == blocks_per_chunk:
                yield pd.concat(frames, ignore_index=True)
                frames = []
        if frames:
            yield pd.concat(frames, ignore_index=True)


def survey_frame(
    rows: int, seed: int = 0, data_dir: Path | None = None, german_share: float = 0.6
) -> pd.DataFrame:
    """The whole survey in memory (small N)."""
    builder = SurveyBuilder(seed, data_dir, german_share)
    return pd.concat(list(builder.chunks(rows)), ignore_index=True)


class SurveyStats:
    """Streaming summary: empty and filler shares, distinct texts, median words, NPS, date range."""

    def __init__(self) -> None:
        self.rows = 0
        self.empty = 0
        self.filler = 0
        self.distinct: set[bytes] = set()
        self.word_counts = np.zeros(1000, dtype=np.int64)
        self.groups = np.zeros(3, dtype=np.int64)
        self.first_date = "9999"
        self.last_date = "0000"

    def update(self, frame: pd.DataFrame) -> None:
        comments = frame["comment"]
        fillers = {item for items in FILLERS.values() for item in items}
        self.rows += len(frame)
        self.empty += int((comments == "").sum())
        self.filler += int(comments.isin(fillers).sum())
        texts = comments[(comments != "") & ~comments.isin(fillers)]
        self.distinct.update(hashlib.blake2b(text.encode(), digest_size=8).digest() for text in texts)
        counts = np.minimum(texts.str.split().str.len().to_numpy(dtype=np.int64), 999)
        self.word_counts += np.bincount(counts, minlength=1000)
        score = frame["score"].to_numpy()
        self.groups += [(score <= 6).sum(), ((score >= 7) & (score <= 8)).sum(), (score >= 9).sum()]
        self.first_date = min(self.first_date, frame["date"].min())
        self.last_date = max(self.last_date, frame["date"].max())

    def summary(self) -> dict[str, object]:
        with_text = int(self.word_counts.sum())
        cumulative = np.cumsum(self.word_counts)
        median = int(np.searchsorted(cumulative, with_text / 2)) if with_text else 0
        nps = 100.0 * (self.groups[2] - self.groups[0]) / max(self.rows, 1)
        return {
            "rows": self.rows,
            "empty_share": round(self.empty / max(self.rows, 1), 4),
            "filler_share": round(self.filler / max(self.rows, 1), 4),
            "rows_with_text": with_text,
            "distinct_texts": len(self.distinct),
            "median_words": median,
            "nps": round(nps, 1),
            "dates": f"{self.first_date}..{self.last_date}",
        }


def build_survey(
    rows: int,
    out: str | Path,
    seed: int = 0,
    data_dir: Path | None = None,
    chunk_rows: int = 50_000,
    file_format: str | None = None,
    german_share: float = 0.6,
    stats: bool = False,
) -> dict[str, object]:
    """Write the survey to ``out`` (CSV or Parquet, by suffix or ``file_format``) chunk by chunk."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    kind = file_format or ("parquet" if target.suffix == ".parquet" else "csv")
    partial = target.with_name(target.name + ".partial")
    builder = SurveyBuilder(seed, data_dir, german_share)
    summary = SurveyStats() if stats else None
    writer = None
    try:
        for number, frame in enumerate(builder.chunks(rows, chunk_rows)):
            if summary is not None:
                summary.update(frame)
            if kind == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(str(partial), table.schema)
                writer.write_table(table)
            else:
                frame.to_csv(partial, mode="w" if number == 0 else "a", header=number == 0, index=False)
    finally:
        if writer is not None:
            writer.close()
    partial.replace(target)
    result: dict[str, object] = {"path": str(target), "rows": rows, "seed": seed, "format": kind}
    if summary is not None:
        result.update(summary.summary())
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--out", required=True, help="output file, .csv or .parquet")
    parser.add_argument(
        "--format",
        dest="file_format",
        choices=["csv", "parquet"],
        default=None,
        help="default: from the suffix of --out",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--german-share", type=float, default=0.6)
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="rows per write (memory, not content)")
    parser.add_argument("--no-stats", action="store_true", help="skip the summary (saves memory at 1M rows)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = build_survey(
        args.rows,
        args.out,
        args.seed,
        args.data_dir,
        args.chunk_rows,
        args.file_format,
        args.german_share,
        stats=not args.no_stats,
    )
    result["seconds"] = round(time.perf_counter() - start, 1)
    json.dump(result, sys.stdout, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
