"""Journey tests: the real command a user types, against the real component, checking what the user sees.

Every test here runs ``nps-text`` (or ``prefect``, ``python flows/serve.py``, ``dask``...) as a subprocess of
the installed environment, with its own empty ``HOME`` and ``PREFECT_HOME`` so nothing of the developer's
machine leaks in or out. Fakes belong in the unit tests; here only real models, servers and files.

``.ci/run`` installs what these need (PostgreSQL, Chromium); the servers themselves (PostgreSQL cluster,
Prefect server, Dask scheduler, webhook receiver) are started by fixtures on 127.0.0.1 and stopped after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
"""The environment's scripts folder: ``nps-text``, ``prefect``, ``dask`` as the user has them."""

pytestmark = pytest.mark.journey


@dataclass
class Result:
    """What a user sees of one command: exit code, terminal text, wall time and peak memory."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mib: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def user_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A user's environment: the real PATH of the venv, an empty home, offline, no inherited Prefect API."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "NPS_TEXT_", "DASK_"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update({
        "HOME": str(home),
        "PREFECT_HOME": str(home / ".prefect"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "COLUMNS": "200",
    })
    env.pop("PYTEST_CURRENT_TEST", None)
    if extra:
        env.update(extra)
    return env


_MEASURE = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as handle:
    handle.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""
"""Runs the command and writes its peak RSS (KiB). A small process of its own: Linux counts the image a child
was forked from in its ``ru_maxrss``, so the command is forked from this wrapper, not from the (large) pytest
process."""


def run_command(
    args: Sequence[str], *, cwd: Path, home: Path, env: Mapping[str, str] | None = None, timeout: float = 300,
    stdin: str | None = None,
) -> Result:
    """Run ``args`` as a user would and return what they see; peak RSS is the command's own (its largest
    process, counting children it waited for)."""
    import signal
    import tempfile

    start = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        rss_file = Path(scratch) / "rss"
        process = subprocess.Popen(
            [sys.executable, "-c", _MEASURE, str(rss_file), *args], cwd=cwd, env=user_env(home, env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        )
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"{' '.join(args)} did not finish in {timeout:.0f} s\n{stdout[-2000:]}\n{stderr[-4000:]}")
        seconds = time.monotonic() - start
        peak = int(rss_file.read_text()) / 1024 if rss_file.exists() else float("nan")
    return Result(process.returncode, stdout, stderr, seconds, peak)


def nps_text(*args: str, cwd: Path, home: Path, **kwargs: object) -> Result:
    """``nps-text ARGS`` from the installed environment."""
    return run_command([str(BIN / "nps-text"), *args], cwd=cwd, home=home, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home folder (fresh ``~/.prefect``) for one journey."""
    return tmp_path / "home"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The folder the user runs commands in (not the repository)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


def write_csv(path: Path, header: str, rows: Sequence[str]) -> Path:
    """A small export as a user would save it (UTF-8, one line per row)."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def free_port() -> Iterator[object]:
    import socket

    def pick() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    yield pick
