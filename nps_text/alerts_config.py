"""Configuration of alerts (``alerts:`` in the pipeline YAML) and the secret checks shared with ``output``.

Secrets never live in the YAML: a webhook URL comes from a Prefect block (``block: my-slack``) or an
environment variable (``url_env: NPS_TEXT_SLACK_URL``), an SMTP password from ``password_env`` or a Prefect
``Secret`` block (``password_block``). A literal webhook URL or password in the YAML is a config error.

Example:
    >>> cfg = AlertsConfig.model_validate({
    ...     "channels": {"cx": {"type": "slack", "url_env": "NPS_TEXT_SLACK_URL"}},
    ...     "rules": [{"name": "drop", "type": "nps_drop", "channels": ["cx"]}],
    ... })
    >>> cfg.rules[0].lookback_periods
    1
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nps_text.rules import ALL

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_KEYS = ("url", "webhook", "webhook_url", "password", "token", "secret")
_SECRET_QUERY = re.compile(r"(^|_)(sig|signature|token|key|secret|password|pwd|code|auth)$", re.I)
_SECRET_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com", "webhook.office.com", "logic.azure.com")


def secret_looking_url(value: str) -> str | None:
    """Why ``value`` looks like a URL that carries a secret, or ``None``.

    Example:
        >>> secret_looking_url("https://hooks.slack.com/services/T0/B0/XYZ")
        'a hooks.slack.com webhook URL is itself the secret'
        >>> secret_looking_url("https://intranet.example.com/nps/report.html") is None
        True
    """
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    if parts.password:
        return "the URL contains a password"
    host = (parts.hostname or "").lower()
    for secret_host in _SECRET_HOSTS:
        if host == secret_host or host.endswith("." + secret_host):
            return f"a {secret_host} webhook URL is itself the secret"
    for key in parse_qs(parts.query):
        if _SECRET_QUERY.search(key):
            return f"the URL's query parameter {key!r} looks like a token"
    return None


def database_url_problem(url: str) -> str | None:
    """Why a SQLAlchemy URL must not be used as given (it holds a password), or ``None``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        return f"not a SQLAlchemy URL ({exc})"
    if parsed.password:
        return (
            "the database URL contains a password; leave it out and set output.database_password_env "
            "(or PGPASSWORD for PostgreSQL)"
        )
    return None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _reject_literal_secrets(data: Any, where: str) -> Any:
    if isinstance(data, dict):
        for key in SECRET_KEYS:
            if key in data:
                raise ValueError(
                    f"{where} must not hold '{key}': secrets never go in the YAML. Put the value in an "
                    "environment variable and name it (url_env / password_env), or save it in a Prefect block "
                    "and name the block (block / password_block)"
                )
    return data


class ChannelConfig(_Section):
    """Where alerts go: ``slack``, ``teams``, ``webhook`` (Prefect notification blocks) or ``email`` (SMTP)."""

    type: Literal["slack", "teams", "webhook", "email"]
    block: str | None = Field(
        default=None,
        description="Saved Prefect block: 'my-block' (of the channel's block type) or 'slack-webhook/my-block'.",
    )
    url_env: str | None = Field(default=None, description="Environment variable holding the webhook URL.")
    # e-mail (SMTP, stdlib smtplib)
    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = Field(default=None, description="Environment variable holding the SMTP password.")
    password_block: str | None = Field(default=None, description="Prefect Secret block holding the SMTP password.")
    sender: str | None = None
    to: list[str] = Field(default_factory=list)
    timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        # Checked on the whole mapping, so that error messages never echo a secret that was pasted in.
        _reject_literal_secrets(data, "an alert channel")
        if isinstance(data, dict):
            for key in ("url_env", "password_env"):
                value = data.get(key)
                if value is not None and not (isinstance(value, str) and ENV_NAME.match(value)):
                    raise ValueError(
                        f"{key} must be an environment variable name (e.g. NPS_TEXT_SLACK_URL) that holds the "
                        "secret, never the secret itself"
                    )
            for key in ("block", "password_block"):
                value = data.get(key)
                if isinstance(value, str) and "://" in value:
                    raise ValueError(f"{key} names a saved Prefect block (e.g. 'my-slack'), never a URL")
        return data

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        if self.type == "email":
            missing = [name for name in ("host", "sender") if not getattr(self, name)]
            if not self.to:
                missing.append("to")
            if missing:
                raise ValueError(f"an email channel needs {', '.join(missing)}")
            if self.block or self.url_env:
                raise ValueError("an email channel takes host/port/username/password_env, not block or url_env")
            if self.password_env and self.password_block:
                raise ValueError("give password_env or password_block, not both")
        else:
            if (self.block is None) == (self.url_env is None):
                raise ValueError(f"a {self.type} channel needs exactly one of block or url_env")
        return self


class _Rule(_Section):
    name: str = Field(min_length=1)
    channels: list[str] = Field(min_length=1)
    lookback_periods: int = Field(
        default=1, ge=1, description="Check the newest N periods (1 = only the latest: a weekly run alerts once)."
    )
    quotes: int = Field(default=3, ge=0, le=20)


class NpsDropRule(_Rule):
    """A statistically significant NPS drop (from ``nps_changes``), overall or per segment value."""

    type: Literal["nps_drop"]
    segments: list[str] | None = Field(
        default=None, description="'all' = overall; segment column names; None = overall and every segment."
    )
    confidence: float | None = Field(default=None, gt=0.5, lt=1.0, description="None = nps.confidence")
    min_drop: float = Field(default=0.0, ge=0.0, description="Only drops of at least this many points.")


class NpsBelowRule(_Rule):
    """The NPS of a period is below ``threshold``."""

    type: Literal["nps_below"]
    threshold: float = Field(ge=-100, le=100)
    segments: list[str] | None = Field(default_factory=lambda: [ALL])
    min_responses: int = Field(default=30, ge=1)


class EmergingThemeRule(_Rule):
    """A detractor theme significantly more frequent than in the previous period (two-proportion z-test)."""

    type: Literal["emerging_theme"]
    confidence: float | None = Field(default=None, gt=0.5, lt=1.0, description="None = nps.confidence")
    min_detractors: int = Field(default=3, ge=1)


AlertRule = Annotated[NpsDropRule | NpsBelowRule | EmergingThemeRule, Field(discriminator="type")]


class AlertsConfig(_Section):
    """Alert rules and the channels they notify. Evaluated after every run; see README "Alerts"."""

    enabled: bool = True
    language: Literal["auto", "de", "en"] = Field(default="auto", description="auto = the report's language")
    report_url: str | None = Field(
        default=None, description="Link to the report in messages; None = the local path of report.html."
    )
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    rules: list[AlertRule] = Field(default_factory=list)
    on_failure: Literal["fail", "warn"] = Field(
        default="fail",
        description="A channel that cannot be reached after its retries: fail = the run fails after publishing "
        "its outputs (nps-text exits 3); warn = a warning line, exit 0. The manifest lists each message's status.",
    )

    @field_validator("report_url")
    @classmethod
    def _report_url_not_secret(cls, value: str | None) -> str | None:
        if value is not None and (reason := secret_looking_url(value)):
            raise ValueError(f"report_url looks like a secret ({reason}); link to a page that needs no token")
        return value

    @model_validator(mode="after")
    def _rules_use_known_channels(self) -> AlertsConfig:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {duplicates}")
        for rule in self.rules:
            unknown = [name for name in rule.channels if name not in self.channels]
            if unknown:
                raise ValueError(
                    f"rule {rule.name!r} names unknown channel(s) {unknown}; defined: {sorted(self.channels)}"
                )
        return self
