"""Benchmark of the integrity side: Merkle-log catch-up, verify and inclusion proofs beside raw reads.

Run as ``python -m bench.integrity [--events N] [--engagements N] [--store sqlite|postgres|both]
[--rounds R] [--proofs N] [--seed S]``. On each store it records a synthetic ledger
(``bench.synthetic``), then, once a round and in the same run:

- the baseline of the next two: reading the whole log in batches of 1,000, nothing decoded
  (``domain.store.read_log``);
- the Merkle log's catch-up from zero on empty tables: ``Runner(ledger, db, [MerkleLog()])``;
- ``replay.verify.verify`` of the whole log against a checkpoint taken just before (untimed);
- the inclusion proofs of ``--proofs`` random leaves, each fetched in its own read transaction
  as the API does, taking turns leaf by leaf (in a rotating order) with their baseline, a
  single-row primary-key SELECT on ``merkle_leaves``, and with every read the proof route
  makes (latest checkpoint, leaf lookup, tree size, proof and root).

It prints figures and how they stand against the targets. It asserts nothing about time, but a
fast wrong answer is no figure: it stops if verify fails or a proof does not lead to the root.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from time import perf_counter
from typing import Any

from bench import report, synthetic
from bench.commands import STORES
from bench.stores import Store, postgres_version
from bench.timing import WARMUP, Figures, at_least
from domain.service import Ledger
from domain.store import read_log
from projections import positions
from projections.db import ProjectionDB, open_projection_db
from projections.runner import Runner
from replay import checkpoints, merkle
from replay.checkpoints import Signer
from replay.log import TABLE, MerkleLog, fetcher, leaf_of, tree_size
from replay.note import generate_key
from replay.verify import verify

BATCH = 1000
READ, CATCH_UP, VERIFY = "read log, nothing decoded", "Merkle-log catch-up from zero", "verify the whole log"
PK, PROOF, ROUTE = "primary-key SELECT of one leaf", "inclusion proof", "the proof route's reads"
CATCH_UP_TARGET = 20_000
"""Events a second the Merkle log's catch-up should reach."""
VERIFY_EVENTS, VERIFY_SECONDS = 1_000_000, 30.0
PROOF_P99_MS = 5.0


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.events < args.engagements:
        parser.error("--events must be at least --engagements")
    postgres = postgres_version() if args.store != "sqlite" else None
    events = args.events // args.engagements * args.engagements
    print(_header(postgres, args, events), flush=True)
    for open_store in STORES[args.store]:
        with open_store() as store:
            passes, proofs = bench_store(store, args)
        print()
        print(_passes_table(store.name, passes, events))
        print(_proofs_table(proofs))
        print(_verdicts(store.name, passes, proofs, events))
        print(flush=True)
    print(report.load_average("at the end"))


def bench_store(store: Store, args: argparse.Namespace) -> tuple[dict[str, Figures], dict[str, Figures]]:
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
            signer = Signer(checkpoints.DEFAULT_ORIGIN, generate_key())
            rates: dict[str, list[float]] = {READ: [], CATCH_UP: [], VERIFY: []}
            latencies: dict[str, list[float]] = {PK: [], PROOF: [], ROUTE: []}
            proof_rates: dict[str, list[float]] = {name: [] for name in latencies}
            for round_ in range(1, args.rounds + 1):
                for name, (setup, timed) in _passes(ledger, db, signer).items():
                    setup()
                    seconds = _seconds(timed, loaded)
                    rates[name].append(loaded / seconds)
                    print(
                        f"  {store.name} round {round_}: {name}: {loaded:,} events in {seconds:.1f} s",
                        flush=True,
                    )
                sample = random.Random(args.seed + round_).sample(range(loaded), min(args.proofs, loaded))
                for name, timed_calls in _proofs(db, sample).items():
                    latencies[name].extend(timed_calls)
                    proof_rates[name].append(len(timed_calls) / sum(timed_calls))
            passes = {name: Figures(rates[name], [loaded / r for r in rates[name]]) for name in rates}
            proofs = {name: Figures(proof_rates[name], latencies[name]) for name in latencies}
            return passes, proofs
        finally:
            db.close()


Pass = Callable[[], int]
"""One timed pass over the log; gives the events it covered."""
Setup = Callable[[], object]
"""What a pass needs first, outside the clock."""


