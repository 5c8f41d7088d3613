"""Result-cache commands: ``cache info`` and ``cache clear`` (thin over :mod:`nps_text.cache`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click


def register(cli: click.Group, train: click.Group, evaluate: click.Group) -> None:
    """Attach the ``cache`` group to the top-level CLI group."""
    cli.add_command(cache_group)


def _location(out: Path | None, cache_dir: Path | None) -> Path:
    from nps_text.cache import resolve_cache_path

    if out is not None and cache_dir is not None:
        raise click.UsageError("give --out or --cache-dir, not both")
    return resolve_cache_path(cache_dir, out if out is not None else Path("out"))


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"  # pragma: no cover


_location_options = [
    click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
                 help="Run output folder; the cache is OUT/.cache/nps_text.sqlite (default: out)."),
    click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
                 help="Cache folder (as cache.dir in the config) or the .sqlite file itself."),
]


def _with_location(function):  # type: ignore[no-untyped-def]
    for option in reversed(_location_options):
        function = option(function)
    return function


@click.group("cache")
def cache_group() -> None:
    """The persistent result cache (embeddings, languages, sentiment per model version and text hash).

    Example:

        nps-text cache info --out out/weekly
    """


@cache_group.command("info")
@_with_location
@click.option("--json", "as_json", is_flag=True, help="Print the details as JSON.")
def info_command(out: Path | None, cache_dir: Path | None, as_json: bool) -> None:
    """Entries per kind and model, stored bytes, size on disk and path.

    Example:

        nps-text cache info --out out/weekly
    """
    from nps_text.cache import ResultStore

    path = _location(out, cache_dir)
    details = ResultStore(path, max_size_mb=None).info()
    if as_json:
        click.echo(json.dumps({"path": str(details.path), "exists": details.exists, "disk_bytes": details.disk_bytes,
                               "entries": details.entries, "groups": details.groups}, indent=2, default=str))
        return
    if not details.exists:
        click.echo(f"no cache at {path}")
        return
    click.echo(f"cache: {details.path}")
    click.echo(f"size on disk: {_size(details.disk_bytes)}; {details.entries} entries")
    if details.groups:
        click.echo(f"{'kind':20s} {'model':28s} {'entries':>9s} {'stored':>10s}  last used (UTC)  version")
    for group in details.groups:
        last = datetime.fromtimestamp(group["last_used"], UTC).strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"{group['kind']:20s} {group['model'][:28]:28s} {group['entries']:>9d} {_size(group['bytes']):>10s}"
            f"  {last}  {group['version']}"
        )


@cache_group.command("clear")
@_with_location
@click.option("--kind", default=None, help="Only this kind: embedding, language, sentiment, sentence_sentiment.")
@click.option("--model", default=None, help="Only this model name (as `cache info` lists it).")
def clear_command(out: Path | None, cache_dir: Path | None, kind: str | None, model: str | None) -> None:
    """Delete cached results (all, or one kind and/or model); they are recomputed on the next run.

    Example:

        nps-text cache clear --out out/weekly --kind sentiment
    """
    from nps_text.cache import ResultStore

    path = _location(out, cache_dir)
    if not path.exists():
        click.echo(f"no cache at {path}")
        return
    removed = ResultStore(path, max_size_mb=None).clear(kind=kind, model=model)
    scope = " ".join(part for part in (f"kind={kind}" if kind else "", f"model={model}" if model else "") if part)
    click.echo(f"removed {removed} entries{f' ({scope})' if scope else ''} from {path}")
