"""The persistent result store: roundtrips, versioned keys, LRU eviction, damage recovery, two writers,
the ``cache`` CLI, and re-runs that pay only for new texts (languages, embeddings, sentiment)."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nps_text.cache import ResultStore, cached_results, resolve_cache_path, store_for_run, text_hash
from nps_text.config import PipelineConfig
from nps_text.encoders.registry import CachedEmbedder, embed_texts
from nps_text.sentiment import annotate_sentiment
from nps_text.sentiment.config import SentimentConfig
from tests.conftest import HashingEncoder


def _keys(count: int, prefix: str = "t") -> list[str]:
    return [text_hash(f"{prefix}{index}") for index in range(count)]


def test_vectors_and_json_roundtrip_across_store_objects(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    keys = _keys(1200)  # more than one SELECT chunk
    matrix = np.random.default_rng(0).random((1200, 7)).astype(np.float32)
    store = ResultStore(path)
    store.put_vectors("embedding", "enc", "v1", keys, matrix)
    store.put_many("language", "lingua", "1", {keys[0]: "de", keys[1]: None, keys[2]: {"a": [1, 2]}})
    store.close()

    again = ResultStore(path)  # a later run
    vectors = again.get_vectors("embedding", "enc", "v1", keys)
    assert len(vectors) == 1200
    np.testing.assert_array_equal(np.vstack([vectors[key] for key in keys]), matrix)
    assert vectors[keys[0]].dtype == np.float32
    assert again.get_many("language", "lingua", "1", keys[:4]) == {keys[0]: "de", keys[1]: None, keys[2]: {"a": [1, 2]}}
    assert again.stats()["language"] == {"hits": 3, "misses": 1}


def test_text_itself_is_never_stored(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "c.sqlite")
    secret = "Bitte ruft mich an, Kundennummer 4711-geheim"
    cached_results(store, "language", "lingua", "1", [secret], lambda texts: ["de"] * len(texts))
    store.close()
    assert b"geheim" not in (tmp_path / "c.sqlite").read_bytes()
    assert text_hash(secret).encode() in (tmp_path / "c.sqlite").read_bytes()


def test_a_different_model_version_or_kind_misses(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "c.sqlite")
    keys = _keys(3)
    store.put_vectors("embedding", "enc", "v1", keys, np.ones((3, 4)))
    assert len(store.get_vectors("embedding", "enc", "v1", keys)) == 3
    assert store.get_vectors("embedding", "enc", "v2", keys) == {}
    assert store.get_vectors("embedding", "other", "v1", keys) == {}
    assert store.get_vectors("sentiment", "enc", "v1", keys) == {}


def test_a_new_encoder_version_recomputes_embeddings(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "c.sqlite")
    encoder = HashingEncoder()
    embed_texts(["a b", "c"], encoder, store)
    embed_texts(["a b", "c"], encoder, store)
    assert encoder.texts_encoded == 2
    encoder.version = "test-2"  # e.g. new weights
    embed_texts(["a b", "c"], encoder, store)
    assert encoder.texts_encoded == 4


def test_size_limit_evicts_least_recently_used(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "c.sqlite", max_size_mb=0.05, touch_interval_s=0)  # ~52 KB
    old, recent = _keys(20, "old"), _keys(20, "recent")
    store.put_vectors("embedding", "enc", "v", old, np.ones((20, 256)))  # ~1.1 KB each
    store.put_vectors("embedding", "enc", "v", recent, np.ones((20, 256)))
    assert len(store.get_vectors("embedding", "enc", "v", old[:5])) == 5  # touch five old entries
    store.put_vectors("embedding", "enc", "v", _keys(20, "new"), np.ones((20, 256)))  # over the limit now
    info = store.info()
    assert sum(group["bytes"] for group in info.groups) <= 0.05 * 1024 * 1024
    assert len(store.get_vectors("embedding", "enc", "v", old[:5])) == 5  # recently used survive
    assert len(store.get_vectors("embedding", "enc", "v", old[5:])) < 15  # the least recently used went first
    assert len(store.get_vectors("embedding", "enc", "v", _keys(20, "new"))) == 20


def test_damaged_entries_are_dropped_and_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.sqlite"
    store = ResultStore(path)
    encoder = HashingEncoder()
    embed_texts(["eins", "zwei"], encoder, store)
    cached_results(store, "language", "lingua", "1", ["eins", "zwei"], lambda texts: ["de"] * len(texts))
    store.close()
    with sqlite3.connect(path) as connection:  # truncate one vector, break one JSON value
        connection.execute("UPDATE entries SET value = substr(value, 1, 10) WHERE kind = 'embedding' AND key = ?",
                           (text_hash("eins"),))
        connection.execute("UPDATE entries SET value = X'7b7b' WHERE kind = 'language' AND key = ?", (text_hash("zwei"),))
    store = ResultStore(path)
    with caplog.at_level(logging.WARNING, logger="nps_text.cache"):
        vectors = embed_texts(["eins", "zwei"], encoder, store)
        languages = cached_results(store, "language", "lingua", "1", ["eins", "zwei"], lambda texts: ["xx"] * len(texts))
    assert encoder.texts_encoded == 3  # only the damaged one again
    np.testing.assert_allclose(vectors, HashingEncoder().encode(["eins", "zwei"]))
    assert languages == {"eins": "de", "zwei": "xx"}
    assert "damaged" in caplog.text
    assert len(store.get_vectors("embedding", encoder.name, encoder.version, [text_hash("eins")])) == 1  # rewritten


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_damaged_database_file_is_moved_aside_and_rebuilt(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.sqlite"
    store = ResultStore(path)
    keys = _keys(3000)
    store.put_vectors("embedding", "enc", "v", keys, np.ones((3000, 64)))
    store.close()
    if damage == "truncate":
        with open(path, "r+b") as handle:
            handle.truncate(path.stat().st_size // 3)
    else:
        path.write_bytes(b"this is not a database" * 100)
    store = ResultStore(path)
    with caplog.at_level(logging.WARNING, logger="nps_text.cache"):
        found = store.get_vectors("embedding", "enc", "v", keys)
    assert found == {}
    assert "damaged" in caplog.text
    assert (tmp_path / "c.sqlite.broken").exists()
    store.put_vectors("embedding", "enc", "v", keys[:2], np.ones((2, 64)))
    assert len(ResultStore(path).get_vectors("embedding", "enc", "v", keys[:2])) == 2


def test_a_store_that_cannot_be_opened_only_costs_recomputation(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = ResultStore(blocker / "sub" / "c.sqlite")  # parent "folder" is a file
    encoder = HashingEncoder()
    assert embed_texts(["a", "b"], encoder, store).shape == (2, HashingEncoder.dim)
    assert encoder.texts_encoded == 2


def _writer(path: str, worker: int, count: int) -> None:
    store = ResultStore(path, busy_timeout_s=60)
    for batch in range(count):
        keys = [text_hash(f"{worker}-{batch}-{index}") for index in range(50)]
        store.put_vectors("embedding", "enc", "v", keys, np.full((50, 32), worker, dtype=np.float32))
        store.put_many("language", "lingua", "1", dict.fromkeys(keys, "de"))
        store.get_vectors("embedding", "enc", "v", keys)
    store.close()


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, worker, 20)) for worker in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    store = ResultStore(path)
    for worker in range(2):
        keys = [text_hash(f"{worker}-{batch}-{index}") for batch in range(20) for index in range(50)]
        vectors = store.get_vectors("embedding", "enc", "v", keys)
        assert len(vectors) == 1000 and all(float(vector[0]) == worker for vector in vectors.values())
        assert len(store.get_many("language", "lingua", "1", keys)) == 1000
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        totals = connection.execute("SELECT entries FROM totals").fetchone()[0]
        assert totals == connection.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 4000


def test_the_store_pickles_without_its_connection(tmp_path: Path) -> None:
    import pickle

    store = ResultStore(tmp_path / "c.sqlite")
    store.put_many("language", "lingua", "1", {"k": "de"})
    copy = pickle.loads(pickle.dumps(store))
    assert copy.get_many("language", "lingua", "1", ["k"]) == {"k": "de"}


def test_config_and_paths(tmp_path: Path) -> None:
    assert store_for_run(PipelineConfig(), tmp_path).path == tmp_path / ".cache" / "nps_text.sqlite"  # type: ignore[union-attr]
    shared = PipelineConfig.model_validate({"cache": {"dir": str(tmp_path / "shared"), "max_size_mb": 10}})
    store = store_for_run(shared, tmp_path / "out")
    assert store is not None and store.path == tmp_path / "shared" / "nps_text.sqlite"
    assert store.max_bytes == 10 * 1024 * 1024
    legacy = PipelineConfig.model_validate({"embeddings": {"cache_dir": str(tmp_path / "old")}})
    assert store_for_run(legacy, tmp_path).path.parent == tmp_path / "old"  # type: ignore[union-attr]
    assert store_for_run(PipelineConfig.model_validate({"cache": {"enabled": False}}), tmp_path) is None
    assert resolve_cache_path(tmp_path / "x.sqlite") == tmp_path / "x.sqlite"


def test_cached_embedder_takes_a_store_or_a_folder(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "c.sqlite")
    assert CachedEmbedder(HashingEncoder.name, store).cache is store
    by_folder = CachedEmbedder(HashingEncoder.name, tmp_path / "folder")
    by_folder(["x"])
    assert (tmp_path / "folder" / "nps_text.sqlite").exists()
    assert CachedEmbedder(HashingEncoder.name, None).cache is None


def test_cli_info_and_clear(tmp_path: Path) -> None:
    from nps_text.cli import cli

    out = tmp_path / "out"
    store = ResultStore(out / ".cache" / "nps_text.sqlite")
    store.put_vectors("embedding", "e5-small", "v1", _keys(4), np.ones((4, 8)))
    store.put_many("language", "lingua", "1", dict.fromkeys(_keys(3), "de"))
    store.put_many("sentiment", "default", "s1", dict.fromkeys(_keys(2), [0.1, 0.2, 0.7]))
    store.close()
    runner = CliRunner()

    result = runner.invoke(cli, ["cache", "info", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "nps_text.sqlite" in result.output and "9 entries" in result.output
    assert "e5-small" in result.output and "lingua" in result.output

    result = runner.invoke(cli, ["cache", "clear", "--cache-dir", str(out / ".cache"), "--kind", "language"])
    assert result.exit_code == 0 and "removed 3 entries" in result.output
    result = runner.invoke(cli, ["cache", "clear", "--out", str(out), "--model", "e5-small"])
    assert "removed 4 entries" in result.output
    result = runner.invoke(cli, ["cache", "info", "--out", str(out), "--json"])
    assert '"entries": 2' in result.output
    result = runner.invoke(cli, ["cache", "clear", "--out", str(out)])
    assert "removed 2 entries" in result.output

    assert "no cache at" in runner.invoke(cli, ["cache", "info", "--out", str(tmp_path / "none")]).output
    assert runner.invoke(cli, ["cache", "info", "--out", "a", "--cache-dir", "b"]).exit_code != 0


def _frame(comments: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": [f"r{index}" for index in range(len(comments))],
            "comment": comments,
            "comment_status": ["text"] * len(comments),
        }
    )


def test_a_sentiment_rerun_scores_only_new_comments(tmp_path: Path) -> None:
    from tests.sentiment.conftest import KeywordBackend

    backend, config = KeywordBackend(), SentimentConfig(model="test-keywords")
    old = ["Beratung super, aber die Lieferung dauerte ewig", "Alles gut", "Support war langsam. Nie wieder."]
    first_store = ResultStore(tmp_path / "c.sqlite")
    first, first_sentences = annotate_sentiment(_frame(old), config, backend=backend, cache=first_store)
    first_calls = list(backend.seen)
    assert len(first_calls) > len(old)  # comments and their sentences were scored
    backend.seen.clear()

    rerun_store = ResultStore(tmp_path / "c.sqlite")  # next week's run: old comments plus one new one
    new = "Der Service war toll"
    again, again_sentences = annotate_sentiment(_frame(old + [new]), config, backend=backend, cache=rerun_store)
    assert backend.seen == [new]  # the old comments and their sentences came from the cache
    pd.testing.assert_series_equal(again["sentiment"].iloc[:3], first["sentiment"])
    pd.testing.assert_series_equal(again["sentiment_confidence"].iloc[:3], first["sentiment_confidence"])
    pd.testing.assert_frame_equal(again_sentences.iloc[: len(first_sentences)], first_sentences)
    assert rerun_store.stats()["sentiment"] == {"hits": 3, "misses": 1}
    assert rerun_store.stats()["sentence_sentiment"]["misses"] == 0

    backend.seen.clear()  # settings that change outputs are part of the version: a miss
    other = SentimentConfig(model="test-keywords", max_tokens=64)
    annotate_sentiment(_frame(old), other, backend=backend, cache=rerun_store)
    assert sorted(backend.seen) == sorted(first_calls)


def test_languages_are_cached_per_redacted_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text import comments

    store = ResultStore(tmp_path / "c.sqlite")
    texts = ["Die Lieferung kam viel zu spät, sehr ärgerlich", "The delivery was late and the staff was rude"]
    frame = pd.DataFrame({"comment": texts + ["Schreiben Sie mir an max.mustermann@example.de bitte zurück"]})
    first = comments.prepare_comments(frame, cache=store)
    assert first["language"].tolist() == ["de", "en", "de"]
    stored = store.get_many("language", "lingua", comments.language_cache_version(("de", "en")),
                            [text_hash(text) for text in first["comment"]])
    assert len(stored) == 3  # keyed by the redacted comment, which is what the table holds
    assert "[EMAIL]" in str(first.loc[2, "comment"])

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("lingua called for a cached text")

    monkeypatch.setattr(comments, "_detector", fail)
    again = comments.prepare_comments(frame, cache=store)
    assert again["language"].tolist() == ["de", "en", "de"]
