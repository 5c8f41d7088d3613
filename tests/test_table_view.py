"""TableView: another table's rows in a new order plus own columns, materialised only in slices; the follow_up
table as such a view (same rows as a stable sort), written and checked slice by slice with the same results."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from nps_text.errors import SchemaError
from nps_text.insights import follow_up, follow_up_view
from nps_text.schema import FOLLOW_UP_ORDER, check_table, check_tables, check_view
from nps_text.table_view import TableView, as_frame, batches
from nps_text.writers import formats


@pytest.fixture
def responses() -> pd.DataFrame:
    """Ties on purpose: equal scores and sentiments keep the input order."""
    rng = np.random.default_rng(5)
    n = 40
    score = rng.integers(0, 11, n)
    status = rng.choice(["text", "empty", "non_informative"], n, p=[0.6, 0.3, 0.1])
    sentiment = np.where(status == "text", rng.choice(["negative", "neutral", "positive"], n), None)
    return check_table(
        pd.DataFrame(
            {
                "response_id": [f"r{i:02d}" for i in range(n)],
                "score": score,
                "nps_group": np.where(score >= 9, "promoter", np.where(score >= 7, "passive", "detractor")),
                "comment": np.where(status == "empty", None, [f"comment {i}" for i in range(n)]),
                "comment_status": status,
                "language": np.where(status == "text", "de", None),
                "sentiment": sentiment,
                "sentiment_confidence": np.where(status == "text", 0.5, np.nan),
                "theme_id": pd.array([None] * n, dtype="Int64"),
                "theme_label": pd.array([None] * n, dtype="string"),
                "theme_ids": [None] * n,
                "theme_labels": [None] * n,
                "period": rng.choice(["2026-W01", "2026-W02"], n),
                "Filiale": rng.choice(["=Nord", "Süd"], n),
            }
        ),
        "responses",
        stage="themes",
    )


def _stable_sort_reference(responses: pd.DataFrame) -> pd.DataFrame:
    """follow_up as a stable three-key sort of a full copy (how it was built before it became a view)."""
    frame = responses.copy()
    group = frame["nps_group"]
    text = frame["comment_status"].eq("text")
    action = np.select(
        [group == "detractor", ~text, group == "passive", group == "promoter"],
        ["call_back_detractor", "no_comment", "convert_passive", "thank_promoter"], default="no_comment",
    )
    frame.insert(0, "follow_up", action)
    order = frame["follow_up"].map({name: index for index, name in enumerate(FOLLOW_UP_ORDER)})
    urgency = np.where(frame["follow_up"] == "convert_passive", -frame["score"], frame["score"])
    negative = (~frame["sentiment"].eq("negative").fillna(False).astype(bool)).astype(int)
    frame = frame.assign(_o=order, _u=urgency, _n=negative).sort_values(["_o", "_u", "_n"], kind="stable")
    return frame.drop(columns=["_o", "_u", "_n"]).reset_index(drop=True)


def test_follow_up_view_has_the_rows_of_a_stable_sort(responses: pd.DataFrame) -> None:
    expected = _stable_sort_reference(responses)
    table = follow_up(responses)
    assert table["response_id"].tolist() == expected["response_id"].tolist()
    assert table["follow_up"].tolist() == expected["follow_up"].tolist()
    assert set(table.columns) == set(expected.columns)
    assert list(table.columns[:9]) == ["follow_up", "response_id", "score", "nps_group", "comment_status", "comment",
                                       "theme_id", "theme_label", "sentiment"]


def test_the_view_holds_no_copy_of_the_responses(responses: pd.DataFrame) -> None:
    view = follow_up_view(responses)
    assert view.source is responses
    assert list(view.own.columns) == ["follow_up"]
    assert len(view) == len(responses)


def test_rows_slices_and_batches_agree(responses: pd.DataFrame) -> None:
    view = follow_up_view(responses)
    whole = view.to_frame()
    pd.testing.assert_frame_equal(view.head(7), whole.head(7))
    pd.testing.assert_frame_equal(view.rows(np.array([3, 1])), whole.iloc[[3, 1]].reset_index(drop=True))
    parts = list(batches(view, 15))
    assert [len(part) for part in parts] == [15, 15, 10]
    pd.testing.assert_frame_equal(pd.concat(parts), whole)
    assert [len(part) for part in batches(view.source.iloc[:0], 15)] == [0]
    pd.testing.assert_frame_equal(as_frame(view), whole)


def test_a_view_rejects_columns_it_cannot_supply() -> None:
    source = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(ValueError, match="neither"):
        TableView(source, np.array([1, 0]), pd.DataFrame({"b": [1, 2]}), ("b", "missing"))
    with pytest.raises(ValueError, match="rows"):
        TableView(source, np.array([1, 0]), pd.DataFrame({"b": [1]}), ("b", "a"))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_view_is_written_like_its_frame(
    fmt: str, responses: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = formats.FORMATS[fmt].suffix
    frame = formats.write_table(follow_up(responses), tmp_path / f"frame{suffix}")
    monkeypatch.setattr(formats, "WRITE_CHUNK_ROWS", 16)  # the view is written in 3 slices
    view = formats.write_table(follow_up_view(responses), tmp_path / f"view{suffix}")
    if fmt == "parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(view), pd.read_parquet(frame))
    else:
        assert view.read_bytes() == frame.read_bytes()


def test_a_view_in_duckdb_and_excel(responses: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "WRITE_CHUNK_ROWS", 16)
    database = formats.write_duckdb({"follow_up": follow_up_view(responses)}, tmp_path / "run.duckdb")
    with duckdb.connect(str(database), read_only=True) as connection:
        written = connection.execute('SELECT response_id, follow_up FROM "follow_up"').fetchall()
    expected = follow_up(responses)
    assert written == list(zip(expected["response_id"], expected["follow_up"], strict=True))
    workbook = formats.write_excel({"follow_up": follow_up_view(responses)}, tmp_path / "run.xlsx")
    sheet = pd.read_excel(workbook, sheet_name="follow_up")
    assert sheet["response_id"].tolist() == expected["response_id"].tolist()


def test_check_view_coerces_and_validates_slice_by_slice(responses: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    import nps_text.schema as schema

    monkeypatch.setattr(schema, "CHECK_BATCH_ROWS", 16)
    view = follow_up_view(responses)
    checked = check_tables({"follow_up": view})["follow_up"]
    assert isinstance(checked, TableView)
    pd.testing.assert_frame_equal(checked.to_frame(), check_table(follow_up(responses), "follow_up"))
    broken = TableView(view.source, view.order, view.own.assign(follow_up="call_me"), view.columns)
    with pytest.raises(SchemaError, match="follow_up"):
        check_view(broken, "follow_up")


def test_a_view_has_the_digest_of_its_frame(responses: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writers' up-to-date check sees the same table content whether follow_up is a view or a frame, and
    the same digest for the same view in slices (the digest hashes Arrow buffers: slices of a frame and slices
    taken from a view may lay out validity bitmaps differently, so only like is compared with like)."""
    from nps_text.writers import outputs

    assert outputs.table_digest(follow_up_view(responses)) == outputs.table_digest(follow_up(responses))
    monkeypatch.setattr(outputs, "WRITE_CHUNK_ROWS", 16)  # several record batches
    assert outputs.table_digest(follow_up_view(responses)) == outputs.table_digest(follow_up_view(responses.copy()))


