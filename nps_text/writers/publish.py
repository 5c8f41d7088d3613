"""The publish cycle: atomic writes, and the output folder a run writes into (one run at a time, staged,
published by renames).

Every file is written atomically (:func:`atomic_path`): to a temporary file in the target folder, then renamed
over the target with :func:`os.replace`, so a crash never leaves a half-written table behind. A run locks its
output folder (:func:`output_folder`), writes into a staging folder inside it and moves the files into place at
the end (:func:`publish`, manifest last). An output whose content would not change is not written again: the
published file is linked into the staging folder (:func:`keep_published`), so the staging folder always holds the
complete set of outputs that :func:`publish` moves into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from nps_text.errors import NpsTextError

LOCK_FILE = ".lock"
STAGING_PREFIX = ".staging-"
STATE_DIR = ".state"


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success rename it over ``target``.

    Example:
        >>> with atomic_path(tmp / "table.csv") as part:  # doctest: +SKIP
        ...     frame.to_csv(part)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        # mkstemp creates 0600 files; give the output the permissions a normal write would (umask).
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputBusyError(NpsTextError):
    """Another run holds the output folder's lock."""


@contextmanager
def output_folder(out: str | Path, run_id: str) -> Iterator[Path]:
    """Lock ``out`` for this run and yield a fresh staging folder inside it.

    Everything a run writes goes to ``out/.staging-<run_id>`` first and is moved into ``out`` by
    :func:`publish` at the end, so a reader never sees a half-written table, and a killed run leaves
    only a staging folder, which the next run deletes. The lock (``fcntl.flock`` on ``out/.lock``,
    released by the kernel when the process dies) keeps two runs from mixing their outputs or theme state.

    Raises:
        OutputBusyError: another run is writing to ``out`` (it does not wait).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        clean_stale(out)
        staging = out / f"{STAGING_PREFIX}{run_id}"
        staging.mkdir()
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, one run at a time is up to the user
        yield
        return
    handle = open(out / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise OutputBusyError(f"another nps-text run is writing to {out} (pid {holder})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def clean_stale(out: Path) -> list[Path]:
    """Delete what killed runs left behind in ``out`` (staging folders, ``.part`` files); call under the lock."""
    removed: list[Path] = []
    for item in out.glob(f"{STAGING_PREFIX}*"):
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)
        removed.append(item)
    for folder in (out, out / STATE_DIR):
        for item in folder.glob(".*.part"):
            item.unlink(missing_ok=True)
            removed.append(item)
    return removed


def prepare_state(out: Path, staging: Path) -> Path:
    """Copy the published theme state into the staging folder; the run reads and updates that copy."""
    source, target = out / STATE_DIR, staging / STATE_DIR
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        for item in source.iterdir():
            if item.is_file() and not item.name.startswith("."):
                shutil.copy2(item, target / item.name)
    return target


def publish(staging: Path, out: Path, outputs: list[str], manifest: str = "manifest.json") -> list[str]:
    """Move the staged outputs into ``out`` with :func:`os.replace`: tables first, then the theme state,
    the manifest last. Outputs that the previous manifest listed and this run did not write are removed,
    so ``out`` never mixes two runs' tables. Returns the removed names."""
    previous = _previous_outputs(out / manifest)
    for name in outputs:
        if name != manifest:
            os.replace(staging / name, out / name)
    state = staging / STATE_DIR
    if state.is_dir():
        (out / STATE_DIR).mkdir(exist_ok=True)
        for item in state.iterdir():
            if item.is_file() and not item.name.startswith("."):
                os.replace(item, out / STATE_DIR / item.name)
    _fsync_dir(out)
    os.replace(staging / manifest, out / manifest)
    _fsync_dir(out)
    stale = sorted(previous - set(outputs) - {manifest})
    for name in stale:
        (out / name).unlink(missing_ok=True)
    return stale


def file_record(path: Path) -> dict[str, int] | None:
    """A file's ``size`` and ``mtime_ns`` (what the manifest records per published file), or None when it is
    missing. A publishing rename keeps both, so they tell whether a published file is still as published."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def unchanged_outputs(out: Path, digests: Mapping[str, str], manifest: str = "manifest.json") -> list[str]:
    """The outputs in ``digests`` (file name -> digest of what it is built from) that the published manifest in
    ``out`` records with the same digest and whose published file is still as published: writing them again
    would give the same file."""
    try:
        files = json.loads((out / manifest).read_text(encoding="utf-8")).get("files") or {}
    except (OSError, ValueError, AttributeError):
        return []
    kept = []
    for name, digest in digests.items():
        record = files.get(name) if isinstance(files, dict) else None
        if (isinstance(record, dict) and record.get("inputs") == digest and name == Path(name).name
                and file_record(out / name) == {"size": record.get("size"), "mtime_ns": record.get("mtime_ns")}):
            kept.append(name)
    return kept


def keep_published(out: Path, staging: Path, name: str) -> Path:
    """Put the published ``out/name`` into ``staging`` unchanged (a hard link, or a copy where the file system has
    none), so that :func:`publish` carries it over."""
    target = staging / name
    try:
        os.link(out / name, target)
    except OSError:
        shutil.copy2(out / name, target)
    return target


def _previous_outputs(manifest: Path) -> set[str]:
    try:
        names = json.loads(manifest.read_text(encoding="utf-8")).get("outputs", [])
    except (OSError, ValueError, AttributeError):
        return set()
    # only plain file names: a hand-edited manifest must not make us delete anything outside ``out``
    return {name for name in names if isinstance(name, str) and name == Path(name).name and not name.startswith(".")}


def _fsync_dir(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(descriptor)
