"""Benchmark of growth: how a command and a read cost more as engagements and the ledger grow.

Run as ``python -m bench.growth [--store sqlite|postgres|both] [--seconds S] [--rounds R]
[--events 10,100,1000,10000] [--pool-events 20000] [--engagements 10,1000,10000]
[--events-each 20]``. On each store, in the same run and taking turns round after round with
a baseline:

- with events per engagement (``--events``): a pool of engagements of that many events (the
  bench.commands workload, bulk-saved with the ledger's snapshots, ``--pool-events`` in all),
  then ``Ledger.execute`` with the aggregate cache and cold, beside a raw INSERT + COMMIT; and
  loading the current state with the cache, cold (latest snapshot and the events after it)
  and by full replay (no snapshots), beside a raw primary-key read of one stored event;
- with engagements per ledger (``--engagements``, ~``--events-each`` events each, from
  ``bench.synthetic``, projections caught up): a command (on ten engagements in turn), an
  engagement's status, the portfolio, an audit page of one engagement and one of the whole
  trail, beside a raw INSERT + COMMIT and a raw primary-key read.

A fresh store (temporary folder or PostgreSQL schema) for each size. It prints a table per
store and what grew; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from itertools import chain, cycle
from time import perf_counter
from typing import NamedTuple
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql

from bench import report, synthetic, workload
from bench.commands import NO_CACHE, RAW, STORES, _Forgetful
from bench.stores import Store, postgres_version
from bench.timing import Figures, Operation, at_least, measure
from domain import events as ev
from domain.commands import Command
from domain.decide import Context, decide
from domain.service import Ledger, utc_now
from domain.state import Engagement, evolve
from domain.values import engagement_id
from projections.audit import AuditFilter, audit_page
from projections.db import ProjectionDB, open_projection_db, postgres_conninfo
from projections.registry import all_projections
from projections.runner import Runner
from projections.status import engagement_status, portfolio

TITLE = "how cost grows"
"""Each table this benchmark prints starts with ``<store>: how cost grows``, and only its tables
(bench.performance collects them)."""
PROGRESS = re.compile(r"^  [A-Za-z]+: ")
"""What this benchmark prints as it goes: the store's name first."""
PK = "raw primary-key read"
CACHED, COLD = "execute(), aggregate cache", "execute(), cold"
LOAD_CACHED, LOAD_COLD, REPLAY = "engagement(), cache", "engagement(), cold", "engagement(), full replay"
STATUS, PORTFOLIO = "engagement_status()", "portfolio()"
AUDIT_ONE, AUDIT_ALL = "audit_page(), one engagement", "audit_page(), whole ledger"
POOL_MAX = 500
"""Engagements at most in the pool of one size (``--pool-events`` events spread over them), so
that the timed writes leave each near its nominal size and all of them fit the aggregate cache."""
SAMPLE = 100
"""Engagements the reads of the second table spread over; the commands take the first ten."""
NO_SNAPSHOTS = NO_CACHE | {"IS_SNAPSHOTTING_ENABLED": "n"}


class Row(NamedTuple):
    size: int
    name: str
    figures: Figures
    baseline: str


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    postgres = postgres_version() if args.store != "sqlite" else None
    print(_header(postgres, args), flush=True)
    for open_store in STORES[args.store]:
        for grows_with, unit, sizes, one in (
            ("events per engagement", "events", args.events, per_engagement),
            ("engagements per ledger", "engagements", args.engagements, per_ledger),
        ):
            rows: list[Row] = []
            notes: list[str] = []
            for size in sizes:
                with open_store() as store:
                    found, note = one(store, size, args)
                print(f"  {store.name}: {note}", flush=True)
                rows, notes = rows + found, [*notes, note]
            print()
            print(_table(f"{store.name}: {TITLE} with {grows_with}", unit, rows, notes))
            print(flush=True)
    print(report.load_average("at the end"))


