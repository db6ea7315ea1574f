"""Runs every benchmark and writes docs/PERFORMANCE.md: the machine, the targets, every figure.

Run as ``python -m bench.performance [--quick] [--only NAME ...] [--output PATH]`` (``make bench``).
Each benchmark runs as ``python -m bench.MODULE`` in a process of its own, one after another,
its output printed as it comes and kept. The document then says when and on what machine it
ran, sets every target of the issues beside the verdict lines the benchmarks printed ("meets"
or "MISSES"), and gives each benchmark's figures (medians beside the baseline measured in the
same run), the growth tables and each full output. A benchmark that fails or runs past its
time is reported there, not hidden, and the run goes on. Options a benchmark's ``--help`` does
not name are left out, and the document says so.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from time import perf_counter

import psycopg

from bench import growth, report
from bench.stores import postgres_version

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
Options = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Bench:
    """A run of a benchmark module: what it measures, its options in a full run and a quick one."""

    name: str
    about: str
    full: Options = ()
    quick: Options = ()
    module: str = ""

    @property
    def source(self) -> str:
        return self.module or self.name


CORES = str(os.cpu_count() or 1)
BENCHES = (
    Bench("commands", "the write path beside a raw INSERT + COMMIT", (),
          (("--seconds", "1"), ("--rounds", "3"), ("--events", "100"))),
    Bench("growth", "how cost grows with events per engagement and engagements per ledger", (),
          (("--seconds", "0.5"), ("--rounds", "3"), ("--events", "10,100,1000"),
           ("--engagements", "10,100,1000"), ("--pool-events", "2000"))),
    Bench("projections", "projection catch-up and rebuild beside reading the log",
          (("--events", "1000000"), ("--workers", CORES)),  # as `ledger rebuild` does by default
          (("--events", "20000"), ("--engagements", "100"), ("--catch-up-events", "0"))),
    Bench("integrity", "Merkle-log catch-up, verify and inclusion proofs beside raw reads",
          (("--events", "1000000"),), (("--events", "20000"), ("--engagements", "100"), ("--proofs", "220"))),
    Bench("asof", "as-of views of a long engagement beside loading its current state",
          (("--events", "10000"),), (("--events", "2000"), ("--seconds", "1"), ("--rounds", "2"))),
    Bench("pages", "the web pages' server time on the demo data", (),
          (("--requests", "20"), ("--rounds", "2"))),
    Bench("http", "HTTP load on the PostgreSQL set-up beside in-process calls", (),
          (("--seconds", "5"), ("--warmup", "1"), ("--clients", "8"))),
    Bench("hammer-sqlite", "random valid and invalid commands, invariants checked alongside (SQLite)",
          (("--seconds", "30"), ("--seed", "1"), ("--store", "sqlite")),
          (("--seconds", "5"), ("--seed", "1"), ("--store", "sqlite")), module="hammer"),
    Bench("hammer-postgres", "the same on PostgreSQL: two API workers and a projection worker",
          (("--seconds", "30"), ("--seed", "1"), ("--store", "postgres")),
          (("--seconds", "5"), ("--seed", "1"), ("--store", "postgres")), module="hammer"),
    Bench("instructions", "instructions per request through the API beside the direct call (valgrind)", (),
          (("--requests", "20"),)),
)  # fmt: skip
"""In the order they run; any other benchmark module in bench/ runs after them with its defaults."""
HELPERS = {
    "__init__",
    "performance",
    "report",
    "timing",
    "stores",
    "synthetic",
    "workload",
    "serving",
    "loadgen",
}
GRACE = 60.0
"""Seconds a benchmark past its time has to clean up (schemas, servers) after SIGINT, before SIGKILL."""


@dataclass(frozen=True)
class Target:
    """A target an issue names, and how to find what its benchmark printed about it.

    ``pattern`` picks the benchmark's verdict lines that speak of it; a benchmark that prints no
    verdict lines (the hammer) is judged by its exit status, quoting the lines ``summary`` picks.
    """

    issue: int
    source: str
    text: str
    pattern: str = ""
    summary: str = ""


TARGETS = (
    Target(2, "commands", "full command path (load, decide, save) >= 0.35 x a raw INSERT + COMMIT on "
           "PostgreSQL, p99 < 10 ms, engagements of a few hundred events", "execute"),
    Target(3, "projections", "live catch-up of each projection >= 20,000 events/s, each store", "catch-up"),
    Target(3, "projections", "rebuild of all projections from 1,000,000 events < 60 s, each store",
           "rebuild"),
    Target(4, "http", ">= 500 commands/s with p99 < 50 ms, PostgreSQL with two API workers", "^commands"),
    Target(4, "http", ">= 1,500 reads/s with p99 < 50 ms, same set-up", "^reads"),
    Target(4, "http", "no 5xx, same set-up", "5xx"),
    Target(5, "integrity", "Merkle-log catch-up >= 20,000 events/s", "catch-up"),
    Target(5, "integrity", "verify of 1,000,000 events < 30 s", "verify"),
    Target(5, "integrity", "inclusion-proof generation on that tree: p99 < 5 ms", "proof"),
    Target(5, "asof", "as-of of any version of a 10,000-event engagement: p99 < 25 ms"),
    Target(6, "pages", "each page under 300 ms server time on the demo data"),
    Target(7, "hammer", "random valid and invalid commands under concurrency: no 5xx, every invariant "
           "holds, nothing lost", summary=r"^(did|violations|OK|FAILED)\b"),
)  # fmt: skip
VERDICT = re.compile(r"\b(meets|misses)\b", re.IGNORECASE)
PROGRESS = re.compile(r"^\s*\S+ round \d+: ")
MARGIN = re.compile(r":\s+")
"""The padding after a header line's label (``machine:  2 cores``)."""
"""A benchmark's progress lines: in its full output, not among its figures."""


