"""Delivery at the edge of the flow: alerts through Prefect notification blocks / SMTP, tables into a database.

Only :mod:`nps_text.flow` imports this module (it imports Prefect). Channels:

* ``slack`` -> :class:`prefect.blocks.notifications.SlackWebhook`
* ``teams`` -> :class:`prefect.blocks.notifications.MicrosoftTeamsWebhook`
* ``webhook`` -> :class:`prefect.blocks.notifications.CustomWebhookNotificationBlock` (JSON ``{"subject", "body",
  "name"}`` when built from ``url_env``; a saved block keeps its own template)
* ``email`` -> stdlib :mod:`smtplib`. Prefect's core has no SMTP block (only ``SendgridEmail``, an HTTP API) and
  ``prefect-email`` is not a dependency; plain SMTP with STARTTLS/SSL is a few lines of stdlib. The password
  comes from an environment variable or a Prefect ``Secret`` block.

Secrets (webhook URLs, passwords) are resolved here, at send time, and never reach the manifest, the logs, the
flow parameters or an error message (:func:`scrub`).

Order in a run (:func:`nps_text.flow.run_pipeline`): the database output is written *before* the files are
published (a database failure fails the run and publishes nothing, so no manifest claims a success); alerts are
sent *after* publishing (their report link points at a published report), and the published manifest is then
updated with each message's status. A failed channel is retried while the error is transient
(:func:`nps_text.errors.is_transient`), then reported: :func:`delivery_failures` gives one line per failed
channel, and ``alerts.on_failure`` says whether that fails the run (exit code 3) or only warns.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from nps_text.alerts import Alert, evaluate_alerts
from nps_text.alerts_config import AlertsConfig, ChannelConfig
from nps_text.config import PipelineConfig
from nps_text.errors import ConfigError, SourceUnavailableError, is_transient, retry_transient

_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.I)
CHANNEL_ATTEMPTS = 3
"""Tries per alert channel while the error is transient (connection refused, timeout, HTTP 429/5xx)."""
RETRY_DELAY_SECONDS = 1.0
"""Wait before the second try; doubled before each further one."""


def scrub(message: str, secrets: Sequence[str] = ()) -> str:
    """``message`` without URLs and without any of ``secrets`` (for manifests and logs).

    Example:
        >>> scrub("POST https://hooks.slack.com/services/T/B/X failed: 404")
        'POST <url> failed: 404'
    """
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return _URL.sub("<url>", message)[:300]


def _env_secret(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} (the {what}) is not set")
    return value


def _block_class(kind: str) -> Any:
    from prefect.blocks.notifications import (
        CustomWebhookNotificationBlock,
        MicrosoftTeamsWebhook,
        SlackWebhook,
    )

    return {"slack": SlackWebhook, "teams": MicrosoftTeamsWebhook, "webhook": CustomWebhookNotificationBlock}[kind]


def notification_block(channel: ChannelConfig) -> tuple[Any, list[str]]:
    """The Prefect notification block of a webhook channel, and the secrets to scrub from errors."""
    cls = _block_class(channel.type)
    if channel.block:
        if "/" in channel.block:
            from prefect.blocks.core import Block

            block = Block.load(channel.block)
        else:
            block = cls.load(channel.block)
        url = getattr(block, "url", "")
        secret = url.get_secret_value() if hasattr(url, "get_secret_value") else str(url)
        return block, [secret]
    assert channel.url_env is not None
    url = _env_secret(channel.url_env, "webhook URL")
    if channel.type == "webhook":
        block = cls(
            name="nps-text", url=url, json_data={"subject": "{{subject}}", "body": "{{body}}", "name": "{{name}}"}
        )
    else:
        block = cls(url=url)
    return block, [url]


def send_email(alert: Alert, channel: ChannelConfig) -> list[str]:
    """Send ``alert`` by SMTP (STARTTLS, SSL or plain, as configured); returns the secrets used."""
    password = None
    if channel.password_env:
        password = _env_secret(channel.password_env, "SMTP password")
    elif channel.password_block:
        from prefect.blocks.system import Secret

        secret: Any = Secret.load(channel.password_block)  # sync here (Prefect's async_dispatch)
        password = str(secret.get())
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = str(channel.sender)
    message["To"] = ", ".join(channel.to)
    message.set_content(alert.body)
    host, port = str(channel.host), channel.port
    smtp: smtplib.SMTP
    if channel.security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=channel.timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=channel.timeout)
    with smtp:
        if channel.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if channel.username and password:
            smtp.login(channel.username, password)
        smtp.send_message(message)
    return [password] if password else []


def send_alerts(
    alerts: Sequence[Alert], config: AlertsConfig, attempts: int | None = None, delay: float | None = None
) -> list[dict[str, Any]]:
    """Send every alert to each of its channels; one result per (alert, channel), never raising.

    A channel is tried up to ``attempts`` times while its error is transient (:func:`is_transient`: connection
    refused, timeout, HTTP 429/5xx), never again on a permanent one (a missing environment variable, HTTP 404).

    Returns rows for the manifest: ``rule``, ``kind``, ``channel``, ``type``, ``status`` (``sent`` / ``failed``)
    and, when failed, a scrubbed ``error`` (no URL, no secret) and the number of ``attempts`` when retried.
    ``attempts`` and ``delay`` default to :data:`CHANNEL_ATTEMPTS` and :data:`RETRY_DELAY_SECONDS`.
    """
    attempts = CHANNEL_ATTEMPTS if attempts is None else max(1, attempts)
    delay = RETRY_DELAY_SECONDS if delay is None else delay
    results = []
    for alert in alerts:
        for name in alert.channels:
            channel = config.channels[name]
            row: dict[str, Any] = {"rule": alert.rule, "kind": alert.kind, "channel": name, "type": channel.type}
            for attempt in range(1, attempts + 1):
                secrets: list[str] = []
                try:
                    if channel.type == "email":
                        secrets = send_email(alert, channel)
                    else:
                        block, secrets = notification_block(channel)
                        with block.raise_on_failure():
                            block.notify(alert.body, subject=alert.subject)
                    row["status"] = "sent"
                    break
                except Exception as exc:  # one failing channel must not stop the others (nor the run)
                    if attempt < attempts and is_transient(exc):
                        time.sleep(delay * 2 ** (attempt - 1))
                        continue
                    row["status"] = "failed"
                    row["error"] = scrub(f"{type(exc).__name__}: {exc}", secrets)
                    if attempt > 1:
                        row["attempts"] = attempt
                    break
            results.append(row)
    return results


def delivery_failures(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per failed channel (the rules it failed for, the scrubbed error), for the terminal.

    Example:
        >>> delivery_failures([{"rule": "drop", "channel": "cx", "type": "webhook", "status": "failed",
        ...                     "error": "ConnectError: [Errno 111] Connection refused"}])
        ["alert channel 'cx' (webhook) failed for rule drop: ConnectError: [Errno 111] Connection refused"]
    """
    failed: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("status") == "failed":
            failed.setdefault(str(row["channel"]), []).append(row)
    lines = []
    for channel, channel_rows in failed.items():
        rules = ", ".join(dict.fromkeys(str(row["rule"]) for row in channel_rows))
        error = scrub(" ".join(str(channel_rows[-1].get("error") or "unknown error").split()))
        plural = "s" if len(channel_rows) > 1 else ""
        lines.append(f"alert channel {channel!r} ({channel_rows[0]['type']}) failed for rule{plural} {rules}: {error}")
    return lines


