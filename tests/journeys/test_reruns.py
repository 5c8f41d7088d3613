"""Journey: a weekly re-run pays only for what is new (the real ``nps-text run``, real models and Prefect).

An unchanged export re-run into the same folder says so in one line and exits 0 in seconds, without starting
Prefect or touching a file; ``--force`` runs anyway; a run whose tables do not change (only the CSV delimiter
did) keeps the report and the workbook as they were; a changed export runs in full.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.journeys.conftest import Result, nps_text, write_csv

pytestmark = pytest.mark.journey

HEADER = "id,score,kommentar,datum"
ROWS = [
    "1,2,Die Lieferung kam viel zu spät,05.01.2026",
    "2,9,Sehr freundliches Personal,06.01.2026",
    "3,3,Lieferung zu spät und Paket beschädigt,07.01.2026",
    "4,10,Alles super,08.01.2026",
    "5,1,Hotline nicht erreichbar,12.01.2026",
    "6,7,Preis ist zu hoch,13.01.2026",
    "7,2,Lieferung verspätet,14.01.2026",
    "8,9,,15.01.2026",
]


def _files(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.iterdir()) if path.is_file() and path.name != ".lock"}


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in out.iterdir() if path.is_file()}


def _flow_runs(home: Path) -> int:
    """Flow runs in the Prefect database the CLI's temporary API server keeps under ``$PREFECT_HOME``."""
    with sqlite3.connect(home / ".prefect" / "prefect.db") as connection:
        return int(connection.execute("select count(*) from flow_run").fetchone()[0])


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    work = tmp_path_factory.mktemp("reruns")
    write_csv(work / "weekly.csv", HEADER, ROWS)
    yield {"work": work, "home": work / "home", "out": work / "out"}


@pytest.fixture(scope="module")
def first(user: dict[str, Path]) -> Result:
    result = nps_text("run", "weekly.csv", "--out", "out", cwd=user["work"], home=user["home"], timeout=900)
    assert result.returncode == 0, result.output[-3000:]
    return result


def test_an_unchanged_rerun_does_nothing_and_says_so(user: dict[str, Path], first: Result) -> None:
    out, home = user["out"], user["home"]
    before, runs, manifest = _files(out), _flow_runs(home), _manifest(out)
    assert runs == 1
    again = nps_text("run", "weekly.csv", "--out", "out", cwd=user["work"], home=home, timeout=120)
    assert again.returncode == 0, again.output
    assert again.stdout.splitlines() == [
        f"Up to date: out already holds the results of weekly.csv (sha256 {manifest['input']['sha256'][:12]}…, "
        f"run {manifest['run_id']} at {manifest['finished_at'][:10]} {manifest['finished_at'][11:16]} UTC); "
        "nothing to do. Use --force to run again."
    ]
    assert again.stderr == ""  # no progress lines: no stage ran
    assert _files(out) == before  # every output byte-identical, the manifest too (same run id)
    assert _flow_runs(home) == runs  # Prefect was not started: no new flow run
    assert again.seconds < 10, again.seconds


def test_force_runs_again_with_the_same_tables(user: dict[str, Path], first: Result) -> None:
    out, home = user["out"], user["home"]
    before, runs, run_id = _files(out), _flow_runs(home), _manifest(out)["run_id"]
    stamps = _stamps(out)
    forced = nps_text("run", "weekly.csv", "--out", "out", "--force", cwd=user["work"], home=home, timeout=900)
    assert forced.returncode == 0, forced.output[-3000:]
    assert "8 rows in: 8 valid, 0 rejected" in forced.stdout and "Up to date" not in forced.output
    manifest = _manifest(out)
    assert manifest["run_id"] != run_id and _flow_runs(home) == runs + 1
    for name in ("responses.parquet", "themes.parquet", "improvement_areas.parquet", "responses.csv"):
        assert _files(out)[name] == before[name], name
    assert _stamps(out)["report.html"] != stamps["report.html"]  # forced: written again
    assert _stamps(out)["nps_text.xlsx"] != stamps["nps_text.xlsx"]


def test_a_run_with_the_same_tables_keeps_the_report_and_workbook(user: dict[str, Path], first: Result) -> None:
    """Only the CSV delimiter changed: the run is not up to date, but only the CSV files are written again."""
    out, work = user["out"], user["work"]
    (work / "semicolon.yaml").write_text('output: {csv_delimiter: ";"}\n', encoding="utf-8")
    stamps, before = _stamps(out), _files(out)
    result = nps_text("run", "weekly.csv", "--config", "semicolon.yaml", "--out", "out", cwd=work, home=user["home"],
                      timeout=900)
    assert result.returncode == 0, result.output[-3000:]
    after = _stamps(out)
    assert set(after) == set(stamps)  # the published folder is complete
    rewritten = sorted(name for name in after if after[name] != stamps[name] and not name.startswith("."))
    assert rewritten == sorted(["manifest.json", *(name for name in after if name.endswith(".csv"))])
    assert b";" in _files(out)["responses.csv"].splitlines()[0] and before["report.html"] == _files(out)["report.html"]


def test_a_changed_export_runs_in_full(user: dict[str, Path], first: Result) -> None:
    work = user["work"]
    write_csv(work / "weekly.csv", HEADER, [*ROWS, "9,0,Niemand ruft zurück,16.01.2026"])
    result = nps_text("run", "weekly.csv", "--out", "out", cwd=work, home=user["home"], timeout=900)
    assert result.returncode == 0, result.output[-3000:]
    assert "9 rows in: 9 valid, 0 rejected" in result.stdout and "Up to date" not in result.output
    assert _manifest(user["out"])["rows_in"] == 9
