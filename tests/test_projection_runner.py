"""The runner's promises: one runner per projection, following new events promptly (even when a
notification is lost), read-your-writes waits, and reconciliation that catches a skipped event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import psycopg
import pytest
from psycopg import sql

from bench.synthetic import load
from domain import commands as c
from domain import events as ev
from domain.service import Ledger
from projections import positions
from projections.db import ProjectionDB, open_projection_db
from projections.locks import AnotherRunnerActive
from projections.reconcile import reconcile
from projections.registry import all_projections
from projections.runner import Runner
from tests.support import CODE, PG_DSN, StepClock, opened
from tests.test_projection_laws import dump


@contextmanager
def following(runner: Runner, poll: float = 0.2) -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=runner.follow, args=(stop, poll), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.fixture
def parts(store: dict[str, str]) -> Iterator[tuple[Ledger, ProjectionDB]]:
    with Ledger(store, clock=StepClock()) as ledger:
        db = open_projection_db(ledger.settings)
        yield ledger, db
        db.close()


def test_a_second_runner_of_a_projection_is_refused_while_the_first_runs(
    parts: tuple[Ledger, ProjectionDB],
) -> None:
    ledger, db = parts
    first = Runner(ledger, db, all_projections())
    with following(first):
        assert first.wait_for(0, timeout=5)
        time.sleep(0.3)  # the first runner now holds its locks
        with pytest.raises(AnotherRunnerActive):
            Runner(ledger, db, all_projections()[:1]).follow(threading.Event())


def test_a_standby_runner_takes_over_when_the_active_one_stops(parts: tuple[Ledger, ProjectionDB]) -> None:
    ledger, db = parts
    active, standby = Runner(ledger, db, all_projections()), Runner(ledger, db, all_projections())
    stop_standby = threading.Event()
    with following(active):
        time.sleep(0.3)
        waiting = threading.Thread(target=standby.follow, args=(stop_standby, 0.1, True), daemon=True)
        waiting.start()
        ledger.execute(opened(), "dana")
        assert active.wait_for(1, timeout=5)
    position = ledger.execute(c.AssignManager(code=CODE, manager="Sam"), "dana").position
    assert position is not None
    assert standby.wait_for(position, timeout=5), "the standby runner should have taken over"
    stop_standby.set()
    waiting.join(timeout=10)


def test_a_follower_sees_a_new_event_within_a_fraction_of_a_second(
    parts: tuple[Ledger, ProjectionDB],
) -> None:
    ledger, db = parts
    runner = Runner(ledger, db, all_projections())
    with following(runner, poll=5.0):  # a poll this slow shows the wake-up is a notification
        time.sleep(0.3)
        position = ledger.execute(opened(), "dana").position
        assert position is not None
        assert runner.wait_for(position, timeout=2), "seen well before the next poll"


def test_a_lost_notification_only_delays_a_postgres_follower_until_its_next_poll(
    postgres_store: dict[str, str],
) -> None:
    with Ledger(postgres_store, clock=StepClock()) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            runner = Runner(ledger, db, all_projections())
            stored = ledger.mapper.to_stored_event(ledger.execute(opened(), "dana").events[0])
            assert runner.catch_up() == 1
            with following(runner, poll=0.3):
                time.sleep(0.2)
                # An event recorded without NOTIFY, as if the notification had been lost.
                table = sql.Identifier(postgres_store["POSTGRES_SCHEMA"], "ledger_events")
                with psycopg.connect(PG_DSN, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL(
                            "INSERT INTO {} (originator_id, originator_version, topic, state) "
                            "VALUES (%s, 2, %s, %s)"
                        ).format(table),
                        [stored.originator_id, "ledger:ManagerAssigned", _manager_assigned(ledger)],
                    )
                assert runner.wait_for(2, timeout=3)
        finally:
            db.close()


def _manager_assigned(ledger: Ledger) -> bytes:
    """The stored state of a valid version-2 event for the test engagement."""
    state = ledger.engagement(CODE)
    assigned = ev.ManagerAssigned(
        originator_id=state.id,
        originator_version=2,
        timestamp=state.last_changed_at,
        actor="dana",
        from_manager=state.manager,
        to_manager="Sam",
    )
    return ledger.mapper.to_stored_event(assigned).state


def test_waiting_for_a_position_no_runner_reaches_gives_up_in_time(
    parts: tuple[Ledger, ProjectionDB],
) -> None:
    ledger, db = parts
    runner = Runner(ledger, db, all_projections())
    ledger.execute(opened(), "dana")
    started = time.monotonic()
    assert not runner.wait_for(1, timeout=0.3)
    assert time.monotonic() - started < 10, "gave up rather than hanging"
    runner.catch_up()
    assert runner.wait_for(1, timeout=0.3)


def test_reconciliation_names_the_engagement_a_projection_skipped(parts: tuple[Ledger, ProjectionDB]) -> None:
    ledger, db = parts
    runner = Runner(ledger, db, all_projections())
    ledger.execute(opened(), "dana")
    ledger.execute(c.PlanMilestone(code=CODE, key="uat", title="UAT", baseline=date(2026, 3, 1)), "dana")
    runner.catch_up()
    assert reconcile(ledger, db, ["status", "slips", "audit"]) == []
    ledger.execute(c.AssignManager(code=CODE, manager="Sam"), "dana")
    with db.transaction() as tx:  # the audit projection jumps over event 3, as a buggy runner might
        tx.execute("UPDATE projection_positions SET position = 3 WHERE name = 'audit'")
    found = reconcile(ledger, db, ["status", "slips", "audit"])
    assert [(d.projection, d.store, d.seen) for d in found] == [("audit", (3, 3), (2, 2))]
    assert "audit: engagement" in str(found[0])
    assert positions.positions(db)["status"] == 2


def test_a_parallel_rebuild_makes_the_same_rows_as_a_sequential_one(
    parts: tuple[Ledger, ProjectionDB],
) -> None:
    ledger, db = parts
    load(ledger, engagements=6, events_each=500)
    runner = Runner(ledger, db, all_projections(), batch_size=200)
    end = ledger.recorder.max_notification_id()
    assert runner.rebuild() == end
    sequential = dump(db)
    assert runner.rebuild(workers=2) == end
    assert dump(db) == sequential
    assert set(positions.positions(db).values()) == {end}
    assert reconcile(ledger, db, [p.name for p in all_projections()]) == []


def test_a_runner_starting_from_zero_clears_what_a_dead_rebuild_left(
    parts: tuple[Ledger, ProjectionDB],
) -> None:
    ledger, db = parts
    load(ledger, engagements=3, events_each=200)
    runner = Runner(ledger, db, all_projections())
    runner.catch_up()
    complete = dump(db)
    with db.transaction() as tx:  # rows written, positions not yet declared: a rebuild cut short
        tx.execute("UPDATE projection_positions SET position = 0")
        tx.execute("DELETE FROM projection_streams")
    Runner(ledger, db, all_projections()).catch_up()
    assert dump(db) == complete
    assert reconcile(ledger, db, [p.name for p in all_projections()]) == []


def test_a_runner_whose_position_was_moved_under_it_resumes_without_applying_twice(
    parts: tuple[Ledger, ProjectionDB],
) -> None:
    ledger, db = parts
    load(ledger, engagements=2, events_each=300)
    Runner(ledger, db, all_projections()).catch_up()
    complete = dump(db)

    class Late(Runner):
        """Reads positions once before another runner moved them, as if it had lagged."""

        stale = True

        def _where(self) -> dict[str, int]:
            if self.stale:
                self.stale = False
                return {p.name: 0 for p in self.projections}
            return super()._where()

    late = Late(ledger, db, all_projections(), batch_size=100)
    assert late.catch_up() == 0, "its first batch conflicts; it resumes from the true positions"
    assert not late.stale
    assert dump(db) == complete
    assert reconcile(ledger, db, [p.name for p in all_projections()]) == []
