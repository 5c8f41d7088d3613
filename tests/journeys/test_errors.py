"""Journey: what a user sees when something goes wrong that nps-text did not expect, and a list of texts.

The crash is real, not mocked: a ``runner.plugins`` module (what users write to add their own encoder) registers
an encoder that fails with a ``TypeError`` (as a library bug would) inside the themes stage, with an e-mail
address in its message and in its source line. The user must see one line (what failed, in which stage, where
the crash report is), exit code 70, and a crash report in the output folder with everything redacted;
``--debug`` shows the (redacted) traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.journeys.conftest import BIN, Result, nps_text, run_command, write_csv
from tests.journeys.test_alerts import ADVICE, DELIVERY

pytestmark = pytest.mark.journey

EMAIL = "anna.schmidt@example.com"
PLUGIN = f'''"""An nps-text plugin whose encoder fails like a library bug would."""
from nps_text.encoders.registry import register_encoder


class BrokenEncoder:
    name = "broken-encoder"
    dim = 8
    version = "1"

    def __init__(self, batch_size: int = 64) -> None:
        pass

    def encode(self, texts):
        raise TypeError("object of type 'float' has no len() (while encoding the comment of {EMAIL})")


register_encoder("broken-encoder", BrokenEncoder)
'''


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("errors")
    work = root / "work"
    work.mkdir()
    (work / "broken_encoder.py").write_text(PLUGIN, encoding="utf-8")
    (work / "crash.yaml").write_text(
        "sentiment: {enabled: false}\nthemes: {encoder: broken-encoder}\nrunner: {plugins: [broken_encoder]}\n"
        "output: {formats: [parquet]}\n", encoding="utf-8",
    )
    rows = [f"{number},{score},{text}" for number, (score, text) in
            enumerate([(3, t) for t in DELIVERY] + [(9, t) for t in ADVICE], start=1)]
    write_csv(work / "weekly.csv", "id,score,comment", rows)
    return {"home": root / "home", "work": work}


def _crash(user: dict[str, Path], out: str, *options: str) -> Result:
    return nps_text("run", "weekly.csv", "--config", "crash.yaml", "--out", out, *options, cwd=user["work"],
                    home=user["home"], env={"PYTHONPATH": str(user["work"])}, timeout=600)


def test_an_unexpected_error_is_one_line_and_a_redacted_crash_report(user: dict[str, Path]) -> None:
    result = _crash(user, "out")
    assert result.returncode == 70, result.output  # README "Exit codes": an unexpected error
    assert "Traceback" not in result.output and EMAIL not in result.output
    lines = [line for line in result.stderr.splitlines() if not line.startswith("[")]  # "[6/8] themes" progress
    [report] = (user["work"] / "out").glob("crash-*.txt")
    assert lines == [
        "Error: unexpected error in stage 'themes' (TypeError: object of type 'float' has no len() (while encoding "
        f"the comment of [EMAIL])). A crash report is in {report.resolve()}; run again with --debug to see the traceback"
    ]
    text = report.read_text(encoding="utf-8")
    assert EMAIL not in text and "[EMAIL]" in text
    assert "stage: themes" in text and "nps-text: " in text and "python: " in text and "platform: " in text
    assert "Traceback (most recent call last)" in text and "broken_encoder.py" in text and "in encode" in text
    assert os.stat(report).st_mode & 0o077 == 0  # readable by its owner only
    assert not (user["work"] / "out" / "manifest.json").exists()  # nothing published


def test_debug_shows_the_redacted_traceback(user: dict[str, Path]) -> None:
    result = _crash(user, "out-debug", "--debug")
    assert result.returncode == 70, result.output
    assert "Traceback (most recent call last)" in result.stderr and "in encode" in result.stderr
    assert EMAIL not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: unexpected error in stage 'themes'")


def test_sentiment_of_a_list_of_texts(user: dict[str, Path]) -> None:
    texts = write_csv(user["work"] / "texts.csv", "Kommentar", [*DELIVERY[:2], *ADVICE[:2], "k.A."])
    result = nps_text("sentiment", str(texts), cwd=user["work"], home=user["home"], timeout=600)
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output and "at least a score" not in result.output
    written = pd.read_csv(user["work"] / "texts-sentiment.csv")
    assert written["Kommentar"].tolist()[:4] == [*DELIVERY[:2], *ADVICE[:2]]
    assert written["sentiment"].tolist()[:2] == ["negative", "negative"]
    assert written["sentiment"].tolist()[2:4] == ["positive", "positive"]
    assert written["sentiment"].isna().tolist()[4]  # "k.A." gets no sentiment


def test_an_unusable_prefect_home_is_one_line(user: dict[str, Path], tmp_path: Path) -> None:
    """A HOME that does not exist (a cron job's environment) printed the Prefect server's traceback."""
    missing = tmp_path / "no" / "such" / "home"
    result = run_command(
        [str(BIN / "nps-text"), "run", "weekly.csv", "--out", "out-home"], cwd=user["work"], home=user["home"],
        env={"HOME": str(missing), "PREFECT_HOME": str(missing / ".prefect")}, timeout=300,
    )
    assert result.returncode == 1, result.output
    assert "Traceback" not in result.output and "Warning" not in result.output
    [line] = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("[")]
    assert line.startswith("Error: the temporary Prefect API server did not start") and "PREFECT_HOME" in line
