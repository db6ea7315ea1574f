"""Benchmark of as-of: an engagement of 10,000 events as it stood at random versions and times.

Run as ``python -m bench.asof [--events N] [--store sqlite|postgres|both] [--seconds S]
[--rounds R]``. On each store (PostgreSQL only if it answers) it records one synthetic
engagement (``bench.synthetic``, a snapshot every 100 versions as the ledger takes them) and
times, in the same run and taking turns round after round, each call at a fresh random point:

- the baseline: ``Ledger.engagement(code)``, the current state as a command loads it (the
  aggregate cache, fast-forwarded by one query);
- the library's ``state_at`` at a random version (the nearest snapshot and the events after it);
- as-of status at a random version, and at a random recorded time, each from scratch as a
  request does it (``History.of``, the point, then ``History.status``);
- the same status over HTTP: ``GET /engagements/{code}/as-of?version=N`` through the app,
  token check included (in-process client, no network);
- a 100-row page of the as-of change log after a random position of the stream;
- the whole as-of slip timeline at a random version (one pass over the events before it).

It prints figures and the target for as-of status; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from time import perf_counter

import psycopg
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.http.app import create_app
from api.http.auth import Role, Tokens
from api.http.settings import HttpSettings
from bench import report, synthetic
from bench.stores import PG_DSN, Store, postgres_store, postgres_version, sqlite_store
from bench.timing import Figures, Operation, at_least, measure
from domain.service import Ledger
from domain.values import engagement_id
from replay.asof import History

CODE = "SYN-00000"
BASELINE = "engagement(code), current, cached"
STATE_AT = "state_at(random version)"
STATUS = "as-of status, random version"
AT_TIME = "as-of status, random time"
HTTP = "GET .../as-of?version=N (HTTP)"
PAGE = "as-of change log, 100 rows"
SLIPS = "as-of slip timeline, whole"
P99_TARGET_MS = 25.0
"""As-of status of any version of a 10,000-event engagement."""

_COLUMNS = f"  {'':<36}{'calls/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x base':>9}{'calls':>8}"


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    stores = _stores(args.store)
    postgres = postgres_version() if postgres_store in stores else None
    print(_header(postgres, args), flush=True)
    for open_store in stores:
        with open_store() as store:
            figures = bench_store(store, args)
        print()
        print(_table(store.name, figures))
        print(_verdicts(store.name, figures), flush=True)
    print()
    print(report.load_average("at the end"))


def bench_store(store: Store, args: argparse.Namespace) -> dict[str, Figures]:
    """Record the engagement in ``store``, then time every operation at random points."""
    with Ledger(store.env) as ledger:
        start = perf_counter()
        synthetic.load(ledger, 1, args.events)
        print(f"{store.name}: recorded {args.events:,} events in {perf_counter() - start:.1f} s", flush=True)
        history = History.of(ledger, CODE)
        picks = _Picks(history, random.Random(args.seed))
        with _http(store) as get:
            operations: dict[str, Operation] = {
                BASELINE: lambda: ledger.engagement(CODE),
                STATE_AT: lambda: ledger.state_at(engagement_id(CODE), picks.version()),
                STATUS: lambda: _status(ledger, picks.version()),
                AT_TIME: lambda: _status_at(ledger, picks.time()),
                HTTP: lambda: get(f"/engagements/{CODE}/as-of?version={picks.version()}"),
                PAGE: lambda: History.of(ledger, CODE).changelog(history.current, picks.position(), 100),
                SLIPS: lambda: History.of(ledger, CODE).slips(picks.version()),
            }
            return measure(operations, args.seconds, args.rounds, warmup=5)


class _Picks:
    """Random points of the stream: versions, recorded times, and log positions of its own."""

    def __init__(self, history: History, rng: random.Random) -> None:
        self.rng = rng
        self.current = history.current
        self.first = history.opened.timestamp
        self.span = history.latest.timestamp - self.first
        self.positions = [
            position for position, _ in history.reader.events(history.stream, 0, history.current)
        ]

    def version(self) -> int:
        return self.rng.randint(1, self.current)

    def time(self) -> datetime:
        return self.first + self.span * self.rng.random()

    def position(self) -> int:
        return self.rng.choice(self.positions)


def _status(ledger: Ledger, version: int) -> object:
    history = History.of(ledger, CODE)
    return history.status(history.point(version=version))


def _status_at(ledger: Ledger, at: datetime) -> object:
    history = History.of(ledger, CODE)
    return history.status(history.point(at=at))


@contextmanager
def _http(store: Store) -> Iterator[Callable[[str], object]]:
    """A GET through the whole app (routing, token check, problem handlers) on ``store``."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-asof-") as folder:
        settings = HttpSettings(
            data_dir=Path(folder), jwt_secret=SecretStr("bench-" + "s" * 40), embedded_projections=False
        )
        token = Tokens(settings).issue("ada.auditor", Role.AUDITOR, None)
        with TestClient(create_app(settings, store=store.env)) as client:

            def get(url: str) -> object:
                response = client.get(url, headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200, response.text
                return response

            yield get


def _stores(choice: str) -> list[Callable[[], AbstractContextManager[Store]]]:
    """The stores asked for; PostgreSQL is left out (with a note) if it does not answer."""
    stores: list[Callable[[], AbstractContextManager[Store]]] = []
    if choice in ("sqlite", "both"):
        stores.append(sqlite_store)
    if choice in ("postgres", "both"):
        try:
            psycopg.connect(PG_DSN, connect_timeout=3).close()
            stores.append(postgres_store)
        except psycopg.OperationalError as error:
            print(f"PostgreSQL left out: {error}".strip())
    return stores


def _header(postgres: str | None, args: argparse.Namespace) -> str:
    return "\n".join(
        [
            "Engagement ledger: as-of views of one long engagement, rebuilt from its events",
            *report.machine(postgres),
            f"run:      one engagement of {args.events:,} events (a snapshot every 100 versions); "
            f"{args.seconds:g} s per measurement in {args.rounds} interleaved rounds, "
            "each call at a fresh random point",
            f"target:   as-of status of any version p99 < {P99_TARGET_MS:g} ms (for 10,000 events)",
        ]
    )


def _table(store: str, figures: Mapping[str, Figures]) -> str:
    """One row per measurement; ``x base`` is the median of the per-round ratios of rates to the baseline."""
    rows = [store, _COLUMNS]
    for name, f in figures.items():
        rows.append(
            f"  {name:<36}{f.rate:>9,.0f}{f.p50_ms:>9.2f}{f.p99_ms:>9.2f}"
            f"{f.ratio_to(figures[BASELINE]):>9.3f}{len(f.latencies):>8}"
        )
    return "\n".join(rows)


def _verdicts(store: str, figures: Mapping[str, Figures]) -> str:
    lines = []
    for name in (STATUS, AT_TIME, HTTP):
        p99 = figures[name].p99_ms
        met = "meets" if p99 < P99_TARGET_MS else "MISSES"
        lines.append(f"  {store} {name}: p99 {p99:.1f} ms ({met} target < {P99_TARGET_MS:g} ms)")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.asof", description="Time as-of views of a long engagement."
    )
    parser.add_argument(
        "--events", type=at_least(2), default=10_000, help="events in the engagement (default 10000)"
    )
    parser.add_argument(
        "--store", choices=("sqlite", "postgres", "both"), default="both", help="default: both"
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="time per measurement (default 6)")
    parser.add_argument("--rounds", type=at_least(1), default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seed", type=int, default=5, help="of the random points (default 5)")
    return parser


if __name__ == "__main__":
    main()
