"""The command line: help for every command, one-line errors, a real run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nps_text.cli import cli, main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


def test_every_command_is_documented_with_an_example() -> None:
    for path, command in _commands(cli):
        help_text = command.help or ""
        assert help_text.strip(), f"nps-text {' '.join(path)} has no help"
        assert "nps-text" in help_text, f"nps-text {' '.join(path)} help has no example"


def test_help_lists_run() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "run" in result.output


def test_help_starts_fast_without_heavy_imports() -> None:
    code = "import sys, nps_text.cli; print(any(m in sys.modules for m in ('torch', 'bertopic', 'prefect', 'transformers')))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def test_bad_config_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("nps:\n  period: fortnight\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "data/demo_de.csv", "--config", str(config), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: invalid configuration") and "nps.period" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("prefect_harness")
def test_unusable_file_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(empty), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Error: input file is empty" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("prefect_harness")
def test_run_command_writes_outputs(tmp_path: Path, repo_root: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("embeddings: {model: test-hashing}\nsentiment: {enabled: false}\nthemes: {enabled: false}\n")
    result = CliRunner().invoke(
        cli, ["run", str(repo_root / "data" / "demo_de.csv"), "--config", str(config), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert "600 rows in" in result.output
    assert (tmp_path / "o" / "responses.parquet").exists()
