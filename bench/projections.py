"""Benchmark of the read side: projection catch-up and rebuild beside reading the log itself.

Run as ``python -m bench.projections [--events N] [--engagements N] [--store sqlite|postgres|both]
[--rounds R] [--catch-up-events N] [--workers N]``. On each store it records a synthetic ledger
(``bench.synthetic``), then times, in the same run and taking turns round after round:

- the baselines: reading the whole log in batches of 1,000 with nothing decoded; reading and
  decoding every event; reading, decoding and folding each engagement's state with ``evolve``;
- a live catch-up of each projection alone: a fresh ``Runner`` from position 0, on empty tables,
  over the whole log or its first ``--catch-up-events``;
- a catch-up of all projections in one runner (one reading pass feeds them all), likewise;
- a full rebuild of all projections through ``Runner.rebuild``, from empty tables.

It prints figures and how they stand against the targets; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from time import perf_counter
from typing import cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from bench import report, synthetic
from bench.commands import STORES
from bench.stores import Store, postgres_version
from bench.timing import Figures, at_least
from domain import events as ev
from domain.service import Ledger
from domain.state import Engagement, evolve
from domain.store import read_log
from projections import positions
from projections.base import Projection
from projections.db import ProjectionDB, open_projection_db
from projections.registry import all_projections
from projections.runner import Progress, Runner

BATCH = 1000
READ, DECODE, FOLD = "read log, nothing decoded", "read + decode", "read + decode + fold"
ALL, REBUILD = "catch-up, all in one runner", "rebuild all"
CATCH_UP_TARGET = 20_000
"""Events a second each projection's live catch-up should reach."""
REBUILD_EVENTS, REBUILD_SECONDS = 1_000_000, 60.0
LIBRARY_RUNNER = 1_400
"""Events a second of the library's one-transaction-per-event runner (DESIGN.md, facts measured)."""

Batch = list[tuple[int, StoredEvent]]
Pass = Callable[[Progress], int]
"""One timed pass over the log: calls its progress after each batch; gives the events covered."""
Setup = Callable[[], Pass]
"""Untimed preparation (empty tables, a fresh runner) of the pass to time."""


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.events < args.engagements:
        parser.error("--events must be at least --engagements")
    rebuild_kwargs, rebuild_note = _rebuild_call(parser, args.workers)
    postgres = postgres_version() if args.store != "sqlite" else None
    events = args.events // args.engagements * args.engagements
    print(_header(postgres, args, events, rebuild_note), flush=True)
    for open_store in STORES[args.store]:
        with open_store() as store:
            figures, covered = bench_store(store, args, rebuild_kwargs)
        print()
        print(_table(store.name, figures, covered))
        print(_verdicts(store.name, figures, covered))
        print(flush=True)
    print(report.load_average("at the end"))


