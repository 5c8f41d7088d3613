"""Pipeline commands: ``run`` (and, later, ``export`` helpers shared with the report)."""

from __future__ import annotations

import click


def register(cli: click.Group, train: click.Group, evaluate: click.Group) -> None:
    """Attach the pipeline commands to the CLI groups."""
