"""SQL output: round trip, types, upsert by response_id, atomic replacement; on SQLite and a REAL PostgreSQL.

PostgreSQL runs as a throwaway cluster (:mod:`tests.pg_cluster`: initdb + pg_ctl on a free port, password auth);
without PostgreSQL binaries those tests are skipped locally and FAIL in CI (``CI`` set).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from nps_text.database import write_database
from nps_text.errors import ConfigError
from tests.pg_cluster import PG_PASSWORD, postgres_cluster


def _responses(ids: list[str], week: str, score: int = 9, extra: dict[str, list[object]] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({
        "response_id": ids,
        "score": [score] * len(ids),
        "nps_group": ["promoter" if score >= 9 else "detractor"] * len(ids),
        "comment": [f"Kommentar {i} [E-MAIL]" for i in ids],
        "comment_status": ["text"] * len(ids),
        "language": ["de"] * len(ids),
        "sentiment": ["positive"] * len(ids),
        "sentiment_confidence": [0.75] * len(ids),
        "theme_id": pd.Series([1] * len(ids), dtype="Int64"),
        "theme_label": ["Lieferung"] * len(ids),
        "date": pd.to_datetime(["2026-03-02"] * len(ids)),
        "period": [week] * len(ids),
    })
    for name, values in (extra or {}).items():
        frame[name] = values
    return frame


def _run_tables(responses: pd.DataFrame, nps: float) -> dict[str, pd.DataFrame]:
    summary = pd.DataFrame({
        "segment": ["all", "all"], "segment_value": ["all", "all"], "period": ["all", responses["period"].iloc[0]],
        "responses": [len(responses)] * 2, "promoters": [1, 1], "passives": [0, 0], "detractors": [0, 0],
        "nps": [nps, nps], "nps_ci_low": [nps - 10, nps - 10], "nps_ci_high": [min(nps + 10, 100.0)] * 2,
    })
    themes = pd.DataFrame({
        "nps_group": ["promoter"], "theme_id": [1], "theme_label": ["Lieferung"], "keywords": [["lieferung", "schnell"]],
        "size": [3], "share_of_group": [0.5], "positive_share": [1.0], "neutral_share": [0.0], "negative_share": [0.0],
        "representative_comments": [np.array(["Schnell geliefert", "Top"], dtype=object)],
    })
    improvement = pd.DataFrame({
        "rank": [1], "theme_id": [1], "theme_label": ["Lieferung"], "detractor_count": [2],
        "share_of_detractors": [0.4], "nps_impact": [3.5], "example_comments": [["zu spät"]], "lift": [np.inf],
        "significant": [True], "trend": [np.nan],
    })
    return {"responses": responses, "nps_summary": summary, "themes": themes, "improvement_areas": improvement}


def _check_round_trip(engine: sa.Engine, schema: str | None) -> None:
    """Two runs: week 10 (a, b, c), then week 11 (c again, d; with a new passthrough column)."""
    url = engine.url._replace(password=None).render_as_string(hide_password=False)  # set(password=None) keeps it
    first = _run_tables(_responses(["a", "b", "c"], "2026-W10"), nps=30.0)
    report = write_database(first, url, schema=schema, password_env="NPS_TEST_DB_PASSWORD")
    assert report["tables"]["responses"] == {"rows": 3, "inserted": 3, "updated": 0, "columns_added": []}
    assert PG_PASSWORD not in str(report)

    second_responses = _responses(["c", "d"], "2026-W11", score=2, extra={"Filiale": ["Köln", "Berlin"]})
    report = write_database(_run_tables(second_responses, nps=-20.0), url, schema=schema,
                            password_env="NPS_TEST_DB_PASSWORD")
    assert report["tables"]["responses"] == {"rows": 2, "inserted": 1, "updated": 1, "columns_added": ["Filiale"]}

    prefix = f"{schema}." if schema else ""
    with engine.connect() as conn:
        rows = pd.read_sql(f"select * from {prefix}responses order by response_id", conn)
        summary = pd.read_sql(f"select * from {prefix}nps_summary", conn)
        themes = pd.read_sql(f"select * from {prefix}themes", conn)
        areas = pd.read_sql(f"select * from {prefix}improvement_areas", conn)
        columns = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns("responses", schema=schema)}
        pk = sa.inspect(conn).get_pk_constraint("responses", schema=schema)["constrained_columns"]
    assert rows["response_id"].tolist() == ["a", "b", "c", "d"]  # no duplicate, nothing lost
    assert rows.set_index("response_id").loc["c", "score"] == 2  # updated by the later run
    assert rows.set_index("response_id").loc["a", "period"] == "2026-W10"  # older rows kept
    assert rows["Filiale"].tolist()[2:] == ["Köln", "Berlin"] and rows["Filiale"].isna().sum() == 2
    assert summary["nps"].tolist() == [-20.0, -20.0]  # run-level tables replaced, not appended
    assert themes["keywords"].tolist() == ['["lieferung", "schnell"]']  # lists as JSON text
    assert themes["representative_comments"].tolist() == ['["Schnell geliefert", "Top"]']
    assert bool(areas["significant"].iloc[0]) is True and np.isinf(areas["lift"].iloc[0])
    assert pk == ["response_id"]
    assert isinstance(columns["score"], sa.BigInteger)
    assert isinstance(columns["sentiment_confidence"], sa.Float)
    assert isinstance(columns["date"], sa.DateTime)
    assert isinstance(columns["comment"], sa.Text | sa.String)


def test_sqlite_round_trip_upsert_and_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NPS_TEST_DB_PASSWORD", raising=False)
    monkeypatch.setenv("NPS_TEST_DB_PASSWORD", "unused")  # a file database has no password: ignored
    _check_round_trip(sa.create_engine(f"sqlite:///{tmp_path / 'nps.db'}"), None)


def test_a_column_is_typed_by_its_table_not_by_its_name(tmp_path: Path) -> None:
    """``trend`` is a float in ``improvement_areas`` and text in ``theme_trends`` (issue 17: every run crashed
    with "could not convert string to float: 'stable'")."""
    url = f"sqlite:///{tmp_path / 'nps.db'}"
    tables = _run_tables(_responses(["a"], "2026-W10"), 10.0)
    tables["theme_trends"] = pd.DataFrame({
        "theme_id": pd.Series([1], dtype="Int64"), "theme_label": ["Lieferung"], "period": ["2026-W10"],
        "previous_period": [None], "count": [1], "base": [1], "share": [1.0], "previous_count": [0],
        "previous_base": [0], "previous_share": [np.nan], "change_vs_previous": [np.nan], "z": [np.nan],
        "p_value": [np.nan], "trend": ["stable"],
    })
    write_database(tables, url, table_prefix="nps_")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        trends = {c["name"]: c["type"] for c in inspector.get_columns("nps_theme_trends")}
        areas = {c["name"]: c["type"] for c in inspector.get_columns("nps_improvement_areas")}
        assert conn.execute(sa.text("select trend from nps_theme_trends")).scalar_one() == "stable"
    assert isinstance(trends["trend"], sa.Text) and isinstance(areas["trend"], sa.Float)


def test_a_table_first_written_empty_keeps_its_types_when_rows_come(tmp_path: Path) -> None:
    """Themes disabled in the first run: the empty tables get the contract's types, so the next run's rows fit
    (no table dropped and re-created under a dashboard's views)."""
    from tests.test_table_registry import sample_tables

    url = f"sqlite:///{tmp_path / 'nps.db'}"
    write_database(sample_tables(filled=False), url)
    report = write_database(sample_tables(filled=True), url)
    assert {name: entry.get("recreated", False) for name, entry in report["tables"].items()} == dict.fromkeys(
        report["tables"], False
    )


def test_failed_write_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nps.db'}"
    write_database(_run_tables(_responses(["a", "b"], "2026-W10"), 30.0), url)
    broken = _run_tables(_responses(["a", "z"], "2026-W11", score=1), -50.0)
    broken["nps_summary"]["responses"] = ["not a number", "x"]  # fails after responses were upserted
    with pytest.raises(ValueError, match="not a number"):
        write_database(broken, url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from responses")).scalar_one() == 2
        assert conn.execute(sa.text("select max(score) from responses")).scalar_one() == 9
        assert conn.execute(sa.text("select nps from nps_summary")).scalars().all() == [30.0, 30.0]


def test_password_never_in_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="contains a password") as info:
        write_database({}, "postgresql://nps:topsecret@127.0.0.1/db")
    assert "topsecret" not in str(info.value)
    monkeypatch.delenv("NPS_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError, match="NPS_TEST_UNSET"):
        write_database({}, "postgresql://nps@127.0.0.1/db", password_env="NPS_TEST_UNSET")
    with pytest.raises(ConfigError, match="not supported for SQLite"):
        write_database({}, f"sqlite:///{tmp_path / 'x.db'}", schema="nps")


# --- PostgreSQL -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields its URL (user postgres, no password in it)."""
    with postgres_cluster(PG_PASSWORD) as url:
        yield url


def _pg_engine(url: str) -> sa.Engine:
    return sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg", password=PG_PASSWORD))


def test_postgres_round_trip_upsert_in_a_schema(postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPS_TEST_DB_PASSWORD", PG_PASSWORD)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    engine = _pg_engine(postgres)
    _check_round_trip(engine, "nps")
    with engine.connect() as conn:
        types = dict(conn.execute(sa.text(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'nps' and table_name = 'responses'")).all())
    assert types["score"] == "bigint" and types["theme_id"] == "bigint"
    assert types["sentiment_confidence"] == "double precision"
    assert types["date"].startswith("timestamp") and types["comment"] == "text"


def test_postgres_views_survive_reruns_and_pgpassword_works(postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)  # libpq's own variable: no password_env needed
    engine = _pg_engine(postgres)
    write_database(_run_tables(_responses(["a"], "2026-W10"), 10.0), postgres, schema="bi")
    with engine.begin() as conn:
        conn.execute(sa.text("create view bi.nps_overall as select period, nps from bi.nps_summary "
                             "where segment = 'all'"))
    write_database(_run_tables(_responses(["b"], "2026-W11"), -5.0), postgres, schema="bi")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select nps from bi.nps_overall")).scalars().all() == [-5.0, -5.0]
        assert conn.execute(sa.text("select count(*) from bi.responses")).scalar_one() == 2


def test_postgres_wrong_password_fails_without_leaking_it(postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPS_TEST_DB_PASSWORD", "wrong-password")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(sa.exc.OperationalError) as info:
        write_database(_run_tables(_responses(["a"], "2026-W10"), 10.0), postgres, password_env="NPS_TEST_DB_PASSWORD")
    assert "wrong-password" not in str(info.value)