@dataclass
class Run:
    """One benchmark's run: its command, exit status, time and everything it printed."""

    bench: Bench
    command: list[str] = field(default_factory=list)
    returncode: int | None = None
    seconds: float = 0.0
    output: str = ""
    timed_out: bool = False
    left_out: list[str] = field(default_factory=list)
    """Options its ``--help`` does not name."""

    @property
    def ran(self) -> bool:
        return bool(self.command)

    @property
    def failed(self) -> bool:
        return self.ran and (self.returncode != 0 or self.timed_out)

    def result(self) -> str:
        if not self.ran:
            exists = _exists(self.bench.source)
            return "not run" if exists else f"not run: bench/{self.bench.source}.py does not exist"
        if self.timed_out:
            return f"**stopped**: still running after {_duration(self.seconds)}"
        return "done" if self.returncode == 0 else f"**failed**: exit {self.returncode}"

    def verdicts(self) -> list[str]:
        """The lines where the benchmark set a figure against its target."""
        return [line.strip() for line in self.output.splitlines() if VERDICT.search(line)]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    benches = _benches()
    unknown = set(args.only or ()) - {b.name for b in benches} - {b.source for b in benches}
    if unknown:
        print(f"bench.performance: no benchmark named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    context = Context(args.quick, args.only or [], list(sys.argv[1:] if argv is None else argv))
    runs = [Run(b) for b in benches]
    for run in runs:
        chosen = not args.only or {run.bench.name, run.bench.source} & set(args.only)
        if chosen and _exists(run.bench.source):
            execute(run, args.quick, args.timeout * 60)
    context.finish()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(context, runs))
    print(f"\nwrote {args.output}", flush=True)
    return 1 if any(r.failed for r in runs) else 0


def _benches() -> list[Bench]:
    """The known benchmarks (whether their module exists yet or not), then any other in bench/."""
    known = {b.source for b in BENCHES} | HELPERS
    others = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in known)
    runnable = [name for name in others if '__name__ == "__main__"' in (BENCH / f"{name}.py").read_text()]
    return [*BENCHES, *(Bench(name, "(not known to this runner: its defaults)") for name in runnable)]


def _exists(module: str) -> bool:
    """A module ``bench/<module>.py``, or a package ``bench/<module>/`` run by its ``__main__.py``."""
    return (BENCH / f"{module}.py").exists() or (BENCH / module / "__main__.py").exists()


def execute(run: Run, quick: bool, timeout: float) -> None:
    """Run the benchmark, printing its output as it comes; stop it if it runs past ``timeout``."""
    module = f"bench.{run.bench.source}"
    options, run.left_out = _supported(module, run.bench.quick if quick else run.bench.full)
    run.command = [sys.executable, "-m", module, *options]
    print(f"\n=== {_shown(run.command)}", flush=True)
    for flag in run.left_out:
        print(f"=== ({module} takes no {flag}: left out)", flush=True)
    start = perf_counter()
    process = subprocess.Popen(
        run.command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"}, start_new_session=True,
    )  # fmt: skip
    watchdog = threading.Timer(timeout, _stop, args=(process, run))
    watchdog.start()
    lines = []
    assert process.stdout is not None
    try:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    except KeyboardInterrupt:  # the benchmark has a session of its own: Ctrl-C reaches only us
        _interrupt(process)
        raise
    run.returncode = process.wait()
    watchdog.cancel()
    run.seconds, run.output = perf_counter() - start, "".join(lines)
    print(f"=== {run.bench.name}: {run.result().replace('*', '')} ({_duration(run.seconds)})", flush=True)


