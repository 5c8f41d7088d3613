"""Table contracts: readable errors listing every violation, one dtype per column whatever the config."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from nps_text import schema
from nps_text.errors import SchemaError
from nps_text.schema import TABLE_SPECS, check_table, check_tables, empty_frame


def good_responses() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": ["a", "b", "c"],
            "score": [10, 7, 2],
            "nps_group": ["promoter", "passive", "detractor"],
            "comment": ["Super", None, "zu teuer"],
            "comment_status": ["text", "empty", "text"],
            "language": ["de", None, "de"],
            "sentiment": ["positive", None, "negative"],
            "sentiment_confidence": [0.9, None, 0.8],
            "theme_id": [1, None, 0],
            "theme_label": ["Personal", None, "Preis"],
            "theme_ids": [[1], None, [0, 1]],  # every theme of the comment, the primary first
            "theme_labels": [["Personal"], None, ["Preis", "Personal"]],
            "branch": ["Berlin", "Wien", None],  # passthrough
        }
    )


def test_a_good_table_is_coerced_to_the_contract_dtypes() -> None:
    checked = check_table(good_responses(), "responses")
    assert checked["nps_group"].dtype == pd.StringDtype()
    assert str(checked["theme_id"].dtype) == "Int64"
    assert str(checked["sentiment_confidence"].dtype) == "float64"
    pd.testing.assert_series_equal(checked["branch"], good_responses()["branch"])  # passthrough untouched
    assert list(checked.columns) == list(good_responses().columns)


def test_every_violation_is_listed_in_one_readable_error() -> None:
    broken = good_responses()
    broken.loc[0, "nps_group"] = "promotor"
    broken.loc[1, "score"] = 11
    broken.loc[1, "sentiment"] = "neutral"  # a sentiment without text
    broken.loc[2, "response_id"] = "a"
    broken = broken.drop(columns=["language"])
    with pytest.raises(SchemaError) as caught:
        check_table(broken, "responses", stage="themes")
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0] == "table 'responses' after the themes step breaks its contract (6 problem(s)):"
    assert "missing column 'language'" in message
    assert "column 'nps_group': allowed values: promoter, passive, detractor; 1 failing value(s): 'promotor' (rows 0)" in message
    assert "column 'score': must be within 0..10; 1 failing value(s): 11 (rows 1)" in message
    assert "column 'response_id': duplicate values" in message
    assert "nps_group must follow from score" in message  # 11 is no passive
    assert "sentiment must be null unless comment_status is 'text': 1 row(s) break it (rows 1)" in message
    assert "Traceback" not in message and "pandera" not in message.lower()


def test_a_column_that_cannot_be_converted_is_reported() -> None:
    broken = good_responses().assign(score=["10", "sieben", "2"])
    with pytest.raises(SchemaError, match=r"column 'score': cannot convert dtype .* to int64"):
        check_table(broken, "responses")


def test_strict_tables_reject_unknown_columns_and_wrong_cells() -> None:
    themes = empty_frame("themes")
    with pytest.raises(SchemaError, match="column 'extra' is not in the contract"):
        check_table(themes.assign(extra=pd.Series(dtype="int64")), "themes")
    row = {
        "nps_group": "detractor", "theme_id": 3, "theme_label": "Preis", "keywords": "preis teuer", "size": 0,
        "share_of_group": 0.5, "positive_share": None, "neutral_share": None, "negative_share": None,
        "representative_comments": [["zu teuer"]],
    }
    with pytest.raises(SchemaError) as caught:
        check_table(pd.DataFrame(row), "themes")
    assert "column 'keywords': each cell must be a list of strings" in str(caught.value)
    assert "column 'size': must be >= 1" in str(caught.value)


def test_stage_checks_only_require_the_columns_made_so_far() -> None:
    validated = good_responses()[["response_id", "score", "comment", "branch"]]
    assert list(check_table(validated, "responses", stage="validate").columns) == list(validated.columns)
    with pytest.raises(SchemaError, match="missing column 'nps_group'"):
        check_table(validated, "responses", stage="nps")


def test_check_tables_names_the_producing_step_and_collects_all_tables() -> None:
    tables = {
        "responses": good_responses(),
        "sentences": empty_frame("sentences").drop(columns="confidence"),
        "nps_changes": empty_frame("nps_changes").drop(columns="direction"),
        "not_a_contract": pd.DataFrame({"x": [1]}),
    }
    with pytest.raises(SchemaError) as caught:
        check_tables(tables)
    message = str(caught.value)
    assert "table 'sentences' after the sentiment step" in message and "missing column 'confidence'" in message
    assert "table 'nps_changes' after the nps step" in message and "missing column 'direction'" in message
    assert "table 'responses'" not in message
    del tables["sentences"], tables["nps_changes"]
    assert check_tables(tables)["not_a_contract"] is tables["not_a_contract"]


@pytest.mark.parametrize("table", sorted(TABLE_SPECS))
def test_empty_frames_follow_their_own_contract(table: str) -> None:
    frame = empty_frame(table)
    assert list(frame.columns) == list(schema.TABLE_CONTRACTS[table])
    pd.testing.assert_frame_equal(check_table(frame, table), frame)


def test_contract_columns_match_the_design() -> None:
    """DESIGN.md's required columns are part of the contracts (the list is the design's, not the code's)."""
    design = {
        "responses": "response_id score nps_group comment comment_status language sentiment sentiment_confidence "
        "theme_id theme_label",
        "rejected": "row_number reason",
        "themes": "nps_group theme_id theme_label keywords size share_of_group representative_comments",
        "improvement_areas": "rank theme_label detractor_count share_of_detractors nps_impact example_comments",
        "nps_summary": "segment period responses promoters passives detractors nps nps_ci_low nps_ci_high",
    }
    for table, columns in design.items():
        assert set(columns.split()) <= set(schema.TABLE_CONTRACTS[table]), table


