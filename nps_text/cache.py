"""One persistent store for every expensive per-text result: embeddings, languages, sentiment.

Entries are keyed by ``(kind, model, model version, sha256 of the redacted text)``; a weekly re-run pays
only for new comments, and a new model version simply misses. The store is one SQLite file (stdlib
``sqlite3``, WAL mode, a busy timeout), by default ``<out>/.cache/nps_text.sqlite``:

* batches: :meth:`ResultStore.get_many` / :meth:`ResultStore.put_many` run one statement batch per call
  (``executemany``, one transaction), so a million texts are a handful of round trips;
* values are float32 vectors (raw little-endian bytes + their dimension) or small JSON documents;
  the text itself is never stored, only its hash;
* a size limit (``max_size_mb``) evicts the least recently used entries (each entry keeps an access time);
* damage is never fatal: a damaged entry (wrong byte length, bad JSON) is dropped and recomputed, a
  damaged or truncated database file is moved aside (``*.broken``) and a fresh one is created, and a
  store that stays busy or unwritable only costs a recomputation (all with a logged warning);
* two processes may read and write at once (WAL, ``busy_timeout``, ``BEGIN IMMEDIATE`` for writes).

Stages stay pure: the flow opens the store from the config and the output folder (:func:`store_for_run`)
and passes it to the steps, which accept ``cache=None`` as well.

Example:
    >>> import tempfile, numpy as np
    >>> store = ResultStore(Path(tempfile.mkdtemp()) / "nps_text.sqlite")
    >>> key = text_hash("Lieferung zu spät")
    >>> store.put_many("language", "lingua", "2.1.1", {key: "de"})
    >>> store.get_many("language", "lingua", "2.1.1", [key, text_hash("other")]) == {key: "de"}  # a miss is left out
    True
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

if TYPE_CHECKING:
    from nps_text.config import PipelineConfig

logger = logging.getLogger(__name__)

CACHE_FILE = "nps_text.sqlite"
"""File name of the store inside a cache folder."""

DEFAULT_MAX_SIZE_MB = 2048.0
SCHEMA_VERSION = 1
Codec = Literal["vector", "json"]
T = TypeVar("T")
_CHUNK = 500  # keys per SELECT ... IN (...) statement
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_ROW_OVERHEAD = 48  # bytes per entry counted on top of value and key (row header, index entries)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    dim INTEGER,
    size INTEGER NOT NULL,
    accessed REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_key ON entries (kind, model, version, key);
CREATE INDEX IF NOT EXISTS entries_accessed ON entries (accessed);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    bytes INTEGER NOT NULL,
    entries INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (id, bytes, entries) VALUES (0, 0, 0);
CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries BEGIN
    UPDATE totals SET bytes = bytes + NEW.size, entries = entries + 1 WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries BEGIN
    UPDATE totals SET bytes = bytes - OLD.size, entries = entries - 1 WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS entries_resize AFTER UPDATE OF size ON entries BEGIN
    UPDATE totals SET bytes = bytes + NEW.size - OLD.size WHERE id = 0;
END;
"""

_UPSERT = (
    "INSERT INTO entries (kind, model, version, key, value, dim, size, accessed) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (kind, model, version, key) DO UPDATE SET "
    "value = excluded.value, dim = excluded.dim, size = excluded.size, accessed = excluded.accessed"
)


def text_hash(text: str) -> str:
    """The cache key of one (already redacted) text: sha256 of its UTF-8 bytes, hex.

    Example:
        >>> text_hash("abc")[:12]
        'ba7816bf8f01'
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: str | Path, length: int = 16) -> str:
    """Content hash (sha256, first ``length`` hex digits) of a weights file; computed once per process and file.

    Used in model versions, so replacing a model's weights in place invalidates its cached results.
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _file_digest(str(resolved), stat.st_size, stat.st_mtime_ns)[:length]


def folder_digest(
    folder: str | Path,
    patterns: Iterable[str] = ("*.json", "*.safetensors", "*.bin", "*.npz", "*.onnx", "*.model", "*.txt"),
    length: int = 16,
) -> str:
    """Content hash of a model folder's config and weight files (top level, sorted by name)."""
    root = Path(folder)
    files = sorted({path for pattern in patterns for path in root.glob(pattern) if path.is_file()})
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}:{file_digest(path, 64)}\n".encode())
    return digest.hexdigest()[:length]