def _passes(ledger: Ledger, db: ProjectionDB, signer: Signer) -> dict[str, tuple[Setup, Pass]]:
    """The three passes of one round, in order, each after its untimed setup."""

    def catch_up() -> int:
        return Runner(ledger, db, [MerkleLog()]).catch_up()

    def verified() -> int:
        verdict = verify(ledger, db, signer.verifier_key)
        if not verdict.ok:
            raise RuntimeError("verify failed on an untouched ledger: " + "; ".join(verdict.lines()))
        return verdict.events

    return {
        READ: (lambda: None, lambda: _read(ledger)),
        CATCH_UP: (lambda: _empty_log(db), catch_up),
        VERIFY: (lambda: _checkpoint(db, signer), verified),
    }


def _seconds(timed: Pass, expected: int) -> float:
    """The seconds one pass took, checking that it covered the whole log."""
    start = perf_counter()
    covered = timed()
    seconds = perf_counter() - start
    if covered != expected:
        raise RuntimeError(f"a pass covered {covered:,} events of {expected:,}")
    return seconds


def _read(ledger: Ledger) -> int:
    """The baseline: every stored event read in log order, in batches, nothing decoded."""
    after = done = 0
    while batch := read_log(ledger.recorder, after, BATCH):
        after, done = batch[-1][0], done + len(batch)
    return done


def _empty_log(db: ProjectionDB) -> None:
    """Drop the Merkle log's tables (a fresh runner makes them again) and put it at position 0."""
    with db.transaction() as tx:
        for statement in positions.SCHEMA:
            tx.execute(statement)
        for table in MerkleLog.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        positions.register(tx, MerkleLog.name)
        positions.reset(tx, MerkleLog.name)


def _checkpoint(db: ProjectionDB, signer: Signer) -> checkpoints.StoredCheckpoint:
    return checkpoints.take(db, signer, lambda: datetime.now(UTC))


def _proofs(db: ProjectionDB, leaves: Sequence[int]) -> dict[str, list[float]]:
    """Each leaf's proof timed three ways, taking turns in a rotating order (none always reads
    pages another just read); every proof checked against the signed root."""
    signed = checkpoints.latest(db)
    assert signed is not None, "the verify pass takes a checkpoint first"
    events = _events_of(db, leaves)
    timed: dict[str, list[float]] = {PK: [], PROOF: [], ROUTE: []}
    for n, leaf in enumerate(leaves):
        ways: dict[str, Callable[[], Any]] = {
            PK: partial(_leaf_hash, db, leaf),
            PROOF: partial(_proof, db, leaf, signed.size),
            ROUTE: partial(_route_reads, db, *events[leaf]),
        }
        names = list(ways)
        answers = {}
        for name in names[n % 3 :] + names[: n % 3]:
            start = perf_counter()
            answers[name] = ways[name]()
            if n >= WARMUP:
                timed[name].append(perf_counter() - start)
        merkle.verify_inclusion(answers[PK], leaf, signed.size, answers[PROOF], signed.root)
        if answers[ROUTE] != answers[PROOF]:
            raise RuntimeError(f"the route's reads give another proof of leaf {leaf}")
    return timed


def _events_of(db: ProjectionDB, leaves: Sequence[int]) -> dict[int, tuple[str, int]]:
    """The (engagement, version) of each leaf, which the route is asked for (untimed)."""
    marks = ",".join(["%s"] * len(leaves))
    rows = db.query(f"SELECT leaf, engagement_id, version FROM {TABLE} WHERE leaf IN ({marks})", leaves)
    return {int(r["leaf"]): (r["engagement_id"], int(r["version"])) for r in rows}


def _leaf_hash(db: ProjectionDB, leaf: int) -> bytes:
    """The baseline: one row by its primary key, in a read transaction of its own."""
    with db.reading() as tx:
        return bytes(tx.query(f"SELECT hash FROM {TABLE} WHERE leaf = %s", (leaf,))[0]["hash"])


def _proof(db: ProjectionDB, leaf: int, size: int) -> list[bytes]:
    with db.reading() as tx:
        return merkle.inclusion_proof(fetcher(tx), leaf, size)


def _route_reads(db: ProjectionDB, engagement_id: str, version: int) -> list[bytes]:
    """What ``GET /ledger/proofs/inclusion/{code}/{version}`` reads, without HTTP or access checks."""
    latest = checkpoints.latest(db)
    assert latest is not None
    with db.reading() as tx:
        record = leaf_of(tx, engagement_id, version)
        assert record is not None
        assert latest.size <= tree_size(tx)
        proof = merkle.inclusion_proof(fetcher(tx), record.leaf, latest.size)
        merkle.root(fetcher(tx), latest.size)
    return proof


