"""Pipeline commands: ``run`` (the whole job as a local Prefect flow) and ``validate-config``.

Without ``PREFECT_API_URL``, ``run`` starts its own temporary Prefect API server (what Prefect's
"ephemeral mode" does) as a child that dies with the CLI: on Linux it gets ``PR_SET_PDEATHSIG``, so even a
SIGKILLed ``nps-text run`` leaves no server process behind (Prefect's own ephemeral server only stops
through ``atexit``, which a killed process never reaches).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from nps_text.params import RunParameters

DB_PASSWORD_ENV = "NPS_TEXT_DB_PASSWORD"


def _quiet_environment(verbose: bool) -> None:
    # Set at run time by the CLI (the process's owner), never at import.
    os.environ["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] = "false"  # nothing of the survey in result storage
    import warnings

    # An unusable PREFECT_HOME is reported in one line when the API server cannot start (below).
    warnings.filterwarnings("ignore", message="Failed to create the Prefect home directory")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
    if not verbose:
        # Quiet mode: the CLI prints progress and a one-line error itself; Prefect's own error logs
        # would repeat that error with a full traceback.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    else:  # --verbose: the Dask cluster's INFO logs too (nps_text.runner keeps warnings and above otherwise)
        os.environ.setdefault("DASK_DISTRIBUTED__LOGGING__DISTRIBUTED", "info")


@click.command("run")
@click.argument("input_path", metavar="INPUT")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Pipeline config YAML (default: built-in defaults, as in pipeline/default.yaml).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out", show_default=True,
              help="Output folder.")
@click.option("--query", "sql_query", default=None, help="SQL query, when INPUT is a SQLAlchemy URL.")
@click.option("--password-env", "password_env", default=None, metavar="NAME",
              help=f"Environment variable holding the database password (a password in the URL is moved to "
                   f"{DB_PASSWORD_ENV} for the run; it never reaches Prefect).")
@click.option("--to-db", "to_db", default=None, metavar="URL",
              help="Also write every table to this SQLAlchemy URL (no password in it: output.database_password_env "
                   "or PGPASSWORD); overrides output.database.")
@click.option("--runner", "runner", type=click.Choice(["local", "dask"]), default=None,
              help="Where the model steps run (overrides runner.runner): local, or mapped over a Dask cluster.")
@click.option("--dask-address", "dask_address", default=None, metavar="tcp://HOST:8786",
              help="Scheduler of an existing Dask cluster (implies --runner dask); default: a LocalCluster.")
@click.option("--force", is_flag=True,
              help="Run even when --out already holds the results of this input, config and version, and write "
                   "every output again.")
@click.option("--verbose", "-v", is_flag=True, help="Show Prefect's logs.")
@click.option("--debug", is_flag=True, help="Show the (redacted) traceback of an error (as nps-text --debug run).")
def run_command(
    input_path: str, config_path: str | None, out_dir: str, sql_query: str | None, password_env: str | None,
    verbose: bool, to_db: str | None = None, runner: str | None = None, dask_address: str | None = None,
    force: bool = False, debug: bool = False,
) -> None:
    """Run the whole pipeline on INPUT (CSV, XLSX, Parquet, JSONL or a SQLAlchemy URL).

    Runs the Prefect flow locally; no Prefect server is needed. Writes responses, rejected rows, NPS summary,
    themes, improvement areas, follow-up lists, report.html and manifest.json to --out: staged in
    --out/.staging-<run>, published by renames at the end (manifest last). One run per --out at a time.
    Alerts are sent after publishing; a failed alert channel exits 3 (alerts.on_failure: warn makes it a
    warning). An unexpected error writes a redacted crash report to --out/crash-<time>.txt and exits 70.

    Re-runs: when --out already holds the results of this input (same bytes), config, models and nps-text
    version, and no later run failed there, the run does nothing (no Prefect, no model, no database write, no
    alert) and says so in one line; --force runs anyway. Otherwise outputs whose content would not change
    (the report and the workbook are the slow ones) are kept from the last run instead of written again.

    Examples:

        nps-text run data/sample_reviews_en.csv --out out/sample

        nps-text run survey.xlsx --config pipeline/default.yaml --out out/weekly

        nps-text run sqlite:///survey.db --query "select * from responses" --out out/db

        NPS_DB_PW=... nps-text run postgresql://nps@db/survey --password-env NPS_DB_PW --query "..."

        nps-text run survey.parquet --runner dask --dask-address tcp://scheduler:8786 --out out/big
    """
    from nps_text.cli import crash

    crash.context.folder = Path(out_dir)
    crash.context.debug = crash.context.debug or debug
    _quiet_environment(verbose)
    from nps_text.config import load_config
    from nps_text.params import RunParameters, split_password

    config = load_config(config_path)  # fail fast, before Prefect starts, on a bad config
    if to_db:
        from nps_text.alerts_config import database_url_problem
        from nps_text.errors import ConfigError

        if problem := database_url_problem(to_db):
            raise ConfigError(f"--to-db: {problem}")
    source, password = split_password(input_path)
    from nps_text.ingest import check_input

    check_input(source, config.input)  # and on a missing, empty or absurdly wide input file
    if password is not None:
        # The flow's parameters are stored in Prefect's database: they get the URL without the password and
        # the variable's name; the ingest task puts it back at run time.
        password_env = password_env or DB_PASSWORD_ENV
        os.environ[password_env] = password
    params = RunParameters(
        input=source, out=out_dir, config=config_path, sql_query=sql_query, password_env=password_env,
        database=to_db, runner=runner, dask_address=dask_address, force=force,  # type: ignore[arg-type]
    )
    if _up_to_date(params):
        return

    api = _PrefectApi.start()  # the temporary server boots while the flow's modules are imported
    try:
        state = _run_flow(params, api, verbose)
    finally:
        api.stop()
    from nps_text.errors import DeliveryError

    if not state.is_completed():
        try:
            state.result(raise_on_failure=True)  # re-raises the step's exception (NpsTextError -> one line)
        except DeliveryError:
            _summary(_published_manifest(Path(out_dir)), Path(out_dir))  # the outputs are there: say so first
            raise
        raise RuntimeError(f"the Prefect flow run ended in state {state.type.value} without an error")
    manifest = state.result()
    if manifest.get("run_id") != str(state.state_details.flow_run_id):  # the flow found --out up to date
        from nps_text.freshness import up_to_date_line

        click.echo(up_to_date_line(manifest, Path(out_dir)))
    else:
        _summary(manifest, Path(out_dir))
    from nps_text.notify import delivery_failures

    for line in delivery_failures(manifest.get("alerts") or []):  # alerts.on_failure: warn
        click.echo(f"Warning: {line}", err=True)


def _run_flow(params: RunParameters, api: _PrefectApi, verbose: bool) -> Any:
    """Run the flow with a progress display (a spinner on a terminal, one line per step otherwise); its final state."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from nps_text import flow as flow_module
    from nps_text.stages import STAGES

    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not console.is_terminal and not verbose,
    ) as progress:
        task_id = progress.add_task("starting Prefect", total=len(STAGES))

        def hook(step: str, index: int, total: int) -> None:
            progress.update(task_id, description=step, completed=index)
            if not console.is_terminal:
                click.echo(f"[{index + 1}/{total}] {step}", err=True)

        flow_module.set_progress_hook(hook)
        try:
            with api.ready(lambda: progress.update(task_id, description="starting Prefect")):
                return flow_module.flow_for(params)(params, return_state=True)
        finally:
            flow_module.set_progress_hook(None)


