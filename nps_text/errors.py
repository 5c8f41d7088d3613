"""The exception hierarchy and the retry policy. Messages say what is wrong and how to fix it.

Every error class carries its retry policy: ``transient = True`` when trying again later may help (a database
that cannot be reached right now), ``False`` when it cannot (bad input, bad configuration). Every retry
condition of the project (Prefect task retries, alert channel retries) asks :func:`is_transient`, which reads
that attribute for our own errors and applies the rules below to library errors.

Exit codes of ``nps-text`` (:attr:`NpsTextError.exit_code`; README "Exit codes"): 0 success, 1 an error the user
can fix (this hierarchy), 2 a usage error (unknown option...), 3 outputs published but a delivery failed
(:class:`DeliveryError`), 70 an unexpected error (a bug: a crash report is written), 130 interrupted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DELIVERY_FAILED = 3
EXIT_UNEXPECTED = 70  # EX_SOFTWARE (sysexits.h): an internal error
EXIT_INTERRUPTED = 130


class NpsTextError(Exception):
    """Base class of every error nps-text raises on purpose; the CLI prints it as one line."""

    transient: bool = False
    """Whether retrying may help (read by :func:`is_transient`)."""
    exit_code: int = EXIT_ERROR
    """The ``nps-text`` exit code for this error."""


class ConfigError(NpsTextError):
    """The pipeline configuration is invalid (names the key, the bad value and what is allowed)."""


class InputError(NpsTextError):
    """The input file or query cannot be used at all (empty, binary, no score column...)."""


class ColumnMappingError(InputError):
    """The score/comment/id columns could not be determined; the message lists the columns found."""


class SourceUnavailableError(NpsTextError, OSError):
    """The database could not be reached (transient: the flow retries). Also an ``OSError``."""

    transient = True


class ModelError(NpsTextError):
    """A model could not be loaded or run (missing package, offline hub model, bad artifact)."""


class SchemaError(NpsTextError):
    """A table broke its contract between two steps (a bug, or a hand-edited intermediate file)."""


class DeliveryError(NpsTextError):
    """The outputs were published, but delivering them further (an alert channel) failed.

    ``failures`` holds one line per failed channel, free of URLs and secrets.
    """

    exit_code = EXIT_DELIVERY_FAILED

    def __init__(self, message: str, failures: list[str] | None = None) -> None:
        super().__init__(message)
        self.failures = list(failures or [message])


PERMANENT_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
"""``OSError`` subclasses that a retry cannot fix; any other ``OSError`` (a network share, a socket) is transient."""
PERMANENT_SMTP_ERRORS = ("SMTPAuthenticationError", "SMTPRecipientsRefused", "SMTPSenderRefused", "SMTPNotSupportedError")
""":mod:`smtplib` errors (``OSError`` subclasses) that a retry cannot fix: wrong password, refused address."""
TRANSIENT_DB_ERRORS = ("OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError")
"""SQLAlchemy errors raised when the database is unreachable or the connection dropped."""
TRANSIENT_HTTP_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_transient(exc: BaseException | None) -> bool:
    """Whether retrying can help.

    Our own errors say so themselves (:attr:`NpsTextError.transient`); otherwise OS and connection errors yes
    (except a missing file or a denied permission), an HTTP answer 408/429/5xx yes, anything else (a bug, a
    4xx answer) no.

    Example:
        >>> is_transient(InputError("input file is empty"))
        False
        >>> is_transient(SourceUnavailableError("cannot connect to postgresql://db/survey"))
        True
        >>> is_transient(ConnectionResetError())
        True
    """
    if exc is None:
        return False
    if isinstance(exc, NpsTextError):
        return bool(exc.transient)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, OSError):
        return not isinstance(exc, PERMANENT_OS_ERRORS) and not names.intersection(PERMANENT_SMTP_ERRORS)
    module = type(exc).__module__
    if module.startswith("sqlalchemy") and type(exc).__name__ in TRANSIENT_DB_ERRORS:
        return True
    if module.startswith("httpx"):
        if "TransportError" in names:  # could not connect, timed out, connection dropped
            return True
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return status in TRANSIENT_HTTP_STATUS
    return bool(getattr(exc, "connection_invalidated", False))


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only :func:`is_transient` errors."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as error:  # noqa: BLE001 - the failed state's exception itself
        exc = error
    return is_transient(exc if isinstance(exc, BaseException) else None)


# --- where a failure happened (the CLI's one-line message and crash report) ---------------------------------
STAGE_ATTRIBUTE = "nps_text_stage"
"""Set on an exception by :func:`failing_in`: the pipeline stage it left (the CLI names it)."""
TRACEBACK_ATTRIBUTE = "nps_text_traceback"
"""Set by the flow on an exception leaving it: its redacted traceback (for the CLI's crash report)."""


@contextmanager
def failing_in(stage: str) -> Iterator[None]:
    """Tag an exception leaving the block with ``stage`` (the innermost stage wins), for the CLI's message.

    Example:
        >>> try:
        ...     with failing_in("themes"):
        ...         raise TypeError("boom")
        ... except TypeError as exc:
        ...     failed_stage(exc)
        'themes'
    """
    try:
        yield
    except Exception as exc:
        if failed_stage(exc) is None:
            with contextlib.suppress(AttributeError, TypeError):  # an exception type without __dict__
                setattr(exc, STAGE_ATTRIBUTE, stage)
        raise


def failed_stage(exc: BaseException) -> str | None:
    """The stage an exception left (see :func:`failing_in`), or ``None``."""
    stage = getattr(exc, STAGE_ATTRIBUTE, None)
    return stage if isinstance(stage, str) else None
