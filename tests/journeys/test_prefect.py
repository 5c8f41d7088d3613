"""Journey: scheduled runs on a real Prefect server, as the README's "Scheduling with Prefect" gives them.

A ``prefect server start --host 127.0.0.1`` on a free port (started and stopped here), then what a data engineer
types: ``prefect work-pool create``, ``prefect deploy --prefect-file flows/prefect.yaml --all``, ``prefect
deployment run`` (parameters overridden to a tiny survey and a temporary out folder), a ``prefect worker start
--run-once``; and ``python flows/serve.py`` in both orders with ``prefect deploy`` (serving after deploying crashed
every triggered run with ``FileNotFoundError: .../None``); ``python flows/serve.py --warm`` running two runs in
its own process. Each triggered run must complete and write its outputs.

Cost: three full flow runs on 11 rows (the baseline sentiment head: loading models dominates), the server's start
and three deploys; about 9 minutes with the default model on a busy shared 2-core machine, less with the baseline.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.journeys.conftest import BIN, REPO, Result, run_command, user_env, write_csv

pytestmark = [pytest.mark.journey, pytest.mark.slow]

POOL = "nps-local"  # the work pool flows/prefect.yaml names
DEPLOYMENT = "nps-text/weekly-nps"
RUN_TIMEOUT = 600


@dataclass
class PrefectServer:
    """A running ``prefect server start`` and the environment a user has with it."""

    url: str
    home: Path
    env: dict[str, str]

    def prefect(self, *args: str, cwd: Path = REPO, timeout: float = 300) -> Result:
        """``prefect ARGS`` as the user types it (from the repository, as the README does)."""
        return run_command([str(BIN / "prefect"), *args], cwd=cwd, home=self.home, env=self.env, timeout=timeout)


def _start(args: list[str], *, home: Path, env: dict[str, str], log: Path, cwd: Path = REPO) -> subprocess.Popen[bytes]:
    """A background process in its own session (so its whole process tree can be stopped)."""
    with log.open("wb") as handle:
        return subprocess.Popen(args, cwd=cwd, env=user_env(home, env), stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group we started, then SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader (serve.py's flow runs)
        os.killpg(process.pid, signal.SIGKILL)


def _wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    tail = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
    pytest.fail(f"{what} within {timeout:.0f} s\n{tail}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, free_port: Callable[[], int]) -> Iterator[PrefectServer]:
    """``prefect server start --host 127.0.0.1 --port P`` with its own PREFECT_HOME, stopped after the module."""
    import httpx

    home = tmp_path_factory.mktemp("prefect-user") / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = home.parent / "server.log"
    process = _start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                     home=home, env={"PREFECT_UI_ENABLED": "false"}, log=log)

    def healthy() -> bool:
        if process.poll() is not None:
            pytest.fail(f"prefect server exited with {process.returncode}\n{log.read_text(errors='replace')[-4000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait_until(healthy, 240, "the Prefect server did not answer", log)
        yield PrefectServer(url=url, home=home, env={"PREFECT_API_URL": url, "NPS_TEXT_HOME": str(REPO)})
    finally:
        _stop(process)


TWO_TOPICS = [
    "1,2,Die Lieferung kam viel zu spät an.",
    "2,3,Lieferung hat zwei Wochen gedauert.",
    "3,1,Paket kam sehr spät und beschädigt an.",
    "4,4,Die Lieferung war langsam und verspätet.",
    "5,2,Versand dauerte ewig lange.",
    "6,10,Der Kundenservice war sehr freundlich und hilfsbereit.",
    "7,9,Sehr netter Kundenservice am Telefon.",
    "8,10,Freundliche Beratung durch den Service.",
    "9,9,Der Support hat mir schnell und freundlich geholfen.",
    "10,10,Toller Kundenservice sehr kompetent.",
    "11,7,",
]
"""11 responses (``id,score,comment``): two clear topics (late delivery, friendly service) of five comments each
and one response without a comment."""


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("survey") / "tiny.csv", "id,score,comment", TWO_TOPICS)


@pytest.fixture(scope="module")
def light_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped baseline sentiment head instead of the fine-tuned transformer: this journey is about Prefect,
    and the baseline loads in seconds (the default model's load dominated each run); the wheel and Dask journeys
    run the default model."""
    path = tmp_path_factory.mktemp("config") / "light.yaml"
    path.write_text("sentiment:\n  model: baseline\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pool(server: PrefectServer) -> str:
    created = server.prefect("work-pool", "create", POOL, "--type", "process")
    assert created.returncode == 0, created.output[-3000:]
    return POOL


def _deploy(server: PrefectServer) -> None:
    deployed = server.prefect("deploy", "--prefect-file", "flows/prefect.yaml", "--all")
    assert deployed.returncode == 0, deployed.output[-3000:]
    assert "nps-text/weekly-nps" in deployed.output


def _trigger(server: PrefectServer, survey: Path, out: Path, config: Path) -> str:
    """``prefect deployment run`` with the run's parameters pointed at the tiny survey; the flow run's id."""
    params = {"params": {"input": str(survey), "out": str(out), "config": str(config)}}
    triggered = server.prefect("deployment", "run", DEPLOYMENT, "--params", json.dumps(params))
    assert triggered.returncode == 0, triggered.output[-3000:]
    match = re.search(r"UUID: ([0-9a-f-]{36})", triggered.output)
    assert match, triggered.output
    return match.group(1)


def _state(server: PrefectServer, flow_run_id: str) -> str:
    import httpx

    response = httpx.get(f"{server.url}/flow_runs/{flow_run_id}", timeout=10)
    response.raise_for_status()
    return str(response.json()["state_type"])


def _wait_for_final_state(server: PrefectServer, flow_run_id: str, log: Path) -> str:
    final = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
    _wait_until(lambda: _state(server, flow_run_id) in final, RUN_TIMEOUT, f"flow run {flow_run_id} did not end", log)
    return _state(server, flow_run_id)


def _check_outputs(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows_in"] == 11 and manifest["rows_valid"] == 11
    responses = pd.read_parquet(out / "responses.parquet")
    assert len(responses) == 11
    assert responses["sentiment"].notna().sum() == 10
    assert (out / "report.html").is_file()


def _serve(server: PrefectServer, log: Path) -> subprocess.Popen[bytes]:
    """``python flows/serve.py`` in the background, once it serves both deployments."""
    import httpx

    process = _start([str(BIN / "python"), "flows/serve.py"], home=server.home, env=server.env, log=log)

    def serving() -> bool:
        if process.poll() is not None:
            pytest.fail(f"flows/serve.py exited with {process.returncode}\n{log.read_text(errors='replace')[-4000:]}")
        return "are being served" in log.read_text(errors="replace")

    _wait_until(serving, 180, "flows/serve.py did not start serving", log)
    deployments = httpx.post(f"{server.url}/deployments/filter", json={}, timeout=10).json()
    assert {d["name"] for d in deployments} >= {"weekly-nps", "monthly-reviews-en"}
    return process


def test_deploy_and_a_worker_run_the_deployment(
    server: PrefectServer, pool: str, survey: Path, light_config: Path, tmp_path: Path
) -> None:
    _deploy(server)
    out = tmp_path / "worker-out"
    flow_run_id = _trigger(server, survey, out, light_config)
    worker = server.prefect("worker", "start", "--pool", pool, "--run-once", timeout=RUN_TIMEOUT)
    assert worker.returncode == 0, worker.output[-4000:]
    assert _state(server, flow_run_id) == "COMPLETED", worker.output[-4000:]
    _check_outputs(out)


def test_serve_after_deploy_runs_a_triggered_run(
    server: PrefectServer, pool: str, survey: Path, light_config: Path, tmp_path: Path
) -> None:
    """The README's two ways, one after the other: deploy, then serve. Every run crashed before."""
    _deploy(server)
    log = tmp_path / "serve.log"
    process = _serve(server, log)
    try:
        out = tmp_path / "served-out"
        state = _wait_for_final_state(server, _trigger(server, survey, out, light_config), log)
        assert state == "COMPLETED", log.read_text(errors="replace")[-4000:]
        assert "FileNotFoundError" not in log.read_text(errors="replace")
        _check_outputs(out)
    finally:
        _stop(process)


def test_serve_before_deploy_runs_a_triggered_run(
    server: PrefectServer, pool: str, survey: Path, light_config: Path, tmp_path: Path
) -> None:
    """Serve first (fresh deployments), then ``prefect deploy`` re-registers them: the served process still runs them."""
    for name in ("nps-text/weekly-nps", "nps-text/monthly-reviews-en"):
        server.prefect("deployment", "delete", name)
    log = tmp_path / "serve.log"
    process = _serve(server, log)
    try:
        _deploy(server)
        out = tmp_path / "served-out"
        state = _wait_for_final_state(server, _trigger(server, survey, out, light_config), log)
        assert state == "COMPLETED", log.read_text(errors="replace")[-4000:]
        _check_outputs(out)
    finally:
        _stop(process)


def test_warm_serve_runs_each_run_in_its_process_with_the_models_kept(
    server: PrefectServer, survey: Path, tmp_path: Path
) -> None:
    """``python flows/serve.py --warm``: two triggered runs (the second forced, every text cached) run in the
    serving process itself, one after the other, and the second finds the sentiment model still loaded (a run in
    a fresh process with every text cached does not load it: ``models.sentiment.loaded`` false)."""
    log = tmp_path / "warm.log"
    process = _start([str(BIN / "python"), "flows/serve.py", "weekly-nps", "--warm", "--runs", "2", "--poll", "1"],
                     home=server.home, env=server.env, log=log)
    try:
        _wait_until(lambda: "served warm" in log.read_text(errors="replace") or process.poll() is not None, 180,
                    "flows/serve.py --warm did not start serving", log)
        assert process.poll() is None, log.read_text(errors="replace")[-4000:]
        out = tmp_path / "warm-out"
        config = REPO / "pipeline" / "default.yaml"
        first = _wait_for_final_state(server, _trigger(server, survey, out, config), log)
        assert first == "COMPLETED", log.read_text(errors="replace")[-4000:]
        _check_outputs(out)
        params = {"params": {"input": str(survey), "out": str(out), "config": str(config), "force": True}}
        triggered = server.prefect("deployment", "run", DEPLOYMENT, "--params", json.dumps(params))
        assert triggered.returncode == 0, triggered.output[-3000:]
        assert process.wait(timeout=RUN_TIMEOUT) == 0, log.read_text(errors="replace")[-4000:]
    finally:
        _stop(process)
    text = log.read_text(errors="replace")
    assert len(re.findall(r"^flow run \S+ \([0-9a-f-]{36}\): Completed in", text, flags=re.MULTILINE)) == 2, text[-4000:]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["models"]["cache"]["sentiment"]["misses"] == 0  # every comment cached ...
    assert manifest["models"]["sentiment"]["loaded"] is True  # ... and the model still loaded from the first run
    _check_outputs(out)


def test_no_comment_at_rest_in_prefect_after_worker_and_served_runs(server: PrefectServer) -> None:
    """Runs started by a worker or by serve.py do not go through the CLI's settings: nothing of the survey may
    land in Prefect's result storage or database anyway (the flow and its tasks never persist results)."""
    comments = [row.split(",", 2)[2].encode() for row in TWO_TOPICS if row.split(",", 2)[2]]
    found = []
    for path in (server.home).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(server.home)}: {comment!r}" for comment in comments if comment in data]
    assert not found, found
    storage = server.home / ".prefect" / "storage"
    assert not storage.exists() or not any(storage.iterdir()), sorted(p.name for p in storage.iterdir())
