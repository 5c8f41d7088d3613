"""The exception hierarchy. Messages say what is wrong and how to fix it."""

from __future__ import annotations


class NpsTextError(Exception):
    """Base class of every error nps-text raises on purpose; the CLI prints it as one line."""


class ConfigError(NpsTextError):
    """The pipeline configuration is invalid (names the key, the bad value and what is allowed)."""


class InputError(NpsTextError):
    """The input file or query cannot be used at all (empty, binary, no score column...)."""


class ColumnMappingError(InputError):
    """The score/comment/id columns could not be determined; the message lists the columns found."""


class ModelError(NpsTextError):
    """A model could not be loaded or run (missing package, offline hub model, bad artifact)."""


class SchemaError(NpsTextError):
    """A table broke its contract between two steps (a bug, or a hand-edited intermediate file)."""
