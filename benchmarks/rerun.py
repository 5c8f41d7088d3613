"""What a re-run into the same out folder costs, side by side with the first run, at one survey size.

Usage (from the repository root; every run is a separate child process, one after the other, into one out folder):

    python benchmarks/rerun.py                     # 5,000 rows
    python benchmarks/rerun.py --rows 20000 --work-dir /tmp/nps-bench

Runs, in this order (``survey.py`` builds the inputs; the +5 % survey's first N rows are the N-row survey):

* ``first``: ``nps-text run survey.csv --out OUT`` into a fresh folder (models, fit, every writer);
* ``unchanged``: the same command again: OUT is up to date, nothing runs (no Prefect, no model, no write);
* ``same tables``: the same survey with a config that changes only ``alerts.report_url``: the run is not up to
  date, every model result comes from the cache, themes reuse the fit, and no output is written again (each is
  carried over: the report and the workbook too);
* ``forced``: ``--force`` on the same survey: everything runs on cached results and every output is written;
* ``+5 %``: the survey plus 5 % new responses (default config): only the new comments reach the models.

Prints wall seconds, peak RSS, the share of the first run, the manifest's step timings and how many outputs each
run left untouched. Measure on a quiet machine: the runs share it with whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import _manifest_steps, child_env, nps_text_command  # noqa: E402
from measure import Measurement, run_measured, tail  # noqa: E402
from survey import DEFAULT_DATA_DIR, build_survey  # noqa: E402

RUNS = ("first", "unchanged", "same tables", "forced", "+5 %")


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_size, path.stat().st_mtime_ns)
            for path in out.iterdir() if path.is_file() and not path.name.startswith(".")}


def rerun_surveys(work: Path, rows: int, seed: int, data_dir: Path) -> tuple[Path, Path]:
    """``work/survey.csv`` (``rows`` rows) and ``work/survey_plus5.csv`` (5 % more; its first ``rows`` rows are the
    first survey's), built by ``survey.py`` unless they exist."""
    work.mkdir(parents=True, exist_ok=True)
    survey, survey_more = work / "survey.csv", work / "survey_plus5.csv"
    if not survey.exists():
        print(f"building {survey} ...", flush=True)
        build_survey(rows, survey, seed=seed, data_dir=data_dir)
    if not survey_more.exists():
        build_survey(rows + max(1, round(rows * 0.05)), survey_more, seed=seed, data_dir=data_dir)
    return survey, survey_more


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/nps-text-bench/rerun"))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)

    work = args.work_dir / f"rows_{args.rows}_seed_{args.seed}"
    survey, survey_more = rerun_surveys(work, args.rows, args.seed, args.data_dir)
    same_tables = work / "report_url.yaml"
    same_tables.write_text("alerts: {report_url: https://intranet.example.com/nps/report.html}\n", encoding="utf-8")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    commands = {
        "first": ["run", str(survey), "--out", str(out)],
        "unchanged": ["run", str(survey), "--out", str(out)],
        "same tables": ["run", str(survey), "--config", str(same_tables), "--out", str(out)],
        "forced": ["run", str(survey), "--out", str(out), "--force"],
        "+5 %": ["run", str(survey_more), "--out", str(out)],
    }

    env = child_env()
    results: dict[str, Measurement] = {}
    details: dict[str, str] = {}
    for name in RUNS:
        before = _stamps(out) if out.exists() else {}
        log = work / f"{name.replace(' ', '_').replace('%', 'pct')}.log"
        print(f"running {name} ...", flush=True)
        measurement = run_measured([*nps_text_command(), *commands[name]], log, env)
        if measurement.returncode != 0:
            print(f"  {name} failed (exit {measurement.returncode}); last lines of {log}:\n{tail(log)}", flush=True)
        results[name] = measurement
        after = _stamps(out)
        untouched = sum(1 for file, stamp in after.items() if before.get(file) == stamp)
        up_to_date = "Up to date" in log.read_text(encoding="utf-8", errors="replace")
        details[name] = ("up to date; " if up_to_date else f"{_manifest_steps(out)}; ") + \
            f"{untouched} of {len(after)} files untouched"
        print(f"  {measurement.wall_s:.1f} s, peak RSS {measurement.peak_rss_mib:.0f} MiB", flush=True)

    first = results["first"]
    print()
    print(f"survey: {args.rows:,} rows (seed {args.seed}), {survey}")
    header = f"{'run':<14} {'wall s':>8} {'peak RSS MiB':>13} {'% of first':>11}"
    print(header)
    print("-" * len(header))
    for name, measurement in results.items():
        share = f"{100 * measurement.wall_s / first.wall_s:.0f}%" if first.wall_s else "-"
        failed = "  FAILED" if measurement.returncode else ""
        print(f"{name:<14} {measurement.wall_s:>8.1f} {measurement.peak_rss_mib:>13.0f} {share:>11}{failed}")
    for name, text in details.items():
        print(f"  {name}: {text}")
    record = {"rows": args.rows, "seed": args.seed, "cpus": os.cpu_count(),
              "results": {name: vars(measurement) for name, measurement in results.items()}, "details": details}
    (work / "rerun.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if any(measurement.returncode for measurement in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
