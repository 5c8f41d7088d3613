"""Serve the deployments in ``flows/prefect.yaml`` from this process (no work pool needed).

Needs a running Prefect server: schedules do not run on the ephemeral one.

Serving and ``prefect deploy --prefect-file flows/prefect.yaml`` register the same deployment names; whichever
ran last owns them. The served deployments carry this checkout as their code source (Prefect's local storage:
a ``set_working_directory`` pull step to the repository), so a run triggered while this script serves them
finds the flow whether or not ``prefect deploy`` registered them first, and a worker still finds it after
``prefect deploy`` re-registers them with its own pull step.

    prefect server start --host 127.0.0.1 &
    export PREFECT_API_URL=http://127.0.0.1:4200/api
    python flows/serve.py                 # all deployments
    python flows/serve.py weekly-nps      # just one
    python flows/serve.py --warm          # every run in this process: imports and models stay loaded

Prefect's ``serve`` starts a new Python process for every flow run: imports, the models' loads and the Prefect
client's start are paid again each time (about 15 s of a re-run with 5 % new comments at 20,000 rows).
``--warm`` runs each due flow run in this process instead, one after the other, with the models an earlier run
loaded still loaded (``keep_models``: ``runner.release_models: false``). What it costs: the models' memory
between runs (the process peaked at 2.1 GiB on 20,000-row surveys with the defaults), and a run that crashes
the process (out of memory) ends the server too, so run it under a supervisor (systemd, a container's restart
policy) that starts it again.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PREFECT_FILE = HERE / "prefect.yaml"


def load_deployments(path: Path = PREFECT_FILE) -> list[dict[str, Any]]:
    """The deployment entries of a ``prefect.yaml``."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(document.get("deployments", []))


def build_deployments(names: list[str] | None = None) -> list[Any]:
    """``RunnerDeployment`` objects for the named deployments (all if ``names`` is empty)."""
    from prefect import Flow

    chosen = []
    for entry in load_deployments():
        if names and entry["name"] not in names:
            continue
        # From the checkout as a source, not a loaded flow object: a deployment updated by serve keeps the `path`
        # of an earlier `prefect deploy` (None: its code comes from pull steps) while serve clears those pull
        # steps, and every triggered run then crashed with FileNotFoundError '<cwd>/None'. Local storage gives
        # the served deployment a pull step of its own (set_working_directory to the repository).
        flow = Flow.from_source(source=str(REPO), entrypoint=entry["entrypoint"])
        schedules = entry.get("schedules") or []
        cron = schedules[0]["cron"] if schedules else None
        timezone = schedules[0].get("timezone") if schedules else None
        kwargs: dict[str, Any] = {"name": entry["name"], "parameters": entry.get("parameters", {}),
                                  "tags": entry.get("tags", []), "description": entry.get("description")}
        if cron:
            from prefect.client.schemas.schedules import CronSchedule

            kwargs["schedule"] = CronSchedule(cron=cron, timezone=timezone)
        chosen.append(flow.to_deployment(**kwargs))
    return chosen


def warm_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """A flow run's parameters with ``keep_models`` set: the models stay loaded for the next run."""
    params = dict(parameters.get("params") or {})
    params["keep_models"] = True
    return {**parameters, "params": params}


def serve_warm(deployments: list[Any], *, poll_seconds: float = 5.0, runs: int | None = None) -> int:
    """Register ``deployments`` and run each of their due flow runs (scheduled or triggered) in this process, the
    oldest first, until ``runs`` have run (``None``: forever). Returns how many ran.

    A run is claimed as Prefect's own runner claims it (the Pending state proposed; another runner's claim
    wins), then :func:`prefect.flow_engine.run_flow` runs it here with :func:`warm_parameters`: its states, logs
    and task runs reach the server as a served run's do. A failed run is recorded as failed and the next one runs.
    """
    from datetime import UTC, datetime

    from prefect.client.orchestration import get_client
    from prefect.exceptions import Abort
    from prefect.flow_engine import run_flow
    from prefect.flows import load_flow_from_entrypoint
    from prefect.states import Pending
    from prefect.utilities.engine import propose_state_sync

    entrypoints = {deployment.apply(): deployment.entrypoint for deployment in deployments}
    flows: dict[str, Any] = {}
    names = ", ".join(deployment.name for deployment in deployments)
    print(f"{len(entrypoints)} deployment(s) are being served warm in this process ({names}); Ctrl-C stops",
          flush=True)
    done = 0
    with get_client(sync_client=True) as client:
        while runs is None or done < runs:
            due = client.get_scheduled_flow_runs_for_deployments(
                deployment_ids=list(entrypoints), scheduled_before=datetime.now(UTC)
            )
            for flow_run in sorted(due, key=lambda run: (run.expected_start_time or run.created, str(run.id))):
                try:
                    claimed = propose_state_sync(client, Pending(), flow_run_id=flow_run.id)
                except Abort:
                    continue
                if not claimed.is_pending():
                    continue
                entrypoint = entrypoints[flow_run.deployment_id]
                if entrypoint not in flows:
                    flows[entrypoint] = load_flow_from_entrypoint(entrypoint)
                started = time.perf_counter()
                state = run_flow(flows[entrypoint], flow_run=client.read_flow_run(flow_run.id),
                                 parameters=warm_parameters(flow_run.parameters), return_type="state")
                done += 1
                print(f"flow run {flow_run.name} ({flow_run.id}): {getattr(state, 'name', state)} in "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
                gc.collect()  # between runs: what the run left in reference cycles (its stages' collections skip the kept models)
                if runs is not None and done >= runs:
                    break
            else:
                time.sleep(poll_seconds)
    return done


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="deployment names in flows/prefect.yaml (default: all)")
    parser.add_argument("--warm", action="store_true", help="run every flow run in this process (models stay loaded)")
    parser.add_argument("--poll", type=float, default=5.0, help="--warm: seconds between looks for due runs")
    parser.add_argument("--runs", type=int, default=None, help="--warm: stop after this many runs (default: never)")
    args = parser.parse_args(argv)
    if not os.environ.get("PREFECT_API_URL"):
        sys.exit("PREFECT_API_URL is not set: start `prefect server start` and export "
                 "PREFECT_API_URL=http://127.0.0.1:4200/api (schedules do not run on the ephemeral server)")
    os.chdir(REPO)  # deployment parameters use paths relative to the repository
    deployments = build_deployments(args.names)
    if not deployments:
        sys.exit(f"no deployment named {args.names} in {PREFECT_FILE}")
    if args.warm:
        sys.path.insert(0, str(REPO))  # the entrypoints are files of this checkout
        try:
            serve_warm(deployments, poll_seconds=args.poll, runs=args.runs)
        except KeyboardInterrupt:
            print("stopped", flush=True)
        return
    from prefect import serve

    serve(*deployments)


if __name__ == "__main__":
    main(sys.argv[1:])
