"""The distilled student (issue 20, phase 2; plan in ``DISTILLATION.md``): its initialisation from a teacher.

Trained with :func:`nps_text.training.sentiment_train.run_training` on ``TrainingData.soft_targets`` (the
teacher's probabilities, scored once and resumably by :func:`score_in_chunks` with :func:`teacher_soft_labels`),
whose loss is :func:`~nps_text.training.sentiment_train.distillation_loss`; :func:`distill_pool` is its text
(labelled and unlabelled, never held-out rows or suite cases) and :func:`train_student` the whole run
(``nps-text train distill``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nps_text.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from nps_text.sentiment.e5_head import E5ForSequenceClassification
    from nps_text.training.sentiment_train import TrainSentimentConfig

logger = logging.getLogger(__name__)

EVERY_OTHER_LAYER = (0, 2, 4, 6, 8, 10)  # the default student: 6 of 12 layers, depth profile kept


def keep_layers(model: E5ForSequenceClassification, layers: Sequence[int]) -> E5ForSequenceClassification:
    """``model`` cut to the encoder layers ``layers`` (in that order; the others are dropped), in place."""
    import torch

    total = len(model.bert.encoder.layer)
    if not layers or any(not 0 <= index < total for index in layers) or len(set(layers)) != len(layers):
        raise ModelError(f"layers must be distinct indices in 0..{total - 1}, got {list(layers)}")
    model.bert.encoder.layer = torch.nn.ModuleList([model.bert.encoder.layer[index] for index in layers])
    model.config.num_hidden_layers = len(layers)
    return model


def student_from_teacher(
    teacher_dir: str | Path, layers: Sequence[int] = EVERY_OTHER_LAYER, seed: int = 13
) -> E5ForSequenceClassification:
    """A trainable student: the teacher artifact's weights (e5 base where the artifact stores none), cut to ``layers``.

    Built with :func:`~nps_text.sentiment.e5_model.build_base_classifier` (own copies of the weights, safe to
    train), then the teacher's trained tensors are copied in; embeddings, embedding LayerNorm and head come along.
    """
    from safetensors.torch import load_file

    from nps_text.sentiment.e5_model import ARTIFACT_WEIGHTS, E5ClassifierMeta, build_base_classifier

    folder = Path(teacher_dir)
    meta = E5ClassifierMeta.read(folder)
    model = build_base_classifier(meta.labels, meta.num_layers, seed=seed)
    trained = {key: value.float() for key, value in load_file(str(folder / ARTIFACT_WEIGHTS)).items()}
    unexpected = model.load_state_dict(trained, strict=False).unexpected_keys
    if unexpected:
        raise ModelError(f"{folder}: teacher tensors do not fit the e5 model: {unexpected[:3]}")
    return keep_layers(model, layers)


def score_in_chunks(
    texts: Sequence[str], score: Callable[[list[str]], np.ndarray], out_dir: str | Path, chunk: int = 2000
) -> np.ndarray:
    """``score`` every text in chunks, each written as ``out_dir/part-NNNNN.npy`` (atomically); resumable.

    A chunk already on disk (from a killed session) is read, not scored again; the chunk files are keyed by the
    chunk size and a hash of the chunk's texts, so a different text list never reuses them. Returns all rows.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for start in range(0, len(texts), chunk):
        piece = list(texts[start : start + chunk])
        digest = hashlib.sha256("\x1f".join(piece).encode("utf-8")).hexdigest()[:12]
        path = folder / f"part-{start // chunk:05d}-{chunk}-{digest}.npy"
        if path.is_file():
            parts.append(np.load(path))
            continue
        scores = np.asarray(score(piece), dtype=np.float32)
        if len(scores) != len(piece):
            raise ModelError(f"the scorer returned {len(scores)} rows for {len(piece)} texts")
        tmp = path.with_name(path.stem + ".tmp.npy")
        np.save(tmp, scores)
        os.replace(tmp, path)
        parts.append(scores)
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def teacher_soft_labels(
    teacher_dir: str | Path, temperature: float, max_length: int = 96, batch_size: int = 64, bf16: bool | None = None
) -> Callable[[list[str]], np.ndarray]:
    """A scorer for :func:`score_in_chunks`: the teacher's probabilities at ``temperature``, in its label order.

    The teacher without int8, in bf16 where the CPU multiplies bf16 natively (``bf16=None``; 2.7x faster than
    fp32 on this CPU, as the teacher runs in production), inputs as in training (prefix, ``max_length`` tokens).
    """
    import torch

    from nps_text.encoders.e5_rebuild import load_e5_tokenizer, pad_batch
    from nps_text.sentiment.e5_model import load_e5_classifier
    from nps_text.sentiment.transformer import use_cpu_bf16

    model, meta = load_e5_classifier(teacher_dir)
    if use_cpu_bf16("auto") if bf16 is None else bf16:
        model = model.bfloat16()
    tokenizer = load_e5_tokenizer()

    def score(texts: list[str]) -> np.ndarray:
        ids = tokenizer.encode(texts, prefix=meta.prefix, max_length=max_length)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), len(meta.labels)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                input_ids, mask = pad_batch([ids[i] for i in chosen], tokenizer.pad)
                logits = model(input_ids=input_ids, attention_mask=mask).logits
                out[chosen] = torch.softmax(logits.float() / temperature, dim=-1).numpy()
        return out

    return score