def settings_digest(settings: Mapping[str, Any], length: int = 12) -> str:
    """Short hash of the settings that change a model's outputs (part of a cache version)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:length]


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    message = str(exc).lower()
    return "malformed" in message or "not a database" in message


@dataclass
class CacheInfo:
    """What ``nps-text cache info`` shows: the file, its size on disk, and entries per kind/model/version."""

    path: Path
    exists: bool
    disk_bytes: int = 0
    max_size_mb: float | None = None
    groups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return sum(int(group["entries"]) for group in self.groups)


class ResultStore:
    """The SQLite-backed store of per-text results. Cheap to create; the file is opened on first use.

    Args:
        path: the database file (its folder is created on first use).
        max_size_mb: limit on the stored bytes (values, keys and a per-entry overhead); least recently
            used entries are evicted beyond it. ``None`` or ``0`` = no limit.
        busy_timeout_s: how long a writer waits for another process's transaction.
        touch_interval_s: a hit refreshes an entry's access time only when it is older than this
            (keeps reads from turning into writes; LRU precision is this interval).

    Counters ``hits`` and ``misses`` (per kind) let the manifest report what the cache saved.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_size_mb: float | None = DEFAULT_MAX_SIZE_MB,
        busy_timeout_s: float = 30.0,
        touch_interval_s: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = int(max_size_mb * 1024 * 1024) if max_size_mb else None
        self.busy_timeout_s = busy_timeout_s
        self.touch_interval_s = touch_interval_s
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        self._owner_pid: int | None = None
        self._inode: int | None = None

    # -- pickling (Prefect / Dask ship the store to workers; each process opens its own connection) ------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_lock=None, _connection=None, _owner_pid=None, _inode=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    # -- connection ---------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None and self._owner_pid == os.getpid():
            return self._connection
        self._connection = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # one transaction: two processes creating the file at once wait for each other
                connection.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            connection.execute("SELECT bytes FROM totals WHERE id = 0").fetchone()
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self._owner_pid = os.getpid()
        self._inode = self.path.stat().st_ino
        return connection

    def close(self) -> None:
        """Close this process's connection (the store reopens on next use)."""
        with self._lock:
            if self._connection is not None and self._owner_pid == os.getpid():
                with contextlib.suppress(sqlite3.Error):
                    self._connection.close()
            self._connection = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recover(self, exc: BaseException) -> None:
        """Move a damaged database aside (unless another process already replaced it) and start fresh."""
        opened_inode = self._inode
        self.close()
        try:
            current_inode = self.path.stat().st_ino
        except FileNotFoundError:
            return
        if opened_inode is not None and current_inode != opened_inode:
            return  # another process already replaced the broken file: just reconnect
        broken = self.path.with_name(self.path.name + ".broken")
        logger.warning("cache database %s is damaged (%s); moved to %s, starting a fresh cache", self.path, exc, broken)
        try:
            os.replace(self.path, broken)
        except OSError:
            self.path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def _run(self, operation: Callable[[sqlite3.Connection], T], default: T, what: str) -> T:
        """Run ``operation`` on the connection; damage is repaired once, every other database error only
        costs the cache (a warning and ``default``), never the run."""
        for attempt in range(2):
            try:
                with self._lock:
                    return operation(self._connect())
            except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
                raise
            except sqlite3.DatabaseError as exc:
                if self._connection is not None:
                    _rollback(self._connection)
                if attempt == 0 and _is_corruption(exc):
                    self._recover(exc)
                    continue
                logger.warning("result cache %s unavailable for %s: %s (results are recomputed)", self.path, what, exc)
                return default
            except OSError as exc:
                logger.warning("result cache %s unavailable for %s: %s (results are recomputed)", self.path, what, exc)
                return default
        return default

    # -- batch access -------------------------------------------------------------------------------------
    def get_many(
        self, kind: str, model: str, version: str, keys: Sequence[str], codec: Codec = "json"
    ) -> dict[str, Any]:
        """Cached values for those of ``keys`` that are present and intact (damaged ones are dropped)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        def read(connection: sqlite3.Connection) -> dict[str, Any]:
            found: dict[str, Any] = {}
            damaged: list[str] = []
            stale: list[str] = []
            now = time.time()
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                rows = connection.execute(
                    "SELECT key, value, dim, accessed FROM entries WHERE kind = ? AND model = ? AND version = ? "
                    f"AND key IN ({','.join('?' * len(chunk))})",
                    (kind, model, version, *chunk),
                ).fetchall()
                for key, value, dim, accessed in rows:
                    decoded = _decode(value, dim, codec)
                    if decoded is _DAMAGED:
                        damaged.append(key)
                        continue
                    found[key] = decoded
                    if now - accessed >= self.touch_interval_s:
                        stale.append(key)
            if damaged or stale:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    params = [(kind, model, version, key) for key in damaged]
                    connection.executemany(
                        "DELETE FROM entries WHERE kind = ? AND model = ? AND version = ? AND key = ?", params
                    )
                    connection.executemany(
                        "UPDATE entries SET accessed = ? WHERE kind = ? AND model = ? AND version = ? AND key = ?",
                        [(now, kind, model, version, key) for key in stale],
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    _rollback(connection)
                    raise
            if damaged:
                logger.warning(
                    "dropped %d damaged %s cache entries for %s (%s); they are recomputed",
                    len(damaged), kind, model, self.path,
                )
            return found

        empty: dict[str, Any] = {}
        found = self._run(read, empty, f"reading {kind}")
        self.hits[kind] = self.hits.get(kind, 0) + len(found)
        self.misses[kind] = self.misses.get(kind, 0) + len(wanted) - len(found)
        return found

    def put_many(self, kind: str, model: str, version: str, items: Mapping[str, Any], codec: Codec = "json") -> None:
        """Store ``key -> value`` in one transaction, then evict least recently used entries over the limit."""
        if not items:
            return
        now = time.time()
        rows = []
        for key, value in items.items():
            blob, dim = _encode(value, codec)
            size = len(blob) + len(key) + len(kind) + len(model) + len(version) + _ROW_OVERHEAD
            rows.append((kind, model, version, key, blob, dim, size, now))

        def write(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(_UPSERT, rows)
                if self.max_bytes is not None:
                    self._evict(connection, self.max_bytes)
                connection.execute("COMMIT")
            except BaseException:
                _rollback(connection)
                raise

        self._run(write, None, f"writing {kind}")

    @staticmethod
    def _evict(connection: sqlite3.Connection, max_bytes: int) -> int:
        """Delete least recently used entries until the stored bytes are at most 90% of the limit."""
        total = int(connection.execute("SELECT bytes FROM totals WHERE id = 0").fetchone()[0])
        if total <= max_bytes:
            return 0
        target = int(max_bytes * 0.9)
        evicted = 0
        while total > target:
            batch = connection.execute(
                "SELECT id, size FROM entries ORDER BY accessed, id LIMIT 1000"
            ).fetchall()
            if not batch:
                break
            chosen = []
            for row_id, size in batch:
                chosen.append((row_id,))
                total -= size
                if total <= target:
                    break
            connection.executemany("DELETE FROM entries WHERE id = ?", chosen)
            evicted += len(chosen)
        logger.info("result cache: evicted %d least recently used entries", evicted)
        return evicted

    def get_vectors(self, kind: str, model: str, version: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached float32 vectors by key."""
        return self.get_many(kind, model, version, keys, codec="vector")

    def put_vectors(self, kind: str, model: str, version: str, keys: Sequence[str], matrix: np.ndarray) -> None:
        """Store row ``i`` of ``matrix`` under ``keys[i]``."""
        self.put_many(kind, model, version, dict(zip(keys, np.asarray(matrix), strict=True)), codec="vector")

    # -- maintenance ----------------------------------------------------------------------------------------
    def info(self) -> CacheInfo:
        """Entries and stored bytes per kind, model and version; the file's size on disk."""
        max_mb = self.max_bytes / (1024 * 1024) if self.max_bytes else None
        if not self.path.exists():
            return CacheInfo(path=self.path, exists=False, max_size_mb=max_mb)

        def read(connection: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = connection.execute(
                "SELECT kind, model, version, COUNT(*), SUM(size), MAX(accessed) FROM entries "
                "GROUP BY kind, model, version ORDER BY kind, model, version"
            ).fetchall()
            return [
                {"kind": kind, "model": model, "version": version, "entries": count, "bytes": int(size or 0),
                 "last_used": last}
                for kind, model, version, count, size, last in rows
            ]

        nothing: list[dict[str, Any]] = []
        groups = self._run(read, nothing, "info")
        disk = sum(
            Path(str(self.path) + suffix).stat().st_size
            for suffix in ("", "-wal", "-shm")
            if Path(str(self.path) + suffix).exists()
        )
        return CacheInfo(path=self.path, exists=True, disk_bytes=disk, max_size_mb=max_mb, groups=groups)

    def clear(self, kind: str | None = None, model: str | None = None) -> int:
        """Delete entries (all, or of one kind and/or model) and give the space back; returns how many."""
        if not self.path.exists():
            return 0
        where, params = [], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if model is not None:
            where.append("model = ?")
            params.append(model)
        clause = f" WHERE {' AND '.join(where)}" if where else ""

        def delete(connection: sqlite3.Connection) -> int:
            connection.execute("BEGIN IMMEDIATE")
            try:
                count = connection.execute(f"DELETE FROM entries{clause}", params).rowcount
                connection.execute("COMMIT")
            except BaseException:
                _rollback(connection)
                raise
            try:
                connection.execute("VACUUM")
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError:
                pass  # another process holds the file; the space is reused later
            return int(count)

        return self._run(delete, 0, "clear")

    def stats(self) -> dict[str, dict[str, int]]:
        """Hits and misses per kind since this store object was created (for the run manifest)."""
        kinds = sorted(set(self.hits) | set(self.misses))
        return {kind: {"hits": self.hits.get(kind, 0), "misses": self.misses.get(kind, 0)} for kind in kinds}


_DAMAGED = object()


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")


def _encode(value: Any, codec: Codec) -> tuple[bytes, int | None]:
    if codec == "vector":
        vector = np.ascontiguousarray(value, dtype="<f4").reshape(-1)
        return vector.tobytes(), int(vector.shape[0])
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), None


