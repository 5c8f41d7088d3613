"""A run's parameters and its credentials: what a deployment or the CLI passes to the flow.

Prefect stores the parameters in its database, so they never hold a credential: a database password is named
by ``password_env`` (an environment variable) or ``password_secret`` (a Prefect Secret block) and put back
into the URL only at run time, inside the ingest task (:func:`resolve_source`).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nps_text.config import PipelineConfig, load_config
from nps_text.errors import InputError
from nps_text.ingest import is_sql_url


class RunParameters(BaseModel):
    """Parameters of one run, as a deployment or the CLI passes them.

    Prefect stores these in its database: they never hold a credential. A database password is named by
    ``password_env`` or ``password_secret`` and resolved in the ingest task at run time.
    """

    model_config = ConfigDict(hide_input_in_errors=True)  # an error must not echo a URL with its password

    input: str = Field(description="Survey export (CSV, XLSX, Parquet, JSONL) or a SQLAlchemy URL without password")
    out: str = Field(default="out", description="Output folder for tables, report and manifest")
    config: str | None = Field(default=None, description="Pipeline config YAML; None = built-in defaults")
    sql_query: str | None = Field(default=None, description="SQL query when input is a SQLAlchemy URL")
    password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the database password (not the password)"
    )
    password_secret: str | None = Field(
        default=None, description="Name of a Prefect Secret block holding the database password (not the password)"
    )
    database: str | None = Field(
        default=None, description="Write the tables to this SQLAlchemy URL too (overrides output.database; no password)"
    )
    runner: Literal["local", "dask"] | None = Field(
        default=None, description="Where the model stages run (overrides runner.runner); dask needs flow_for()"
    )
    dask_address: str | None = Field(
        default=None, description="Dask scheduler, e.g. tcp://host:8786 (implies runner dask; overrides runner.dask_address)"
    )
    force: bool = Field(
        default=False,
        description="Run even when the output folder already holds the results of this input, config and version, "
                    "and write every output again (default: such a run does nothing)",
    )

    keep_models: bool = Field(
        default=False,
        description="Keep the models loaded after the run for the next run in this process (runner.release_models: "
                    "false); flows/serve.py --warm sets it",
    )

    @model_validator(mode="after")
    def _no_credentials(self) -> RunParameters:
        if is_sql_url(self.input) and split_password(self.input)[1] is not None:
            raise ValueError(
                "the database URL holds a password, which would be stored in Prefect's database: remove it from "
                "the URL and name an environment variable (password_env) or a Prefect Secret block (password_secret)"
            )
        if self.database and split_password(self.database)[1] is not None:
            raise ValueError("the --to-db URL holds a password: remove it and set output.database_password_env or PGPASSWORD")
        if self.password_env and self.password_secret:
            raise ValueError("give password_env or password_secret, not both")
        return self


def run_config(params: RunParameters) -> PipelineConfig:
    """The run's config: the file (or the defaults) with the parameters' overrides."""
    config = load_config(params.config)
    if params.sql_query:
        config.input.sql_query = params.sql_query
    if params.runner:
        config.runner.runner = params.runner  # type: ignore[assignment]
    if params.dask_address:
        config.runner.runner = "dask"
        config.runner.dask_address = params.dask_address
    if params.keep_models:
        config.runner.release_models = False
    return config


def split_password(url: str) -> tuple[str, str | None]:
    """``(url without password, password or None)`` for a SQLAlchemy URL; other inputs unchanged.

    Example:
        >>> split_password("postgresql://nps:s3cret@db/survey")
        ('postgresql://nps@db/survey', 's3cret')
    """
    if not is_sql_url(url):
        return url, None
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - let ingest report a malformed URL
        return url, None
    if parsed.password is None:
        return url, None
    return parsed._replace(password=None).render_as_string(hide_password=False), str(parsed.password)


def resolve_source(source: str, password_env: str | None = None, password_secret: str | None = None) -> str:
    """The input with the password put back from ``password_env`` / ``password_secret`` (run time only).

    Raises:
        InputError: the named variable is not set, or the Secret block cannot be loaded.
    """
    if not (password_env or password_secret) or not is_sql_url(source):
        return source
    import os

    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise InputError(f"environment variable {password_env} (the database password) is not set")
    else:
        try:
            from prefect.blocks.system import Secret

            block: Any = Secret.load(str(password_secret))
            password = str(block.get())
        except Exception as exc:  # noqa: BLE001 - a missing block, a server error...: one clear message
            raise InputError(f"cannot load the Prefect Secret block {password_secret!r}: {type(exc).__name__}") from None
    from sqlalchemy.engine import make_url

    return make_url(source).set(password=password).render_as_string(hide_password=False)


def run_id() -> str:
    """The flow run's id inside Prefect, else a random one: names the staging folder."""
    try:
        from prefect.runtime import flow_run

        found = str(flow_run.get_id() or "")
    except Exception:  # noqa: BLE001 - outside a flow run
        found = ""
    return found or uuid.uuid4().hex
