"""Is the output folder up to date? A run's fingerprint and the check, made before anything heavy starts, that
``OUT`` already holds the results of exactly this fingerprint.

A published run records in its manifest its ``run_id``, its ``fingerprint`` (:func:`fingerprint`), and the size
and modification time of every file it published (``files``) and of the state it left in ``OUT/.state``
(``state``, :func:`state_records`). Before it changes anything in ``OUT`` (state, database, files, alerts) a run
writes its id to ``OUT/.attempt`` (:func:`mark_attempt`). :func:`check` says ``OUT`` is up to date when

- the published manifest has the same fingerprint: the same nps-text version and code, input path and bytes,
  effective config, database target, model files, installed libraries and pseudonym key;
- the last run that started in ``OUT`` is the published one: a run that failed or was killed after it may have
  written the database, the theme state or the pseudonym key, and is run again;
- every published file and state file is still as that run left it (a deleted, edited or added file: run again).

An up-to-date ``OUT`` needs no run: no model, no database write, no alert (they went out with the published run).
Pure except for reading files and writing the attempt marker; imports neither Prefect nor pandas.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nps_text import __version__
from nps_text.errors import DeliveryError
from nps_text.writers.publish import STATE_DIR, atomic_path, file_record

if TYPE_CHECKING:
    from nps_text.config import PipelineConfig
    from nps_text.params import RunParameters

ATTEMPT_FILE = ".attempt"
"""``OUT/.attempt``: the id of the last run that started writing into ``OUT`` (:func:`mark_attempt`)."""
MANIFEST_FILE = "manifest.json"
_CODE_SUFFIXES = (".py", ".yaml", ".j2", ".css", ".json")


@dataclass(frozen=True)
class Verdict:
    """What :func:`check` found: ``up_to_date``, else the ``reason`` a run is needed; the published ``manifest``."""

    up_to_date: bool
    reason: str
    manifest: dict[str, Any] | None = None


class UpToDate(Exception):  # noqa: N818 - not an error: a run's way out when OUT needs no run
    """``OUT`` is up to date (:func:`check_run`); ``manifest`` is the published one."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        super().__init__("up to date")
        self.manifest = manifest


PROCESS_ONLY_SETTINGS = {"runner": ("release_models", "model_process")}
"""Settings that decide which process holds the models and for how long, never a result (the tables are
identical either way: ``tests/test_runner.py``): a run that changes only these is up to date, so a warm
``flows/serve.py --warm`` (which keeps the models loaded) and ``nps-text run`` share one output folder."""


def _result_settings(config: PipelineConfig) -> dict[str, Any]:
    settings = config.model_dump(mode="json")
    for section, names in PROCESS_ONLY_SETTINGS.items():
        for name in names:
            settings.get(section, {}).pop(name, None)
    return settings


def fingerprint(params: RunParameters, config: PipelineConfig, input_sha256: str) -> dict[str, str]:
    """Everything a run's results depend on, each part as a short string (the manifest's ``fingerprint``).

    ``config`` is the run's effective config (:func:`nps_text.params.run_config`); ``input_sha256`` the input's
    content hash (:func:`nps_text.ingest.file_hash`, or the query result's for a SQL input). Model folders and
    the taxonomy file count by their files' names, sizes and modification times, libraries by their installed
    versions, the pseudonym key by a keyed digest (never the key).
    """
    return {
        "nps_text": f"{__version__}+{code_digest()}",
        "input": params.input,
        "input_sha256": input_sha256,
        "config": _digest(json.dumps(_result_settings(config), sort_keys=True)),
        "database": params.database or "",
        "models": _digest("\n".join(_model_identities(config))),
        "libraries": libraries_digest(),
        "pseudonym_key": _pseudonym_key_id(),
    }


