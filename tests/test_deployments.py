"""Every deployment in flows/prefect.yaml imports and its parameters validate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


def _deployments(repo_root: Path) -> list[dict]:
    return yaml.safe_load((repo_root / "flows" / "prefect.yaml").read_text())["deployments"]


def test_there_are_scheduled_deployments(repo_root: Path) -> None:
    deployments = _deployments(repo_root)
    assert deployments
    assert any(entry["schedules"][0]["cron"] == "0 6 * * 1" for entry in deployments)  # weekly


@pytest.mark.parametrize("index", [0, 1])
def test_entrypoint_imports_and_parameters_validate(repo_root: Path, index: int) -> None:
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.flows import load_flow_from_entrypoint

    from nps_text.config import load_config
    from nps_text.params import RunParameters

    entry = _deployments(repo_root)[index]
    flow = load_flow_from_entrypoint(str(repo_root / entry["entrypoint"]))
    validated = flow.validate_parameters(entry["parameters"])
    params = validated["params"]
    # The entrypoint is loaded from its file path (as a worker does), so the class is a twin of ours.
    params = RunParameters.model_validate(params.model_dump())
    assert (repo_root / params.input).exists()
    load_config(repo_root / params.config)
    for schedule in entry["schedules"]:
        CronSchedule(cron=schedule["cron"], timezone=schedule.get("timezone"))


def test_serve_script_builds_every_deployment(repo_root: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve", repo_root / "flows" / "serve.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    deployments = module.build_deployments([])
    assert [d.name for d in deployments] == [e["name"] for e in _deployments(repo_root)]
    assert all(d.schedules for d in deployments)


def test_served_deployments_bring_their_own_code_location(repo_root: Path) -> None:
    """Serving updates deployments that `prefect deploy` registered: Prefect's update keeps their `path` (None)
    but clears their pull steps, and every triggered run crashed with FileNotFoundError '<cwd>/None'. The served
    deployments carry the checkout as local storage, which Prefect registers as their own pull step."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve", repo_root / "flows" / "serve.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for deployment in module.build_deployments([]):
        assert deployment.storage is not None, deployment.name
        step = deployment.storage.to_pull_step()
        assert step == {"prefect.deployments.steps.set_working_directory": {"directory": str(repo_root.resolve())}}
        assert deployment.entrypoint == "nps_text/flow.py:nps_text_flow"


def test_warm_serving_keeps_the_models_of_every_run(repo_root: Path) -> None:
    """``flows/serve.py --warm`` runs each flow run with ``keep_models`` (the models stay loaded for the next run)
    and leaves the deployment's other parameters as they are."""
    import importlib.util

    from nps_text.params import RunParameters, run_config

    spec = importlib.util.spec_from_file_location("serve", repo_root / "flows" / "serve.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parameters = {"params": {"input": "data/demo_de.csv", "out": "out/weekly-nps", "config": "pipeline/default.yaml"}}
    warm = module.warm_parameters(parameters)
    assert warm == {"params": {**parameters["params"], "keep_models": True}}
    assert parameters["params"].get("keep_models") is None  # the deployment's own parameters are not changed
    params = RunParameters(**{**warm["params"], "config": str(repo_root / "pipeline" / "default.yaml")})
    assert run_config(params).runner.release_models is False
