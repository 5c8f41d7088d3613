"""Journey: ``nps-text run EXPORT --to-db URL`` into SQLite and a real PostgreSQL, week after week.

A user runs the first week's export (the 8-row smoke survey: German comments, two ISO weeks, one row without a
comment) into a database, then next week's export (the same 8 responses, one score corrected, 8 new ones and a
new ``filiale`` column) into the same database. What they must see: both runs exit 0 without a traceback; every
table of the registry (:data:`nps_text.schema.TABLES`) is in the database with the contract's column types;
``responses`` holds each response once (upsert by ``response_id``); every table has as many rows as the run's
Parquet file and the manifest say; the README's SQL runs and its drill-down join gives one row per response.

PostgreSQL is a throwaway cluster (:mod:`tests.pg_cluster`) on 127.0.0.1; the password travels in ``PGPASSWORD``
as the README says; the second database run writes into the schema ``nps`` set in a config file. In CI (``CI``
set) missing PostgreSQL binaries fail the test instead of skipping it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from nps_text.schema import TABLES, sql_kind
from tests.journeys.conftest import REPO, Result, nps_text, write_csv
from tests.pg_cluster import PG_PASSWORD, postgres_cluster

pytestmark = [pytest.mark.journey, pytest.mark.slow]

HEADER = "id,score,kommentar,datum"
WEEK_1 = [  # the smoke survey of issue 17
    "1,3,Die Lieferung kam zu spät,05.01.2026",
    "2,2,Lieferung dauerte zwei Wochen,06.01.2026",
    "3,9,Super Beratung in der Filiale,07.01.2026",
    "4,1,Hotline nie erreichbar,12.01.2026",
    "5,4,Lieferung kam wieder zu spät,13.01.2026",
    "6,10,Beratung war toll,14.01.2026",
    "7,0,Niemand geht ans Telefon,14.01.2026",
    "8,8,,15.01.2026",
]
WEEK_2 = [  # the next export: week 1 again (id 8 re-scored 8 -> 9), 8 new responses, a new column
    *(f"{row},{'Köln' if index % 2 else 'Berlin'}" for index, row in enumerate(WEEK_1[:7])),
    "8,9,,15.01.2026,Köln",
    "9,2,Lieferung kam erst nach drei Wochen,19.01.2026,Köln",
    "10,10,Sehr freundliche Beratung im Laden,19.01.2026,Berlin",
    "11,1,Die Hotline ist ständig besetzt,20.01.2026,Köln",
    "12,3,Paket wieder zu spät geliefert,20.01.2026,Berlin",
    "13,9,Kompetente Beratung und schnelle Hilfe,21.01.2026,Köln",
    "14,0,Niemand erreichbar an der Hotline,21.01.2026,Berlin",
    "15,7,Lieferung okay aber langsam,22.01.2026,Köln",
    "16,5,k.A.,23.01.2026,Berlin",
]
SQL_TYPES = {  # sql_kind -> the type name each database reports
    "sqlite": {"integer": "BIGINT", "float": "DOUBLE", "boolean": "BOOLEAN", "text": "TEXT"},
    "postgresql": {"integer": "bigint", "float": "double precision", "boolean": "boolean", "text": "text"},
}


@dataclass
class WeeklyRuns:
    """Two weekly runs into one database, and how to look at it."""

    backend: str
    first: Result
    second: Result
    out: Path
    engine: sa.Engine
    schema: str | None

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.out / "manifest.json").read_text(encoding="utf-8"))

    def table(self, name: str) -> str:
        return f"{self.schema}.{name}" if self.schema else name

    def count(self, sql: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One user for the module (one home: Prefect's first start is paid once), with both weeks' exports."""
    root = tmp_path_factory.mktemp("db-journey")
    work = root / "work"
    work.mkdir()
    return {
        "home": root / "home",
        "work": work,
        "week1": write_csv(work / "week1.csv", HEADER, WEEK_1),
        "week2": write_csv(work / "week2.csv", f"{HEADER},filiale", WEEK_2),
    }


def _weekly_runs(user: dict[str, Path], backend: str, url: str, env: dict[str, str] | None = None,
                 config: Path | None = None) -> tuple[Result, Result, Path]:
    out = user["work"] / f"out-{backend}"
    options = ["--config", str(config)] if config else []
    first = nps_text("run", str(user["week1"]), "--out", str(out), "--to-db", url, *options,
                     cwd=user["work"], home=user["home"], env=env, timeout=600)
    assert first.returncode == 0, first.output[-3000:]
    second = nps_text("run", str(user["week2"]), "--out", str(out), "--to-db", url, *options,
                      cwd=user["work"], home=user["home"], env=env, timeout=600)
    return first, second, out


@pytest.fixture(scope="module")
def sqlite_runs(user: dict[str, Path]) -> Iterator[WeeklyRuns]:
    database = user["work"] / "bi.db"
    first, second, out = _weekly_runs(user, "sqlite", f"sqlite:///{database}")
    engine = sa.create_engine(f"sqlite:///{database}")
    yield WeeklyRuns("sqlite", first, second, out, engine, None)
    engine.dispose()