@pytest.mark.parametrize("dtype", ["string", "str"])
def test_take_from_a_chunked_text_column_chunk_by_chunk(dtype: str) -> None:
    from nps_text.table_view import take

    chunks = [[f"t{i}" for i in range(start, start + 5)] for start in range(0, 20, 5)]
    chunks[1][2] = None
    column = pd.Series(pd.concat([pd.Series(chunk, dtype=dtype) for chunk in chunks], ignore_index=True)).array
    positions = np.array([19, 0, 7, 7, 12, 3, 18])
    expected = pd.Series(column).take(positions).tolist()
    taken = take(column, positions)
    assert taken.dtype == column.dtype
    assert pd.Series(taken).tolist() == expected
    numbers = pd.array(np.arange(20))
    assert take(numbers, positions).tolist() == positions.tolist()


def test_without_rows_keeps_the_schema_but_none_of_the_memory() -> None:
    import gc

    import pyarrow as pa

    from nps_text.table_view import without_rows

    def frame() -> pd.DataFrame:
        return pd.DataFrame({"text": pd.array(["x" * 1000] * 20_000, dtype="string"), "n": np.arange(20_000)})

    start = pa.total_allocated_bytes()
    empty = without_rows(frame())
    gc.collect()
    assert empty.dtypes.equals(frame().dtypes) and list(empty.columns) == ["text", "n"] and empty.empty
    assert pa.total_allocated_bytes() - start < 1_000_000
    sliced = frame().iloc[:0]  # what it replaces: an empty slice holding all 20 MB
    gc.collect()
    assert pa.total_allocated_bytes() - start > 15_000_000 and sliced.empty
