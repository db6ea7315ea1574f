"""The benchmark's printout: which machine ran it, a table per store, and the figures against the targets."""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
from collections.abc import Collection, Mapping
from importlib.metadata import version
from pathlib import Path

from bench.timing import Figures, at_least

RATIO_TARGET = 0.35
"""The full command path against a raw INSERT + COMMIT, on PostgreSQL."""
P99_TARGET_MS = 10.0
"""The full command path's p99 on an engagement of a few hundred events."""

_COLUMNS = f"  {'':<34}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x raw':>8}{'calls':>8}"


def header(postgres: str | None, seconds: float, rounds: int, events: int) -> str:
    lines = [
        "Engagement ledger: the command path against a raw INSERT + COMMIT, same store, same run",
        *machine(postgres),
        f"run:      {seconds:g} s per measurement in {rounds} interleaved rounds; "
        f"each engagement holds {events} events before it is measured",
        f"targets:  full command path >= {RATIO_TARGET} x raw on PostgreSQL; "
        f"p99 < {P99_TARGET_MS:g} ms for engagements of a few hundred events",
    ]
    return "\n".join(lines)


def table(store: str, figures: Mapping[str, Figures], baseline: str) -> str:
    """One row per measurement; ``x raw`` is the median of the per-round ratios to ``baseline``."""
    rows = [f"{store}", _COLUMNS]
    raw = figures[baseline]
    for name, f in figures.items():
        rows.append(
            f"  {name:<34}{f.rate:>9,.0f}{f.p50_ms:>9.2f}{f.p99_ms:>9.2f}"
            f"{f.ratio_to(raw):>8.2f}{len(f.latencies):>8}"
        )
    return "\n".join(rows)


def verdicts(store: str, figures: Mapping[str, Figures], baseline: str, paths: list[str]) -> str:
    """Each full command path against the targets that apply on ``store``."""
    raw = figures[baseline]
    lines = []
    for name in paths:
        f = figures[name]
        checks = [_check(f"p99 {f.p99_ms:.1f} ms", f.p99_ms < P99_TARGET_MS)]
        if store == "PostgreSQL":
            ratio = f.ratio_to(raw)
            checks.insert(0, _check(f"{ratio:.2f} x raw", ratio >= RATIO_TARGET))
        lines.append(f"  {store} {name}: " + "; ".join(checks))
    return "\n".join(lines)


def machine(postgres: str | None) -> list[str]:
    """The header's lines on the machine and the software: cores, load, versions, asserts."""
    asserts = "on" if __debug__ else "off (-O)"
    return [
        f"machine:  {os.cpu_count()} cores ({_cpu_model()}), {platform.system()} {platform.release()}; "
        + load_average("at the start"),
        f"software: Python {platform.python_version()} (asserts {asserts}), "
        f"eventsourcing {version('eventsourcing')}, psycopg {version('psycopg')}, "
        f"pydantic {version('pydantic')}, SQLite {sqlite3.sqlite_version}"
        + (f", {postgres}" if postgres else ""),
    ]


def load_average(when: str) -> str:
    """Other work on the machine shows here: flush times and so every rate follow it."""
    one, five, _ = os.getloadavg()
    return f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min)"


def meets_or_misses(met: bool) -> str:
    """The verdict word of the log benchmarks (projections, integrity)."""
    return "MEETS" if met else "MISSES"


def log_parser(prog: str, description: str, stores: Collection[str]) -> argparse.ArgumentParser:
    """The options every benchmark over a synthetic log of a million events shares."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--events", type=at_least(1), default=1_000_000, help="default 1000000")
    parser.add_argument("--engagements", type=at_least(1), default=1_000, help="default 1000")
    parser.add_argument("--store", choices=sorted(stores), default="both", help="default: both")
    parser.add_argument(
        "--rounds", type=at_least(1), default=1, help="rounds of every measurement (default 1)"
    )
    return parser


def _check(figure: str, met: bool) -> str:
    return f"{figure} ({'meets' if met else 'MISSES'} target)"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"
