"""The +5 % re-run in a warm served process (``flows/serve.py --warm``) against ``nps-text run``, side by side.

Usage (from the repository root; starts its own ``prefect server start`` on a free port with a temporary
PREFECT_HOME, and stops it):

    python benchmarks/warm_rerun.py                          # 20,000 rows
    python benchmarks/warm_rerun.py --rows 5000 --work-dir /tmp/nps-bench

Same surveys as ``rerun.py`` (``survey.py``; the +5 % survey's first N rows are the N-row survey). Two
variants, each into its own fresh out folder, one after the other:

* ``cli``: ``nps-text run survey.csv --out OUT``, then ``nps-text run survey_plus5.csv --out OUT`` (each a new
  process: imports, Prefect's temporary server, the models' loads);
* ``warm``: ``flows/serve.py weekly-nps --warm`` serving, then ``prefect deployment run`` with the parameters
  pointed at ``survey.csv`` and OUT, then at ``survey_plus5.csv``. Each run's time is its flow run's own
  (``flow run ...: Completed in S s`` in the server's log: from the claim to the final state; the trigger's
  own command and the poll interval are not in it) and, for comparison, from trigger to the final state as
  seen by the API.

``--config`` gives every run a pipeline config (for example ``output: {formats: [parquet, csv, duckdb]}``: a
scheduled run without the workbook, which ``nps-text export OUT --format xlsx`` writes on request). Prints wall
seconds, the +5 % run's share of its variant's first run, and the warm server's peak RSS. Run on a
quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import child_env, nps_text_command  # noqa: E402
from measure import run_measured  # noqa: E402
from rerun import rerun_surveys  # noqa: E402
from survey import DEFAULT_DATA_DIR  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(what)


def _state(url: str, flow_run_id: str) -> str:
    import httpx

    return str(httpx.get(f"{url}/flow_runs/{flow_run_id}", timeout=10).json()["state_type"])


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def warm(survey: Path, survey_more: Path, out: Path, work: Path, config: Path | None) -> dict[str, float]:
    port = _free_port()
    home = work / "prefect_home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url = f"http://127.0.0.1:{port}/api"
    env = {**child_env(), "PREFECT_HOME": str(home), "PREFECT_API_URL": url}
    server_log = open(work / "prefect_server.log", "w")  # noqa: SIM115
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              stdout=server_log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    serve_log_path = work / "warm_serve.log"
    serve_log = open(serve_log_path, "w")  # noqa: SIM115
    serving = None
    try:
        import httpx

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(healthy, 240, "the Prefect server did not start")
        serving = subprocess.Popen([str(BIN / "python"), "flows/serve.py", "weekly-nps", "--warm", "--runs", "2",
                                    "--poll", "0.5"], cwd=REPO, stdout=serve_log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        _wait(lambda: "served warm" in serve_log_path.read_text(errors="replace"), 240, "serve.py --warm did not start")
        seen: dict[str, float] = {}
        for name, path in (("first", survey), ("+5 %", survey_more)):
            params = {"params": {"input": str(path), "out": str(out), **({"config": str(config)} if config else {})}}
            started = time.perf_counter()
            triggered = subprocess.run([str(BIN / "prefect"), "deployment", "run", "nps-text/weekly-nps", "--params",
                                        json.dumps(params)], env=env, capture_output=True, text=True, check=True)
            flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", triggered.stdout).group(1)  # type: ignore[union-attr]
            _wait(lambda run=flow_run_id: _state(url, run) in {"COMPLETED", "FAILED", "CRASHED"}, 3600,
                  f"{name} did not end")
            seen[f"{name} (trigger to end)"] = time.perf_counter() - started
            if _state(url, flow_run_id) != "COMPLETED":
                raise SystemExit(f"warm {name} ended {_state(url, flow_run_id)}; see {serve_log_path}")
        seen["server peak RSS MiB"] = _vm_hwm_mib(serving.pid)
        serving.wait(timeout=120)
        own = [float(value) for value in re.findall(r"Completed in ([0-9.]+) s", serve_log_path.read_text())]
        seen["first"], seen["+5 %"] = own[0], own[1]
        return seen
    finally:
        for process in (serving, server):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/nps-text-bench/warm"))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--variants", default="cli,warm", help="comma-separated: cli, warm")
    parser.add_argument("--config", type=Path, default=None, help="pipeline config of every run (default: built-in)")
    args = parser.parse_args(argv)

    work = (args.work_dir / f"rows_{args.rows}_seed_{args.seed}").resolve()
    survey, survey_more = rerun_surveys(work, args.rows, args.seed, args.data_dir)
    results: dict[str, dict[str, float]] = {}
    for variant in args.variants.split(","):
        out = work / f"out_{variant}"
        shutil.rmtree(out, ignore_errors=True)
        print(f"running {variant} ...", flush=True)
        if variant == "cli":
            seen = {}
            for name, path in (("first", survey), ("+5 %", survey_more)):
                config = ["--config", str(args.config.resolve())] if args.config else []
                measured = run_measured([*nps_text_command(), "run", str(path), "--out", str(out), *config],
                                        work / f"cli_{name.replace(' %', 'pct').replace('+', 'plus')}.log", child_env())
                if measured.returncode:
                    raise SystemExit(f"cli {name} failed; see {work}")
                seen[name], seen[f"{name} peak RSS MiB"] = measured.wall_s, measured.peak_rss_mib
            results[variant] = seen
        else:
            results[variant] = warm(survey, survey_more, out, work, args.config.resolve() if args.config else None)
        print(f"  {json.dumps({key: round(value, 1) for key, value in results[variant].items()})}", flush=True)
    print()
    print(f"survey: {args.rows:,} rows (seed {args.seed}); +5 %: {survey_more}")
    print(f"{'variant':<8} {'first s':>9} {'+5 % s':>9} {'share':>7}")
    for variant, seen in results.items():
        print(f"{variant:<8} {seen['first']:>9.1f} {seen['+5 %']:>9.1f} {100 * seen['+5 %'] / seen['first']:>6.1f}%")
    (work / "warm_rerun.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
