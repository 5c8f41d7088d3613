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


def _run(input_path: Path, out: Path, config: Path, force: bool = False) -> dict:
    from nps_text.flow import nps_text_flow
    from nps_text.params import RunParameters

    return nps_text_flow(RunParameters(input=str(input_path), out=str(out), config=str(config), force=force))


def test_every_bad_row_is_accounted_for(tmp_path: Path) -> None:
    source = tmp_path / "bad_rows.csv"
    source.write_text(BAD_ROWS, encoding="utf-8")
    out = tmp_path / "out"
    manifest = _run(source, out, _config(tmp_path))

    responses = pd.read_parquet(out / "responses.parquet")
    rejected = pd.read_parquet(out / "rejected.parquet")
    assert manifest["rows_in"] == 14
    assert manifest["rows_in"] == manifest["rows_valid"] + manifest["rows_rejected"]
    assert len(responses) == manifest["rows_valid"] == 6
    # a valid score is never rejected for its date alone: row 8 ("gestern") stays, with a null date, counted
    assert sorted(responses["response_id"]) == ["1", "11", "12", "7", "8", "9"]
    assert responses.set_index("response_id").loc["7", "date"] is pd.NaT
    assert manifest["dates_unparsed"] == 1
    assert sorted(rejected["row_number"].tolist()) == [2, 3, 4, 5, 6, 7, 11, 12]
    assert manifest["input"]["path"] == str(source)  # also when the ingest task was a cache hit
    reasons = dict(zip(rejected["row_number"], rejected["reason"], strict=True))
    assert "not a number" in reasons[2] and "outside 0-10" in reasons[3] and "whole number" in reasons[5]
    assert "duplicate" in reasons[7] and "fields" in reasons[11]
    # each row exactly once: row numbers of responses and rejected are disjoint and cover the input
    assert manifest["comment_status"] == {"text": 4, "empty": 1, "non_informative": 1}
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


def _themes_config(tmp_path: Path) -> Path:
    return _config(tmp_path, themes={"enabled": True, "reduction": "pca", "min_theme_size": 10})


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {path.name: pd.read_parquet(path) for path in sorted(out.glob("*.parquet"))}


def test_two_runs_give_identical_tables_and_survive_a_killed_run(tmp_path: Path, repo_root: Path, caplog) -> None:
    source = repo_root / "data" / "demo_de.csv"
    config = _themes_config(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    _run(source, first, config)
    # what a killed run leaves behind, plus a damaged theme state: cleaned, dropped with a warning, recomputed
    (second / ".staging-killed").mkdir(parents=True)
    (second / ".staging-killed" / "responses.parquet").write_bytes(b"half")
    (second / ".state").mkdir()
    (second / ".state" / "themes_state.json").write_text('{"version": 1, "dim": 64, "next_id": 3, "themes": [{"th')
    _run(source, second, config)
    assert "damaged" in caplog.text
    _run(source, first, config, force=True)  # a re-run, with the first run's theme state
    one, two = _tables(first), _tables(second)
    assert one.keys() == two.keys() and "themes.parquet" in one
    assert one["responses.parquet"]["theme_id"].notna().any()
    for name, frame in one.items():
        pd.testing.assert_frame_equal(frame, two[name], obj=name)
    for out in (first, second):
        assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) in (
            [".attempt", ".cache", ".lock", ".state"], [".attempt", ".lock", ".state"])
        assert json.loads((out / "manifest.json").read_text())["outputs"][-1] == "manifest.json"


def test_permanent_errors_are_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text import flow as flow_module
    from nps_text.errors import InputError
    from nps_text.stages import ingest as ingest_stage

    calls: list[str] = []

    def failing(source, config):
        calls.append(source)
        raise InputError(f"input file is empty: {source}")

    monkeypatch.setattr(ingest_stage, "read_input", failing)
    state = flow_module.nps_text_flow(
        flow_module.RunParameters(input=str(tmp_path / "x.csv"), out=str(tmp_path / "o"), config=str(_config(tmp_path))),
        return_state=True,
    )
    assert state.is_failed() and len(calls) == 1


