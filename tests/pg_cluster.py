"""A throwaway PostgreSQL cluster for the database tests (unit and journey): initdb + pg_ctl on a free port.

Password auth (scram-sha-256) for the ``postgres`` user. As root (CI) the server runs as the ``postgres`` user,
since initdb refuses root. Without PostgreSQL binaries the tests are skipped locally and FAIL in CI (``CI`` set):
.ci/run installs Debian's postgresql.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_PASSWORD = "pg-test-s3cret"


def pg_bindir() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``, or ``None``."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        candidates.append(out)
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb") or "").parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command[-1] if command else ''} failed: {result.stdout}\n{result.stderr}")


@contextmanager
def postgres_cluster(password: str = PG_PASSWORD) -> Iterator[str]:
    """Start a cluster; yield its URL (``postgresql://postgres@127.0.0.1:PORT/postgres``, no password in it).

    Skips the calling test without binaries, or fails it when ``CI`` is set.
    """
    bindir = pg_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) are missing in CI: .ci/run must install postgresql")
        pytest.skip("no PostgreSQL binaries (apt-get install postgresql)")
    # Not under pytest's basetemp: concurrent pytest runs prune old basetemp folders under a live server.
    root = Path(tempfile.mkdtemp(prefix="nps-text-pg-"))
    data, sockets, pwfile = root / "data", root / "sock", root / "pw"
    sockets.mkdir()
    pwfile.write_text(password)
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: hand the folder to the postgres user
        if not shutil.which("runuser"):
            pytest.fail("running as root needs runuser to start PostgreSQL as the postgres user")
        subprocess.run(["chown", "-R", "postgres:postgres", str(root)], check=True)
        os.chmod(root, 0o755)
        for parent in root.parents:  # the postgres user must reach the folder
            if parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o005)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    try:
        _run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
              f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"])
        _run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
              "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
