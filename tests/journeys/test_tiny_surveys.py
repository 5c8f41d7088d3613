"""Journey: small weekly surveys through the real ``nps-text run`` (real models, Prefect, writers).

A weekly export with 1, 4, 5 or 10 responses, identical comments or none at all is normal. Each must exit 0
without a traceback, write every table with ``rows_in == rows_valid + rows_rejected``, and give themes a
CX user can trust: one theme where the comments say the same thing, "too few comments to form themes" where
nobody said anything twice. One home folder for the module: Prefect's database is created once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.journeys.conftest import Result, nps_text, write_csv

pytestmark = pytest.mark.journey

TABLES = ("responses", "rejected", "themes", "improvement_areas", "nps_summary", "follow_up")
HEADER = "id,score,kommentar,datum"

CASES: dict[str, list[str]] = {
    # one response, one remark: no theme can be formed from it
    "one_row": ["1,3,Zu teuer,05.01.2026"],
    # the case of the issue: one word in every comment crashed BERTopic's c-TF-IDF
    "kommentar_1_to_4": [f"{i},5,Kommentar {i},05.01.2026" for i in range(1, 5)],
    "identical_x5": [f"{i},10,Alles gut,0{i}.01.2026" for i in range(1, 6)],
    "no_comment_x3": ["1,9,,05.01.2026", "2,3,,06.01.2026", "3,7,,07.01.2026"],
    # two weeks, all three groups, empty and non-informative comments, one row rejected (score 11)
    "mixed_10": [
        "1,2,Die Lieferung kam viel zu spät,05.01.2026",
        "2,9,Sehr freundliches Personal,06.01.2026",
        "3,3,Lieferung zu spät und Paket beschädigt,07.01.2026",
        "4,10,Alles super,08.01.2026",
        "5,1,Hotline nicht erreichbar,12.01.2026",
        "6,7,Preis ist zu hoch,13.01.2026",
        "7,2,Lieferung verspätet,14.01.2026",
        "8,0,k.A.,14.01.2026",
        "9,8,,15.01.2026",
        "10,11,Score außerhalb der Skala,15.01.2026",
    ],
}


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-home")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, shared_home: Path) -> dict[str, tuple[Result, Path]]:
    """Every case run once: ``nps-text run CASE.csv --out out/CASE``."""
    work = tmp_path_factory.mktemp("tiny-work")
    results: dict[str, tuple[Result, Path]] = {}
    for name, rows in CASES.items():
        write_csv(work / f"{name}.csv", HEADER, rows)
        result = nps_text("run", f"{name}.csv", "--out", f"out/{name}", cwd=work, home=shared_home, timeout=600)
        results[name] = (result, work / "out" / name)
    return results


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}


@pytest.mark.parametrize("case", list(CASES))
def test_tiny_survey_runs_and_writes_every_table(runs: dict[str, tuple[Result, Path]], case: str) -> None:
    result, out = runs[case]
    assert result.returncode == 0, result.output[-3000:]
    assert "Traceback" not in result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    tables = _tables(out)
    assert manifest["rows_in"] == manifest["rows_valid"] + manifest["rows_rejected"] == len(CASES[case])
    assert len(tables["responses"]) == manifest["rows_valid"] and len(tables["rejected"]) == manifest["rows_rejected"]
    assert f"{manifest['rows_in']} rows in: {manifest['rows_valid']} valid" in result.stdout
    assert (out / "report.html").stat().st_size > 1000
    responses = tables["responses"]
    text = responses["comment_status"].eq("text")
    assert responses.loc[text, "theme_id"].notna().all() and responses.loc[~text, "theme_id"].isna().all()
    assert tables["themes"]["size"].sum() == int(text.sum())


def test_what_each_tiny_survey_shows(runs: dict[str, tuple[Result, Path]]) -> None:
    one = _tables(runs["one_row"][1])
    assert one["responses"]["theme_id"].tolist() == [-1] and one["improvement_areas"].empty
    report = (runs["one_row"][1] / "report.html").read_text(encoding="utf-8")
    assert "Zu wenige Kommentare für Themen (1 mit Text)" in report  # German comments: a German report

    kommentar = _tables(runs["kommentar_1_to_4"][1])
    assert kommentar["responses"]["theme_id"].nunique() == 1 and kommentar["responses"]["theme_id"].iloc[0] >= 0
    assert kommentar["themes"]["theme_label"].tolist() == ["Kommentar"]

    identical = _tables(runs["identical_x5"][1])
    assert identical["themes"][["theme_label", "size"]].values.tolist() == [["Alles gut", 5]]

    none = _tables(runs["no_comment_x3"][1])
    assert none["themes"].empty and none["responses"]["theme_id"].isna().all()

    mixed = _tables(runs["mixed_10"][1])
    assert mixed["rejected"]["reason"].str.contains("11").any()
    delivery = mixed["responses"][mixed["responses"]["comment"].astype(str).str.contains("Lieferung")]
    assert delivery["theme_id"].nunique() == 1 and delivery["theme_id"].iloc[0] >= 0  # three customers: a theme


def test_a_rerun_is_byte_identical(runs: dict[str, tuple[Result, Path]], shared_home: Path) -> None:
    """Regression: re-running into the same folder changed the order of ``representative_comments``. Forced: an
    unchanged re-run does nothing otherwise (tests/journeys/test_reruns.py)."""
    _, out = runs["mixed_10"]
    before = {name: (out / f"{name}.parquet").read_bytes() for name in TABLES}
    result = nps_text("run", "mixed_10.csv", "--out", "out/mixed_10", "--force", cwd=out.parent.parent, home=shared_home,
                      timeout=600)
    assert result.returncode == 0, result.output[-3000:]
    changed = [name for name in TABLES if (out / f"{name}.parquet").read_bytes() != before[name]]
    assert changed == []
    sentiment = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["models"]["sentiment"]
    assert sentiment["loaded"] is False, sentiment  # every comment was cached: the model was never loaded
    assert sentiment["name"] == "default" and sentiment["cache_key"].startswith("sentiment-e5-student+")
