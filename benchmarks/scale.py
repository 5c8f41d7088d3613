"""How ``nps-text run`` scales with the number of rows: rows/s and peak memory at 100k, 300k and 1M rows.

Usage (from the repository root):

    python benchmarks/scale.py                                  # 100k, 300k, 1M rows, full pipeline
    python benchmarks/scale.py --rows 100000,300000 --no-models # the spine alone (no sentiment, no themes)
    python benchmarks/scale.py --rows 2000 --no-models          # a quick check

Inputs are built with ``survey.py`` (streamed, seeded; see its docstring for how big inputs keep growing
distinct texts) into ``--work-dir`` and reused when they exist (``--rebuild`` to rebuild). Each size runs
as its own ``nps-text run`` child process into a fresh out folder, so nothing is cached between sizes.
``--no-models`` writes a config with ``sentiment.enabled: false`` and ``themes.enabled: false``;
``--formats`` restricts the output formats (the default writes all of them, Excel included). ``--stages``
runs each size through ``stage_memory.py`` (the same run, in one process) and prints its peak memory per step.
``--runner dask`` maps the model steps over a Dask LocalCluster (``runner.dask_workers`` processes);
``--cache-dir`` gives the runs one result cache (default: each out folder's own, so every size starts cold).

Killed runs: ``--kill-after S`` SIGKILLs the run's process group after S seconds, then runs the same command
into the same out folder again and prints both walls and their sum; ``--same-as DIR`` then checks that every
Parquet table equals the one in DIR (an uninterrupted run's out folder, kept with ``--keep-outputs``).

Memory with the models at sizes a cold run cannot reach in a session: ``--reuse-comments N:K`` builds each
size from the N-row survey's comments (row i takes the comment of row i mod N) except every K-th row, which
takes a text the N-row survey does not hold (from the 1M-row survey: new texts, so the models load and score
them). ``--seed-cache`` copies a finished N-row run's cache into ``--cache-dir`` before each size: each run
then pays only for its new texts and the theme fit, at its full row count, with the models loaded.

    python benchmarks/scale.py --rows 100000 --cache-dir /tmp/scale-cache --keep-outputs     # cold, kept
    python benchmarks/scale.py --rows 100000 --kill-after 300 --same-as /tmp/nps-text-bench/scale/out_100000_full
    python benchmarks/scale.py --rows 100000 --runner dask
    python benchmarks/scale.py --rows 100000,300000,1000000 --reuse-comments 100000:500 --stages \\
        --seed-cache /tmp/scale-cache --cache-dir /tmp/scale-cache-copy

Prints one line per size: rows, wall seconds, rows/s, peak RSS (largest process, exact) and tree RSS (sum
over the child's processes, sampled), then the step timings from the run's manifest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import child_env, nps_text_command  # noqa: E402
from measure import run_measured, tail  # noqa: E402
from survey import DEFAULT_DATA_DIR, build_survey  # noqa: E402


def write_config(
    path: Path, no_models: bool, formats: list[str] | None, runner: str = "local", cache_dir: Path | None = None
) -> Path | None:
    """A pipeline config overriding only what the options ask for (``None`` when the defaults apply)."""
    settings: dict[str, object] = {}
    if no_models:
        settings["sentiment"] = {"enabled": False}
        settings["themes"] = {"enabled": False}
    if formats:
        settings["output"] = {"formats": formats}
    if runner != "local":
        settings["runner"] = {"runner": runner}
    if cache_dir is not None:
        settings["cache"] = {"dir": str(cache_dir)}
    if not settings:
        return None
    path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return path


def input_for(rows: int, seed: int, work: Path, data_dir: Path, file_format: str, rebuild: bool) -> Path:
    """Build (or reuse) the survey of ``rows`` rows; a sidecar JSON records how it was built."""
    path = work / f"survey_{rows}_seed_{seed}.{file_format}"
    sidecar = path.with_suffix(path.suffix + ".json")
    if path.exists() and sidecar.exists() and not rebuild:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))
        if recorded.get("rows") == rows and recorded.get("seed") == seed:
            print(f"reusing {path}", flush=True)
            return path
    print(f"building {path} ...", flush=True)
    result = build_survey(rows, path, seed=seed, data_dir=data_dir, file_format=file_format)
    sidecar.write_text(json.dumps(result) + "\n", encoding="utf-8")
    return path


def reused_comments_survey(rows: int, base: Path, own: Path, new_every: int, fresh: Path, work: Path) -> Path:
    """``own``'s ``rows`` rows with ``base``'s comments (row i takes base row i mod len(base)), except every
    ``new_every``-th row, which takes a text ``base`` does not hold: the comment of row len(base) + i // new_every
    of ``fresh`` (a larger survey of the same seed, whose first rows are ``base``'s). Built once, in slices."""
    import pandas as pd

    path = work / f"survey_{rows}_reusing_{base.stem}_new_every_{new_every}.csv"
    if path.exists():
        print(f"reusing {path}", flush=True)
        return path
    print(f"building {path} ...", flush=True)
    comments = pd.read_csv(base, usecols=["comment"], dtype=str, keep_default_na=False)["comment"].to_numpy()
    wanted = len(comments) + rows // new_every + 1
    new = pd.read_csv(fresh, usecols=["comment"], dtype=str, keep_default_na=False, nrows=wanted)["comment"].to_numpy()
    part = path.with_suffix(".part")
    for frame in pd.read_csv(own, dtype=str, keep_default_na=False, chunksize=100_000):
        positions = frame.index.to_numpy()
        frame["comment"] = [
            new[len(comments) + p // new_every] if p % new_every == 0 else comments[p % len(comments)]
            for p in positions.tolist()
        ]
        frame.to_csv(part, mode="a" if positions[0] else "w", header=not positions[0], index=False)
    part.rename(path)
    return path


def same_tables(out: Path, reference: Path) -> list[str]:
    """Names of the Parquet tables that differ between two out folders (empty: identical)."""
    import pandas as pd

    differ = []
    for table in sorted(reference.glob("*.parquet")):
        mine = out / table.name
        if not mine.exists() or not pd.read_parquet(mine).equals(pd.read_parquet(table)):
            differ.append(table.stem)
    return differ


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="100000,300000,1000000", help="comma-separated sizes")
    parser.add_argument("--no-models", action="store_true", help="sentiment and themes off: the spine alone")
    parser.add_argument("--formats", default=None, help="output formats, e.g. parquet,csv (default: all)")
    parser.add_argument("--input-format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/nps-text-bench/scale"))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--rebuild", action="store_true", help="rebuild inputs even when they exist")
    parser.add_argument("--keep-outputs", action="store_true", help="keep each run's out folder")
    parser.add_argument("--stages", action="store_true", help="peak memory per step (stage_memory.py)")
    parser.add_argument("--runner", choices=["local", "dask"], default="local")
    parser.add_argument("--cache-dir", type=Path, default=None, help="one result cache for every run")
    parser.add_argument("--kill-after", type=float, default=None, help="SIGKILL after S seconds, then run again")
    parser.add_argument("--same-as", type=Path, default=None, help="out folder whose Parquet tables must match")
    parser.add_argument("--reuse-comments", default=None, help="N:K, comments of the N-row survey, every K-th new")
    parser.add_argument("--verbose", action="store_true", help="nps-text run -v: Prefect's logs (a line per chunk) in the log")
    parser.add_argument("--seed-cache", type=Path, default=None, help="copy this cache into --cache-dir before each size")
    args = parser.parse_args(argv)
    sizes = [int(value.replace("_", "")) for value in args.rows.split(",") if value.strip()]
    formats = [value.strip() for value in args.formats.split(",")] if args.formats else None
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    mode = ("spine" if args.no_models else "full") + ("_dask" if args.runner == "dask" else "")
    mode += "_resumed" if args.kill_after is not None else ""
    mode += f"_reusing_{args.reuse_comments.replace(':', '_')}" if args.reuse_comments else ""
    config = write_config(work / f"config_{mode}.yaml", args.no_models, formats, args.runner, args.cache_dir)

    lines: list[str] = []
    failed = False
    for rows in sizes:
        survey = input_for(rows, args.seed, work, args.data_dir, args.input_format, args.rebuild)
        if args.reuse_comments:
            base_rows, new_every = (int(part) for part in args.reuse_comments.split(":"))
            base = input_for(base_rows, args.seed, work, args.data_dir, args.input_format, args.rebuild)
            fresh = input_for(max(sizes + [1_000_000]), args.seed, work, args.data_dir, args.input_format, args.rebuild)
            survey = reused_comments_survey(rows, base, survey, new_every, fresh, work)
        if args.seed_cache is not None and args.cache_dir is not None:
            shutil.rmtree(args.cache_dir, ignore_errors=True)
            shutil.copytree(args.seed_cache, args.cache_dir)
        out_dir = work / f"out_{rows}_{mode}"
        shutil.rmtree(out_dir, ignore_errors=True)
        command = [*nps_text_command(), "run", str(survey), "--out", str(out_dir)]
        if args.stages:
            command = [sys.executable, str(Path(__file__).with_name("stage_memory.py")), *command[-3:]]
        if config is not None:
            command += ["--config", str(config)]
        if args.verbose:
            command.append("-v")
        log = work / f"run_{rows}_{mode}.log"
        print(f"running nps-text on {rows:,} rows ({mode}) ...", flush=True)
        killed = None
        if args.kill_after is not None:
            killed = run_measured(command, log.with_suffix(".killed.log"), child_env(), kill_after_s=args.kill_after)
            print(f"  killed after {killed.wall_s:.1f} s (exit {killed.returncode}); running again ...", flush=True)
        measurement = run_measured(command, log, child_env())
        extra = []
        if killed is not None:
            extra.append(
                f"{'':>10} killed run {killed.wall_s:.1f} s + resumed run {measurement.wall_s:.1f} s"
                f" = {killed.wall_s + measurement.wall_s:.1f} s"
            )
        if args.same_as is not None:
            differ = same_tables(out_dir, args.same_as)
            extra.append(f"{'':>10} tables vs {args.same_as}: {'identical' if not differ else 'DIFFER: ' + ', '.join(differ)}")
        if measurement.returncode != 0:
            failed = True
            print(f"  failed (exit {measurement.returncode}); last lines of {log}:\n{tail(log)}", flush=True)
        steps = ""
        try:
            manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
            timings = manifest.get("timings_s") or {}
            steps = ", ".join(
                f"{name} {float(value):.1f}s"
                for name, value in timings.items()
                if isinstance(value, (int, float))
            )
        except (OSError, ValueError):
            pass
        lines.append(
            f"{rows:>10,} {measurement.wall_s:>9.1f} {rows / measurement.wall_s:>9,.0f} "
            f"{measurement.peak_rss_mib:>13,.0f} {measurement.tree_rss_mib:>9,.0f}"
            f"{'  FAILED' if measurement.returncode else ''}"
        )
        if steps:
            lines.append(f"{'':>10} steps: {steps}")
        lines.extend(extra)
        if args.stages:
            per_step = log.read_text(encoding="utf-8", errors="replace").split("PEAK RSS PER STEP", 1)[-1]
            print(f"peak memory per step at {rows:,} rows:{per_step}", flush=True)
        if not args.keep_outputs:
            shutil.rmtree(out_dir, ignore_errors=True)

    print()
    print(
        f"nps-text run, {mode} ({'sentiment and themes off' if args.no_models else 'defaults'}"
        f"{', formats ' + ','.join(formats) if formats else ''}), {os.cpu_count()} CPUs"
    )
    header = f"{'rows':>10} {'wall s':>9} {'rows/s':>9} {'peak RSS MiB':>13} {'tree MiB':>9}"
    print(header)
    print("-" * len(header))
    print("\n".join(lines))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
