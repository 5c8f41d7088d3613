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
"""

from __future__ import annotations

import os
import sys
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


def main(argv: list[str]) -> None:
    from prefect import serve

    if not os.environ.get("PREFECT_API_URL"):
        sys.exit("PREFECT_API_URL is not set: start `prefect server start` and export "
                 "PREFECT_API_URL=http://127.0.0.1:4200/api (schedules do not run on the ephemeral server)")
    os.chdir(REPO)  # deployment parameters use paths relative to the repository
    deployments = build_deployments(argv)
    if not deployments:
        sys.exit(f"no deployment named {argv} in {PREFECT_FILE}")
    serve(*deployments)


if __name__ == "__main__":
    main(sys.argv[1:])
