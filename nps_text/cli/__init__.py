"""The ``nps-text`` command line: thin verbs over the library.

Library errors (:class:`~nps_text.errors.NpsTextError`) become one-line messages and exit code 1, never
tracebacks. Each capability registers its own commands from its own module (``nps_text/cli/*.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from nps_text import __version__
from nps_text.errors import NpsTextError

# Quiet, offline defaults before anything imports huggingface_hub, transformers or prefect.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="nps-text")
def cli() -> None:
    """nps-text: NPS survey comments to themes, sentiment and improvement areas, offline.

    Example:

        nps-text run data/sample_reviews_en.csv --out out/sample
    """


@cli.group()
def train() -> None:
    """Train our own models from labelled data (saved under models/).

    Example:

        nps-text train sentiment --out models/sentiment-e5-small
    """


@cli.group()
def evaluate() -> None:
    """Measure a model on your own labelled data.

    Example:

        nps-text evaluate sentiment labelled.csv --text-column text --label-column label
    """


def _register_commands() -> None:
    from nps_text.cli import pipeline as pipeline_commands

    pipeline_commands.register(cli, train, evaluate)
    for module_name in ("sentiment", "themes", "report", "cache"):
        try:
            module = __import__(f"nps_text.cli.{module_name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"nps_text.cli.{module_name}":
                raise
            continue
        module.register(cli, train, evaluate)


_register_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning library errors into one-line messages."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="nps-text", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NpsTextError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
