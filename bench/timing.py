"""Timing for the benchmarks: operations run in interleaved rounds, summed up as rates and percentiles.

The disk's flush time drifts by a factor of two within seconds on a shared machine, so the
operations of one store take turns, round after round: each ratio to the baseline is taken
within a round, where both met the same disk.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import perf_counter

Operation = Callable[[], object]
WARMUP = 20
"""Untimed calls of each operation first: they fill connection pools, caches and prepared statements."""


@dataclass(frozen=True)
class Figures:
    """One operation's rate in each round and the latency of every timed call, in seconds."""

    rates: list[float]
    latencies: list[float]

    @property
    def rate(self) -> float:
        """Operations per second, the median over the rounds."""
        return statistics.median(self.rates)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[98] * 1000

    def ratio_to(self, baseline: Figures) -> float:
        """The median over the rounds of this rate over the baseline's rate in the same round."""
        return statistics.median(
            mine / theirs for mine, theirs in zip(self.rates, baseline.rates, strict=True)
        )


def measure(
    operations: Mapping[str, Operation], seconds: float, rounds: int, warmup: int = WARMUP
) -> dict[str, Figures]:
    """Run each operation back to back for ``seconds`` in all, taking turns over ``rounds``.

    The first ``warmup`` calls of each are not timed.
    """
    for operation in operations.values():
        for _ in range(warmup):
            operation()
    rates: dict[str, list[float]] = {name: [] for name in operations}
    latencies: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(rounds):
        for name, operation in operations.items():
            rate, timed = _run_for(operation, seconds / rounds)
            rates[name].append(rate)
            latencies[name].extend(timed)
    return {name: Figures(rates=rates[name], latencies=latencies[name]) for name in operations}


def _run_for(operation: Operation, seconds: float) -> tuple[float, list[float]]:
    """The rate over ``seconds`` of back-to-back calls, and each call's latency in seconds."""
    latencies: list[float] = []
    start = now = perf_counter()
    deadline = start + seconds
    while now < deadline:
        operation()
        finished = perf_counter()
        latencies.append(finished - now)
        now = finished
    return len(latencies) / (now - start), latencies


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value

    return parse
