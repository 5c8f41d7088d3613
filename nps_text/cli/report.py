"""Report commands: ``export`` (tables for analysts) and ``report`` (re-render the HTML page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast, get_args

import click

from nps_text.config import OutputFormat
from nps_text.errors import ConfigError


def register(cli: click.Group, train: click.Group, evaluate: click.Group) -> None:
    """Attach ``export`` and ``report`` to the top-level CLI group."""
    cli.add_command(export_command)
    cli.add_command(report_command)


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(get_args(OutputFormat)),
    required=True,
    help="xlsx: one workbook, a sheet per table; csv/parquet: a file per table; duckdb: one database.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="File (xlsx, duckdb) or folder (csv, parquet). Default: RUN_DIR/export/.",
)
@click.option(
    "--csv-delimiter",
    type=click.Choice([",", ";", "tab", "|"]),
    default=",",
    show_default=True,
    help="CSV field separator; ';' opens directly in German Excel.",
)
@click.option("--no-bom", is_flag=True, help="Write CSV without the UTF-8 byte-order mark Excel uses to detect UTF-8.")
def export_command(run_dir: Path, fmt: str, out: Path | None, csv_delimiter: str, no_bom: bool) -> None:
    """Export a run's enriched tables for analysts (Excel, CSV, Parquet or DuckDB).

    Text cells that a spreadsheet would run as a formula (starting with = + - @) are written with a
    leading apostrophe, so they show as text.

    Example:

        nps-text export out/sample --format xlsx

        nps-text export out/sample --format csv --csv-delimiter ';' --out exports/csv
    """
    from nps_text.report.export import export_run

    delimiter = "\t" if csv_delimiter == "tab" else csv_delimiter
    written = export_run(run_dir, cast(Any, fmt), out, csv_delimiter=delimiter, csv_bom=not no_bom)
    for path in written:
        click.echo(str(path))


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the page. Default: RUN_DIR/report.html.",
)
@click.option(
    "--language",
    type=click.Choice(["auto", "de", "en"]),
    default=None,
    help="UI language; auto = the comments' main language. Default: the run's config, else auto.",
)
@click.option("--title", default=None, help="Page title (default: 'NPS report' / 'NPS-Bericht').")
def report_command(run_dir: Path, out: Path | None, language: str | None, title: str | None) -> None:
    """Re-render the HTML report from a run folder's tables and manifest.json.

    Example:

        nps-text report out/sample --language de --out out/sample/bericht.html
    """
    from pydantic import ValidationError

    from nps_text.report import load_run, render_report
    from nps_text.report.config import ReportConfig
    from nps_text.writers import write_text

    tables, manifest = load_run(run_dir)
    settings: dict[str, Any] = {}
    run_config = manifest.get("config")
    if isinstance(run_config, dict) and isinstance(run_config.get("report"), dict):
        settings.update(run_config["report"])
    if language is not None:
        settings["language"] = language
    if title is not None:
        settings["title"] = title
    try:
        config = ReportConfig.model_validate(settings)
    except ValidationError as exc:
        raise ConfigError(f"invalid report settings in {run_dir / 'manifest.json'}: {exc}") from exc
    target = out if out is not None else run_dir / "report.html"
    write_text(render_report(tables, manifest, config), target)
    click.echo(str(target))