def _header(postgres: str | None, args: argparse.Namespace, events: int) -> str:
    return "\n".join(
        [
            "Engagement ledger: Merkle-log catch-up, verify and inclusion proofs beside raw reads, "
            "same store, same run",
            *report.machine(postgres),
            f"run:      {events:,} events in {args.engagements:,} engagements "
            f"({events // args.engagements:,} each), log read in batches of {BATCH:,}; "
            f"{args.rounds} round(s); {args.proofs:,} random leaves a round (seed {args.seed}), "
            f"the first {WARMUP} untimed",
            f"targets:  Merkle-log catch-up >= {CATCH_UP_TARGET:,} events/s; verify of "
            f"{VERIFY_EVENTS:,} events < {VERIFY_SECONDS:g} s; inclusion proof p99 < {PROOF_P99_MS:g} ms",
        ]
    )


def _passes_table(store: str, passes: Mapping[str, Figures], events: int) -> str:
    """One row per pass over the log: seconds (median and best of the rounds), events/s of the
    median, and ``x read``, the median of the per-round ratios of its rate to the read's."""
    rows = [
        store,
        f"  {'':<36}{'events':>11}{'median s':>10}{'best s':>8}{'events/s':>10}{'x read':>8}  s, each round",
    ]
    for name, f in passes.items():
        seconds = statistics.median(f.latencies)
        rows.append(
            f"  {name:<36}{events:>11,}{seconds:>10.1f}{min(f.latencies):>8.1f}{events / seconds:>10,.0f}"
            f"{f.ratio_to(passes[READ]):>8.2f}  " + " ".join(f"{s:.1f}" for s in f.latencies)
        )
    return "\n".join(rows)


def _proofs_table(proofs: Mapping[str, Figures]) -> str:
    """One row per way of reading; ``x PK`` is the p50 over the primary-key SELECT's p50."""
    rows = [f"  {'':<36}{'calls':>11}{'p50 ms':>8}{'p99 ms':>10}{'x PK':>8}{'max ms':>10}"]
    base = proofs[PK].p50_ms
    for name, f in proofs.items():
        rows.append(
            f"  {name:<36}{len(f.latencies):>11,}{f.p50_ms:>8.2f}{f.p99_ms:>10.2f}"
            f"{f.p50_ms / base:>8.2f}{max(f.latencies) * 1000:>10.2f}"
        )
    return "\n".join(rows)


def _verdicts(store: str, passes: Mapping[str, Figures], proofs: Mapping[str, Figures], events: int) -> str:
    catch_up = events / statistics.median(passes[CATCH_UP].latencies)
    seconds, proof = statistics.median(passes[VERIFY].latencies), proofs[PROOF].p99_ms
    projected = seconds * VERIFY_EVENTS / events
    scaled = "" if events == VERIFY_EVENTS else f", so ~{projected:.0f} s for {VERIFY_EVENTS:,}"
    return "\n".join(
        [
            f"  {store} {CATCH_UP}: {catch_up:,.0f} events/s (target >= {CATCH_UP_TARGET:,}): "
            + report.meets_or_misses(catch_up >= CATCH_UP_TARGET),
            f"  {store} {VERIFY}: {seconds:.1f} s for {events:,} events{scaled} "
            f"(target < {VERIFY_SECONDS:g} s for {VERIFY_EVENTS:,}): "
            + report.meets_or_misses(projected < VERIFY_SECONDS),
            f"  {store} {PROOF}: p99 {proof:.2f} ms (target < {PROOF_P99_MS:g} ms): "
            + report.meets_or_misses(proof < PROOF_P99_MS),
        ]
    )


def _parser() -> argparse.ArgumentParser:
    parser = report.log_parser(
        "python -m bench.integrity",
        "Time Merkle-log catch-up, verify and inclusion proofs beside raw reads.",
        STORES,
    )
    parser.add_argument(
        "--proofs",
        type=at_least(WARMUP + 1),
        default=2_000 + WARMUP,
        help="random leaves a round (default 2020)",
    )
    parser.add_argument("--seed", type=int, default=5, help="of the random leaves (default 5)")
    return parser


if __name__ == "__main__":
    main()