def _stop(process: subprocess.Popen[str], run: Run) -> None:
    run.timed_out = True
    _interrupt(process)


def _interrupt(process: subprocess.Popen[str]) -> None:
    """SIGINT to the benchmark's process group (its cleanup runs), then SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _supported(module: str, options: Options) -> tuple[list[str], list[str]]:
    """The options the module's ``--help`` names, flattened, and the flags it does not name."""
    if not options:
        return [], []
    shown = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    flags = set(re.findall(r"--[a-z][a-z0-9-]*", shown.stdout))
    if shown.returncode != 0:  # it cannot even start: run it as asked, and let the run say why
        flags = {flag for flag, _ in options}
    kept = [part for flag, value in options if flag in flags for part in (flag, value)]
    return kept, [flag for flag, _ in options if flag not in flags]


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _shown(command: Sequence[str]) -> str:
    return " ".join(["python", *command[1:]])


@dataclass
class Context:
    """When, where and how the run was made."""

    quick: bool
    only: list[str]
    argv: list[str]
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_before: str = field(default_factory=lambda: report.load_average("before"))
    machine: list[str] = field(default_factory=lambda: report.machine(_postgres()))
    finished: datetime | None = None
    load_after: str = ""

    def finish(self) -> None:
        self.finished = datetime.now(UTC)
        self.load_after = report.load_average("after")


def _postgres() -> str:
    try:
        return postgres_version()
    except psycopg.OperationalError:
        return "PostgreSQL unreachable"


def render(context: Context, runs: Sequence[Run]) -> str:
    """docs/PERFORMANCE.md."""
    return "\n".join([
        *_intro(context), *_targets(runs), *_runs(runs), *_figures(runs), *_growth(runs), *_outputs(runs),
    ])  # fmt: skip


def _intro(context: Context) -> Iterator[str]:
    finished = context.finished or context.started
    minutes = (finished - context.started).total_seconds() / 60
    yield "# Performance"
    yield ""
    yield (
        "Written by `make bench` (`python -m bench.performance`): do not edit by hand, run it again. "
        "Each figure is a median printed by the benchmark named beside it, with its ratio to a baseline "
        "measured in the same run on the same store (a raw INSERT + COMMIT, a raw read of the same rows). "
        "On shared cores the rates move with whatever else runs; the ratios much less. How the ledger "
        "grows past one machine, with these figures: [SCALING.md](SCALING.md)."
    )
    yield ""
    if context.quick:
        yield (
            "> **Quick run** (`--quick`): small sizes, to check that every benchmark runs. A target that "
            "names a size (1,000,000 events, a 10,000-event engagement) is not measured at that size "
            "here: do not quote these figures, run `make bench`."
        )
        yield ""
    if context.only:
        ran = ", ".join(f"`{name}`" for name in context.only)
        yield f"> **Only** {ran} ran (`--only`): the other targets read *not run*."
        yield ""
    yield "## When and where"
    yield ""
    yield (
        f"- run: {context.started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC ({minutes:.0f} min), "
        f"`python -m bench.performance {' '.join(context.argv)}`".rstrip()
    )
    yield from (f"- {re.sub(MARGIN, ': ', line, count=1)}" for line in context.machine)
    also = ", ".join(f"{name} {version(name)}" for name in ("fastapi", "uvicorn", "orjson"))
    yield f"- also: {also}; {_memory()}"
    yield f"- {context.load_before}; {context.load_after}"
    yield ""


def _memory() -> str:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"memory {int(line.split()[1]) / 2**20:.1f} GiB"
    return "memory unknown"


def _targets(runs: Sequence[Run]) -> Iterator[str]:
    """Every target of the issues, with each verdict line that speaks of it."""
    claimed = _claim(runs)
    yield "## Targets"
    yield ""
    yield "| issue | target | measured (as the benchmark printed it) | verdict |"
    yield "| --- | --- | --- | --- |"
    for target in TARGETS:
        found = claimed.get(target) or _by_exit(target, runs)
        mine = [r for r in runs if r.bench.source == target.source]
        if not found:
            found = [(_missing(mine), "-")]
        for n, (line, verdict) in enumerate(found):
            issue, text = (str(target.issue), _cell(target.text)) if n == 0 else ("", "")
            yield f"| {issue} | {text} | {_cell(line)} | {verdict} |"
    for line, verdict in claimed.get(None, []):
        yield f"| - | (no target of the issues) | {_cell(line)} | {verdict} |"
    yield ""


