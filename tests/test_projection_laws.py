"""Laws every projection keeps, for random histories: live, restarted and rebuilt rows are
the same rows, and equal a pure in-memory fold of the stored events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import commands as c
from domain import events as ev
from domain.service import Ledger
from domain.state import Engagement, evolve
from domain.store import sqlite_env
from projections.base import Change
from projections.db import ProjectionDB, SQLiteDB, open_projection_db
from projections.registry import all_projections
from projections.runner import Runner
from tests.strategies import accepted, commands
from tests.support import StepClock, postgres_schema

Rows = dict[str, list[tuple[Any, ...]]]


def dump(db: ProjectionDB) -> Rows:
    """Every row of every projection table, in a fixed order."""
    return {
        table: sorted(tuple(r.values()) for r in db.query(f"SELECT * FROM {table}"))
        for projection in all_projections()
        for table in projection.tables
    }


def pure_fold(ledger: Ledger, folder: Path) -> Rows:
    """The projections applied straight from the stored events, with no runner and no store reads."""
    states: dict[Any, Engagement] = {}
    changes = []
    for n in ledger.recorder.select_notifications(0, 1_000_000):
        event = cast(ev.Event, ledger.mapper.to_domain_event(n))
        before = states.get(event.originator_id)
        states[event.originator_id] = after = evolve(before, event)
        changes.append(Change(n.id, event, before, after))
    db = SQLiteDB(folder / "pure.sqlite")
    try:
        with db.transaction() as tx:
            for projection in all_projections():
                for statement in projection.schema(db.dialect):
                    tx.execute(statement)
                if changes:
                    projection.apply(tx, changes)
        return dump(db)
    finally:
        db.close()


def live_restarted_rebuilt(
    ledger: Ledger, history: list[c.Command], batch: int, restarts: set[int], folder: Path
) -> None:
    db = open_projection_db(ledger.settings)
    try:
        runner = Runner(ledger, db, all_projections(), batch_size=batch)
        for n, command in enumerate(history):
            ledger.execute(command, actor="dana")
            if n in restarts:
                runner = Runner(ledger, db, all_projections(), batch_size=batch + n % 3)
            runner.catch_up()
        live = dump(db)
        runner.rebuild()
        assert live == dump(db)
        assert live == pure_fold(ledger, folder)
    finally:
        db.close()


histories = st.tuples(commands, st.integers(1, 6), st.sets(st.integers(0, 45), max_size=4))


@contextmanager
def sqlite_settings() -> Iterator[tuple[dict[str, str], Path]]:
    with TemporaryDirectory() as folder:
        yield sqlite_env(Path(folder) / "data"), Path(folder)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_projections_agree_however_they_are_built_on_sqlite(
    case: tuple[list[c.Command], int, set[int]],
) -> None:
    candidates, batch, restarts = case
    with sqlite_settings() as (env, folder), Ledger(env, clock=StepClock()) as ledger:
        history = [command for command, _ in accepted(candidates)]
        live_restarted_rebuilt(ledger, history, batch, restarts, folder)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_projections_agree_however_they_are_built_on_postgres(
    case: tuple[list[c.Command], int, set[int]],
) -> None:
    candidates, batch, restarts = case
    with (
        TemporaryDirectory() as folder,
        postgres_schema() as env,
        Ledger(env, clock=StepClock()) as ledger,
    ):
        history = [command for command, _ in accepted(candidates)]
        live_restarted_rebuilt(ledger, history, batch, restarts, Path(folder))
