"""Journey: the built wheel, installed into a fresh environment, runs the demo from an empty folder.

What a user does: ``pip wheel --no-deps -w dist .`` in a checkout, ``pip install dist/nps_text-*.whl`` into a new
virtual environment, then ``nps-text run demo_de.csv --out o`` in a folder of their own. The test builds the wheel
from a copy of the checkout's files (what git would check out, so the repository gets no ``build/`` folder), with
``--no-build-isolation`` (the test environment's setuptools: no network at test time).

The fresh environment is a real ``python -m venv``; it gets the wheel's dependencies without network by symlinks
to every entry of the test environment's site-packages except nps-text itself (its editable finder, ``.pth`` and
metadata stay out), so ``import nps_text`` can only find what the wheel installed. Cost: the wheel builds in a few
seconds; the demo run (596 responses, real models) takes about a minute or two on a busy 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.journeys.conftest import BIN, REPO, Result, run_command

pytestmark = [pytest.mark.journey, pytest.mark.slow]

MAX_WHEEL_MB = 80  # the code (~1 MB) and the shipped models (student 21 MB + teacher 43 MB); torch & co. are dependencies


IGNORED = {".git", ".venv", "build", "dist", "out", "runs", ".cache", "__pycache__", ".pytest_cache", ".mypy_cache",
           ".ruff_cache"}


def _checkout_files() -> list[str]:
    """The checkout's files as git sees them (tracked and untracked-but-not-ignored), that exist; without git
    (a source archive), every file outside the usual generated folders."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, check=True, capture_output=True,
        ).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        listed = []
        for folder, subfolders, files in os.walk(REPO):
            subfolders[:] = [name for name in subfolders if name not in IGNORED and not name.endswith(".egg-info")]
            listed += [str((Path(folder) / name).relative_to(REPO)) for name in files]
    return [name for name in listed if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel --no-deps`` of a copy of the checkout."""
    import shutil

    source = tmp_path_factory.mktemp("checkout")
    for name in _checkout_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist),
         str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels = list(dist.glob("nps_text-*.whl"))
    assert len(wheels) == 1, built.stdout[-2000:]
    return wheels[0]


@pytest.fixture(scope="module")
def fresh_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtual environment with the wheel installed (dependencies linked from the test environment)."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    ours = Path(sysconfig.get_path("purelib"))
    for entry in ours.iterdir():
        if "nps_text" in entry.name or entry.name == "__pycache__":
            continue  # the editable install of the checkout must not leak in
        (site / entry.name).symlink_to(entry)
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    yield root


def _in_fresh_env(fresh_env: Path, args: list[str], *, cwd: Path, home: Path, timeout: float = 900) -> Result:
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != BIN)
    env = {"PATH": f"{fresh_env / 'bin'}{os.pathsep}{path}", "VIRTUAL_ENV": str(fresh_env)}
    return run_command(args, cwd=cwd, home=home, env=env, timeout=timeout)


def test_wheel_ships_the_models_and_stays_small(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    for model in ("sentiment-e5-student", "sentiment-e5-teacher", "sentiment-baseline", "sentiment-commercial"):
        assert any(f"/share/nps-text/models/{model}/" in name for name in names), model
    for model in ("sentiment-e5-student", "sentiment-e5-teacher"):
        assert any(name.endswith(f"{model}/trained_layers.safetensors") for name in names), model
    assert any(name.endswith("report/templates/report.html.j2") for name in names)
    assert any(name.endswith("themes/taxonomies/retail.yaml") for name in names)
    assert not any(name.startswith(("tests/", "models/", "flows/", "pipeline/")) for name in names)
    assert wheel.stat().st_size < MAX_WHEEL_MB * 1024 * 1024, f"{wheel.stat().st_size / 1e6:.1f} MB"


def test_installed_package_is_the_wheel_and_finds_its_models(fresh_env: Path, workdir: Path, home: Path) -> None:
    probe = _in_fresh_env(
        fresh_env,
        [str(fresh_env / "bin" / "python"), "-c",
         "import json, nps_text; from nps_text.sentiment.base import model_path;"
         "print(json.dumps({'package': nps_text.__file__, 'model': str(model_path('sentiment-e5-student'))}))"],
        cwd=workdir, home=home, timeout=300,
    )
    assert probe.returncode == 0, probe.output[-3000:]
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).resolve().is_relative_to(fresh_env.resolve()), found
    model = Path(found["model"])
    assert model.resolve().is_relative_to(fresh_env.resolve()), found
    assert (model / "trained_layers.safetensors").is_file()


def test_installed_wheel_runs_the_demo_from_an_empty_folder(fresh_env: Path, workdir: Path, home: Path) -> None:
    assert not any(workdir.iterdir())
    result = _in_fresh_env(
        fresh_env, [str(fresh_env / "bin" / "nps-text"), "run", str(REPO / "data" / "demo_de.csv"), "--out", "o"],
        cwd=workdir, home=home,
    )
    assert result.returncode == 0, result.output[-4000:]
    assert "Traceback" not in result.output
    out = workdir / "o"
    for name in ("responses.parquet", "themes.parquet", "improvement_areas.parquet", "report.html", "manifest.json"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows_in"] == manifest["rows_valid"] + manifest["rows_rejected"] == 600
    assert manifest["rows_valid"] == 596
    import pandas as pd

    responses = pd.read_parquet(out / "responses.parquet")
    with_text = responses[responses["comment_status"] == "text"]
    assert len(with_text) > 100
    assert with_text["sentiment"].notna().all()
    assert set(with_text["sentiment"]) <= {"positive", "neutral", "negative"}
    assert len(set(with_text["sentiment"])) == 3  # the real default model, not a constant


def test_every_model_folder_is_in_the_wheels_data_files() -> None:
    """A new model folder under models/ must be added to pyproject's data-files, or the wheel lacks it."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    data_files = config["tool"]["setuptools"]["data-files"]
    shipped = {target.rsplit("/", 1)[-1] for target in data_files}
    folders = {path.name for path in (REPO / "models").iterdir() if path.is_dir()}
    assert shipped == folders
    for target, sources in data_files.items():
        assert target.startswith("share/nps-text/models/")
        assert sources == [f"models/{target.rsplit('/', 1)[-1]}/*"]


def test_model_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$NPS_TEXT_MODELS_DIR, then the source tree's models/, then the installed copy; per model."""
    from nps_text.sentiment import base

    configured = tmp_path / "mine"
    (configured / "sentiment-baseline").mkdir(parents=True)
    installed = tmp_path / "share" / "nps-text" / "models"
    (installed / "sentiment-commercial").mkdir(parents=True)
    (installed / "sentiment-e5-student").mkdir(parents=True)
    source = tmp_path / "checkout" / "models"
    (source / "sentiment-e5-student").mkdir(parents=True)
    monkeypatch.setattr(base, "installed_models_dir", lambda: installed)
    monkeypatch.setattr(base, "_source_models_dir", lambda: source)
    monkeypatch.setenv("NPS_TEXT_MODELS_DIR", str(configured))
    assert base.model_dirs() == [configured, source, installed]
    assert base.model_path("sentiment-baseline") == configured / "sentiment-baseline"
    assert base.model_path("sentiment-e5-student") == source / "sentiment-e5-student"
    assert base.model_path("sentiment-commercial") == installed / "sentiment-commercial"
    assert base.model_path("nowhere") == configured / "nowhere"  # the loader's error names the configured folder
    monkeypatch.delenv("NPS_TEXT_MODELS_DIR")
    monkeypatch.setattr(base, "_source_models_dir", lambda: tmp_path / "not-a-checkout" / "models")
    assert base.models_dir() == installed  # an installed wheel: no models/ beside the package
    assert base.model_path("sentiment-e5-student") == installed / "sentiment-e5-student"


def test_this_checkout_uses_its_own_models_folder() -> None:
    from nps_text.sentiment.base import model_path

    assert model_path("sentiment-e5-student") == REPO / "models" / "sentiment-e5-student"