def _claim(runs: Sequence[Run]) -> dict[Target | None, list[tuple[str, str]]]:
    """Each verdict line, named after its run and with its verdict, under the first target of its
    benchmark it speaks of (``None``: none of them)."""
    claimed: dict[Target | None, list[tuple[str, str]]] = {}
    for run in runs:
        for line in run.verdicts():
            mine = [t for t in TARGETS if t.source == run.bench.source and re.search(t.pattern, line)]
            missed = re.search(r"\bmisses\b", line, re.IGNORECASE)
            claimed.setdefault(mine[0] if mine else None, []).append(
                (f"`{run.bench.name}`: {line}", "**MISSES**" if missed else "meets")
            )
    return claimed


def _by_exit(target: Target, runs: Sequence[Run]) -> list[tuple[str, str]]:
    """For a benchmark that says so by its exit status: its summary lines, and that status."""
    if not target.summary:
        return []
    found = []
    for run in runs:
        if run.bench.source == target.source and run.ran and not run.timed_out:
            quoted = [s.strip() for s in run.output.splitlines() if re.match(target.summary, s.strip())]
            verdict = "meets (exit 0)" if run.returncode == 0 else f"**MISSES** (exit {run.returncode})"
            found.append((f"`{run.bench.name}`: " + "; ".join(quoted), verdict))
    return found


def _missing(runs: Sequence[Run]) -> str:
    if not any(r.ran for r in runs):
        return f"*{runs[0].result() if runs else 'not run'}*"
    failed = [f"`{r.bench.name}` {r.result()}" for r in runs if r.failed]
    if failed:
        return f"*not measured: {', '.join(failed)}*"
    return "*no verdict line for it was printed: see the output below*"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _runs(runs: Sequence[Run]) -> Iterator[str]:
    yield "## Runs"
    yield ""
    yield "| benchmark | what it measures | command | result | time |"
    yield "| --- | --- | --- | --- | --- |"
    for run in runs:
        command = f"`{_shown(run.command)}`" if run.ran else "-"
        if run.left_out:
            command += f" ({', '.join(run.left_out)} left out: not among its options)"
        took = _duration(run.seconds) if run.ran else "-"
        yield f"| `{run.bench.name}` | {run.bench.about} | {command} | {run.result()} | {took} |"
    yield ""


def _figures(runs: Sequence[Run]) -> Iterator[str]:
    yield "## Figures"
    yield ""
    shown = [r for r in runs if r.ran and r.bench.source != "growth"]
    yield "As each benchmark printed them, without its progress lines (its full output is further down)."
    if not shown:
        yield ""
        yield "*No benchmark but `bench.growth` ran.*"
    for run in shown:
        figures = [line for line in run.output.splitlines() if not PROGRESS.match(line)]
        yield ""
        yield f"### `{run.bench.name}`: {run.bench.about}"
        yield from _fenced("\n".join(figures))
    yield ""


def _growth(runs: Sequence[Run]) -> Iterator[str]:
    yield "## How cost grows"
    yield ""
    run = next((r for r in runs if r.bench.source == "growth"), None)
    header, *rest = (run.output if run else "").split("\n\n")
    blocks = [table for b in rest if (table := _growth_table(b))]
    if not blocks:
        yield f"*No growth tables: `bench.growth` {run.result() if run else 'is not known here'}.*"
        yield ""
        return
    yield (
        "From `bench.growth`: the median and p99 of each operation at each size, with its ratio to the "
        "baseline of the same run (`insert`: a raw INSERT + COMMIT; `pk read`: a raw primary-key read of "
        "one stored event), then each operation's p50 and ratio at the smallest size and at the largest."
    )
    yield from _fenced("\n\n".join([_without_progress(header), *blocks]))
    yield ""


def _growth_table(block: str) -> str:
    """``block`` without ``bench.growth``'s progress lines, if it is one of its tables; else ''."""
    table = _without_progress(block)
    return table if f": {growth.TITLE}" in table.split("\n", 1)[0] else ""


def _without_progress(block: str) -> str:
    return "\n".join(line for line in block.strip("\n").splitlines() if not growth.PROGRESS.match(line))


def _outputs(runs: Sequence[Run]) -> Iterator[str]:
    yield "## Full output"
    for run in runs:
        if run.ran:
            yield ""
            summary = (
                f"<code>{run.bench.name}</code>: {run.result().replace('*', '')}, {_duration(run.seconds)}"
            )
            yield f"<details><summary>{summary}</summary>"
            yield from _fenced(run.output.rstrip("\n"))
            yield ""
            yield "</details>"
    yield ""


def _fenced(text: str) -> Iterator[str]:
    yield ""
    yield "```text"
    yield text
    yield "```"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.performance", description="Run every benchmark and write docs/PERFORMANCE.md."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not figures to quote")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this benchmark (repeatable), e.g. growth"
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "PERFORMANCE.md", help="default: docs/PERFORMANCE.md"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="minutes each benchmark may run (default 30)"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
