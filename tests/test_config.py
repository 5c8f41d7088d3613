from pathlib import Path

import pytest

from nps_text.config import PipelineConfig, config_from_dict, load_config
from nps_text.errors import ConfigError


def test_default_yaml_matches_built_in_defaults(repo_root: Path) -> None:
    assert load_config(repo_root / "pipeline" / "default.yaml") == PipelineConfig()


def test_every_pipeline_yaml_validates(repo_root: Path) -> None:
    for path in sorted((repo_root / "pipeline").glob("*.yaml")):
        load_config(path)


def test_bad_value_names_key_and_value() -> None:
    with pytest.raises(ConfigError, match=r"nps\.period.*'X'"):
        config_from_dict({"nps": {"period": "X"}})


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"nps\.perid"):
        config_from_dict({"nps": {"perid": "W"}})


def test_bad_delimiter_rejected() -> None:
    with pytest.raises(ConfigError, match="delimiter"):
        config_from_dict({"input": {"delimiter": ":"}})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_non_mapping_yaml(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)
