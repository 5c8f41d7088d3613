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
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
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
from nps_text.errors import ConfigError

_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.I)


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


def send_alerts(alerts: Sequence[Alert], config: AlertsConfig) -> list[dict[str, Any]]:
    """Send every alert to each of its channels; one result per (alert, channel), never raising.

    Returns rows for the manifest: ``rule``, ``kind``, ``channel``, ``type``, ``status`` (``sent`` / ``failed``)
    and, when failed, a scrubbed ``error`` (no URL, no secret).
    """
    results = []
    for alert in alerts:
        for name in alert.channels:
            channel = config.channels[name]
            row: dict[str, Any] = {"rule": alert.rule, "kind": alert.kind, "channel": name, "type": channel.type}
            secrets: list[str] = []
            try:
                if channel.type == "email":
                    secrets = send_email(alert, channel)
                else:
                    block, secrets = notification_block(channel)
                    with block.raise_on_failure():
                        block.notify(alert.body, subject=alert.subject)
                row["status"] = "sent"
            except Exception as exc:  # one failing channel must not stop the others (nor the run)
                row["status"] = "failed"
                row["error"] = scrub(f"{type(exc).__name__}: {exc}", secrets)
            results.append(row)
    return results


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


@task(name="database", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def database_task(tables: dict[str, pd.DataFrame], url: str, schema: str | None, password_env: str | None,
                  table_prefix: str) -> dict[str, Any]:
    """Write the tables to the database (the password is read from the environment inside)."""
    from nps_text.database import write_database

    return write_database(tables, url, schema=schema, password_env=password_env, table_prefix=table_prefix)


@task(name="alerts", cache_policy=NO_CACHE)
def alerts_task(tables: dict[str, pd.DataFrame], config: PipelineConfig, report: str) -> list[dict[str, Any]]:
    """Evaluate the rules (pure) and send the messages (at the edge)."""
    logger = get_run_logger()
    alerts = evaluate_alerts(tables, config, report)
    results = send_alerts(alerts, config.alerts)
    for row in results:
        logger.info("alert %s -> %s: %s %s", row["rule"], row["channel"], row["status"], row.get("error", ""))
    _emit_events(alerts)
    return results


def deliver(
    tables: Mapping[str, pd.DataFrame], config: PipelineConfig, out: Path, database: str | None = None
) -> dict[str, Any]:
    """After the files are written: the database output (``database`` overrides ``output.database``), then alerts.

    Returns the manifest's ``database`` (or ``None``) and ``alerts`` entries.
    """
    result: dict[str, Any] = {"database": None, "alerts": []}
    url = database or config.output.database
    if url:
        output = config.output
        result["database"] = database_task(
            dict(tables), url, output.database_schema, output.database_password_env, output.database_table_prefix
        )
    if config.alerts.enabled and config.alerts.rules:
        report = str((out / "report.html").resolve()) if config.report.enabled else str(out.resolve())
        result["alerts"] = alerts_task(dict(tables), config, report)
    return result