def bench_store(
    store: Store, args: argparse.Namespace, rebuild_kwargs: Mapping[str, int]
) -> tuple[dict[str, Figures], dict[str, int]]:
    """Load the synthetic ledger into ``store``, then every measurement, ``args.rounds`` times."""
    with Ledger(store.env) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            start = perf_counter()
            loaded = synthetic.load(ledger, args.engagements, args.events // args.engagements)
            print(
                f"{store.name}: loaded {loaded:,} events in {args.engagements:,} engagements "
                f"in {perf_counter() - start:.1f} s (information only)",
                flush=True,
            )
            cap = args.catch_up_events
            setups: dict[str, Setup] = {
                READ: lambda: partial(_read, ledger, _nothing),
                DECODE: lambda: partial(_read, ledger, partial(_decode, ledger)),
                FOLD: partial(_folding, ledger),
            }
            for projection in all_projections():
                setups[f"catch-up, {projection.name} alone"] = partial(
                    _catching_up, ledger, db, type(projection), cap
                )
            setups[ALL] = partial(_catching_up, ledger, db, None, cap)
            setups[REBUILD] = partial(_rebuilding, ledger, db, rebuild_kwargs)
            return _measure(store.name, setups, args.rounds)
        finally:
            db.close()


def _measure(
    store: str, setups: Mapping[str, Setup], rounds: int
) -> tuple[dict[str, Figures], dict[str, int]]:
    """Each pass once a round, in turns; its rate per round and the time of each of its batches."""
    rates: dict[str, list[float]] = {name: [] for name in setups}
    laps: dict[str, list[float]] = {name: [] for name in setups}
    covered: dict[str, int] = {}
    for round_ in range(1, rounds + 1):
        for name, setup in setups.items():
            timed, times = setup(), _Laps()
            start = perf_counter()
            covered[name] = timed(times)
            seconds = perf_counter() - start
            rates[name].append(covered[name] / seconds)
            laps[name].extend(times.laps)
            print(
                f"  {store} round {round_}: {name}: {covered[name]:,} events in {seconds:.1f} s", flush=True
            )
    return {name: Figures(rates[name], laps[name]) for name in setups}, covered


class _Laps:
    """A progress callback that keeps the time each batch took."""

    def __init__(self) -> None:
        self.laps: list[float] = []
        self._last = perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = perf_counter()
        self.laps.append(now - self._last)
        self._last = now


def _read(ledger: Ledger, step: Callable[[Batch], object], progress: Progress) -> int:
    """Read the whole log in batches, handing each batch to ``step``."""
    after = done = 0
    while batch := read_log(ledger.recorder, after, BATCH):
        step(batch)
        after, done = batch[-1][0], done + len(batch)
        progress(done, done)
    return done


def _nothing(batch: Batch) -> None:
    pass


def _decode(ledger: Ledger, batch: Batch) -> list[ev.Event]:
    return [cast(ev.Event, ledger.mapper.to_domain_event(stored)) for _, stored in batch]


def _folding(ledger: Ledger) -> Pass:
    """Decode and fold every event into its engagement's state, as the runner's state cache does."""
    states: dict[UUID, Engagement] = {}

    def fold(batch: Batch) -> None:
        for event in _decode(ledger, batch):
            states[event.originator_id] = evolve(states.get(event.originator_id), event)

    return partial(_read, ledger, fold)


def _catching_up(ledger: Ledger, db: ProjectionDB, only: type[Projection] | None, cap: int) -> Pass:
    """A fresh runner of one projection (or all), at position 0 on empty tables."""
    projections = [only()] if only else all_projections()
    _empty(db, projections)
    return partial(_catch_up, Runner(ledger, db, projections), cap)


class _Enough(Exception):
    """Stops a catch-up that has covered the events asked for (its batches are committed)."""


def _catch_up(runner: Runner, cap: int, progress: Progress) -> int:
    covered = 0

    def counting(done: int, total: int) -> None:
        nonlocal covered
        covered = done
        progress(done, total)
        if cap and done >= cap:
            raise _Enough

    try:
        return runner.catch_up(counting)
    except _Enough:
        return covered


def _rebuilding(ledger: Ledger, db: ProjectionDB, kwargs: Mapping[str, int]) -> Pass:
    projections = all_projections()
    _empty(db, projections)
    runner = Runner(ledger, db, projections)
    return lambda progress: runner.rebuild(progress, **kwargs)


def _empty(db: ProjectionDB, projections: Sequence[Projection]) -> None:
    """Drop the projections' tables (a fresh runner makes them again) and put them at position 0."""
    with db.transaction() as tx:
        for statement in positions.SCHEMA:
            tx.execute(statement)
        for projection in projections:
            for table in projection.tables:
                tx.execute(f"DROP TABLE IF EXISTS {table}")
            positions.register(tx, projection.name)
            positions.reset(tx, projection.name)


def _rebuild_call(parser: argparse.ArgumentParser, workers: int | None) -> tuple[dict[str, int], str]:
    """The keywords to pass to ``Runner.rebuild``, and a line saying which call that is."""
    parameter = inspect.signature(Runner.rebuild).parameters.get("workers")
    if parameter is None:
        if workers is not None:
            parser.error("--workers: Runner.rebuild takes no workers keyword")
        return {}, "Runner.rebuild() takes no workers keyword (one process)"
    if workers is None:
        return {}, f"Runner.rebuild(workers={parameter.default!r}), its default"
    return {"workers": workers}, f"Runner.rebuild(workers={workers}), from --workers"


def _header(postgres: str | None, args: argparse.Namespace, events: int, rebuild_note: str) -> str:
    cap = args.catch_up_events
    prefix = f"the first {cap:,} events (--catch-up-events)" if 0 < cap < events else "the whole log"
    return "\n".join(
        [
            "Engagement ledger: projection catch-up and rebuild beside reading the log, same store, same run",
            *report.machine(postgres),
            f"run:      {events:,} events in {args.engagements:,} engagements "
            f"({events // args.engagements:,} each), batches of {BATCH:,}; live catch-ups over "
            f"{prefix}; {args.rounds} round(s), each measurement once a round",
            f"rebuild:  {rebuild_note}",
            f"targets:  rebuild all projections from {REBUILD_EVENTS:,} events in < {REBUILD_SECONDS:g} s "
            f"on each store; live catch-up of each projection >= {CATCH_UP_TARGET:,} events/s "
            f"(the library's one-transaction-per-event runner: ~{LIBRARY_RUNNER:,}/s)",
        ]
    )


_COLUMNS = (
    f"  {'':<36}{'events':>11}{'s':>8}{'events/s':>10}{'x decode':>10}{'batch p50 ms':>14}{'p99 ms':>8}"
)


def _table(store: str, figures: Mapping[str, Figures], covered: Mapping[str, int]) -> str:
    """One row per measurement; ``x decode`` is the median of the per-round ratios to read + decode."""
    rows = [store, _COLUMNS]
    for name, f in figures.items():
        timed = name != REBUILD and len(f.latencies) > 1  # a parallel rebuild reports by the clock
        batches = f"{f.p50_ms:>14.1f}{f.p99_ms:>8.1f}" if timed else f"{'-':>14}{'-':>8}"
        rows.append(
            f"  {name:<36}{covered[name]:>11,}{covered[name] / f.rate:>8.1f}{f.rate:>10,.0f}"
            f"{f.ratio_to(figures[DECODE]):>10.2f}{batches}"
        )
    return "\n".join(rows)


def _verdicts(store: str, figures: Mapping[str, Figures], covered: Mapping[str, int]) -> str:
    lines = []
    for name, f in figures.items():
        if name.startswith("catch-up") and name != ALL:
            lines.append(
                f"  {store} {name}: {f.rate:,.0f} events/s (target >= {CATCH_UP_TARGET:,}): "
                + report.meets_or_misses(f.rate >= CATCH_UP_TARGET)
            )
    rebuild, events = figures[REBUILD], covered[REBUILD]
    seconds = statistics.median(events / rate for rate in rebuild.rates)
    projected = REBUILD_EVENTS / rebuild.rate
    scaled = "" if events == REBUILD_EVENTS else f", so ~{projected:.0f} s for {REBUILD_EVENTS:,}"
    lines.append(
        f"  {store} {REBUILD}: {seconds:.1f} s for {events:,} events{scaled} "
        f"(target < {REBUILD_SECONDS:g} s for {REBUILD_EVENTS:,}): "
        + report.meets_or_misses(projected < REBUILD_SECONDS)
    )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = report.log_parser(
        "python -m bench.projections", "Time projection catch-up and rebuild beside reading the log.", STORES
    )
    parser.add_argument(
        "--catch-up-events",
        type=at_least(0),
        default=200_000,
        help="stop each live catch-up after this many events (0: the whole log; default 200000)",
    )
    parser.add_argument(
        "--workers", type=at_least(1), help="passed to Runner.rebuild if it takes it (default: its own)"
    )
    return parser


if __name__ == "__main__":
    main()
