"""Rebuilding projections from the first event, on every core.

History projections (rows that each depend on one change alone) are rebuilt in stretches of
the log, one process per stretch. State projections need only each engagement's latest
state, loaded from its snapshot and the events after it. Positions are declared last, in one
transaction; until then they stay at zero, and a runner starting from zero empties its
projection first, so a rebuild that dies half-way leaves nothing half-counted.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.sharedctypes import Synchronized
from typing import cast
from uuid import UUID

from domain import events as ev
from domain.service import Ledger
from domain.store import StreamStats, read_log, stream_stats
from projections import positions
from projections.base import Change, Projection
from projections.db import ProjectionDB, open_projection_db
from projections.registry import all_projections
from projections.states import States

Progress = Callable[[int, int], None]


def rebuild(
    ledger: Ledger,
    db: ProjectionDB,
    projections: Sequence[Projection],
    workers: int,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> int:
    """Rebuild ``projections`` up to the log's current end; the number of positions covered."""
    end = ledger.recorder.max_notification_id() or 0
    with db.transaction() as tx:
        for projection in projections:
            for table in projection.tables:
                tx.execute(f"DELETE FROM {table}")
            positions.reset(tx, projection.name)
    history = [p.name for p in projections if p.keeps == "history"]
    stats = stream_stats(ledger.recorder, end)
    with _stretches(dict(ledger.settings), history, end, workers, batch_size) as running:
        latest = _latest(ledger, stats) if any(p.keeps == "state" for p in projections) else []
        running.wait(progress, end)
    seen = {str(stream): (s.events, s.last_version) for stream, s in stats.items()}
    with db.transaction() as tx:
        for projection in projections:
            if projection.keeps == "state" and latest:
                projection.apply(tx, latest)
            positions.settle(tx, projection.name, end, seen)
    return end


def _latest(ledger: Ledger, stats: Mapping[UUID, StreamStats]) -> list[Change]:
    """Each engagement's last event, with the engagement just before and after it."""
    states = States(ledger)
    changes = []
    for stream, s in stats.items():
        last = cast(ev.Event, next(iter(ledger.events.get(stream, gt=s.last_version - 1))))
        changes.append(states.change(s.last_position, last))
    return changes


class _Running:
    def __init__(
        self, processes: Sequence[multiprocessing.process.BaseProcess], done: Synchronized[int]
    ) -> None:
        self.processes = processes
        self.done = done

    def wait(self, progress: Progress | None, end: int) -> None:
        while any(p.is_alive() for p in self.processes):
            if progress:
                progress(min(self.done.value, end), end)
            time.sleep(0.2)
        failed = [p.exitcode for p in self.processes if p.exitcode]
        if failed:
            raise RuntimeError(f"a rebuild process failed (exit status {failed[0]})")
        if progress:
            progress(end, end)


class _Stretches:
    def __init__(
        self, settings: dict[str, str], names: list[str], end: int, workers: int, batch: int
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.done: Synchronized[int] = cast("Synchronized[int]", context.Value("q", 0))
        bounds = [end * n // workers for n in range(workers + 1)] if names and end else []
        self.processes = [
            context.Process(target=rebuild_stretch, args=(settings, names, a, b, batch, self.done))
            for a, b in itertools.pairwise(bounds)
            if b > a
        ]

    def __enter__(self) -> _Running:
        for process in self.processes:
            process.start()
        return _Running(self.processes, self.done)

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _stretches(settings: dict[str, str], names: list[str], end: int, workers: int, batch: int) -> _Stretches:
    return _Stretches(settings, names, end, workers, batch)


def rebuild_stretch(
    settings: dict[str, str], names: list[str], start: int, stop: int, batch: int, done: Synchronized[int]
) -> None:
    """In its own process: the rows of the projections ``names`` for positions in (start, stop]."""
    with Ledger(settings) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            chosen = [p for p in all_projections() if p.name in names]
            states = States(ledger)
            at = start
            while at < stop:
                stored = [s for s in read_log(ledger.recorder, at, batch) if s[0] <= stop]
                if not stored:
                    break
                changes = [
                    states.change(pos, cast(ev.Event, ledger.mapper.to_domain_event(s))) for pos, s in stored
                ]
                with db.transaction() as tx:
                    for projection in chosen:
                        projection.apply(tx, changes)
                at = stored[-1][0]
                with done.get_lock():
                    done.value += len(stored)
        finally:
            db.close()