@pytest.fixture(scope="module")
def postgresql_runs(user: dict[str, Path]) -> Iterator[WeeklyRuns]:
    with postgres_cluster(PG_PASSWORD) as server:
        admin = sa.create_engine(
            sa.engine.make_url(server).set(drivername="postgresql+psycopg", password=PG_PASSWORD),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(sa.text("create database cx"))
        admin.dispose()
        url = server.rsplit("/", 1)[0] + "/cx"  # postgresql://postgres@127.0.0.1:PORT/cx: no password in it
        config = user["work"] / "pg.yaml"
        config.write_text("output:\n  database_schema: nps\n", encoding="utf-8")
        first, second, out = _weekly_runs(user, "postgresql", url, env={"PGPASSWORD": PG_PASSWORD}, config=config)
        engine = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg", password=PG_PASSWORD))
        yield WeeklyRuns("postgresql", first, second, out, engine, "nps")
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def runs(request: pytest.FixtureRequest) -> WeeklyRuns:
    return request.getfixturevalue(f"{request.param}_runs")  # type: ignore[no-any-return]


def test_both_weekly_runs_succeed_without_a_traceback(runs: WeeklyRuns) -> None:
    for result in (runs.first, runs.second):
        assert result.returncode == 0, result.output[-3000:]
        assert "Traceback" not in result.output
        assert "Outputs in" in result.output
    assert PG_PASSWORD not in json.dumps(runs.manifest())


def test_every_table_of_the_registry_is_in_the_database(runs: WeeklyRuns) -> None:
    with runs.engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names(schema=runs.schema))
    assert names == set(TABLES)
    assert list(runs.manifest()["database"]["tables"]) == list(TABLES)


def test_responses_are_upserted_not_duplicated(runs: WeeklyRuns) -> None:
    manifest = runs.manifest()
    responses = runs.table("responses")
    assert runs.count(f"select count(*) from {responses}") == manifest["rows_valid"] == 16
    assert runs.count(f"select count(distinct response_id) from {responses}") == 16
    assert runs.count(f"select score from {responses} where response_id = '8'") == 9  # corrected in week 2
    written = manifest["database"]["tables"]["responses"]
    assert (written["inserted"], written["updated"], written["columns_added"]) == (8, 8, ["filiale"])


def test_every_table_has_the_rows_of_its_parquet_file_and_the_manifest(runs: WeeklyRuns) -> None:
    written = runs.manifest()["database"]["tables"]
    for name in TABLES:
        rows = len(pd.read_parquet(runs.out / f"{name}.parquet"))
        assert runs.count(f"select count(*) from {runs.table(name)}") == rows == written[name]["rows"], name
    assert len(pd.read_parquet(runs.out / "theme_trends.parquet")) > 0  # the table that crashed every run


def test_column_types_follow_the_contracts(runs: WeeklyRuns) -> None:
    with runs.engine.connect() as conn:
        for name in TABLES:
            if runs.backend == "postgresql":
                types = dict(conn.execute(sa.text(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = :schema and table_name = :table"), {"schema": runs.schema, "table": name}).all())
            else:
                types = {column["name"]: str(column["type"]) for column in sa.inspect(conn).get_columns(name)}
            for column, actual in types.items():
                kind = sql_kind(name, column)
                if kind is not None:
                    assert actual == SQL_TYPES[runs.backend][kind], (name, column, actual)
    assert runs.count(f"select count(*) from {runs.table('theme_trends')} where trend in "
                      "('emerging', 'fading', 'stable')") == runs.count(f"select count(*) from {runs.table('theme_trends')}")


def _readme_sql() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Database output"):]
    section = section[: section.index("\n## ")]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def test_the_readme_sql_runs_and_its_join_gives_one_row_per_response(runs: WeeklyRuns) -> None:
    blocks = _readme_sql()
    joins = [sql for sql in blocks if " join " in sql]
    assert joins, "the README's database section shows a drill-down join"
    with runs.engine.begin() as conn:
        if runs.schema:
            conn.execute(sa.text(f"set local search_path to {runs.schema}"))
        for sql in joins:
            rows = conn.execute(sa.text(sql.strip().rstrip(";"))).all()
            assert len(rows) == runs.manifest()["rows_valid"], sql
            assert len({row[0] for row in rows}) == len(rows)
        for sql in (block for block in blocks if block not in joins):  # the views, as a data engineer pastes them
            conn.execute(sa.text(sql if runs.schema else sql.replace("nps.", "")))
        view = runs.table("nps_weekly")
        weekly = conn.execute(sa.text(f"select count(*) from {view}")).scalar_one()
        periods = conn.execute(sa.text(f"select count(*) from {runs.table('nps_summary')} "
                                       "where segment = 'all' and period <> 'all'")).scalar_one()
        assert weekly == periods >= 2