def _decode(value: bytes, dim: int | None, codec: Codec) -> Any:
    if codec == "vector":
        if dim is None or dim <= 0 or not isinstance(value, bytes) or len(value) != 4 * dim:
            return _DAMAGED
        vector = np.frombuffer(value, dtype="<f4").astype(np.float32)
        return vector if np.all(np.isfinite(vector)) else _DAMAGED
    if dim is not None:
        return _DAMAGED
    try:
        return json.loads(bytes(value).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, TypeError):
        return _DAMAGED


def cached_results(
    store: ResultStore | None,
    kind: str,
    model: str,
    version: str,
    texts: Sequence[str],
    compute: Callable[[list[str]], Any],
    codec: Codec = "json",
) -> dict[str, Any]:
    """``text -> result`` for each distinct text: cached where possible, ``compute`` (one call) for the rest.

    ``compute`` gets the missing distinct texts in first-seen order and returns one result per text
    (a list, or a 2-D array whose rows are the vectors). New results are stored in one batch.
    """
    distinct = list(dict.fromkeys(texts))
    if not distinct:
        return {}
    if store is None:
        fresh = compute(distinct)
        return dict(zip(distinct, fresh, strict=True))
    keys = {text: text_hash(text) for text in distinct}
    known = store.get_many(kind, model, version, list(keys.values()), codec=codec)
    results: dict[str, Any] = {text: known[key] for text, key in keys.items() if key in known}
    missing = [text for text in distinct if keys[text] not in known]
    if missing:
        fresh = compute(missing)
        if len(fresh) != len(missing):
            raise ValueError(f"{kind} computation returned {len(fresh)} results for {len(missing)} texts")
        store.put_many(kind, model, version, {keys[text]: value for text, value in zip(missing, fresh, strict=True)}, codec)
        results.update(zip(missing, fresh, strict=True))
    return results


