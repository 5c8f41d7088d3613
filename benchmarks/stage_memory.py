"""Peak memory of each step of one ``nps-text run``, measured inside its process (Linux only).

Usage (from the repository root; the arguments are those of ``nps-text run``):

    python benchmarks/stage_memory.py /tmp/nps-text-bench/scale/survey_100000_seed_0.csv --out /tmp/out
    python benchmarks/scale.py --rows 100000 --no-models --stages   # the same for each size of scale.py
    python benchmarks/stage_memory.py --themes-detail survey.csv --out /tmp/out   # and the themes stage's parts
    python benchmarks/stage_memory.py --sentiment-detail survey.csv --out /tmp/out   # the sentiment stage's parts

Runs ``nps-text run`` in this process and resets the kernel's peak-RSS mark (``VmHWM``, by writing ``5`` to
``/proc/self/clear_refs``) at every step boundary, so each step's peak is its own. Steps: the stages
(:meth:`nps_text.stages.edges.RunEdges.stage`), the work between them (``order_responses``, ``check_tables``,
the manifest), every table x format the writers write, the report, the database output, the alerts and the
publish; time outside any of them counts as ``(between steps)``. After the run it prints one line per step:
RSS at entry, peak RSS, RSS at exit (MiB) and what Arrow's memory pool holds at exit (MiB). Nested steps (a
writer inside ``stage:write``) are reported separately; the outer step's peak covers only its own time.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CLEAR_REFS = Path("/proc/self/clear_refs")
OUTSIDE = "(between steps)"


def _status_mib(key: str) -> int:
    match = re.search(rf"{key}:\s+(\d+)", Path("/proc/self/status").read_text(encoding="ascii"))
    return int(match.group(1)) // 1024 if match else 0


def _arrow_mib() -> int:
    import pyarrow as pa

    return pa.total_allocated_bytes() // 2**20


class StepMemory:
    """Peak RSS per named step; a step's peak excludes the steps nested in it."""

    def __init__(self) -> None:
        self.stack: list[str] = [OUTSIDE]
        self.peaks: dict[str, int] = {}
        self.rows: list[tuple[str, int, int, int]] = []
        """(step, RSS at entry, RSS at exit, Arrow MiB at exit), in the order the steps end."""
        self._entry: list[int] = []
        self.children: dict[str, int] = {}
        """Step -> peak MiB of the model process that ended in it (:meth:`watch_model_process`)."""

    def _close_segment(self) -> None:
        label = self.stack[-1]
        self.peaks[label] = max(self.peaks.get(label, 0), _status_mib("VmHWM"))
        CLEAR_REFS.write_text("5", encoding="ascii")

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        self._close_segment()
        self.stack.append(label)
        self._entry.append(_status_mib("VmRSS"))
        try:
            yield
        finally:
            self._close_segment()
            self.stack.pop()
            self.rows.append((label, self._entry.pop(), _status_mib("VmRSS"), _arrow_mib()))

    def wrap(self, owner: Any, name: str, label: Callable[..., str] | None = None) -> None:
        """Replace ``owner.name`` by a wrapper that measures each call as a step."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def measured(*args: Any, **kwargs: Any) -> Any:
            with self.step(label(*args, **kwargs) if label else name):
                return original(*args, **kwargs)

        setattr(owner, name, measured)

    def report(self) -> str:
        self._close_segment()
        lines = [f"{'step':44} {'entry MiB':>10} {'peak MiB':>9} {'exit MiB':>9} {'Arrow MiB':>10} {'+ model process':>16}"]
        together = max(self.peaks.values())
        for label, entry, exit_rss, arrow in self.rows:
            child = self.children.get(label, 0)
            together = max(together, self.peaks.get(label, 0) + child)
            lines.append(f"{label:44} {entry:>10,} {self.peaks.get(label, 0):>9,} {exit_rss:>9,} {arrow:>10,}"
                         + (f" {child:>16,}" if child else ""))
        lines.append(f"{OUTSIDE:44} {'':>10} {self.peaks.get(OUTSIDE, 0):>9,}")
        lines.append(f"{'whole run (largest peak)':44} {'':>10} {max(self.peaks.values()):>9,}")
        if self.children:
            lines.append(f"{'with the model process (step + child peaks)':44} {'':>10} {together:>9,}")
            sampled = getattr(self, "together", {})
            for label, value in sampled.items():
                lines.append(f"{'  sampled together, ' + label:44} {'':>10} {value:>9,}")
            if sampled:
                lines.append(f"{'sampled together, largest':44} {'':>10} {max(sampled.values()):>9,}")
        return "\n".join(lines)

    def sample_together(self, interval_s: float = 0.2) -> None:
        """Sample, every ``interval_s``, this process's resident memory plus that of its model process
        (``runner.model_process``; not the Prefect server, also a child) and keep the largest sum per innermost step."""
        import threading

        def children_rss_mib() -> int:
            total = 0
            for task in Path("/proc/self/task").iterdir():
                with contextlib.suppress(OSError):
                    for pid in (task / "children").read_text(encoding="ascii").split():
                        with contextlib.suppress(OSError):
                            command = Path(f"/proc/{pid}/cmdline").read_bytes()
                            if b"multiprocessing" in command and b"resource_tracker" not in command:
                                match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(encoding="ascii"))
                                total += int(match.group(1)) // 1024 if match else 0
            return total

        def sample() -> None:
            while True:
                label = self.stack[-1]  # the innermost step (with --themes-detail: the themes stage's parts)
                value = _status_mib("VmRSS") + children_rss_mib()
                self.together[label] = max(self.together.get(label, 0), value)
                threading.Event().wait(interval_s)

        self.together: dict[str, int] = {}
        threading.Thread(target=sample, name="memory-sampler", daemon=True).start()

    def watch_model_process(self) -> None:
        """Attribute each ended model process's peak (``runner.model_process``) to the innermost stage it ended in:
        the flow process's step peak plus the child's peak bounds what both held at once."""
        from nps_text import runner

        process = runner.MODEL_PROCESS
        close = process.close

        def measured_close() -> None:
            before = len(process.peaks_mib)
            close()
            if len(process.peaks_mib) > before:
                label = next((name for name in reversed(self.stack) if name.startswith("stage:")), self.stack[-1])
                self.children[label] = max(self.children.get(label, 0), int(process.peaks_mib[-1]))

        process.close = measured_close  # type: ignore[method-assign]


def instrument(memory: StepMemory) -> None:
    """Measure the stages and the steps between and after them."""
    import nps_text.flow as flow
    import nps_text.report as report
    import nps_text.writers.outputs as outputs
    from nps_text import artifacts, manifest, notify
    from nps_text.stages import edges

    stage = edges.RunEdges.stage

    @contextlib.contextmanager
    def measured_stage(self: Any, name: str) -> Iterator[None]:
        with stage(self, name), memory.step(f"stage:{name}"):
            yield

    edges.RunEdges.stage = measured_stage  # type: ignore[method-assign]
    memory.wrap(flow.write, "order_responses")
    memory.wrap(flow, "check_tables")
    memory.wrap(manifest, "build", lambda *a, **k: "manifest.build")
    memory.wrap(manifest, "finish", lambda *a, **k: "manifest.finish")
    memory.wrap(outputs, "write_tables", lambda tables, fmt, *a, **k: f"  write {fmt}: {', '.join(tables)}")
    memory.wrap(report, "render_report", lambda *a, **k: "  render_report")
    memory.wrap(notify, "database_output")
    memory.wrap(notify, "evaluate", lambda *a, **k: "alerts.evaluate")
    memory.wrap(flow, "publish")
    memory.wrap(artifacts, "publish_artifacts")


def instrument_themes(memory: StepMemory) -> None:
    """Also measure the parts of the themes stage (``--themes-detail``)."""
    from nps_text.stages import themes as stage
    from nps_text.themes import assign, model

    memory.wrap(stage, "embed", lambda *a, **k: "  themes: embed distinct comments")
    memory.wrap(assign, "_checked_embeddings", lambda embed, texts: f"    themes: vectors of {len(texts):,} texts")
    memory.wrap(assign, "_fit", lambda *a, **k: "    themes: fit")
    memory.wrap(assign, "discover_themes", lambda *a, **k: "      themes: discover")
    memory.wrap(model, "_cluster", lambda *a, **k: "        themes: UMAP + HDBSCAN on the sample")
    memory.wrap(assign, "readable_labels", lambda *a, **k: "      themes: labels")
    memory.wrap(assign, "themes_table", lambda *a, **k: "    themes: themes table")
    memory.wrap(assign, "assign_units", lambda segments, *a, **k: f"    themes: clauses of {len(segments):,} responses")


def instrument_sentiment(memory: StepMemory) -> None:
    """Also measure the parts of the sentiment stage (``--sentiment-detail``)."""
    from nps_text.stages import sentiment as stage

    memory.wrap(stage, "sentiment_texts", lambda *a, **k: "  sentiment: texts")
    memory.wrap(stage, "distinct_texts", lambda *a, **k: "  sentiment: distinct texts")
    memory.wrap(stage, "concat_sentiment_chunks", lambda *a, **k: "  sentiment: chunks joined")
    memory.wrap(stage, "join_sentiment", lambda *a, **k: "  sentiment: onto the responses, sentences table")


def main(argv: list[str] | None = None) -> int:
    if not CLEAR_REFS.exists():
        print("needs Linux (/proc/self/clear_refs)", file=sys.stderr)
        return 2
    memory = StepMemory()
    instrument(memory)
    memory.watch_model_process()
    memory.sample_together()
    args = list(sys.argv[1:] if argv is None else argv)
    if "--themes-detail" in args:
        args.remove("--themes-detail")
        instrument_themes(memory)
    if "--sentiment-detail" in args:
        args.remove("--sentiment-detail")
        instrument_sentiment(memory)
    from nps_text.cli import main as cli_main

    sys.argv = ["nps-text", "run", *args]
    code = 0
    try:
        cli_main()
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    print("\nPEAK RSS PER STEP (stage_memory.py)", flush=True)
    print(memory.report(), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