# --- the Parquet schema of every output is the same whatever the config ----------------------------

ROWS = [
    ("1", 10, "Super freundliche Beratung in der Filiale", "Berlin", "05.01.2026"),
    ("2", 9, "Sehr freundliches Personal, gerne wieder", "Wien", "06.01.2026"),
    ("3", 2, "Lieferung viel zu spät und teuer", "Berlin", "07.01.2026"),
    ("4", 3, "Die Lieferung hat ewig gedauert", "Wien", "13.01.2026"),
    ("5", 8, "Preis ist ok, Lieferung langsam", "Berlin", "14.01.2026"),
    ("6", 0, "Hotline nie erreichbar, schlecht", "Wien", "14.01.2026"),
    ("7", 7, "-", "Berlin", "15.01.2026"),
    ("8", 10, "", "Wien", "15.01.2026"),
    ("9", 1, "Paket kam beschädigt an, Lieferung schlecht", "Berlin", "20.01.2026"),
    ("10", 6, "Lieferung zu spät", "Wien", "21.01.2026"),
    ("x", 12, "kaputte Zeile", "Wien", "21.01.2026"),
]


class FixedSentiment:
    """A deterministic backend: negative below score-like keywords, else positive; no model."""

    name = "test-schema-sentiment"
    version = "test"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        negative = [any(word in text.lower() for word in ("spät", "schlecht", "nie", "teuer")) for text in texts]
        return np.asarray([[0.1, 0.2, 0.7] if bad else [0.7, 0.2, 0.1] for bad in negative], dtype=np.float32)


def _write_input(path: Path, with_text: bool) -> Path:
    lines = ["id;score;comment;branch;date"]
    lines += [f"{i};{score};{comment if with_text else ''};{branch};{date}" for i, score, comment, branch, date in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run_variant(tmp_path: Path, name: str, *, sentiment: bool, themes: bool, with_text: bool) -> Path:
    from nps_text.flow import nps_text_flow
    from nps_text.params import RunParameters

    folder = tmp_path / name
    folder.mkdir()
    config = {
        "embeddings": {"model": "test-hashing", "cache_dir": str(tmp_path / "cache")},
        "sentiment": {"enabled": sentiment, "model": FixedSentiment.name},
        "themes": {"enabled": themes, "reduction": "pca", "min_theme_size": 2},
        "output": {"formats": ["parquet"]},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    source = _write_input(folder / "input.csv", with_text)
    nps_text_flow(RunParameters(input=str(source), out=str(folder / "out"), config=str(folder / "config.yaml")))
    return folder / "out"


@pytest.mark.usefixtures("prefect_harness")
def test_parquet_schemas_do_not_depend_on_the_config(tmp_path: Path) -> None:
    from nps_text.sentiment import register_sentiment_backend

    register_sentiment_backend(FixedSentiment.name, lambda config, embed: FixedSentiment())
    variants = {
        "all_enabled": _run_variant(tmp_path, "all_enabled", sentiment=True, themes=True, with_text=True),
        "all_disabled": _run_variant(tmp_path, "all_disabled", sentiment=False, themes=False, with_text=True),
        "themes_only": _run_variant(tmp_path, "themes_only", sentiment=False, themes=True, with_text=True),
        "no_text": _run_variant(tmp_path, "no_text", sentiment=True, themes=True, with_text=False),
    }
    reference = variants["all_enabled"]
    # the reference run really produced sentiment, sentences, themes and improvement areas
    assert pd.read_parquet(reference / "responses.parquet")["sentiment"].notna().sum() == 8
    for table in ("sentences", "themes", "improvement_areas"):
        assert len(pd.read_parquet(reference / f"{table}.parquet")) > 0, table
    assert len(pd.read_parquet(variants["no_text"] / "themes.parquet")) == 0

    tables = sorted(path.stem for path in reference.glob("*.parquet"))
    assert set(tables) >= set(TABLE_SPECS)
    for name, out in variants.items():
        assert sorted(path.stem for path in out.glob("*.parquet")) == tables, name
        for table in tables:
            expected = pq.read_schema(reference / f"{table}.parquet").remove_metadata()
            found = pq.read_schema(out / f"{table}.parquet").remove_metadata()
            assert found.equals(expected), f"{table}.parquet in {name}:\n{found}\n!=\n{expected}"
            expected_dtypes = pd.read_parquet(reference / f"{table}.parquet").dtypes.astype(str).to_dict()
            found_dtypes = pd.read_parquet(out / f"{table}.parquet").dtypes.astype(str).to_dict()
            assert found_dtypes == expected_dtypes, (name, table)
    for table in TABLE_SPECS:  # and each contract column has its contract dtype
        frame = pd.read_parquet(reference / f"{table}.parquet")
        for column, spec in TABLE_SPECS[table].columns.items():
            if column in frame.columns and spec.dtype != schema.TEXT_LIST:
                assert frame[column].dtype == schema.pandas_dtype(table, column), (table, column, frame[column].dtype)