def test_transient_errors_are_retried(tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text import flow as flow_module
    from nps_text.stages import ingest as ingest_stage

    calls: list[str] = []
    real = ingest_stage.read_input

    def flaky(source, config):
        calls.append(source)
        if len(calls) == 1:
            raise ConnectionResetError("share went away")
        return real(source, config)

    monkeypatch.setattr(ingest_stage, "read_input", flaky)
    monkeypatch.setattr(flow_module, "ingest_task", flow_module.ingest_task.with_options(retry_delay_seconds=0))
    _run(repo_root / "data" / "demo_de.csv", tmp_path / "o", _config(tmp_path))
    assert len(calls) == 2


def test_is_transient() -> None:
    from sqlalchemy.exc import OperationalError

    from nps_text.errors import ConfigError, InputError, is_transient

    assert is_transient(TimeoutError()) and is_transient(OSError(5, "I/O error"))
    assert is_transient(OperationalError("select 1", {}, Exception("server closed the connection")))
    assert not is_transient(InputError("empty")) and not is_transient(ConfigError("bad"))
    assert not is_transient(FileNotFoundError("x")) and not is_transient(ValueError("x"))


def test_the_error_classes_carry_their_retry_policy() -> None:
    import smtplib

    import httpx

    from nps_text.errors import (
        ColumnMappingError,
        ModelError,
        NpsTextError,
        SourceUnavailableError,
        is_transient,
    )
    from nps_text.ingest import SourceUnavailableError as from_ingest

    assert from_ingest is SourceUnavailableError  # one class, where the hierarchy is
    assert SourceUnavailableError.transient and is_transient(SourceUnavailableError("cannot connect to db"))
    assert not any(cls.transient for cls in (NpsTextError, ColumnMappingError, ModelError))

    class Flaky(NpsTextError):
        transient = True

    assert is_transient(Flaky("try again"))  # a new error class says so itself: no list to update
    request = httpx.Request("POST", "http://127.0.0.1:9/hook")
    assert is_transient(httpx.ConnectError("refused", request=request))
    for status, transient in ((503, True), (429, True), (404, False), (400, False)):
        error = httpx.HTTPStatusError("x", request=request, response=httpx.Response(status, request=request))
        assert is_transient(error) is transient, status
    assert is_transient(smtplib.SMTPServerDisconnected("gone"))
    assert not is_transient(smtplib.SMTPAuthenticationError(535, b"bad password"))


def test_an_unreachable_source_database_is_retried(tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nps_text import flow as flow_module
    from nps_text.errors import SourceUnavailableError
    from nps_text.stages import ingest as ingest_stage

    calls: list[str] = []
    real = ingest_stage.read_input

    def unreachable_once(source, config):
        calls.append(source)
        if len(calls) == 1:
            raise SourceUnavailableError("cannot connect to postgresql://db/survey: connection refused")
        return real(source, config)

    monkeypatch.setattr(ingest_stage, "read_input", unreachable_once)
    monkeypatch.setattr(flow_module, "ingest_task", flow_module.ingest_task.with_options(retry_delay_seconds=0))
    _run(repo_root / "data" / "demo_de.csv", tmp_path / "o", _config(tmp_path))
    assert len(calls) == 2


def test_the_output_database_retries_only_transient_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from nps_text import database, notify
    from nps_text.config import config_from_dict
    from nps_text.errors import ConfigError, SourceUnavailableError

    monkeypatch.setattr(notify, "database_task", notify.database_task.with_options(retry_delay_seconds=0))
    config = config_from_dict({"output": {"database": f"sqlite:///{tmp_path / 'bi.db'}"}})
    calls: list[str] = []

    def failing(error: Exception):  # noqa: ANN202
        def write(*args, **kwargs):
            calls.append(type(error).__name__)
            raise error
        return write

    monkeypatch.setattr(database, "write_database", failing(ConfigError("PGPASSWORD is not set")))
    with pytest.raises(ConfigError):
        notify.database_output({}, config)
    assert calls == ["ConfigError"]  # a configuration error is never retried
    calls.clear()
    refused = OperationalError("INSERT INTO responses VALUES (?)", ("anna@example.com",), Exception("connection refused"))
    monkeypatch.setattr(database, "write_database", failing(refused))
    with pytest.raises(SourceUnavailableError) as caught:
        notify.database_output({}, config)
    assert calls == ["OperationalError"] * 3  # the first try and two retries
    assert "connection refused" in str(caught.value) and "anna@example.com" not in str(caught.value)
    assert "INSERT" not in str(caught.value)


def test_credentials_never_reach_the_flow_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from nps_text.params import RunParameters, resolve_source, split_password

    with pytest.raises(ValidationError) as error:
        RunParameters(input="postgresql://nps:S3cretPW@db/survey")
    assert "S3cretPW" not in str(error.value)
    assert split_password("postgresql://nps:S3c%40ret@db:5432/survey") == ("postgresql://nps@db:5432/survey", "S3c@ret")
    assert split_password("data/x.csv") == ("data/x.csv", None)
    monkeypatch.setenv("MY_DB_PW", "p@ss/word")
    resolved = resolve_source("postgresql://nps@db/survey", password_env="MY_DB_PW")
    assert split_password(resolved) == ("postgresql://nps@db/survey", "p@ss/word")
    monkeypatch.delenv("MY_DB_PW")
    with pytest.raises(Exception, match="MY_DB_PW"):
        resolve_source("postgresql://nps@db/survey", password_env="MY_DB_PW")


PII_VALUES = ["max.mustermann@example.com", "erika.musterfrau@firma.de", "+49 170 1234567", "0171 9876543",
              "DE89370400440532013000", "DE02120300000000202051"]
_PII_SCRIPT = r"""
import os, sys
sys.path.insert(0, sys.argv[4])
from prefect.testing.utilities import prefect_test_harness
from nps_text.encoders.registry import register_encoder
from tests.conftest import HashingEncoder
from nps_text.flow import nps_text_flow
from nps_text.params import RunParameters

register_encoder(HashingEncoder.name, HashingEncoder)
with prefect_test_harness(server_startup_timeout=180):
    nps_text_flow(RunParameters(input=sys.argv[1], out=sys.argv[2], config=sys.argv[3]))
sys.stdout.flush()
os._exit(0)  # skip the harness's atexit cleanup: its database must stay behind to be scanned
"""


def _pii_csv(path: Path) -> None:
    words = ["Lieferung kam zu spät", "Beratung war super freundlich", "Preis ist zu hoch", "App stürzt ständig ab"]
    lines = ["id;score;comment;email;telefon;iban;segment"]
    for i in range(80):
        email, phone, iban = PII_VALUES[i % 2], PII_VALUES[2 + i % 2], PII_VALUES[4 + i % 2]
        comment = f"{words[i % 4]}, bitte melden an {email} oder {phone}, IBAN {iban}"
        lines.append(f"{i};{i % 11};{comment};{email};{phone};{iban};{'AB'[i % 2]}")
    lines.append(f"x1;zehn;Rückruf an {PII_VALUES[0]} {PII_VALUES[2]} {PII_VALUES[4]};{PII_VALUES[0]};{PII_VALUES[2]};{PII_VALUES[4]};A")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _leaks(data: bytes, needles: list[bytes], depth: int = 0) -> list[bytes]:
    """Needles found in ``data``, also inside pickles, base64 and JSON it holds."""
    import base64
    import contextlib
    import pickle
    import re

    found = [needle for needle in needles if needle in data]
    if depth < 3:
        with contextlib.suppress(Exception):  # a pickle (Prefect's result files hold cloudpickle data)
            found += _leaks(repr(pickle.loads(data)).encode(), needles, depth + 1)  # noqa: S301 - our own test files
        for chunk in re.findall(rb"[A-Za-z0-9+/=]{40,}", data):
            with contextlib.suppress(Exception):
                found += _leaks(base64.b64decode(chunk, validate=True), needles, depth + 1)
    return found


def _sqlite_rows(path: Path) -> bytes:
    import sqlite3

    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type='table'")]
        rows = [repr(row) for table in tables for row in connection.execute(f'select * from "{table}"')]
        connection.close()
        return "\n".join(rows).encode()
    except sqlite3.Error:
        return b""


@pytest.mark.slow
def test_no_personal_data_at_rest_anywhere(tmp_path: Path, repo_root: Path) -> None:
    import os
    import subprocess
    import sys

    source = tmp_path / "input" / "pii.csv"
    source.parent.mkdir()
    _pii_csv(source)
    config = _config(tmp_path, themes={"enabled": True, "reduction": "pca", "min_theme_size": 10},
                     output={"formats": ["parquet", "csv", "xlsx", "duckdb"]})
    written = tmp_path / "written"
    home, prefect_home, temp, out = written / "home", written / "prefect", written / "tmp", written / "out"
    for folder in (home, prefect_home, temp):
        folder.mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {"HOME": str(home), "PREFECT_HOME": str(prefect_home), "TMPDIR": str(temp), "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HF_HUB_OFFLINE": "1", "XDG_CACHE_HOME": str(home / ".cache")}
    result = subprocess.run([sys.executable, "-c", _PII_SCRIPT, str(source), str(out), str(config), str(repo_root)],
                            env=env, capture_output=True, text=True, timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "responses.parquet").exists() and list(temp.rglob("prefect-test.db"))

    needles = [value.encode() for value in PII_VALUES] + [value.replace(" ", "").encode() for value in PII_VALUES]
    leaks: dict[str, set[bytes]] = {}
    for path in sorted(p for p in written.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data.startswith(b"SQLite format 3"):
            data += _sqlite_rows(path)
        if path.suffix in (".parquet", ".xlsx", ".duckdb"):  # compressed / binary columns: read them back
            data += _decoded_table(path)
        found = set(_leaks(data, needles))
        if found:
            leaks[str(path.relative_to(written))] = found
    assert not leaks, leaks


def _decoded_table(path: Path) -> bytes:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path).to_csv().encode()
        if path.suffix == ".xlsx":
            return "".join(frame.to_csv() for frame in pd.read_excel(path, sheet_name=None).values()).encode()
        with duckdb.connect(str(path), read_only=True) as connection:
            names = [row[0] for row in connection.execute("show tables").fetchall()]
            return "".join(connection.execute(f'select * from "{n}"').df().to_csv() for n in names).encode()
    except Exception:  # noqa: BLE001
        return b""


def test_tables_are_written_in_chunks_with_the_same_bytes_and_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    from nps_text import writers

    frame = pd.DataFrame({"text": pd.Series(["x", None, "=1+2", "y"] * 5, dtype="string"), "n": range(20),
                          "keywords": [["a", "b"]] * 20, "theme_id": pd.Series([pd.NA] * 20, dtype="Int64")})
    writers.write_parquet(frame, tmp_path / "one.parquet")
    writers.write_csv(frame, tmp_path / "one.csv")
    monkeypatch.setattr(writers.formats, "WRITE_CHUNK_ROWS", 3)
    writers.write_parquet(frame, tmp_path / "many.parquet")
    writers.write_csv(frame, tmp_path / "many.csv")
    assert pq.ParquetFile(tmp_path / "many.parquet").num_row_groups == 7
    assert pq.read_schema(tmp_path / "one.parquet") == pq.read_schema(tmp_path / "many.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "many.parquet"))
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "many.csv").read_bytes()


def test_a_failed_flow_stores_no_personal_data_in_its_exception() -> None:
    from nps_text.errors import DeliveryError, SchemaError, failed_stage, failing_in
    from nps_text.pii import redacted_exception

    clean = redacted_exception(SchemaError("bad value 'max.mustermann@example.com' in column x"))
    assert isinstance(clean, SchemaError) and "example.com" not in str(clean) and "[EMAIL]" in str(clean)
    unchanged = ValueError("no personal data here")
    assert redacted_exception(unchanged) is unchanged
    try:
        with failing_in("themes"):
            raise TypeError("object of type 'float' has no len() for max.mustermann@example.com")
    except TypeError as exc:
        crashed = redacted_exception(exc)
    assert isinstance(crashed, TypeError) and failed_stage(crashed) == "themes"
    report = crashed.nps_text_traceback  # type: ignore[attr-defined]
    assert "Traceback" in report and report.rstrip().endswith("has no len() for [EMAIL]")
    assert "example.com" not in report and "[EMAIL]" in report
    delivery = redacted_exception(DeliveryError("1 channel failed", ["alert channel 'cx' (webhook) failed: refused"]))
    assert delivery.failures == ["alert channel 'cx' (webhook) failed: refused"]  # type: ignore[attr-defined]
