"""Theme state: written atomically; a damaged file is dropped with a warning, never fatal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nps_text.themes.state import STATE_FILE, ThemeRecord, ThemeState, load_state, save_state


def _state() -> ThemeState:
    return ThemeState(dim=2, next_id=3, themes={
        0: ThemeRecord(theme_id=0, kind="guided", centroid=[], name="Lieferung"),
        2: ThemeRecord(theme_id=2, kind="discovered", centroid=[0.6, 0.8], label="x", keywords=["a"]),
    })


def test_roundtrip_leaves_no_temporary_file(tmp_path: Path) -> None:
    save_state(_state(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]
    assert load_state(tmp_path) == _state()


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],  # truncated
    lambda text: "",
    lambda text: "\x00\xff garbage",
    lambda text: text.replace('"next_id": 3', '"next_id": 1'),  # an id in use would be handed out again
    lambda text: text.replace("0.8", '"x"'),
    lambda text: text.replace('"version": 1', '"version": 99'),
])
def test_damaged_state_is_dropped_with_a_warning(tmp_path: Path, damage, caplog: pytest.LogCaptureFixture) -> None:
    save_state(_state(), tmp_path)
    path = tmp_path / STATE_FILE
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert load_state(tmp_path) == ThemeState()
    assert "damaged" in caplog.text
