"""Journey: ``nps-text run --runner dask`` on a real Dask scheduler and worker, and on a LocalCluster.

What the README's "Running on a Dask cluster" gives: ``dask scheduler`` and ``dask worker`` (here on 127.0.0.1,
started and stopped by the fixture), then ``nps-text run ... --runner dask --dask-address tcp://...``. The run
must exit 0, give the same responses as a local run (sentiment and theme ids), have done its model chunks on the
worker, and keep the terminal quiet: ``distributed`` printed ~35 INFO lines per run (scheduler, workers,
connections, teardown). A plain ``--runner dask`` (a temporary LocalCluster) is checked for the same.

Cost: three runs of the tiny survey with the default models (local, remote cluster, LocalCluster of one worker);
each worker process loads the models once; about 2-3 minutes per run on a busy shared 2-core machine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.journeys.conftest import BIN, Result, nps_text, write_csv
from tests.journeys.test_prefect import TWO_TOPICS, _start, _stop, _wait_until

pytestmark = [pytest.mark.journey, pytest.mark.slow]

MAX_DISTRIBUTED_LINES = 3
RUN_TIMEOUT = 900


def distributed_lines(result: Result) -> list[str]:
    """Terminal lines written by ``distributed`` (its loggers are named ``distributed.*``)."""
    return [line for line in result.output.splitlines() if re.search(r"\bdistributed\.\w", line)]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module: the user's home, the survey and every run's outputs."""
    return tmp_path_factory.mktemp("dask-journey")


@pytest.fixture(scope="module")
def survey(place: Path) -> Path:
    return write_csv(place / "tiny.csv", "id,score,comment", TWO_TOPICS)


@pytest.fixture(scope="module")
def local_run(place: Path, survey: Path) -> pd.DataFrame:
    """The reference: the same survey without Dask."""
    result = nps_text("run", str(survey), "--out", "local", cwd=place, home=place / "home", timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.output[-4000:]
    return pd.read_parquet(place / "local" / "responses.parquet")


@pytest.fixture(scope="module")
def scheduler(place: Path, free_port: Callable[[], int]) -> Iterator[tuple[str, Path]]:
    """``dask scheduler`` and one ``dask worker`` (one process, one thread) on 127.0.0.1; the address and the
    worker's log."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    home = place / "home"
    scheduler_log, worker_log = place / "scheduler.log", place / "worker.log"
    processes = [_start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                        home=home, env={}, log=scheduler_log, cwd=place)]
    try:
        _wait_until(lambda: "Scheduler at" in scheduler_log.read_text(errors="replace"), 120,
                    "the Dask scheduler did not start", scheduler_log)
        processes.append(_start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                 "--no-dashboard"], home=home, env={}, log=worker_log, cwd=place))
        _wait_until(lambda: "Registered to" in worker_log.read_text(errors="replace"), 180,
                    "the Dask worker did not register", worker_log)
        yield address, worker_log
    finally:
        for process in reversed(processes):
            _stop(process)


def _same_results(responses: pd.DataFrame, reference: pd.DataFrame) -> None:
    columns = ["response_id", "comment_status", "sentiment", "theme_id"]
    pd.testing.assert_frame_equal(responses[columns], reference[columns])
    assert responses["sentiment"].notna().sum() == 10
    assert responses["theme_id"].notna().sum() == 10
    pd.testing.assert_series_equal(responses["sentiment_confidence"], reference["sentiment_confidence"], atol=1e-5)


def test_run_on_a_dask_scheduler_and_worker(
    place: Path, survey: Path, local_run: pd.DataFrame, scheduler: tuple[str, Path]
) -> None:
    address, worker_log = scheduler
    result = nps_text("run", str(survey), "--runner", "dask", "--dask-address", address, "--out", "remote",
                      cwd=place, home=place / "home", timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.output[-4000:]
    assert len(distributed_lines(result)) <= MAX_DISTRIBUTED_LINES, "\n".join(distributed_lines(result))
    assert "11 rows in: 11 valid, 0 rejected" in result.stdout
    _same_results(pd.read_parquet(place / "remote" / "responses.parquet"), local_run)
    worker_said = worker_log.read_text(errors="replace")
    assert "sentiment-chunk" in worker_said and "embed-chunk" in worker_said  # the model work ran on the worker


def test_run_on_a_local_cluster_is_quiet(place: Path, survey: Path, local_run: pd.DataFrame) -> None:
    """A plain ``--runner dask`` (one LocalCluster worker process here, to keep the journey cheap)."""
    config = place / "one-worker.yaml"
    config.write_text("runner:\n  dask_workers: 1\n", encoding="utf-8")
    result = nps_text("run", str(survey), "--runner", "dask", "--config", str(config), "--out", "local-cluster",
                      cwd=place, home=place / "home", timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.output[-4000:]
    assert len(distributed_lines(result)) <= MAX_DISTRIBUTED_LINES, "\n".join(distributed_lines(result))
    assert "Traceback" not in result.output
    _same_results(pd.read_parquet(place / "local-cluster" / "responses.parquet"), local_run)
