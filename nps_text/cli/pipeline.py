"""Pipeline commands: ``run`` (the whole job as a local Prefect flow) and ``validate-config``."""

from __future__ import annotations

import os
from pathlib import Path

import click


def _quiet_environment(verbose: bool) -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
    if not verbose:
        # Quiet mode: the CLI prints progress and a one-line error itself; Prefect's own error logs
        # would repeat that error with a full traceback.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")


@click.command("run")
@click.argument("input_path", metavar="INPUT")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Pipeline config YAML (default: built-in defaults, as in pipeline/default.yaml).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out", show_default=True,
              help="Output folder.")
@click.option("--query", "sql_query", default=None, help="SQL query, when INPUT is a SQLAlchemy URL.")
@click.option("--verbose", "-v", is_flag=True, help="Show Prefect's logs.")
def run_command(input_path: str, config_path: str | None, out_dir: str, sql_query: str | None, verbose: bool) -> None:
    """Run the whole pipeline on INPUT (CSV, XLSX, Parquet, JSONL or a SQLAlchemy URL).

    Runs the Prefect flow locally; no Prefect server is needed. Writes responses, rejected rows, NPS summary,
    themes, improvement areas, follow-up lists, report.html and manifest.json to --out.

    Examples:

        nps-text run data/sample_reviews_en.csv --out out/sample

        nps-text run survey.xlsx --config pipeline/default.yaml --out out/weekly

        nps-text run sqlite:///survey.db --query "select * from responses" --out out/db
    """
    _quiet_environment(verbose)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from nps_text import flow as flow_module
    from nps_text.config import load_config

    load_config(config_path)  # fail fast, before Prefect starts, on a bad config
    console = Console(stderr=True)
    params = flow_module.RunParameters(input=input_path, out=out_dir, config=config_path, sql_query=sql_query)
    with Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not console.is_terminal and not verbose,
    ) as progress:
        task_id = progress.add_task("starting Prefect", total=len(flow_module.STEPS))

        def hook(step: str, index: int, total: int) -> None:
            progress.update(task_id, description=step, completed=index)
            if not console.is_terminal:
                click.echo(f"[{index + 1}/{total}] {step}", err=True)

        flow_module.set_progress_hook(hook)
        try:
            state = flow_module.nps_text_flow(params, return_state=True)
        finally:
            flow_module.set_progress_hook(None)
    if state.is_failed():
        state.result(raise_on_failure=True)  # re-raises the step's exception (NpsTextError -> one line)
    manifest = state.result()
    counts = manifest["comment_status"]
    click.echo(
        f"{manifest['rows_in']} rows in: {manifest['rows_valid']} valid, {manifest['rows_rejected']} rejected; "
        f"comments: {counts['text']} text, {counts['empty']} empty, {counts['non_informative']} non-informative"
    )
    click.echo(f"Outputs in {Path(out_dir).resolve()} (open report.html)")


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
