"""Unexpected errors: one line on the terminal, the full (redacted) report in a crash file.

An exception that is not an :class:`~nps_text.errors.NpsTextError` is a bug (ours, a library's or a plugin's).
The CLI never shows its traceback: it prints what failed, in which stage, and where the crash report is
(``OUT/crash-<UTC time>.txt`` for ``nps-text run``, else the system's temporary folder). The report holds the
traceback, the nps-text version, the stage, the command line, Python, the platform and the versions of the main
libraries, all redacted through :func:`nps_text.pii.redact` (a comment quoted in an error message is personal
data). ``--debug`` prints the same redacted traceback on the terminal too.
"""

from __future__ import annotations

import platform
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nps_text.errors import TRACEBACK_ATTRIBUTE, failed_stage

LIBRARIES = ("prefect", "pandas", "numpy", "pyarrow", "torch", "transformers", "sentence-transformers", "bertopic",
             "scikit-learn", "spacy", "sqlalchemy", "httpx")
_URL_PASSWORD = re.compile(r"(://[^/:@\s]*):[^@/\s]*@")
_MESSAGE_CHARS = 240


@dataclass
class CrashContext:
    """What the CLI knows about the current invocation, for the report: set by the commands as they start."""

    debug: bool = False
    command: str | None = None
    folder: Path | None = None
    argv: list[str] = field(default_factory=list)


context = CrashContext()
"""The one invocation of this process (reset by :func:`start`)."""


def start(argv: Sequence[str]) -> None:
    """Begin an invocation: forget the previous one (tests call the CLI several times in one process)."""
    context.debug = False
    context.command = None
    context.folder = None
    context.argv = list(argv)


def _redactor() -> Callable[[str], str] | None:
    try:
        from nps_text.pii import redact
    except Exception:  # noqa: BLE001 - a broken environment: then write no free text at all
        return None
    return redact


def _safe(text: str, redact: Callable[[str], str] | None) -> str:
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    return redact(text) if redact is not None else "[not shown: redaction unavailable]"


def redacted_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` as text, redacted (the flow's, when it crossed the Prefect flow boundary)."""
    redact = _redactor()
    stored = getattr(exc, TRACEBACK_ATTRIBUTE, None)
    if isinstance(stored, str) and stored:
        return stored if redact is None else redact(stored)
    if redact is not None:
        return _safe("".join(traceback.format_exception(exc)), redact)
    frames = traceback.extract_tb(exc.__traceback__)  # only where it happened: no messages, no source lines
    lines = [f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n' for frame in frames]
    return "Traceback (most recent call last):\n" + "".join(lines) + f"{type(exc).__name__}: [message not shown]\n"


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > _MESSAGE_CHARS:
        text = text[: _MESSAGE_CHARS - 1] + "…"
    return _safe(text, _redactor())


def _versions() -> list[str]:
    from importlib import metadata

    lines = []
    for name in LIBRARIES:
        try:
            lines.append(f"  {name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return lines


def _report_path(folder: Path | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for candidate in (folder, Path(tempfile.gettempdir())):
        if candidate is None:
            continue
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        path = candidate.resolve() / f"crash-{stamp}.txt"
        number = 1
        while path.exists():
            number += 1
            path = candidate / f"crash-{stamp}-{number}.txt"
        return path
    return Path(tempfile.gettempdir()) / f"nps-text-crash-{stamp}.txt"


def write_report(exc: BaseException) -> Path | None:
    """Write the crash report of ``exc`` (redacted; readable by the owner only); its path, or ``None`` if it
    could not be written anywhere."""
    from nps_text import __version__

    redact = _redactor()
    stage = failed_stage(exc)
    lines = [
        "nps-text crash report (personal data redacted)",
        f"time: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"nps-text: {__version__}",
        f"command: {_safe(' '.join(['nps-text', *context.argv]), redact)}",
        f"stage: {stage or '-'}",
        f"error: {type(exc).__module__}.{type(exc).__qualname__}: {_message(exc)}",
        f"python: {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"platform: {platform.platform()}",
        "libraries:",
        *_versions(),
        "",
        redacted_traceback(exc).rstrip("\n"),
        "",
    ]
    for folder in (context.folder, None):
        path = _report_path(folder)
        try:
            with open(path, "x", encoding="utf-8", opener=_owner_only) as handle:
                handle.write("\n".join(lines) + "\n")
            return path
        except OSError:
            continue
    return None


def _owner_only(path: str, flags: int) -> int:
    import os

    return os.open(path, flags, 0o600)


def one_line(exc: BaseException, report: Path | None) -> str:
    """The terminal's line for an unexpected error: what failed, in which stage, where the report is; e.g.
    ``unexpected error in stage 'themes' (TypeError: ...). A crash report is in out/crash-20261201T101500Z.txt;
    run again with --debug to see the traceback``."""
    stage = failed_stage(exc)
    where = f" in stage {stage!r}" if stage else (f" in nps-text {context.command}" if context.command else "")
    line = f"unexpected error{where} ({type(exc).__name__}: {_message(exc)})."
    if report is not None:
        line += f" A crash report is in {report}"
    else:
        line += " No crash report could be written"
    return line + ("; run again with --debug to see the traceback" if not context.debug else "")
