"""Re-runs reuse the saved fit: seen comments keep their theme, new ones join the saved themes."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

import nps_text.themes.assign as themes_module
from nps_text.themes import ThemesConfig, assign_themes
from nps_text.themes.incremental import TEXTS_FILE, fingerprint, text_keys
from nps_text.themes.state import STATE_FILE

FAST = {"reduction": "pca", "min_theme_size": 10}


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the fits (discovery runs) of the themes step."""
    calls: list[int] = []
    real = themes_module.discover_themes

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(themes_module, "discover_themes", counting)
    return calls


def _fit_record(state_dir) -> dict:  # type: ignore[no-untyped-def]
    return json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))["fit"]


def test_same_data_again_is_identical_without_a_fit(tmp_path, make_synthetic, fits) -> None:
    responses, embed = make_synthetic(n_per_topic=40, seed=0)
    config = ThemesConfig(**FAST)
    first, first_themes = assign_themes(responses, config, embed=embed, state_dir=tmp_path)
    assert len(fits) == 1 and (tmp_path / TEXTS_FILE).is_file()
    second, second_themes = assign_themes(responses, config, embed=embed, state_dir=tmp_path)
    assert len(fits) == 1  # no second fit
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first_themes, second_themes)
    assert _fit_record(tmp_path)["added"] == 0


def test_new_comments_join_the_saved_themes(tmp_path, make_synthetic, fits, caplog) -> None:
    responses, embed = make_synthetic(n_per_topic=40, seed=0)
    config = ThemesConfig(**FAST)
    first, _ = assign_themes(responses, config, embed=embed, state_dir=tmp_path)
    grown, grown_embed = make_synthetic(n_per_topic=42, seed=0)  # the same 160 rows + 8 new ones (5 %)
    assert grown["comment"].head(160).tolist() == responses["comment"].tolist()
    with caplog.at_level(logging.INFO, logger="nps_text.themes"):
        second, themes = assign_themes(grown.sample(frac=1.0, random_state=3), config, embed=grown_embed, state_dir=tmp_path)
    assert len(fits) == 1
    assert "reused the saved fit; 8 new" in caplog.text
    second = second.set_index("response_id").loc[grown["response_id"]]
    assert second["theme_id"].head(160).tolist() == first["theme_id"].tolist()  # seen comments keep their theme
    ids_by_topic = first.groupby("true_topic")["theme_id"].agg(lambda ids: ids.mode().iloc[0]).to_dict()
    new = second.tail(8)
    assert (new["theme_id"] == new["true_topic"].map(ids_by_topic)).all()  # new comments join their topic's theme
    assert set(themes["theme_id"]) == set(second["theme_id"])
    assert _fit_record(tmp_path)["added"] == 8
    # Renaming a theme needs no fit either.
    renamed = config.model_copy(update={"rename": {int(ids_by_topic["App"]): "App & Login"}})
    third, _ = assign_themes(grown, renamed, embed=grown_embed, state_dir=tmp_path)
    assert len(fits) == 1
    assert (third.loc[third["true_topic"] == "App", "theme_label"] == "App & Login").all()
    # ... and removing the rename brings the fit's own label back.
    fourth, _ = assign_themes(grown, config, embed=grown_embed, state_dir=tmp_path)
    assert len(fits) == 1
    assert fourth["theme_label"].tolist() == second["theme_label"].tolist()


def test_growth_beyond_refit_share_or_a_config_change_fits_again(tmp_path, make_synthetic, fits) -> None:
    responses, embed = make_synthetic(n_per_topic=40, seed=0)
    config = ThemesConfig(**FAST)
    assign_themes(responses, config, embed=embed, state_dir=tmp_path)
    grown, grown_embed = make_synthetic(n_per_topic=60, seed=0)  # 50 % new > refit_share 0.2
    assign_themes(grown, config, embed=grown_embed, state_dir=tmp_path)
    assert len(fits) == 2
    assert _fit_record(tmp_path)["fitted"] == len(grown) and _fit_record(tmp_path)["added"] == 0
    assign_themes(grown, config.model_copy(update={"min_theme_size": 12}), embed=grown_embed, state_dir=tmp_path)
    assert len(fits) == 3  # another config: fitted afresh
    assign_themes(grown, config.model_copy(update={"refit_share": 0.0}), embed=grown_embed, state_dir=tmp_path)
    assert len(fits) == 4  # refit_share 0: every run fits


def test_damaged_assignments_are_dropped_and_refitted(tmp_path, make_synthetic, fits, caplog) -> None:
    responses, embed = make_synthetic(n_per_topic=40, seed=0)
    config = ThemesConfig(**FAST)
    first, _ = assign_themes(responses, config, embed=embed, state_dir=tmp_path)
    (tmp_path / TEXTS_FILE).write_bytes(b"not a numpy file")
    with caplog.at_level(logging.WARNING):
        second, _ = assign_themes(responses, config, embed=embed, state_dir=tmp_path)
    assert len(fits) == 2 and "damaged" in caplog.text
    assert second["theme_id"].tolist() == first["theme_id"].tolist()  # stable ids carry over through the refit


def test_saved_assignments_hold_no_text(tmp_path, make_synthetic) -> None:
    responses, embed = make_synthetic(n_per_topic=40, seed=0)
    assign_themes(responses, ThemesConfig(**FAST), embed=embed, state_dir=tmp_path)
    data = (tmp_path / TEXTS_FILE).read_bytes()
    assert b"Fall" not in data and b"Lieferung" not in data
    with np.load(tmp_path / TEXTS_FILE) as saved:
        assert saved["keys"].dtype == np.uint64 and len(saved["keys"]) == responses["comment"].nunique()


def test_fingerprint_ignores_rename_but_not_clustering_settings() -> None:
    base = ThemesConfig(**FAST)
    assert fingerprint(base, 24) == fingerprint(base.model_copy(update={"rename": {0: "x"}}), 24)
    assert fingerprint(base, 24) != fingerprint(base.model_copy(update={"min_theme_size": 11}), 24)
    assert fingerprint(base, 24) != fingerprint(base, 512)
    assert text_keys(["a", "a", "b"]).tolist()[0] == text_keys(["a"]).tolist()[0]
