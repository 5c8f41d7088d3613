"""The flow under a real (temporary) Prefect server: row accounting, outputs, manifest, caching."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from nps_text.schema import TABLE_CONTRACTS

pytestmark = pytest.mark.usefixtures("prefect_harness")

BAD_ROWS = """id;score;comment;branch;date
1;9;Super Beratung;Berlin;05.01.2026
2;zehn;Text;Berlin;05.01.2026
3;11;zu hoch;Wien;06.01.2026
4;-1;negativ;Wien;06.01.2026
5;7.5;halb;Wien;06.01.2026
6;;leer;Wien;06.01.2026
1;3;doppelt;Berlin;07.01.2026
7;8;schlechtes Datum;Wien;gestern
8;9,0;Komma;Wien;2026-01-12
9;2;Lieferung zu spät, Mail an a.b@example.com;Berlin;13.01.2026
10;5;a;b;c;d
;6;ohne id;Wien;13.01.2026
11;10;-;Berlin;14.01.2026
12;0;;Berlin;14.01.2026
"""


def _config(tmp_path: Path, **sections: dict) -> Path:
    base = {"embeddings": {"model": "test-hashing"}, "sentiment": {"enabled": False}, "themes": {"enabled": False}}
    base.update(sections)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base))
    return path


def _run(input_path: Path, out: Path, config: Path) -> dict:
    from nps_text.flow import RunParameters, nps_text_flow

    return nps_text_flow(RunParameters(input=str(input_path), out=str(out), config=str(config)))


def test_every_bad_row_is_accounted_for(tmp_path: Path) -> None:
    source = tmp_path / "bad_rows.csv"
    source.write_text(BAD_ROWS, encoding="utf-8")
    out = tmp_path / "out"
    manifest = _run(source, out, _config(tmp_path))

    responses = pd.read_parquet(out / "responses.parquet")
    rejected = pd.read_parquet(out / "rejected.parquet")
    assert manifest["rows_in"] == 14
    assert manifest["rows_in"] == manifest["rows_valid"] + manifest["rows_rejected"]
    assert len(responses) == manifest["rows_valid"] == 5
    assert sorted(responses["response_id"]) == ["1", "11", "12", "8", "9"]
    assert sorted(rejected["row_number"].tolist()) == [2, 3, 4, 5, 6, 7, 8, 11, 12]
    assert manifest["input"]["path"] == str(source)  # also when the ingest task was a cache hit
    reasons = dict(zip(rejected["row_number"], rejected["reason"], strict=True))
    assert "not a number" in reasons[2] and "outside 0-10" in reasons[3] and "whole number" in reasons[5]
    assert "duplicate" in reasons[7] and "gestern" in reasons[8] and "fields" in reasons[11]
    # each row exactly once: row numbers of responses and rejected are disjoint and cover the input
    assert manifest["comment_status"] == {"text": 3, "empty": 1, "non_informative": 1}
    assert "[EMAIL]" in responses.set_index("response_id").loc["9", "comment"]
    assert "example.com" not in (out / "responses.csv").read_text(encoding="utf-8-sig")


def test_outputs_follow_the_contracts(tmp_path: Path, repo_root: Path) -> None:
    out = tmp_path / "out"
    manifest = _run(repo_root / "data" / "demo_de.csv", out, _config(tmp_path))
    for table in ("responses", "rejected", "nps_summary"):
        frame = pd.read_parquet(out / f"{table}.parquet")
        missing = set(TABLE_CONTRACTS[table]) - set(frame.columns)
        assert not missing, (table, missing)
    responses = pd.read_parquet(out / "responses.parquet")
    assert set(responses["nps_group"]) == {"promoter", "passive", "detractor"}
    assert {"Filiale", "Kanal", "date", "period"} <= set(responses.columns)
    assert responses["sentiment"].isna().all()  # sentiment disabled: null, never "neutral"
    summary = pd.read_parquet(out / "nps_summary.parquet")
    assert set(summary["segment"]) == {"all", "Filiale", "Kanal"}
    changes = pd.read_parquet(out / "nps_changes.parquet")
    assert changes.query("segment == 'all' and significant and direction == 'drop'")["period"].tolist()
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["rows_in"] == 600 == saved["rows_valid"] + saved["rows_rejected"]
    assert saved["input"]["encoding"] == "cp1252" and saved["input"]["delimiter"] == ";"
    assert saved["column_mapping"]["score"] == "Bewertung"
    assert set(saved["timings_s"]) >= {"ingest", "validate", "comments", "nps", "write"}
    assert manifest["input"]["sha256"] == saved["input"]["sha256"]
    with duckdb.connect(str(out / "nps_text.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from responses").fetchone() == (saved["rows_valid"],)
    assert (out / "nps_text.xlsx").stat().st_size > 0
    assert not list(out.glob("*.part"))
