"""The ``export`` and ``report`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nps_text.cli import cli, main


@pytest.mark.parametrize("command", ["export", "report"])
def test_help_has_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and f"nps-text {command} " in result.output


def test_export_xlsx(run_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--format", "xlsx"])
    assert result.exit_code == 0, result.output
    assert (run_dir / "export" / "nps_tables.xlsx").is_file()
    assert "nps_tables.xlsx" in result.output


def test_export_csv_for_german_excel(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--format", "csv", "--csv-delimiter", ";", "--out", str(out)])
    assert result.exit_code == 0, result.output
    head = (out / "responses.csv").read_bytes()[:40]
    assert head.startswith(b"\xef\xbb\xbfresponse_id;score;")


def test_report_rerenders_in_chosen_language(run_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--language", "de"])
    assert result.exit_code == 0, result.output
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "NPS-Bericht" in html and "&lt;script&gt;" in html


def test_report_uses_the_runs_report_config(run_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"] = {"report": {"language": "en", "title": "Weekly NPS", "follow_up_rows": 2}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = tmp_path / "page.html"
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "<title>Weekly NPS</title>" in html and "First 2 of" in html


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(tmp_path / "missing"), "--format", "csv"])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("Error: run folder not found") and "Traceback" not in error
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path)])
    assert "no *.parquet tables" in capsys.readouterr().err
