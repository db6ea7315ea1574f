"""One runner per projection (a database lock), and waking up when new events are recorded."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder

from domain.service import Ledger
from projections.db import PostgresDB, ProjectionDB, SQLiteDB, postgres_conninfo


class AnotherRunnerActive(Exception):
    """Another process already runs this projection."""


@contextmanager
def exclusive(db: ProjectionDB, names: Sequence[str], standby: bool = False) -> Iterator[None]:
    """Hold, for as long as the block runs, the lock that makes this the only runner of ``names``.

    If another runner holds it: raise ``AnotherRunnerActive``, or with ``standby`` wait until
    that runner stops (or dies: the database or the kernel releases its lock) and take over.
    """
    if isinstance(db, PostgresDB):
        with psycopg.connect(db.conninfo, autocommit=True) as conn:
            for name in sorted(names):
                key = f"ledger-projection:{db.schema}:{name}"
                if standby:
                    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
                    continue
                row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()
                if not row or not row[0]:
                    raise AnotherRunnerActive(f"projection {name} already has a runner")
            yield
    elif isinstance(db, SQLiteDB):
        handles = []
        try:
            for name in sorted(names):
                handle = open(db.path.with_name(f"{db.path.name}.{name}.lock"), "a")  # noqa: SIM115
                handles.append(handle)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | (0 if standby else fcntl.LOCK_NB))
                except BlockingIOError:
                    raise AnotherRunnerActive(f"projection {name} already has a runner") from None
            yield
        finally:
            for handle in handles:
                handle.close()
    else:
        raise TypeError(type(db).__name__)


@contextmanager
def wait_for_news(ledger: Ledger) -> Iterator[Callable[[float], None]]:
    """A function that waits up to its timeout for new events: LISTEN on PostgreSQL, else
    a wake-up from this process's own writes; the timeout is the polling fallback."""
    recorder = ledger.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        with psycopg.connect(postgres_conninfo(ledger.settings), autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(recorder.channel_name)))

            def listen(timeout: float) -> None:
                for _ in conn.notifies(timeout=timeout, stop_after=1):
                    pass

            yield listen
        return
    news = threading.Event()

    def wake(_position: int) -> None:
        news.set()

    ledger.listeners.append(wake)
    try:

        def wait(timeout: float) -> None:
            news.wait(timeout)
            news.clear()

        yield wait
    finally:
        ledger.listeners.remove(wake)
