"""The runner: reads the event log in batches and moves each projection forward exactly once.

Per batch and projection, one transaction writes the rows and the new position together
(``projections.positions.move``), so a runner that dies mid-batch leaves no trace of it and
the next one resumes where the last commit left off.

No event committed late under a lower position can be passed over: the library's PostgreSQL
recorder takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` for each insert, so positions become
visible in order (``POSTGRES_ENABLE_DB_FUNCTIONS``, which drops that lock, is refused);
SQLite has one writer at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import strtobool

from domain import events as ev
from domain.service import Ledger
from domain.store import out_of_reach, read_log
from projections import positions
from projections.base import Change, LogProjection, Projection, Stored
from projections.db import ProjectionDB, Tx
from projections.locks import exclusive, wait_for_news
from projections.rebuild import rebuild
from projections.states import States

_log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (events done, events to do) after each batch."""

AnyProjection = Projection | LogProjection

GATHER_SECONDS = 0.05
"""How long a follower that has just read events lets more gather before it reads again. A batch
costs a few round trips and one commit however many events it holds: under load, batches of
many events instead of many batches of few (at 150 to 400 commands a second, a quarter to half
the follower's CPU per event of batches 10 ms apart). A lone write is read as soon as its news
comes; read-your-writes waits that much longer at most under load."""


class Runner:
    """Moves ``projections`` forward from the ledger's event log into ``db``."""

    def __init__(
        self, ledger: Ledger, db: ProjectionDB, projections: Sequence[AnyProjection], batch_size: int = 1000
    ) -> None:
        if strtobool(ledger.settings.get("POSTGRES_ENABLE_DB_FUNCTIONS") or "no"):
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS drops the insert lock projections rely on")
        self.ledger = ledger
        self.db = db
        self.projections = list(projections)
        self.batch_size = batch_size
        self._states = States(ledger)
        self._decoding = any(isinstance(p, Projection) for p in self.projections)
        with db.transaction() as tx:
            if db.dialect == "postgres":
                tx.execute("SELECT pg_advisory_xact_lock(hashtext('ledger-projection-schema'))")
            for statement in positions.SCHEMA + [s for p in self.projections for s in p.schema(db.dialect)]:
                tx.execute(statement)
            for projection in self.projections:
                positions.register(tx, projection.name)

    def position(self) -> int:
        """The log position every one of this runner's projections has reached."""
        known = positions.positions(self.db)
        return min(known[p.name] for p in self.projections)

    def catch_up(self, progress: Progress | None = None, until: int | None = None) -> int:
        """Apply every event recorded so far (or up to position ``until``); the number of events read."""
        at = {p.name: p for p in self.projections}
        where = self._where()
        start = min(where.values())
        end = self.ledger.recorder.max_notification_id() or 0
        total = max(0, (end if until is None else min(end, until)) - start)
        done = 0
        try:
            while stored := self._read(start, until):
                changes = self._changes(stored)
                try:
                    with self.db.transaction() as tx:  # one commit for every projection
                        for name, projection in at.items():
                            if isinstance(projection, LogProjection):
                                where[name] = self._extend(tx, projection, where[name], stored)
                            else:
                                where[name] = self._apply(tx, projection, where[name], changes)
                except positions.ProjectionConflict:
                    # Someone else moved a position (a runner that just died may still have
                    # had a commit in flight): nothing was applied twice; resume from the truth.
                    where = self._where()
                    start = min(where.values())
                    self._states.clear()
                    continue
                start = stored[-1][0]
                done += len(stored)
                if progress:
                    progress(done, max(total, done))
                if len(stored) < self.batch_size:
                    break  # that was all there was when it was read
        except BaseException:
            self._states.clear()  # it may be ahead of what was committed
            raise
        return done

    def _read(self, after: int, until: int | None) -> list[Stored]:
        stored = read_log(self.ledger.recorder, after, self.batch_size)
        return stored if until is None else [s for s in stored if s[0] <= until]

    def _changes(self, stored: list[Stored]) -> list[Change]:
        if not self._decoding:
            return []
        return [self._states.change(position, self._event(s)) for position, s in stored]

    def _where(self) -> dict[str, int]:
        names = {p.name for p in self.projections}
        return {name: pos for name, pos in positions.positions(self.db).items() if name in names}

    def _apply(self, tx: Tx, projection: Projection, at: int, changes: list[Change]) -> int:
        """Apply the changes past ``at`` with the new position; the new position."""
        mine = [c for c in changes if c.position > at]
        if not mine:
            return at
        positions.move(tx, projection.name, at, mine)
        if at == 0:
            _empty(tx, projection)  # what a rebuild that died left behind
        projection.apply(tx, mine)
        return mine[-1].position

    def _extend(self, tx: Tx, projection: LogProjection, at: int, stored: list[Stored]) -> int:
        """Append the stored events past ``at`` with the new position; the new position."""
        mine = [s for s in stored if s[0] > at]
        if not mine:
            return at
        versions = [(_stream(s.originator_id), s.originator_version) for _, s in mine]
        positions.advance(tx, projection.name, at, mine[-1][0], versions)
        projection.extend(tx, mine)
        return mine[-1][0]

    def rebuild(self, progress: Progress | None = None, workers: int = 1) -> int:
        """Empty every projection and build it again from the first event (with ``workers``
        processes, or in this one); the only runner of them meanwhile."""
        evidence = [p.name for p in self.projections if isinstance(p, LogProjection)]
        if evidence:
            raise ValueError(f"{', '.join(evidence)} is evidence, extended but never rebuilt")
        views = [p for p in self.projections if isinstance(p, Projection)]
        with exclusive(self.db, [p.name for p in self.projections]):
            self._states.clear()
            if workers > 1:
                return rebuild(self.ledger, self.db, views, workers, self.batch_size, progress)
            with self.db.transaction() as tx:
                for projection in views:
                    _empty(tx, projection)
                    positions.reset(tx, projection.name)
            return self.catch_up(progress)

    def follow(self, stop: threading.Event, poll_interval: float = 0.5, standby: bool = False) -> None:
        """Keep the projections up to date until ``stop`` is set, as the only runner of them.

        With ``standby``, wait for a running one to stop first instead of refusing to start.
        A database out of reach (down, restarting, locked) is waited out: the runner lets go of
        its lock and connections, and takes them again once the database answers.
        """
        while not stop.is_set():
            try:
                self._follow(stop, poll_interval, standby)
            except Exception as error:
                if not out_of_reach(error):
                    raise
                _log.warning("the database is out of reach (%s); following again soon", type(error).__name__)
                stop.wait(1.0)

    def _follow(self, stop: threading.Event, poll_interval: float, standby: bool) -> None:
        names = [p.name for p in self.projections]
        with exclusive(self.db, names, standby), wait_for_news(self.ledger) as news:
            while not stop.is_set():
                if self.catch_up():
                    stop.wait(GATHER_SECONDS)
                else:
                    news(poll_interval)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until every projection has seen ``position``."""
        return positions.wait_until(self.db, [p.name for p in self.projections], position, timeout)

    def _event(self, stored: StoredEvent) -> ev.Event:
        return cast(ev.Event, self.ledger.mapper.to_domain_event(stored))


def _stream(originator_id: UUID | str) -> str:
    """An engagement id as the read models write it (the SQLite log reader leaves it as hex)."""
    return str(originator_id if isinstance(originator_id, UUID) else UUID(originator_id))


def _empty(tx: Tx, projection: Projection) -> None:
    for table in projection.tables:
        tx.execute(f"DELETE FROM {table}")
