"""Run one command as a child process and measure its wall time and peak memory (Linux).

Used by ``compare.py`` and ``scale.py``; every variant runs in its own child, so no variant pays for another's
imports or caches. Two memory figures:

* ``peak_rss_mib``: the kernel's ``ru_maxrss`` of that child from ``os.wait4`` (exact; the largest single
  process of the child's tree, since the kernel reports the maximum over a process and its waited-for
  descendants, not their sum);
* ``tree_rss_mib``: the largest *sum* of resident memory over the child and all its descendants, sampled from
  ``/proc`` every ``interval`` seconds (catches helper processes such as a Prefect server; may miss short
  spikes between samples).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class Measurement:
    """What one run cost."""

    returncode: int
    wall_s: float
    peak_rss_mib: float
    tree_rss_mib: float


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def tree_rss_bytes(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (0 when it is gone)."""
    children = _children_map()
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
            total += int(fields[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(pid, []))
    return total


def run_measured(
    command: Sequence[str],
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    interval: float = 0.2,
    kill_after_s: float | None = None,
) -> Measurement:
    """Run ``command``, its output to ``log_path`` (or inherited), and return time and memory.

    ``kill_after_s``: SIGKILL the child's whole process group after that many seconds (a machine or container
    stopped mid-run); the measurement then ends there, with the child's exit status (-9).
    """
    log = open(log_path, "w", encoding="utf-8") if log_path is not None else None  # noqa: SIM115
    peak_tree = 0
    done = threading.Event()
    start = time.perf_counter()
    process = subprocess.Popen(
        list(command), stdout=log, stderr=subprocess.STDOUT if log else None, env=env, cwd=cwd,
        start_new_session=kill_after_s is not None,
    )

    def poll() -> None:
        nonlocal peak_tree
        while not done.is_set():
            peak_tree = max(peak_tree, tree_rss_bytes(process.pid))
            if kill_after_s is not None and time.perf_counter() - start >= kill_after_s:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                return
            done.wait(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        wall = time.perf_counter() - start
        done.set()
        poller.join()
        if log is not None:
            log.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        returncode=process.returncode,
        wall_s=wall,
        peak_rss_mib=usage.ru_maxrss / 1024,
        tree_rss_mib=peak_tree / 2**20,
    )


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file (for error messages)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