def _emit_events(alerts: Sequence[Alert]) -> None:
    """A Prefect event per triggered alert (``nps-text.alert.triggered``) for automations to react to."""
    try:
        from prefect.events import emit_event

        for alert in alerts:
            emit_event(
                event="nps-text.alert.triggered",
                resource={"prefect.resource.id": f"nps-text.alert-rule.{alert.rule}", "nps-text.rule": alert.rule},
                payload={"kind": alert.kind, "subject": alert.subject, "body": alert.body, "report": alert.report},
            )
    except Exception:  # events are a convenience; the messages were sent already
        get_run_logger().debug("could not emit alert events", exc_info=True)


@task(name="database", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_transient, cache_policy=NO_CACHE,
      persist_result=False)
def database_task(tables: dict[str, pd.DataFrame], url: str, schema: str | None, password_env: str | None,
                  table_prefix: str) -> dict[str, Any]:
    """Write the tables to the database (the password is read from the environment inside); retried only on
    transient errors (the database cannot be reached), never on a configuration error."""
    from nps_text.database import write_database

    return write_database(tables, url, schema=schema, password_env=password_env, table_prefix=table_prefix)


def database_output(
    tables: Mapping[str, pd.DataFrame], config: PipelineConfig, database: str | None = None
) -> dict[str, Any] | None:
    """Write the tables to ``database`` (else ``output.database``); the manifest's ``database`` entry, or ``None``.

    Raises:
        SourceUnavailableError: the database could still not be reached after the retries (one line, no
            password, no SQL and no values).
        ConfigError: the URL or the password variable is wrong.
    """
    url = database or config.output.database
    if not url:
        return None
    output = config.output
    try:
        return database_task(  # type: ignore[no-any-return]
            dict(tables), url, output.database_schema, output.database_password_env, output.database_table_prefix
        )
    except Exception as exc:
        if not is_transient(exc) or isinstance(exc, SourceUnavailableError):
            raise
        from nps_text.database import safe_url

        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()  # never the SQL or its parameters
        raise SourceUnavailableError(
            f"cannot write to the database {safe_url(url)}: {type(exc).__name__}: {scrub(reason[0] if reason else '')}"
        ) from exc


def report_link(config: PipelineConfig, out: Path) -> str:
    """What the alert messages link to: the published ``report.html`` (or the output folder without a report)."""
    return str((out / "report.html").resolve()) if config.report.enabled else str(out.resolve())


def pending_alerts(alerts: Sequence[Alert], config: AlertsConfig) -> list[dict[str, Any]]:
    """The manifest's ``alerts`` rows before sending: one per (alert, channel), ``status: pending``."""
    return [
        {"rule": alert.rule, "kind": alert.kind, "channel": name, "type": config.channels[name].type, "status": "pending"}
        for alert in alerts
        for name in alert.channels
    ]


@task(name="alerts", cache_policy=NO_CACHE, persist_result=False)
def alerts_task(alerts: list[Alert], config: AlertsConfig) -> list[dict[str, Any]]:
    """Send the evaluated alerts (:func:`nps_text.alerts.evaluate_alerts`) and emit their Prefect events."""
    logger = get_run_logger()
    results = send_alerts(alerts, config)
    for row in results:
        log = logger.warning if row["status"] == "failed" else logger.info
        log("alert %s -> %s: %s %s", row["rule"], row["channel"], row["status"], row.get("error", ""))
    _emit_events(alerts)
    return results


def evaluate(tables: Mapping[str, pd.DataFrame], config: PipelineConfig, out: Path) -> list[Alert]:
    """The alerts this run triggers (pure: nothing is sent), linking to the report in ``out``."""
    if not (config.alerts.enabled and config.alerts.rules):
        return []
    return evaluate_alerts(tables, config, report_link(config, out))
