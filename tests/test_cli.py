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


def test_importing_nps_text_changes_no_environment() -> None:
    code = ("import os; before = dict(os.environ); import nps_text, nps_text.flow, nps_text.writers; "
            "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


@pytest.mark.usefixtures("prefect_harness")
def test_database_password_never_reaches_prefect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    with pytest.raises(SystemExit):
        main(["run", "postgresql://nps:S3cretPW@127.0.0.1:1/survey", "--query", "select 1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert "Error:" in err and "S3cretPW" not in err
    database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    stored = b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    assert b"NPS_TEXT_DB_PASSWORD" in stored  # the flow run's parameters name the variable...
    assert b"S3cretPW" not in stored  # ...and never hold the password
    assert all(b"S3cretPW" not in path.read_bytes() for path in (tmp_path / "o").rglob("*") if path.is_file())


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_run_leaves_no_process_and_a_rerun_recovers(tmp_path: Path, repo_root: Path) -> None:
    import os
    import signal
    import time
    import uuid

    import pandas as pd

    marker = f"NPS_TEXT_TEST_MARKER={uuid.uuid4().hex}"
    config = tmp_path / "c.yaml"
    config.write_text("sentiment: {enabled: false}\nthemes: {enabled: false}\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")}
    env |= {"HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect"),
            marker.split("=")[0]: marker.split("=")[1]}
    command = [sys.executable, "-c", "from nps_text.cli import main; main()", "run", str(repo_root / "data" / "demo_de.csv"),
               "--config", str(config)]

    def run(out: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, "--out", str(out)], env=env, capture_output=True, text=True, timeout=400)

    killed = subprocess.Popen([*command, "--out", str(tmp_path / "out")], env=env, stderr=subprocess.PIPE, text=True)
    assert killed.stderr is not None
    for line in killed.stderr:  # the server is up and the flow is running once a step is reported
        if line.startswith("[1/"):
            break
    assert _processes_with(marker), "the run should have started a server"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    deadline = time.monotonic() + 30
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_with(marker), "a process of the killed run is still alive"

    rerun, clean = run(tmp_path / "out"), run(tmp_path / "clean")
    assert rerun.returncode == 0 and clean.returncode == 0, rerun.stderr + clean.stderr
    assert not list((tmp_path / "out").glob(".staging-*"))
    for path in sorted((tmp_path / "clean").glob("*.parquet")):
        pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(tmp_path / "out" / path.name), obj=path.name)
    assert not _processes_with(marker)


# --- unexpected errors: one line, a redacted crash report, --debug ------------------------------------------


