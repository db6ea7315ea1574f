"""The run, and what it prints: serve, open the pool, start the clients and checkers, report."""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from bench import report as machine
from bench.hammer.checks import Checker
from bench.hammer.client import Client
from bench.hammer.record import ALONGSIDE, FINAL, INLINE, Record, ack_of
from bench.hammer.sends import TIMEOUT, Belief, Draw, command
from bench.hammer.site import Site, serving
from bench.hammer.valid import COMMANDS, OWN_ONLY, Built, add_scope_item, add_task, opening, plan_milestone
from bench.stores import postgres_store, postgres_version, sqlite_store
from domain.service import Ledger
from projections.db import open_projection_db


@dataclass(frozen=True)
class Report:
    """What the hammer did and found."""

    title: str
    seconds: float
    operations: Counter[tuple[str, int, str]]
    checks: dict[str, Counter[str]]
    backpressure: Counter[str]
    notes: Counter[str]
    violations: list[str]
    events: int

    @property
    def ok(self) -> bool:
        return not self.violations

    def total(self, kinds: Sequence[str] = ("",), low: int = 0, high: int = 600, label: str = "") -> int:
        """Answers to sends of a kind starting with one of ``kinds``, status in [low, high), ``label``."""
        return sum(
            n
            for (kind, status, found), n in self.operations.items()
            if kind.startswith(tuple(kinds)) and low <= status < high and label in {"", found}
        )

    def lines(self) -> list[str]:
        return [self.title, *self._did(), *self._answers(), *self._checks(), *self._found()]

    def _did(self) -> list[str]:
        valid, n, total = [*COMMANDS, *OWN_ONLY], self.total(), self.total
        return [
            f"did: {n:,} requests answered in {self.seconds:g} s ({n / self.seconds:,.0f}/s); "
            f"{self.events:,} events stored",
            f"  valid commands: {total(valid):,} sent; {total(valid, label='recorded'):,} recorded, "
            f"{total(valid, label='nothing'):,} changed nothing, {total(valid, 400, 500):,} refused by the "
            "state they met (another client got there first)",
            f"  invalid sends: {total(['invalid']):,}; {total(['invalid'], 400, 500):,} refused",
            f"  retries with the same Idempotency-Key: {total(['retry']):,}; reads: "
            f"{total(['read', 'check: read']):,}; back-pressure 503s: {total(low=503, high=504):,}",
        ]

    def _answers(self) -> list[str]:
        lines = [f"  {'kind':<44}answers: status label x count"]
        for kind in sorted({k for k, _, _ in self.operations}):
            answers = sorted((s, found, n) for (k, s, found), n in self.operations.items() if k == kind)
            lines.append(f"  {kind:<44}" + ", ".join(f"{s} {found} x{n}" for s, found, n in answers))
        return lines

    def _checks(self) -> list[str]:
        lines = [f"invariant checks{'':<34}{'run':>6}{'passed':>8}{'failed':>8}{'skipped':>9}"]
        for name in (*ALONGSIDE, *INLINE, *FINAL):
            c = self.checks.get(name, Counter())
            lines.append(f"  {name:<48}{c.total():>6}{c['passed']:>8}{c['failed']:>8}{c['skipped']:>9}")
        return [*lines, "  (skipped: answered 503 for back-pressure, or projections that never kept still)"]

    def _found(self) -> list[str]:
        pressure = ", ".join(f"{rule} x{n}" for rule, n in self.backpressure.most_common()) or "none"
        lines = [f"back-pressure (503 problem answers): {pressure}"]
        lines += [f"note: {what} (x{n})" for what, n in self.notes.most_common()]
        lines.append(f"violations: {len(self.violations) or 'none'}")
        lines += [f"  {v}" for v in self.violations[:40]]
        return [*lines, "OK: every invariant held" if self.ok else "FAILED: invariants were violated"]


def hammer(
    store: Mapping[str, str],
    seconds: float,
    seed: int,
    clients: int,
    engagements: int = 4,
    workers: int = 2,
    title: str = "",
) -> Report:
    """Serve ``store``, hammer it for ``seconds`` with ``clients`` threads, check it; what happened."""
    record = Record()
    with serving(store, workers) as site, Ledger(dict(store)) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            pool = open_pool(site, record, engagements)
            checker, stop = Checker(site, record, ledger, db), threading.Event()
            alongside = threading.Thread(target=checker.alongside, args=(stop,))
            alongside.start()
            until = time.monotonic() + seconds
            threads = [
                threading.Thread(target=Client(n, seed, site, record, pool).run, args=(until,))
                for n in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            stop.set()
            alongside.join()
            with httpx.Client(base_url=site.url, timeout=TIMEOUT) as http:
                events = checker.final(http)
        finally:
            db.close()
    return Report(
        title or f"Randomized hammer: seed {seed}, {clients} clients, {seconds:g} s",
        seconds,
        record.operations,
        dict(record.checks),
        record.backpressure,
        record.notes,
        record.violations,
        events,
    )


def open_pool(site: Site, record: Record, engagements: int) -> dict[str, str]:
    """The engagements the clients share, each with milestones, scope and tasks; their client ids."""
    pool = {f"POOL-{n}": ("acme", "globex")[n % 2] for n in range(1, engagements + 1)}
    with httpx.Client(base_url=site.url, timeout=TIMEOUT) as http:
        for code, client_id in pool.items():
            d, nothing = Draw(random.Random(code)), Belief(milestones=[])
            steps: list[Built] = [("", opening(code, client_id))]
            for n, build in enumerate([plan_milestone, plan_milestone, add_scope_item, add_task, add_task]):
                d.tag = f"{code.lower()}-{n}"
                steps.append(build(d, nothing))
            for built in filter(None, steps):
                send = command("open the pool", code, *built, expect=frozenset({"recorded"}))
                answer = record.exchange(http, send, site.auth["pmo"])
                if answer.label != "recorded":
                    raise RuntimeError(f"could not open the pool: {send.path} answered {answer}")
                record.acknowledged(ack_of(answer.body))
    return pool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hammer",
        description="Concurrent random valid and invalid commands against the API, with invariant checks.",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the clients send (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="client n draws from random.Random(seed + n)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--engagements", type=int, default=4, help="the shared pool's size (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="API processes on PostgreSQL (default 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    postgres = args.store == "postgres"
    setup = (
        f"`ledger serve --workers {args.workers}` and `ledger worker` on PostgreSQL"
        if postgres
        else "`ledger serve` on SQLite, projections in-process"
    )
    title = (
        f"Randomized hammer: seed {args.seed}, {args.clients} clients, {args.seconds:g} s, "
        f"{args.engagements} shared engagements; {setup}"
    )
    print("\n".join(machine.machine(postgres_version() if postgres else None)), flush=True)
    with postgres_store() if postgres else sqlite_store() as store:
        found = hammer(
            store.env, args.seconds, args.seed, args.clients, args.engagements, args.workers, title
        )
    print("\n".join(found.lines()))
    print(
        "deterministic given the seed only as far as concurrency allows: each client's choices follow "
        "its random.Random(seed + n) and the answers it got, which depend on how requests interleave"
    )
    print(machine.load_average("at the end"))
    return 0 if found.ok else 1