def _up_to_date(params: RunParameters) -> bool:
    """Whether ``params.out`` already holds this run's results (:mod:`nps_text.freshness`), decided before
    Prefect or any model is imported; then print the one line that says so (and the alert channels that failed
    in that run: they fail this one too). A SQL input is checked by the flow, after its query."""
    from nps_text import freshness
    from nps_text.params import run_config

    config = run_config(params)
    verdict = freshness.check_run(params, config)
    if not verdict.up_to_date or verdict.manifest is None:
        return False
    click.echo(freshness.up_to_date_line(verdict.manifest, Path(params.out)))
    for line in freshness.published_alert_failures(verdict.manifest, config.alerts.on_failure):
        click.echo(f"Warning: {line}", err=True)
    return True


def _published_manifest(out: Path) -> dict[str, Any] | None:
    import json

    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _summary(manifest: dict[str, Any] | None, out: Path) -> None:
    """The run's two result lines: row and comment counts, and where the outputs are."""
    if manifest is None:
        return
    counts = manifest["comment_status"]
    click.echo(
        f"{manifest['rows_in']} rows in: {manifest['rows_valid']} valid, {manifest['rows_rejected']} rejected; "
        f"comments: {counts['text']} text, {counts['empty']} empty, {counts['non_informative']} non-informative"
    )
    click.echo(f"Outputs in {out.resolve()} (open report.html)")