def default_cache_path(out: str | Path) -> Path:
    """``<out>/.cache/nps_text.sqlite``."""
    return Path(out) / ".cache" / CACHE_FILE


def resolve_cache_path(cache_dir: str | Path | None = None, out: str | Path | None = None) -> Path:
    """The store file for a cache folder (or a ``.sqlite`` file named directly), else for an output folder."""
    if cache_dir is not None:
        path = Path(cache_dir).expanduser()
        return path if path.suffix in (".sqlite", ".db") else path / CACHE_FILE
    return default_cache_path(out if out is not None else "out")


def open_store(location: str | Path | ResultStore | None, max_size_mb: float | None = DEFAULT_MAX_SIZE_MB) -> ResultStore | None:
    """A store for a folder or file path (``None`` stays ``None``; a store is returned as it is)."""
    if location is None or isinstance(location, ResultStore):
        return location
    return ResultStore(resolve_cache_path(location), max_size_mb=max_size_mb)


def store_for_run(config: PipelineConfig, out: str | Path) -> ResultStore | None:
    """The run's store from the config: ``cache.dir`` (or the older ``embeddings.cache_dir``), else
    ``<out>/.cache``; ``None`` when ``cache.enabled`` is false."""
    settings = getattr(config, "cache", None)
    if settings is not None and not settings.enabled:
        return None
    folder = getattr(settings, "dir", None) or config.embeddings.cache_dir
    max_mb = getattr(settings, "max_size_mb", DEFAULT_MAX_SIZE_MB)
    return ResultStore(resolve_cache_path(folder, out), max_size_mb=max_mb)

