"""Benchmark of the write path: ``Ledger.execute`` and ``save`` beside a raw INSERT + COMMIT.

Run as ``python -m bench.commands [--seconds S] [--events N] [--store sqlite|postgres|both]``.
On each store, in the same run and taking turns round after round, it times:

- a raw single-row INSERT + COMMIT of a real stored event's bytes into a table shaped like
  the library's, one transaction per row (psycopg, or sqlite3 in WAL with synchronous FULL);
- the library's bare ``save(event)`` of events already decided (no load, no decide);
- the full command path ``Ledger.execute`` (load, decide, save) on an engagement already
  holding ``--events`` events: as one writer runs it (deciding on the state it last wrote,
  checked by the store's version uniqueness), reading the store before each decision (the
  aggregate cache, fast-forwarded), and cold (latest snapshot plus the events after it).

It prints figures and how they stand against the targets; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack

from bench import report, workload
from bench.stores import Store, postgres_store, postgres_version, sqlite_store
from bench.timing import WARMUP, Figures, Operation, at_least, measure
from domain.commands import RescheduleMilestone
from domain.events import Event
from domain.service import Ledger, utc_now

RAW = "raw INSERT + COMMIT"
SAVE = "save(event), no load or decide"
STEADY = "execute(), one writer"
CACHED = "execute(), store read first"
COLD = "execute(), cold load"
SAVES_PREBUILT_PER_SECOND = 5000
"""More saves a second than either store takes here: no event is copied while the clock runs."""
NO_CACHE = {"AGGREGATE_CACHE_MAXSIZE": ""}
"""Unset rather than 0: the library reads 0 as a cache without a size limit."""

STORES: dict[str, list[Callable[[], AbstractContextManager[Store]]]] = {
    "sqlite": [sqlite_store],
    "postgres": [postgres_store],
    "both": [sqlite_store, postgres_store],
}


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    postgres = postgres_version() if args.store != "sqlite" else None
    print(report.header(postgres, args.seconds, args.rounds, args.events), flush=True)
    for open_store in STORES[args.store]:
        with open_store() as store:
            figures = bench_store(store, args.seconds, args.rounds, args.events)
        print()
        print(report.table(store.name, figures, RAW))
        print(report.verdicts(store.name, figures, RAW, [STEADY, CACHED, COLD]), flush=True)
    print()
    print(report.load_average("at the end"))


def bench_store(store: Store, seconds: float, rounds: int, events: int) -> dict[str, Figures]:
    """Every measurement on ``store``, each engagement seeded with ``events`` events first."""
    with ExitStack() as stack:
        steady = stack.enter_context(Ledger(store.env, clock=utc_now))
        cached = stack.enter_context(_Forgetful(store.env, clock=utc_now))
        cold = stack.enter_context(_Forgetful(store.env | NO_CACHE, clock=utc_now))
        decided = workload.decided(cached, "BENCH-SAVE", workload.seed(cached, "BENCH-SAVE", events))
        operations: dict[str, Operation] = {
            RAW: stack.enter_context(store.raw_writer(cached.mapper.to_stored_event(decided[0]))),
            SAVE: _saving(cached, decided, seconds),
            STEADY: _executing(steady, workload.seed(steady, "BENCH-STEADY", events)),
            CACHED: _executing(cached, workload.seed(cached, "BENCH-CACHED", events)),
            COLD: _executing(cold, workload.seed(cold, "BENCH-COLD", events)),
        }
        return measure(operations, seconds, rounds)


class _Forgetful(Ledger):
    """Reads the store before every decision, as a writer does after another process wrote."""

    recent_capacity = 0


def _saving(ledger: Ledger, decided: list[Event], seconds: float) -> Operation:
    """Saves of numbered copies of ``decided``, made before the clock starts."""
    events = workload.prebuilt(decided, int(seconds * SAVES_PREBUILT_PER_SECOND) + WARMUP)
    return lambda: ledger.save(next(events))


def _executing(ledger: Ledger, commands: Iterator[RescheduleMilestone]) -> Operation:
    return lambda: workload.record(ledger, next(commands))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.commands", description="Time Ledger.execute and save beside raw inserts."
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement (default 5)")
    parser.add_argument(
        "--events", type=at_least(2), default=300, help="events in each engagement first (default 300)"
    )
    parser.add_argument("--store", choices=sorted(STORES), default="both", help="default: both")
    parser.add_argument(
        "--rounds", type=at_least(3), default=5, help="interleaved rounds per measurement (default 5)"
    )
    return parser


if __name__ == "__main__":
    main()