def _crash_in_sentiment(monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text.cli import sentiment

    def broken(path: str) -> None:
        raise TypeError("object of type 'float' has no len() (comment of anna.schmidt@example.com)")

    monkeypatch.setattr(sentiment, "_read", broken)


def test_an_unexpected_error_is_one_line_and_a_redacted_crash_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tempfile

    from nps_text.errors import EXIT_UNEXPECTED

    _crash_in_sentiment(monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # commands without an output folder report here
    with pytest.raises(SystemExit) as exit_info:
        main(["sentiment", "texts.csv", "--out", "o.csv"])
    assert exit_info.value.code == EXIT_UNEXPECTED == 70
    err = capsys.readouterr().err
    [line] = err.strip().splitlines()
    assert line.startswith("Error: unexpected error in nps-text sentiment (TypeError: object of type 'float'")
    assert "Traceback" not in err and "example.com" not in err and "--debug" in line
    [report] = tmp_path.glob("crash-*.txt")
    assert str(report) in line
    text = report.read_text()
    assert "Traceback (most recent call last)" in text and "in broken" in text and "[EMAIL]" in text
    assert "example.com" not in text and "nps-text sentiment texts.csv --out o.csv" in text
    assert "\npython: " in text and "\nnps-text: " in text and "\nstage: -" in text
    assert oct(report.stat().st_mode & 0o777) == "0o600"


def test_debug_shows_the_redacted_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tempfile

    _crash_in_sentiment(monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        main(["--debug", "sentiment", "texts.csv", "--out", "o.csv"])
    assert exit_info.value.code == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in broken" in err
    assert "example.com" not in err and err.strip().splitlines()[-1].startswith("Error: unexpected error")


@pytest.mark.usefixtures("prefect_harness", "prefect_console")
def test_an_unexpected_error_in_the_flow_names_its_stage(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    from nps_text import flow as flow_module

    # In a real `nps-text run` PREFECT_LOGGING_LEVEL=CRITICAL is set before Prefect configures its logging (the
    # journey tests/journeys/test_errors.py checks the terminal); in this process the session's Prefect harness
    # configured it first, so the quiet level is set on the logger directly.
    prefect_logger = logging.getLogger("prefect")
    monkeypatch.setattr(prefect_logger, "level", logging.CRITICAL)

    def broken_insights(inputs, section=None, edges=None):  # noqa: ANN001, ANN202 - a library bug inside a stage
        raise TypeError("object of type 'numpy.float64' has no len() near 'max.mustermann@example.com'")

    monkeypatch.setattr(flow_module, "insights_task", broken_insights)
    config = tmp_path / "c.yaml"
    config.write_text("embeddings: {model: test-hashing}\nsentiment: {enabled: false}\nthemes: {enabled: false}\n")
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(repo_root / "data" / "demo_de.csv"), "--config", str(config), "--out", str(out)])
    assert exit_info.value.code == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and "example.com" not in err
    [line] = [line for line in err.splitlines() if line.startswith("Error:")]
    assert line.startswith("Error: unexpected error in stage 'insights' (TypeError: object of type 'numpy.float64'")
    [report] = out.glob("crash-*.txt")
    assert str(report.resolve()) in line
    text = report.read_text()
    assert "stage: insights" in text and "in broken_insights" in text and "in run_stages" in text
    assert "example.com" not in text and "[EMAIL]" in text
    assert not (out / "manifest.json").exists()  # nothing published


def test_sentiment_takes_a_file_with_one_text_column(tmp_path: Path) -> None:
    from nps_text.sentiment import register_sentiment_backend
    from tests.sentiment.conftest import KeywordBackend

    register_sentiment_backend("test-keywords", lambda config, embed: KeywordBackend())
    texts = tmp_path / "texts.csv"
    texts.write_text('Kommentar\nDie Beratung war super\n"Lieferung kam, aber viel zu spät"\nk.A.\n'
                     "Preis zu hoch, Service gut\n", encoding="utf-8")  # one text per line: its comma is text
    result = CliRunner().invoke(cli, ["sentiment", str(texts), "--model", "test-keywords"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    written = pd.read_csv(tmp_path / "texts-sentiment.csv")
    assert written["Kommentar"].tolist()[:2] == ["Die Beratung war super", "Lieferung kam, aber viel zu spät"]
    assert written["comment_status"].tolist() == ["text", "text", "non_informative", "text"]
    assert written["Kommentar"].iloc[3] == "Preis zu hoch, Service gut"
    assert "wrote 4 rows" in result.output


def test_sentiment_finds_the_comment_column_or_asks_for_it(tmp_path: Path) -> None:
    from nps_text.cli.sentiment import text_column_of
    from nps_text.errors import InputError

    assert text_column_of(["text"], None) == "text"
    assert text_column_of(["ID", "Bewertung", "Ihr Feedback (optional)"], None) == "Ihr Feedback (optional)"
    assert text_column_of(["a", "b"], "b") == "b"
    with pytest.raises(InputError, match="--text-column"):
        text_column_of(["a", "b"], None)
    with pytest.raises(InputError, match="not found"):
        text_column_of(["a", "b"], "c")


@pytest.mark.usefixtures("prefect_harness", "prefect_console")
def test_run_still_refuses_a_single_column_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = tmp_path / "texts.csv"
    texts.write_text("Kommentar\nDie Beratung war super\nPreis zu hoch\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(texts), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 1
    assert "at least a score and a comment column" in capsys.readouterr().err
