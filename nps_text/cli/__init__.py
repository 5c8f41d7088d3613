"""The ``nps-text`` command line: thin verbs over the library.

Library errors (:class:`~nps_text.errors.NpsTextError`) become one-line messages and exit code 1, never
tracebacks. Any other exception is a bug: one line too (what failed, in which stage, where the redacted crash
report is, :mod:`nps_text.cli.crash`) and exit code 70; ``--debug`` shows the traceback. Each capability
registers its own commands from its own module (``nps_text/cli/*.py``).

Exit codes (README "Exit codes"): 0 success; 1 an error you can fix (bad input, config, model...); 2 a usage
error; 3 the outputs were published but an alert channel failed (``alerts.on_failure: fail``); 70 an unexpected
error (crash report written); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from nps_text import __version__
from nps_text.cli import crash
from nps_text.errors import EXIT_INTERRUPTED, EXIT_UNEXPECTED, NpsTextError

# Quiet, offline defaults before anything imports huggingface_hub, transformers or prefect.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="nps-text")
@click.option("--debug", is_flag=True, help="Show the (redacted) traceback of an error on the terminal.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """nps-text: NPS survey comments to themes, sentiment and improvement areas, offline.

    Exit codes: 0 ok, 1 error (message says how to fix it), 2 usage, 3 outputs published but an alert failed,
    70 unexpected error (a crash report is written), 130 interrupted.

    Example:

        nps-text run data/sample_reviews_en.csv --out out/sample
    """
    crash.context.debug = crash.context.debug or debug
    crash.context.command = ctx.invoked_subcommand


@cli.group()
def train() -> None:
    """Train our own models from labelled data (saved under models/).

    Example:

        nps-text train sentiment --teacher
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
    """Console-script entry point: run the CLI; errors become one line on stderr and a documented exit code."""
    args = list(argv) if argv is not None else sys.argv[1:]
    crash.start(args)
    try:
        code = cli.main(args=args, prog_name="nps-text", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NpsTextError as exc:
        if crash.context.debug:
            click.echo(crash.redacted_traceback(exc), err=True, nl=False)
        failures = getattr(exc, "failures", None)
        for line in failures if isinstance(failures, list) and failures else [str(exc)]:
            click.echo(f"Error: {line}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: one line and a crash report, never a traceback (unless --debug)
        report = crash.write_report(exc)
        if crash.context.debug:
            click.echo(crash.redacted_traceback(exc), err=True, nl=False)
        click.echo(f"Error: {crash.one_line(exc, report)}", err=True)
        sys.exit(EXIT_UNEXPECTED)
    if isinstance(code, int) and code:  # ctx.exit(code) in a command
        sys.exit(code)