def check(out: Path, expected: Mapping[str, str]) -> Verdict:
    """Whether ``out`` already holds the results of a run with fingerprint ``expected`` (see the module's doc)."""
    manifest = _read_json(out / MANIFEST_FILE)
    if not isinstance(manifest, dict):
        return Verdict(False, "no published run")
    recorded = manifest.get("fingerprint")
    if not isinstance(recorded, dict):
        return Verdict(False, "the published run recorded no fingerprint", manifest)
    changed = [key for key in sorted(set(expected) | set(recorded)) if expected.get(key) != recorded.get(key)]
    if changed:
        return Verdict(False, f"changed since the published run: {', '.join(changed)}", manifest)
    attempt = _read_json(out / ATTEMPT_FILE)
    if not isinstance(attempt, dict) or not manifest.get("run_id") or attempt.get("run_id") != manifest["run_id"]:
        return Verdict(False, "a later run into this folder did not finish", manifest)
    files = manifest.get("files") or {}
    listed = [name for name in manifest.get("outputs") or [] if name != MANIFEST_FILE]
    for name in listed:
        if name not in files or file_record(out / name) != _identity(files[name]):
            return Verdict(False, f"{name} is missing or was changed", manifest)
    recorded_state = manifest.get("state") or {}
    if state_records(out) != {name: _identity(record) for name, record in recorded_state.items()}:
        return Verdict(False, f"the state in {STATE_DIR} was changed", manifest)
    return Verdict(True, "", manifest)


def check_run(params: RunParameters, config: PipelineConfig, input_sha256: str | None = None) -> Verdict:
    """:func:`check` for a run: whether ``params.out`` already holds the results of ``params`` with ``config``.

    ``input_sha256`` is the input's content hash; ``None`` computes it for a file input. Not up to date without
    checking: a forced run, a SQL input without its hash (its data is known only after its query), an input that
    cannot be read (ingest then says what is wrong with it).
    """
    from nps_text.ingest import file_hash, is_sql_url

    if params.force:
        return Verdict(False, "forced")
    if input_sha256 is None:
        if is_sql_url(params.input):
            return Verdict(False, "a SQL input is checked after its query")
        try:
            input_sha256 = file_hash(Path(params.input))
        except OSError:
            return Verdict(False, "the input cannot be read")
    return check(Path(params.out), fingerprint(params, config, input_sha256))


def published_alert_failures(manifest: Mapping[str, Any], on_failure: str) -> list[str]:
    """One line per alert channel that failed in the published run (:func:`nps_text.notify.delivery_failures`),
    for an up-to-date run, which sends nothing again: with ``on_failure`` ``fail`` it fails as that run did.

    Raises:
        DeliveryError: some channel failed and ``on_failure`` is ``fail`` (exit code 3).
    """
    rows = manifest.get("alerts") or []
    if not any(isinstance(row, Mapping) and row.get("status") == "failed" for row in rows):
        return []
    from nps_text.notify import delivery_failures  # imports Prefect: only when a channel failed

    failures = delivery_failures(rows)
    if on_failure == "fail":
        raise DeliveryError(f"the outputs are up to date, but {len(failures)} alert channel(s) failed in the run that "
                            f"wrote them (use --force to run and send again): {'; '.join(failures)}", failures)
    return failures


def mark_attempt(out: Path, run_id: str) -> None:
    """Record in ``out`` that run ``run_id`` starts changing it (before its first change)."""
    with atomic_path(out / ATTEMPT_FILE) as part:
        part.write_text(json.dumps({"run_id": run_id, "started_at": datetime.now(UTC).isoformat(),
                                    "pid": os.getpid()}) + "\n", encoding="utf-8")


def state_records(out: Path, staging: Path | None = None) -> dict[str, dict[str, int]]:
    """Size and modification time of each state file that ``out/.state`` holds (after publishing ``staging``, where
    its copy of a file wins: :func:`nps_text.writers.publish.publish` moves it over the published one)."""
    folders = [out / STATE_DIR] + ([staging / STATE_DIR] if staging is not None else [])
    found: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            found.update({item.name: item for item in folder.iterdir() if item.is_file() and not item.name.startswith(".")})
    return {name: record for name, path in sorted(found.items()) if (record := file_record(path)) is not None}


