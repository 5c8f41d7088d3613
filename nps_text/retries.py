"""The retry policy of the flow's tasks: which stages retry, how often and after how long.

Only errors that :func:`nps_text.errors.is_transient` calls transient are retried (the error classes carry
that themselves); a permanent error (an empty file, a bad config) fails the run at once.

Example:
    >>> retry_options("ingest")["retries"], retry_options("nps")
    (2, {})
"""

from __future__ import annotations

from typing import Any, NamedTuple

from nps_text.errors import retry_transient


class Retry(NamedTuple):
    """How often a task is tried again, and the seconds between tries."""

    retries: int
    delay_s: float = 0


POLICY: dict[str, Retry] = {
    "ingest": Retry(2, 5),  # network shares and databases fail now and then
    "sentiment-chunk": Retry(1),
    "embed-chunk": Retry(1),
    "write": Retry(2, 2),
}
"""Tasks that retry (by task name); every other task runs once."""


def retry_options(name: str) -> dict[str, Any]:
    """Prefect task options for the task ``name``: retries on transient errors only, or none."""
    policy = POLICY.get(name)
    if policy is None:
        return {}
    options: dict[str, Any] = {"retries": policy.retries, "retry_condition_fn": retry_transient}
    if policy.delay_s:
        options["retry_delay_seconds"] = policy.delay_s
    return options