# --- the student's text pool and training (``nps-text train distill``) ---------------------------------------

POOL_SUFFIX = "_pool"  # source name of unlabelled pool rows: "<source>_pool"
AUGMENT_SOURCE = "contrast_joins"
_TWEET_SOURCES = ("sb10k", "potts", "tweets_en")  # too noisy to join into a review-like sentence
_DE_LOWER_STARTS = frozenset(
    ["Der", "Die", "Das", "Den", "Dem", "Des", "Ein", "Eine", "Einen", "Einem", "Ich", "Wir", "Er", "Sie", "Es", "Man", "Mein", "Meine", "Unser", "Unsere", "Auch", "Sehr", "Alles", "Nicht", "Nur", "Leider", "Dann", "Aber", "Und", "Hier", "Da", "Dort", "Diese", "Dieser", "Dieses", "Kein", "Keine", "Habe", "Haben", "Hat", "Ist", "War", "Waren"]
)  # a German sentence start that is lower-case inside a sentence (nouns keep their capital)
_JOINS = {"de": (", aber ", ". Trotzdem: ", ", allerdings "), "en": (", but ", ". Still, ", ", however ")}


def unlabelled_texts(data_dir: str | Path | None, config: TrainSentimentConfig, labelled: pd.DataFrame) -> pd.DataFrame:
    """Texts without a gold label for the student: the rows the teacher's caps left out (MARC, holidaycheck,
    filmstarts), the clothing reviews whose rating 4 has no three-class label, and the bundled German demo's
    comments. A seeded sample of ``config.pool_unlabelled``, about even per source; never a held-out row, a row
    ``nps-text train calibrate`` fits the temperature on, a behavioural-suite case or a row the teacher trained on. Columns: ``text``, ``source``, ``language``.
    """
    import pandas as pd

    from nps_text.training.calibrate import calibration_frame
    from nps_text.training.checklist import exclude_checklist
    from nps_text.training.sentiment_data import DEFAULT_DATA_DIR, split_corpus

    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    splits = split_corpus(data_dir, config.seed)
    held_out = set(pd.concat([frame for name, frame in splits.items() if name != "train"])["text"])
    held_out |= set(calibration_frame(data_dir, config.seed, splits=splits)["text"])  # the temperature's rows
    capped = splits["train"][splits["train"]["source"].isin(list(config.max_per_source))]
    parts = [capped[["text", "source", "language"]]]
    clothing = pd.read_csv(root / "womens_clothing_reviews" / "reviews.csv")
    clothing = clothing[clothing["Review Text"].notna()]
    title = clothing["Title"].fillna("").astype(str)
    parts.append(pd.DataFrame({
        "text": (title.where(title == "", title + ". ") + clothing["Review Text"].astype(str)).str.strip(),
        "source": "clothing", "language": "en",
    }))
    demo = Path(__file__).resolve().parents[2] / "data" / "demo_de.csv"
    if demo.is_file():
        comments = pd.read_csv(demo, sep=";", encoding="latin-1")["Kommentar"].dropna().astype(str)
        parts.append(pd.DataFrame({"text": comments.str.strip(), "source": "demo_de", "language": "de"}))
    pool = pd.concat(parts, ignore_index=True)
    pool = pool[(pool["text"].str.len() > 3) & ~pool["text"].isin(held_out) & ~pool["text"].isin(set(labelled["text"]))]
    pool = exclude_checklist(pool.drop_duplicates("text"))
    if config.pool_unlabelled <= 0 or pool.empty:
        return pool.iloc[:0]
    rng = np.random.default_rng(config.seed)
    groups = [group for _, group in pool.groupby("source", sort=True)]
    share = max(config.pool_unlabelled // len(groups), 1)
    picked = [group.iloc[rng.permutation(len(group))[:share]] for group in groups]
    short = config.pool_unlabelled - sum(len(group) for group in picked)
    if short > 0:  # small sources give what they have; the big ones fill up
        rest = pool.drop(pd.concat(picked).index)
        picked.append(rest.iloc[rng.permutation(len(rest))[:short]])
    chosen = pd.concat(picked, ignore_index=True)
    return chosen.assign(source=chosen["source"] + POOL_SUFFIX).reset_index(drop=True)


def contrast_joins(labelled: pd.DataFrame, count: int, seed: int) -> pd.DataFrame:
    """``count`` augmented texts: a short positive and a short negative sentence of one language joined by a
    contrast word ("aber", "but", ...) in either order. Unlabelled: the teacher says which side wins."""
    import pandas as pd

    if count <= 0:
        return pd.DataFrame(columns=["text", "source", "language"])
    rng = np.random.default_rng(seed)
    texts = labelled["text"].astype(str)
    words = texts.str.split().str.len()
    review_like = ~labelled["source"].isin(_TWEET_SOURCES) & ~texts.str.contains(r"@|https?://|#", regex=True)
    short = labelled[review_like & (words >= 3) & (words <= 20) & labelled["label"].isin(["positive", "negative"])]
    rows = []
    languages = sorted(short["language"].unique())
    for index in range(count):
        language = languages[index % len(languages)]
        here = short[short["language"] == language]
        positive = here[here["label"] == "positive"]["text"].to_numpy()
        negative = here[here["label"] == "negative"]["text"].to_numpy()
        first, second = str(rng.choice(positive)), str(rng.choice(negative))
        if rng.random() < 0.5:
            first, second = second, first
        join = str(rng.choice(_JOINS.get(language, _JOINS["en"])))
        head = second.split(" ", 1)[0]
        if (language == "en" and head != "I") or head in _DE_LOWER_STARTS:
            second = second[0].lower() + second[1:]
        rows.append({"text": first.rstrip(" .!") + join + second, "source": AUGMENT_SOURCE, "language": language})
    return pd.DataFrame(rows).drop_duplicates("text").reset_index(drop=True)


def distill_pool(data_dir: str | Path | None, config: TrainSentimentConfig) -> pd.DataFrame:
    """The student's rows: the teacher's labelled rows (``label`` set) + unlabelled texts + contrast joins
    (``label`` empty). Checked: no held-out row, no behavioural-suite case."""
    import pandas as pd

    from nps_text.training.checklist import assert_no_checklist
    from nps_text.training.sentiment_train import training_rows

    labelled = training_rows(data_dir, config)
    extra = pd.concat(
        [unlabelled_texts(data_dir, config, labelled), contrast_joins(labelled, config.augment_rows, config.seed)],
        ignore_index=True,
    ).assign(label=None)
    pool = pd.concat([labelled, extra[~extra["text"].isin(set(labelled["text"]))]], ignore_index=True)
    assert_no_checklist(pool)
    return pool


def train_student(
    teacher_dir: str | Path,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    config: TrainSentimentConfig | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Distil the teacher in ``teacher_dir`` into a student (``config.student_layers`` of its layers) in ``out_dir``.

    Step 1 scores the pool with the teacher at ``distill_temperature``, in chunks kept in ``out_dir/soft-labels``
    (a killed run keeps what it scored). Step 2 trains with :func:`run_training` (step checkpoints, exact
    ``resume``); the loss is :func:`distillation_loss` (KL on every row, plus CE where a gold label exists).
    Loss weights: the teacher recipe's source weights x class balance within each source, unlabelled rows
    balanced by the teacher's argmax. Saves a normal e5 artifact (``num_layers`` = the kept layers, all trained).
    """
    import torch

    from nps_text.encoders.e5_rebuild import load_e5_tokenizer
    from nps_text.errors import InputError
    from nps_text.sentiment.e5_model import E5ClassifierMeta, base_file_sha256, save_trained_part
    from nps_text.training.sentiment_train import (
        CHECKPOINT,
        LABELS,
        TrainingData,
        TrainSentimentConfig,
        data_key,
        load_checkpoint,
        progress_summary,
        row_weights,
        run_training,
        write_training_card,
    )

    out = Path(out_dir)
    teacher = Path(teacher_dir)
    config = config or TrainSentimentConfig.student()
    saved = None
    if resume:
        saved = load_checkpoint(out)
        control = {key: getattr(config, key) for key in ("threads", "checkpoint_minutes", "stop_after_steps")}
        config = TrainSentimentConfig(**saved["recipe"], **control)
    elif (out / CHECKPOINT).is_file():
        raise InputError(f"{out / CHECKPOINT} exists: pass --resume to continue that run, or delete it to start over")
    if config.student_layers is None:
        raise InputError("not a student recipe: student_layers is not set")
    teacher_meta = E5ClassifierMeta.read(teacher)
    if teacher_meta.frozen_layers != 0 or teacher_meta.labels != LABELS:
        raise InputError(f"{teacher} is not a teacher (all layers trained, labels {LABELS})")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.time()
    pool = distill_pool(data_dir, config)
    logger.info("student pool: %d rows, %s", len(pool), pool.groupby("source").size().to_dict())
    soft = score_in_chunks(
        pool["text"].tolist(), teacher_soft_labels(teacher, config.distill_temperature, config.max_length),
        out / "soft-labels",
    )
    scored_at = time.time()
    gold = pool["label"].notna().to_numpy()
    label_ids = np.full(len(pool), -100, dtype=np.int64)
    label_ids[gold] = [LABELS.index(label) for label in pool.loc[gold, "label"]]
    balance_ids = np.where(gold, label_ids, soft.argmax(axis=1))
    weights = row_weights(pool, balance_ids, config)
    digest = hashlib.sha256(data_key(pool.fillna({"label": ""}), weights).encode())
    digest.update(np.round(soft, 4).astype(np.float32).tobytes())
    tokenizer = load_e5_tokenizer()
    token_ids = tokenizer.encode(pool["text"].tolist(), prefix=config.prefix, max_length=config.max_length)
    data = TrainingData(token_ids, label_ids, weights, digest.hexdigest(), soft_targets=soft.astype(np.float32))
    prepared_at = time.time()
    model = student_from_teacher(teacher, config.student_layers, seed=config.seed)
    progress = run_training(model, data, config, out, tokenizer.pad, saved)
    summary = {
        "config": config.recipe(),
        "teacher": {"folder": teacher.name, "training_rows": teacher_meta.training.get("rows")},
        "rows": int(len(pool)),
        "rows_with_gold_label": int(gold.sum()),
        "rows_per_source": {str(k): int(v) for k, v in pool.groupby("source").size().items()},
        "seconds_scoring_soft_labels_this_session": round(scored_at - started, 1),
        "seconds_preparing_this_session": round(prepared_at - started, 1),
        **progress_summary(model, progress),
    }
    if not progress["finished"]:
        return summary
    meta = E5ClassifierMeta(
        labels=LABELS, num_layers=config.num_layers, frozen_layers=0, prefix=config.prefix,
        base_sha256=base_file_sha256(), training=summary,
    )
    save_trained_part(model, out, meta)
    write_training_card(out, summary)
    (out / CHECKPOINT).unlink(missing_ok=True)
    return summary