def up_to_date_line(manifest: Mapping[str, Any], out: Path) -> str:
    """The one line an up-to-date run prints.

    Example:
        >>> up_to_date_line({"input": {"path": "s.csv", "sha256": "03a71bf5cb5d01bd"}, "run_id": "5f1c",
        ...                  "finished_at": "2026-12-03T15:58:35+00:00"}, Path("out"))
        'Up to date: out already holds the results of s.csv (sha256 03a71bf5cb5d…, run 5f1c at 2026-12-03 15:58 UTC); nothing to do. Use --force to run again.'
    """
    source = manifest.get("input") or {}
    finished = str(manifest.get("finished_at") or "")
    with contextlib.suppress(ValueError):
        finished = datetime.fromisoformat(finished).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Up to date: {out} already holds the results of {source.get('path')} (sha256 "
            f"{str(source.get('sha256'))[:12]}…, run {manifest.get('run_id')} at {finished}); nothing to do. "
            "Use --force to run again.")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """Content hash of this package's code and data files: a changed checkout counts as a new version."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in _CODE_SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(root).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def libraries_digest() -> str:
    """Hash of the installed versions of nps-text's declared dependencies (torch, transformers, bertopic, ...)."""
    from importlib import metadata

    try:
        requirements = metadata.requires("nps-text") or []
    except metadata.PackageNotFoundError:  # a source tree on sys.path without an install
        return "not installed"
    names = sorted({re.split(r"[\s;<>=!~\[(]", line, maxsplit=1)[0] for line in requirements if "extra ==" not in line})
    versions = []
    for name in names:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} missing")
    return _digest("\n".join(versions))


def _model_identities(config: PipelineConfig) -> list[str]:
    """The models and files the config names: a folder or file by its files' stat, anything else by its name.
    The built-in sentiment models are the folders of :func:`nps_text.sentiment.base.model_dirs`; the built-in
    encoders come from installed packages (their versions count in :func:`libraries_digest`)."""
    from nps_text.sentiment.base import model_dirs, registered_backends

    identities = []
    if config.sentiment.model in registered_backends():
        identities += [f"models {folder}: {_stat_digest([folder])}" for folder in model_dirs()]
    references = [config.sentiment.model, config.embeddings.model, config.themes.encoder or "", config.themes.taxonomy or ""]
    for reference in references:
        path = Path(reference).expanduser() if reference else None
        identities.append(f"{reference}: {_stat_digest([path])}" if path is not None and path.exists() else reference)
    return identities


def _stat_digest(roots: Iterable[Path]) -> str:
    """Hash of the names, sizes and modification times of the files under ``roots`` (files or folders)."""
    lines = []
    for root in roots:
        paths = [root] if root.is_file() else sorted(item for item in root.rglob("*") if item.is_file())
        for path in paths:
            stat = path.stat()
            lines.append(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}")
    return _digest("\n".join(lines))


def _pseudonym_key_id() -> str:
    """A keyed digest of ``$NPS_TEXT_PSEUDONYM_KEY`` (it reveals no more than a pseudonym does); a key kept in
    ``OUT/.state`` counts with the state files instead."""
    from nps_text.privacy import KEY_ENV

    key = os.environ.get(KEY_ENV)
    if not key:
        return "state"
    return "env " + hmac.new(key.encode("utf-8"), b"nps-text fingerprint", hashlib.sha256).hexdigest()[:16]


def _identity(record: Any) -> dict[str, int] | None:
    if not isinstance(record, Mapping):
        return None
    return {"size": record.get("size"), "mtime_ns": record.get("mtime_ns")}  # type: ignore[dict-item]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