class _PrefectApi:
    """The configured Prefect API, or a temporary one that cannot outlive this process, started early: its server
    boots on another core while this process imports the flow (:meth:`start`, then :meth:`ready`)."""

    def __init__(self, process: subprocess.Popen[Any] | None, port: int, env: dict[str, str], log: Any) -> None:
        self.process, self.port, self.env, self.log = process, port, env, log

    @classmethod
    def start(cls) -> _PrefectApi:
        """Spawn the temporary server unless ``PREFECT_API_URL`` is configured (no waiting)."""
        from prefect.settings import PREFECT_API_URL, get_current_settings

        if PREFECT_API_URL.value():
            return cls(None, 0, {}, None)
        env = {
            **os.environ,
            **get_current_settings().to_environment_variables(exclude_unset=True),
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        env.pop(DB_PASSWORD_ENV, None)
        # The server's own error output (a traceback when it cannot start) goes to a temporary file: the user sees
        # one line naming the cause, not the server's traceback.
        log = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - the child writes to it for its lifetime
        port = _free_port()
        return cls(_spawn_api_server(env, port, log), port, env, log)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

    @contextmanager
    def ready(self, starting: Callable[[], None] | None = None) -> Iterator[None]:
        """Wait until the temporary server answers and use it (stopped at the end); the configured API as it is."""
        if self.process is None:
            yield
            return
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
            temporary_settings,
        )

        if starting is not None:
            starting()
        try:
            self.process, url = _wait_for_api_server(
                self.process, self.port, self.env, self.log, float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
            )
            with temporary_settings(updates={PREFECT_API_URL: url}):
                try:
                    yield
                finally:
                    _send_queued_logs()
        finally:
            self.stop()


def _send_queued_logs(timeout_s: float = 10.0) -> None:
    """Send the logs Prefect still queues for the API (``--verbose``) while the temporary server is up: left queued,
    Prefect's exit handler retried them against the stopped server for over a minute before the process ended."""
    with contextlib.suppress(Exception):
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=timeout_s, at_exit=False)


def _spawn_api_server(env: dict[str, str], port: int, log: Any) -> subprocess.Popen[Any]:
    """``uvicorn prefect.server.api.server:create_app`` (as Prefect's ephemeral mode runs it) on ``port``, as a child
    that gets SIGTERM when this process dies."""
    import prefect

    log.seek(0)
    log.truncate()
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent), "--factory",
         "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "error", "--lifespan", "on"],
        env=env, stdin=subprocess.DEVNULL, stderr=log, stdout=log,
        preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509
    )


def _wait_for_api_server(
    process: subprocess.Popen[Any], port: int, env: dict[str, str], log: Any, timeout: float
) -> tuple[subprocess.Popen[Any], str]:
    """Wait until the server on ``port`` answers; on another free port again when that one was taken meanwhile."""
    import httpx

    deadline = time.monotonic() + timeout
    last_error = "no answer"
    for attempt in range(3):
        if attempt:
            port = _free_port()
            process = _spawn_api_server(env, port, log)
        url = f"http://127.0.0.1:{port}/api"
        with httpx.Client() as client:
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if client.get(f"{url}/health", timeout=5).status_code == 200:
                        return process, url
                except httpx.HTTPError as exc:
                    last_error = type(exc).__name__
                time.sleep(0.1)
        _stop(process)
        if process.returncode != 3:  # 3: the port was taken meanwhile; try another
            break
    from prefect.settings import PREFECT_HOME

    from nps_text.errors import NpsTextError

    cause = _last_error_line(log) or last_error
    log.close()
    raise NpsTextError(
        f"the temporary Prefect API server did not start ({cause}); check that PREFECT_HOME "
        f"({PREFECT_HOME.value()}) is a writable folder, raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, "
        "or set PREFECT_API_URL to a running server"
    )


def _last_error_line(log: Any) -> str:
    """The last ``SomeError: message`` line of a server's output (empty when there is none)."""
    import re

    log.seek(0)
    lines = [line.strip() for line in log.read().splitlines() if re.match(r"^\s*[\w.]+(Error|Exception)\b.*:", line)]
    return lines[-1][:200] if lines else ""


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when this process dies (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@click.command("validate-config")
@click.argument("config_path", metavar="FILE", type=click.Path(dir_okay=False))
def validate_config_command(config_path: str) -> None:
    """Check a pipeline config YAML and print the settings that differ from the defaults.

    Example:

        nps-text validate-config pipeline/default.yaml
    """
    import yaml

    from nps_text.config import load_config

    config = load_config(config_path)
    changed = config.model_dump(mode="json", exclude_defaults=True)
    click.echo(f"{config_path}: valid")
    if changed:
        click.echo("differs from the defaults in:")
        click.echo(yaml.safe_dump(changed, sort_keys=False, allow_unicode=True).rstrip())


def register(cli: click.Group, train: click.Group, evaluate: click.Group) -> None:
    """Attach the pipeline commands to the CLI groups."""
    cli.add_command(run_command)
    cli.add_command(validate_config_command)
