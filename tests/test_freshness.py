"""Re-runs pay only for what is new: the up-to-date check (:mod:`nps_text.freshness`) on a hand-built published
folder, outputs carried over when their content would not change (:mod:`nps_text.writers.outputs`), and both
through the real flow (a temporary Prefect server)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from nps_text import freshness
from nps_text.config import PipelineConfig
from nps_text.errors import DeliveryError
from nps_text.ingest import file_hash
from nps_text.params import RunParameters
from nps_text.writers import file_record, output_digests, publish, unchanged_outputs, write_outputs

SURVEY = "id,score,comment\n1,9,Super\n2,3,Zu teuer\n"


def _publish_fake_run(out: Path, survey: Path, run_id: str = "run-1", **params: Any) -> dict[str, Any]:
    """What a successful run leaves in ``out``: two outputs, a theme state, the manifest and the attempt marker."""
    parameters = RunParameters(input=str(survey), out=str(out), **params)
    out.mkdir(parents=True, exist_ok=True)
    (out / "responses.parquet").write_bytes(b"table")
    (out / "report.html").write_text("<html>report</html>", encoding="utf-8")
    (out / ".state").mkdir(exist_ok=True)
    (out / ".state" / "themes_state.json").write_text("{}", encoding="utf-8")
    freshness.mark_attempt(out, run_id)
    manifest = {
        "run_id": run_id,
        "fingerprint": freshness.fingerprint(parameters, PipelineConfig(), file_hash(survey)),
        "input": {"path": str(survey), "sha256": file_hash(survey)},
        "outputs": ["report.html", "responses.parquet", "manifest.json"],
        "files": {name: {**(file_record(out / name) or {}), "inputs": "digest"} for name in ("report.html", "responses.parquet")},
        "state": freshness.state_records(out),
        "finished_at": "2026-12-03T15:58:35+00:00",
    }
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, Path]:
    survey = tmp_path / "survey.csv"
    survey.write_text(SURVEY, encoding="utf-8")
    out = tmp_path / "out"
    _publish_fake_run(out, survey)
    return out, survey


def _verdict(out: Path, survey: Path, config: PipelineConfig | None = None, **params: Any) -> freshness.Verdict:
    parameters = RunParameters(input=str(survey), out=str(out), **params)
    return freshness.check(out, freshness.fingerprint(parameters, config or PipelineConfig(), file_hash(survey)))


def test_an_unchanged_folder_is_up_to_date(published: tuple[Path, Path]) -> None:
    out, survey = published
    verdict = _verdict(out, survey)
    assert verdict.up_to_date and verdict.reason == "" and verdict.manifest is not None
    line = freshness.up_to_date_line(verdict.manifest, out)
    assert line.startswith(f"Up to date: {out} already holds the results of {survey} (sha256 ")
    assert "run run-1 at 2026-12-03 15:58 UTC" in line and line.endswith("Use --force to run again.")


def test_one_changed_input_byte_is_not_up_to_date(published: tuple[Path, Path]) -> None:
    out, survey = published
    survey.write_text(SURVEY.replace("Super", "Suoer"), encoding="utf-8")  # same size, one byte
    verdict = _verdict(out, survey)
    assert not verdict.up_to_date and verdict.reason == "changed since the published run: input_sha256"


def test_a_changed_config_version_or_database_is_not_up_to_date(
    published: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, survey = published
    monthly = PipelineConfig.model_validate({"nps": {"period": "M"}})
    assert _verdict(out, survey, monthly).reason == "changed since the published run: config"
    assert _verdict(out, survey, database="sqlite:///nps.db").reason == "changed since the published run: database"
    monkeypatch.setenv("NPS_TEXT_PSEUDONYM_KEY", "a" * 64)
    assert _verdict(out, survey).reason == "changed since the published run: pseudonym_key"
    monkeypatch.delenv("NPS_TEXT_PSEUDONYM_KEY")
    monkeypatch.setattr(freshness, "__version__", "9.9.9")
    assert _verdict(out, survey).reason == "changed since the published run: nps_text"


def test_where_the_models_run_is_not_a_change(published: tuple[Path, Path]) -> None:
    """``runner.release_models`` and ``runner.model_process`` decide which process holds the models and for how
    long, not a result: ``flows/serve.py --warm`` (``keep_models``) and ``nps-text run`` share an output folder."""
    from nps_text.params import run_config

    out, survey = published
    held = PipelineConfig.model_validate({"runner": {"release_models": False, "model_process": True}})
    assert _verdict(out, survey, held).up_to_date
    kept = RunParameters(input=str(survey), out=str(out), keep_models=True)
    assert run_config(kept).runner.release_models is False
    assert freshness.check(out, freshness.fingerprint(kept, run_config(kept), file_hash(survey))).up_to_date


def test_changed_model_files_are_not_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    (models / "sentiment-e5-small").mkdir(parents=True)
    weights = models / "sentiment-e5-small" / "trained_layers.safetensors"
    weights.write_bytes(b"v1")
    monkeypatch.setenv("NPS_TEXT_MODELS_DIR", str(models))
    survey = tmp_path / "survey.csv"
    survey.write_text(SURVEY, encoding="utf-8")
    _publish_fake_run(tmp_path / "out", survey)
    assert _verdict(tmp_path / "out", survey).up_to_date
    weights.write_bytes(b"v2, retrained")
    assert _verdict(tmp_path / "out", survey).reason == "changed since the published run: models"


@pytest.mark.parametrize("change", ["missing", "edited", "state", "new state file"])
def test_a_missing_or_changed_output_or_state_is_not_up_to_date(published: tuple[Path, Path], change: str) -> None:
    out, survey = published
    if change == "missing":
        (out / "report.html").unlink()
    elif change == "edited":
        (out / "report.html").write_text("<html>edited by hand</html>", encoding="utf-8")
    elif change == "state":
        (out / ".state" / "themes_state.json").unlink()
    else:
        (out / ".state" / "pseudonym.key").write_text("b" * 64, encoding="utf-8")
    verdict = _verdict(out, survey)
    assert not verdict.up_to_date
    assert ("report.html is missing or was changed" if change in ("missing", "edited") else ".state was changed") in verdict.reason


def test_a_later_failed_run_is_not_up_to_date(published: tuple[Path, Path]) -> None:
    """A run that started after the published one and failed (database, publish, killed) may have changed the
    database or the state: the same input runs again."""
    out, survey = published
    freshness.mark_attempt(out, "run-2")  # run-2 started, never published
    assert _verdict(out, survey).reason == "a later run into this folder did not finish"
    (out / freshness.ATTEMPT_FILE).unlink()
    assert not _verdict(out, survey).up_to_date


def test_no_published_run_or_an_old_manifest_is_not_up_to_date(tmp_path: Path, published: tuple[Path, Path]) -> None:
    out, survey = published
    assert _verdict(tmp_path / "empty", survey).reason == "no published run"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    del manifest["fingerprint"]  # written by an nps-text before the check existed
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert _verdict(out, survey).reason == "the published run recorded no fingerprint"


def test_a_forced_run_a_sql_input_or_an_unreadable_input_is_not_checked(published: tuple[Path, Path]) -> None:
    """:func:`nps_text.freshness.check_run`, as the CLI and the flow call it: ingest reports a missing input."""
    out, survey = published
    params = RunParameters(input=str(survey), out=str(out))
    assert freshness.check_run(params, PipelineConfig()).up_to_date
    assert freshness.check_run(params.model_copy(update={"force": True}), PipelineConfig()).reason == "forced"
    sql = RunParameters(input="sqlite:///survey.db", out=str(out))
    assert freshness.check_run(sql, PipelineConfig()).reason == "a SQL input is checked after its query"
    missing = RunParameters(input=str(out / "missing.csv"), out=str(out))
    assert freshness.check_run(missing, PipelineConfig()).reason == "the input cannot be read"


def test_alert_channels_that_failed_in_the_published_run_fail_again_without_sending() -> None:
    rows = [{"rule": "drop", "kind": "nps_drop", "channel": "cx", "type": "webhook", "status": "failed",
             "error": "ConnectError: [Errno 111] Connection refused"}]
    assert freshness.published_alert_failures({"alerts": [{**rows[0], "status": "sent"}]}, "fail") == []
    expected = ["alert channel 'cx' (webhook) failed for rule drop: ConnectError: [Errno 111] Connection refused"]
    assert freshness.published_alert_failures({"alerts": rows}, "warn") == expected
    with pytest.raises(DeliveryError) as error:
        freshness.published_alert_failures({"alerts": rows}, "fail")
    assert error.value.failures == expected and error.value.exit_code == 3


# -- outputs whose content would not change are carried over -------------------------------------------------------

def _tables(comment: str = "Zu teuer") -> dict[str, pd.DataFrame]:
    return {"responses": pd.DataFrame({"response_id": ["1", "2"], "score": [9, 3], "comment": ["Super", comment]}),
            "themes": pd.DataFrame({"theme_id": [0], "keywords": [["preis", "teuer"]]})}


MANIFEST = {"fingerprint": {"nps_text": "0.1.0+abc", "libraries": "def"}, "input": {"path": "s.csv"}, "rows_in": 2,
            "started_at": "2026-12-03T10:00:00+00:00", "timings_s": {"nps": 0.1},
            "models": {"sentiment": {"name": "default", "loaded": True}, "cache": {"sentiment": {"hits": 0, "misses": 2}}},
            "config": {"nps": {"confidence": 0.95}, "alerts": {"rules": []}}}


def test_output_digests_follow_what_each_output_is_built_from() -> None:
    config = PipelineConfig()
    base = output_digests(_tables(), MANIFEST, config)
    assert set(base) == {"responses.parquet", "responses.csv", "themes.parquet", "themes.csv", "nps_text.xlsx",
                         "nps_text.duckdb", "report.html"}
    assert output_digests(_tables(), MANIFEST, config) == base  # deterministic
    changed = output_digests(_tables("Zu teuer!"), MANIFEST, config)
    assert {name for name in base if base[name] != changed[name]} == {
        "responses.parquet", "responses.csv", "nps_text.xlsx", "nps_text.duckdb", "report.html"}
    another_run = {**MANIFEST, "started_at": "2026-12-10T10:00:00+00:00", "timings_s": {"nps": 0.2},
                   "models": {"sentiment": {"name": "default", "loaded": False},
                              "cache": {"sentiment": {"hits": 2, "misses": 0}}},
                   "config": {**MANIFEST["config"], "alerts": {"rules": ["a new rule"]}}}
    assert output_digests(_tables(), another_run, config) == base  # what differs run to run, or the report never shows
    assert output_digests(_tables(), {**MANIFEST, "rows_in": 3}, config)["report.html"] != base["report.html"]
    semicolon = output_digests(_tables(), MANIFEST, PipelineConfig.model_validate({"output": {"csv_delimiter": ";"}}))
    assert {name for name in base if base[name] != semicolon[name]} == {"responses.csv", "themes.csv"}
    new_code = output_digests(_tables(), {**MANIFEST, "fingerprint": {"nps_text": "0.2.0", "libraries": "def"}}, config)
    assert all(new_code[name] != base[name] for name in base)


def _run_writes(out: Path, tables: dict[str, pd.DataFrame], config: PipelineConfig, run: str, keep: bool = True) -> list[str]:
    """The write stage and publishing of one run into ``out``, as the flow does them; returns the kept names."""
    staging = out / f".staging-{run}"
    staging.mkdir(parents=True)
    digests = output_digests(tables, MANIFEST, config)
    kept = unchanged_outputs(out, digests) if keep else []
    paths = write_outputs(tables, MANIFEST, config, staging, keep=kept, published=out)
    names = sorted(path.name for path in paths)
    manifest = {"outputs": [*names, "manifest.json"],
                "files": {path.name: {**(file_record(path) or {}), "inputs": digests[path.name]} for path in paths}}
    (staging / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    publish(staging, out, manifest["outputs"])
    for leftover in staging.iterdir():
        leftover.unlink()
    staging.rmdir()
    return kept


def test_unchanged_outputs_are_carried_over_and_the_folder_stays_complete(tmp_path: Path) -> None:
    config = PipelineConfig.model_validate({"output": {"formats": ["parquet", "csv", "xlsx"]}, "report": {"enabled": False}})
    out = tmp_path / "out"
    assert _run_writes(out, _tables(), config, "1") == []
    first = {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in out.iterdir() if path.is_file()}

    assert sorted(_run_writes(out, _tables(), config, "2")) == sorted(set(first) - {"manifest.json"})  # nothing new
    second = {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in out.iterdir() if path.is_file()}
    assert set(second) == set(first) and all(second[name] == first[name] for name in first if name != "manifest.json")

    kept = _run_writes(out, _tables("Zu teuer!"), config, "3")  # one response changed: its table and the workbook
    assert sorted(kept) == ["themes.csv", "themes.parquet"]
    assert pd.read_parquet(out / "responses.parquet")["comment"].tolist() == ["Super", "Zu teuer!"]
    assert pd.read_excel(out / "nps_text.xlsx", sheet_name="responses")["comment"].tolist() == ["Super", "Zu teuer!"]

    (out / "themes.csv").write_text("edited", encoding="utf-8")  # a published file changed by hand is written again
    assert "themes.csv" not in _run_writes(out, _tables("Zu teuer!"), config, "4")
    assert (out / "themes.csv").read_text(encoding="utf-8-sig").startswith("theme_id")
    assert _run_writes(out, _tables("Zu teuer!"), config, "5", keep=False) == []  # forced: everything written


# -- through the real flow -----------------------------------------------------------------------------------------

def _config_file(tmp_path: Path, **sections: Any) -> Path:
    base = {"embeddings": {"model": "test-hashing"}, "sentiment": {"enabled": False}, "themes": {"enabled": False},
            "output": {"formats": ["parquet", "xlsx"]}}
    base.update(sections)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base))
    return path


def _mtimes(out: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in out.iterdir() if path.is_file() and not path.name.startswith(".")}


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_skips_an_up_to_date_folder_and_reruns_after_a_failed_run(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nps_text import flow as flow_module
    from nps_text import notify
    from nps_text.errors import SourceUnavailableError

    out = tmp_path / "out"
    params = RunParameters(input=str(repo_root / "data" / "demo_de.csv"), out=str(out), config=str(_config_file(tmp_path)),
                           database=f"sqlite:///{tmp_path / 'nps.db'}")
    first = flow_module.nps_text_flow(params)
    assert first["database"]["tables"]["responses"]["rows"] == 596
    before = _mtimes(out)

    writes: list[str] = []
    monkeypatch.setattr(notify, "database_output", lambda *args, **kwargs: writes.append("db") or {"dialect": "sqlite"})
    again = flow_module.nps_text_flow(params)
    assert again["run_id"] == first["run_id"] and writes == [] and _mtimes(out) == before  # nothing ran, nothing written

    def database_down(*args: Any, **kwargs: Any) -> None:
        raise SourceUnavailableError("cannot write to the database: connection refused")

    monkeypatch.setattr(notify, "database_output", database_down)
    state = flow_module.nps_text_flow(params.model_copy(update={"force": True}), return_state=True)
    assert state.is_failed() and _mtimes(out) == before  # nothing published

    monkeypatch.setattr(notify, "database_output", lambda *args, **kwargs: writes.append("db") or {"dialect": "sqlite"})
    third = flow_module.nps_text_flow(params)  # the failed run may have left the database half-way: run again
    assert third["run_id"] != first["run_id"] and writes == ["db"]
    kept = [name for name, mtime in _mtimes(out).items() if before.get(name) == mtime]
    assert sorted(kept) == sorted(set(before) - {"manifest.json"})  # same tables: every output carried over
    assert freshness.check(out, third["fingerprint"]).up_to_date
    assert sorted(third["outputs"]) == sorted(first["outputs"]) and all((out / name).exists() for name in third["outputs"])


def test_the_cli_check_imports_neither_prefect_nor_a_model(published: tuple[Path, Path]) -> None:
    """``nps-text run`` on an up-to-date folder: the one line, exit 0, and Prefect, torch and transformers never
    imported (a fresh interpreter, so nothing imported by earlier tests counts)."""
    import subprocess
    import sys

    out, survey = published
    code = ("import sys\nfrom nps_text.cli import main\ntry:\n    main(['run', sys.argv[1], '--out', sys.argv[2]])\n"
            "finally:\n    print(sorted(m for m in ('prefect', 'torch', 'transformers', 'bertopic') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(survey), str(out)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [freshness.up_to_date_line(json.loads((out / "manifest.json").read_text()), out), "[]"]