def per_engagement(store: Store, events: int, args: argparse.Namespace) -> tuple[list[Row], str]:
    """The command path and the loads on a pool of engagements holding ``events`` events each."""
    pool = [f"GROW-{n:04d}" for n in range(max(2, min(POOL_MAX, args.pool_events // events)))]
    cache = {"AGGREGATE_CACHE_MAXSIZE": str(2 * len(pool))}
    with ExitStack() as stack:
        # One application class throughout: on PostgreSQL the ledger's insert function is named
        # per schema, not per table, so a second class in the schema would take over the first's.
        cached = stack.enter_context(_Forgetful(store.env | cache, clock=utc_now))
        cold = stack.enter_context(_Forgetful(store.env | NO_CACHE, clock=utc_now))
        replay = stack.enter_context(_Forgetful(store.env | NO_SNAPSHOTS, clock=utc_now))
        commands = _seed(cached, pool, events)
        last = cached.mapper.to_stored_event(next(cached.history(pool[0], after=events - 1)))
        writes: dict[str, Operation] = {
            RAW: stack.enter_context(store.raw_writer(last)),
            CACHED: _executing(cached, pool, commands),
            COLD: _executing(cold, pool, commands),
        }
        written = measure(writes, args.seconds, args.rounds)
        reads: dict[str, Operation] = {
            PK: stack.enter_context(_raw_reader(cached, _keys(pool, events))),
            LOAD_CACHED: _loading(cached, pool),
            LOAD_COLD: _loading(cold, pool),
            REPLAY: _loading(replay, pool),
        }
        read = measure(reads, args.seconds, args.rounds, warmup=3)
        grown = max(cached.engagement(code).version for code in pool)
    rows = [Row(events, name, f, RAW) for name, f in written.items()]
    rows += [Row(events, name, f, PK) for name, f in read.items()]
    return (
        rows,
        f"{events:,} events: {len(pool):,} engagements, the largest at {grown:,} after the timed writes",
    )


def per_ledger(store: Store, engagements: int, args: argparse.Namespace) -> tuple[list[Row], str]:
    """A command and the reads on a synthetic ledger of ``engagements`` engagements of
    ``args.events_each`` events, projections caught up."""
    events_each = args.events_each
    with ExitStack() as stack:
        ledger = stack.enter_context(_Forgetful(store.env, clock=utc_now))
        db: ProjectionDB = open_projection_db(ledger.settings)
        stack.callback(db.close)
        start = perf_counter()
        loaded = synthetic.load(ledger, engagements, events_each)
        Runner(ledger, db, all_projections()).catch_up()
        took = perf_counter() - start
        step = max(1, engagements // SAMPLE)
        sample = [f"SYN-{n:05d}" for n in range(0, engagements, step)][:SAMPLE]
        ids = [str(engagement_id(code)) for code in sample]
        last = ledger.mapper.to_stored_event(next(ledger.history(sample[0], after=events_each - 1)))
        operations: dict[str, Operation] = {
            RAW: stack.enter_context(store.raw_writer(last)),
            PK: stack.enter_context(_raw_reader(ledger, _keys(sample, events_each))),
            CACHED: _executing(ledger, sample[:10], {code: workload.reschedules(code) for code in sample}),
            STATUS: _cycling(sample, lambda code: engagement_status(db, code)),
            PORTFOLIO: lambda: portfolio(db),
            AUDIT_ONE: _cycling(ids, lambda e: audit_page(db, AuditFilter(engagement_id=e), limit=100)),
            AUDIT_ALL: _audit_pages(db, loaded),
        }
        figures = measure(operations, args.seconds, args.rounds)
    rows = [Row(engagements, name, f, RAW if name in (RAW, CACHED) else PK) for name, f in figures.items()]
    note = f"{engagements:,} engagements: {loaded:,} events recorded and projected in {took:.1f} s"
    return rows, note


def _seed(ledger: Ledger, codes: Sequence[str], events: int) -> dict[str, Iterator[Command]]:
    """Bulk-save ``events`` events of the workload for each code, 100 a transaction, with the
    snapshots the ledger would have taken; each code's next commands."""
    following: dict[str, Iterator[Command]] = {}
    for code in codes:
        commands: Iterator[Command] = chain(workload.opening(code), workload.reschedules(code))
        decided, states = _decided(commands, events)
        for at in range(0, len(decided), 100):
            ledger.save(*decided[at : at + 100])
        _snapshot(ledger, [s for s in states if s.version % ledger.snapshot_interval == 0])
        following[code] = commands
    return following


def _decided(commands: Iterator[Command], events: int) -> tuple[list[ev.Event], list[Engagement]]:
    """The first ``events`` events ``commands`` record, decided in memory, with each state after."""
    context = Context(actor=workload.ACTOR, now=utc_now())
    decided: list[ev.Event] = []
    states: list[Engagement] = []
    while len(decided) < events:
        for event in decide(states[-1] if states else None, next(commands), context):
            decided.append(event)
            states.append(evolve(states[-1] if states else None, event))
    return decided, states


def _snapshot(ledger: Ledger, states: list[Engagement]) -> None:
    if ledger.snapshots is not None and states:
        ledger.snapshots.put([
            ev.EngagementSnapshot(
                originator_id=s.id, originator_version=s.version, timestamp=s.last_changed_at,
                state=s.model_dump(mode="json"),
            )
            for s in states
        ])  # fmt: skip


@contextmanager
def _raw_reader(ledger: Ledger, keys: Sequence[tuple[UUID, int]]) -> Iterator[Operation]:
    """The baseline of reads: one stored event by primary key, on a connection of its own, in a
    transaction of its own, without the library; random keys from ``keys``."""
    chosen = cycle(random.Random(11).sample(list(keys), len(keys)))
    recorder = ledger.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        statement = (
            f"SELECT topic, state FROM {recorder.events_table_name} "
            "WHERE originator_id = ? AND originator_version = ?"
        )
        path = ledger.settings.get("SQLITE_DBNAME") or ""
        with closing(sqlite3.connect(path, isolation_level=None)) as lite:
            yield lambda: _found(lite.execute(statement, _hex(next(chosen))).fetchone())
        return
    assert isinstance(recorder, PostgresApplicationRecorder)
    query = sql.SQL("SELECT topic, state FROM {}.{} WHERE originator_id = %s AND originator_version = %s")
    table = query.format(
        sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
    )
    with psycopg.connect(postgres_conninfo(ledger.settings), autocommit=True) as pg:
        yield lambda: _found(pg.execute(table, next(chosen), prepare=True).fetchone())


def _hex(key: tuple[UUID, int]) -> tuple[str, int]:
    """The key as the library's SQLite recorder writes it."""
    return key[0].hex, key[1]


def _found(row: object) -> object:
    if row is None:
        raise RuntimeError("the baseline read found no event: its keys are wrong")
    return row


def _executing(ledger: Ledger, codes: Sequence[str], commands: Mapping[str, Iterator[Command]]) -> Operation:
    """The next command of each code in turn; ledgers that share ``commands`` stay in step."""
    turns = cycle(codes)

    def execute() -> None:
        code = next(turns)
        workload.record(ledger, next(commands[code]))

    return execute


def _loading(ledger: Ledger, codes: Sequence[str]) -> Operation:
    return _cycling(codes, ledger.engagement)


def _cycling(items: Sequence[str], call: Callable[[str], object]) -> Operation:
    turns = cycle(items)
    return lambda: call(next(turns))


def _keys(codes: Sequence[str], events: int) -> list[tuple[UUID, int]]:
    """Every (engagement id, version) of ``codes`` up to ``events``."""
    return [(engagement_id(code), v) for code in codes for v in range(1, events + 1)]


def _audit_pages(db: ProjectionDB, events: int) -> Operation:
    """A page of 100 rows of the whole trail, after a random position."""
    chooser = random.Random(7)
    return lambda: audit_page(db, AuditFilter(), after=chooser.randrange(max(1, events - 100)), limit=100)


_BASELINES = {RAW: "insert", PK: "pk read"}


def _table(title: str, unit: str, rows: list[Row], notes: list[str]) -> str:
    """One row per size and operation; ``x base`` is the median per-round ratio to its baseline."""
    by = {(r.size, r.name): r for r in rows}
    lines = [
        title,
        f"  {unit:>11}  {'':<32}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x base':>8}  {'base':<8}{'calls':>8}",
    ]
    for r in rows:
        f = r.figures
        lines.append(
            f"  {r.size:>11,}  {r.name:<32}{f.rate:>9,.0f}{f.p50_ms:>9.2f}{f.p99_ms:>9.2f}"
            f"{_ratio(_base_ratio(r, by)):>8}  {_BASELINES[r.baseline]:<8}"
            f"{len(f.latencies):>8,}"
        )
    lines += [f"  {note}" for note in notes]
    return "\n".join([*lines, *_growth(unit, rows)])


def _growth(unit: str, rows: list[Row]) -> list[str]:
    """Each operation's p50 and ratio to its baseline at the smallest size and at the largest.

    The baselines move with the machine's load, so the ratio is the fairer view of growth.
    """
    sizes = sorted({r.size for r in rows})
    by = {(r.size, r.name): r for r in rows}
    lines = [f"  from {sizes[0]:,} to {sizes[-1]:,} {unit}:", f"    {'':<32}{'p50 ms':>21}{'x base':>20}"]
    for name in dict.fromkeys(r.name for r in rows):
        small, large = by[(sizes[0], name)], by[(sizes[-1], name)]
        lines.append(
            f"    {name:<32}{small.figures.p50_ms:>9.2f} ->{large.figures.p50_ms:>9.2f}"
            f"{_ratio(_base_ratio(small, by)):>9} -> {_ratio(_base_ratio(large, by)):>7}"
        )
    return lines


def _base_ratio(row: Row, by: Mapping[tuple[int, str], Row]) -> float:
    return row.figures.ratio_to(by[(row.size, row.baseline)].figures)


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def _header(postgres: str | None, args: argparse.Namespace) -> str:
    return "\n".join([
        "Engagement ledger: commands and reads as engagements and ledgers grow, beside raw baselines "
        "measured in the same run",
        *report.machine(postgres),
        f"run:      {args.seconds:g} s per measurement in {args.rounds} interleaved rounds; events per "
        f"engagement {', '.join(f'{n:,}' for n in args.events)}; engagements per ledger "
        f"{', '.join(f'{n:,}' for n in args.engagements)} of ~{args.events_each} events each",
        "baselines: writes against a raw INSERT + COMMIT of a stored event, reads against a raw "
        "primary-key SELECT of one stored event (x base: rate over the baseline's, median per round)",
    ])  # fmt: skip


def _sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 2 or sizes != sorted(set(sizes)):
        raise argparse.ArgumentTypeError(f"{text!r}: increasing sizes of at least 2, comma-separated")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.growth", description="Time how costs grow with engagements and ledgers."
    )
    parser.add_argument("--store", choices=sorted(STORES), default="both", help="default: both")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--events", type=_sizes, default=[10, 100, 1000, 10_000],
                        help="events per engagement (default 10,100,1000,10000)")  # fmt: skip
    parser.add_argument("--engagements", type=_sizes, default=[10, 1000, 10_000],
                        help="engagements per ledger (default 10,1000,10000)")  # fmt: skip
    parser.add_argument("--pool-events", type=at_least(2), default=20_000,
                        help="events per size of the first table, over its pool (default 20000)")  # fmt: skip
    parser.add_argument("--events-each", type=at_least(17), default=20,
                        help="events per engagement of that ledger (default 20)")  # fmt: skip
    return parser


if __name__ == "__main__":
    main()
