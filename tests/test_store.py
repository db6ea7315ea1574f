"""The storage contract, run on SQLite files and on PostgreSQL alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date

import psycopg
import pytest
from psycopg import sql

from domain import commands as c
from domain import errors
from domain import events as ev
from domain.service import Ledger
from domain.state import fold
from domain.values import ResponsibleParty, SlipCause, TaskStatus
from tests.support import CODE, PG_DSN, StepClock, opened


def _seed(ledger: Ledger) -> None:
    ledger.execute(opened(), actor="dana")
    ledger.execute(
        c.PlanMilestone(code=CODE, key="uat", title="UAT sign-off", baseline=date(2026, 3, 1)), "dana"
    )
    ledger.execute(c.AddTask(code=CODE, key="scripts", title="UAT scripts", milestone_key="uat"), "dana")


def _stream(ledger: Ledger) -> list[ev.Event]:
    return list(ledger.history(CODE))


def test_recorded_events_read_back_equal_and_in_order(ledger: Ledger) -> None:
    recorded = [
        *ledger.execute(opened(), actor="dana").events,
        *ledger.execute(
            c.PlanMilestone(code=CODE, key="uat", title="UAT", baseline=date(2026, 3, 1)), "dana"
        ).events,
        *ledger.execute(
            c.RescheduleMilestone(
                code=CODE,
                key="uat",
                to_date=date(2026, 3, 15),
                cause=SlipCause.VENDOR_DELAY,
                responsible_party=ResponsibleParty.VENDOR,
                reason="Vendor late",
                internal_note="penalty clause",
            ),
            "priya",
        ).events,
    ]
    assert _stream(ledger) == recorded
    assert [e.originator_version for e in recorded] == [1, 2, 3]
    assert recorded[2].actor == "priya"


def test_each_command_reports_its_version_and_a_growing_log_position(ledger: Ledger) -> None:
    first = ledger.execute(opened(), actor="dana")
    second = ledger.execute(c.AssignManager(code=CODE, manager="Sam"), "dana")
    assert (first.version, second.version) == (1, 2)
    assert first.position is not None
    assert second.position is not None
    assert second.position > first.position
    assert ledger.recorder.max_notification_id() == second.position


def test_a_command_that_changes_nothing_records_nothing(ledger: Ledger) -> None:
    _seed(ledger)
    outcome = ledger.execute(c.AssignManager(code=CODE, manager="Dana Whitfield"), "dana")
    assert (outcome.version, outcome.position, outcome.events) == (3, None, [])
    assert len(_stream(ledger)) == 3


BAD_COMMANDS: list[tuple[Callable[[], c.Command], type[errors.RuleViolation]]] = [
    (lambda: c.AssignManager(code="NOPE-1", manager="Sam"), errors.EngagementNotFound),
    (
        lambda: c.RescheduleMilestone(code=CODE, key="nope", to_date=date(2026, 4, 1), reason="x"),
        errors.UnknownMilestone,
    ),
    (
        lambda: c.PlanMilestone(code=CODE, key="early", title="Early", baseline=date(2025, 12, 1)),
        errors.DateBeforeEngagementStart,
    ),
    (
        lambda: c.RescheduleMilestone(code=CODE, key="uat", to_date=date(2026, 2, 1), reason="  "),
        errors.ReasonRequired,
    ),
    (
        lambda: c.ChangeTaskStatus(code=CODE, key="scripts", to_status=TaskStatus.BLOCKED),
        errors.ReasonRequired,
    ),
    (lambda: opened(), errors.EngagementAlreadyExists),
]


@pytest.mark.parametrize(("make", "rule"), BAD_COMMANDS)
def test_a_refused_command_gets_the_named_error_and_leaves_the_stream_untouched(
    ledger: Ledger, make: Callable[[], c.Command], rule: type[errors.RuleViolation]
) -> None:
    _seed(ledger)
    before = _stream(ledger)
    with pytest.raises(rule):
        ledger.execute(make(), "dana")
    assert _stream(ledger) == before
    assert ledger.recorder.max_notification_id() == 3


def test_an_illegal_task_transition_leaves_the_stream_untouched(ledger: Ledger) -> None:
    _seed(ledger)
    ledger.execute(
        c.ChangeTaskStatus(code=CODE, key="scripts", to_status=TaskStatus.CANCELLED, reason="x"), "d"
    )
    with pytest.raises(errors.IllegalTaskTransition):
        ledger.execute(c.ChangeTaskStatus(code=CODE, key="scripts", to_status=TaskStatus.DONE), "dana")
    assert len(_stream(ledger)) == 4


def test_a_closed_engagement_refuses_every_change_and_records_nothing(ledger: Ledger) -> None:
    _seed(ledger)
    ledger.execute(c.CloseEngagement(code=CODE, reason="Contract ended"), "dana")
    for command in [
        c.AssignManager(code=CODE, manager="Sam"),
        c.AddTask(code=CODE, title="One more"),
        c.Resume(code=CODE),
        c.CloseEngagement(code=CODE, reason="again"),
    ]:
        with pytest.raises(errors.EngagementIsClosed):
            ledger.execute(command, "dana")
    assert len(_stream(ledger)) == 4


def test_an_expected_version_that_moved_is_refused_and_nothing_is_recorded(ledger: Ledger) -> None:
    _seed(ledger)
    with pytest.raises(errors.ExpectedVersionMismatch):
        ledger.execute(c.AssignManager(code=CODE, manager="Sam"), "dana", expected_version=2)
    assert len(_stream(ledger)) == 3
    assert ledger.execute(c.AssignManager(code=CODE, manager="Sam"), "dana", expected_version=3).version == 4


def test_expected_version_zero_means_the_engagement_must_not_exist(ledger: Ledger) -> None:
    assert ledger.execute(opened(), "dana", expected_version=0).version == 1
    with pytest.raises(errors.ExpectedVersionMismatch):
        ledger.execute(opened(), "dana", expected_version=0)


def test_a_long_stream_is_snapshotted_and_loads_the_same_from_a_fresh_process(store: dict[str, str]) -> None:
    with Ledger(store, clock=StepClock()) as writer:
        _seed(writer)
        for n in range(Ledger.snapshot_interval * 2):
            status = TaskStatus.IN_PROGRESS if n % 2 == 0 else TaskStatus.TODO
            writer.execute(c.ChangeTaskStatus(code=CODE, key="scripts", to_status=status), "dana")
        assert writer.snapshots is not None
        snapshots = list(writer.snapshots.get(writer.engagement(CODE).id))
        events = list(writer.history(CODE))
    assert [s.originator_version for s in snapshots] == [100, 200]
    with Ledger(store | {"AGGREGATE_CACHE_MAXSIZE": ""}) as reader:
        assert reader.engagement(CODE) == fold(None, events)
        assert reader.engagement(CODE, version=150) == fold(None, events[:150])
        assert reader.engagement(CODE).version == Ledger.snapshot_interval * 2 + 3


def test_sqlite_refuses_update_and_delete_of_stored_events(sqlite_store: dict[str, str]) -> None:
    with Ledger(sqlite_store) as ledger:
        _seed(ledger)
    db = sqlite3.connect(sqlite_store["SQLITE_DBNAME"])
    try:
        for statement in ["UPDATE stored_events SET state = x'00'", "DELETE FROM stored_events"]:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)
        assert db.execute("SELECT count(*) FROM stored_events").fetchone() == (3,)
    finally:
        db.close()


def test_postgres_refuses_update_delete_and_truncate_of_stored_events(postgres_store: dict[str, str]) -> None:
    with Ledger(postgres_store) as ledger:
        _seed(ledger)
    table = sql.Identifier(postgres_store["POSTGRES_SCHEMA"], "ledger_events")
    with psycopg.connect(PG_DSN, autocommit=True) as db:
        for statement in ["UPDATE {} SET state = '\\x00'", "DELETE FROM {}", "TRUNCATE {}"]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                db.execute(sql.SQL(statement).format(table))
        row = db.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    assert row == (3,)


def test_installing_the_guard_twice_is_harmless(store: dict[str, str]) -> None:
    with Ledger(store) as first, Ledger(store) as second:
        first.execute(opened(), "dana")
        assert second.engagement(CODE).version == 1


def test_a_writer_with_a_stale_view_never_overwrites_or_misjudges_another_writers_change(
    store: dict[str, str],
) -> None:
    with Ledger(store, clock=StepClock()) as a, Ledger(store, clock=StepClock()) as b:
        a.execute(opened(), "ann")
        b.execute(c.AssignManager(code=CODE, manager="Bo"), "bo")
        b.execute(c.PlanMilestone(code=CODE, key="uat", title="UAT", baseline=date(2026, 3, 1)), "bo")
        # a last saw version 1, with Dana as manager and no milestone.
        assert a.execute(c.AssignManager(code=CODE, manager="Dana Whitfield"), "ann").version == 4
        moved = a.execute(
            c.RescheduleMilestone(code=CODE, key="uat", to_date=date(2026, 2, 20), reason="early"), "ann"
        )
        assert moved.version == 5
        b.execute(c.AddTask(code=CODE, key="t", title="T"), "bo")
        assert a.execute(c.AddTask(code=CODE, key="u", title="U"), "ann").version == 7
    stream = list(Ledger(store).history(CODE))
    assert [type(e).__name__ for e in stream] == [
        "EngagementOpened",
        "ManagerAssigned",
        "MilestonePlanned",
        "ManagerAssigned",
        "MilestoneRescheduled",
        "TaskAdded",
        "TaskAdded",
    ]


def test_two_applications_sharing_a_postgres_schema_keep_their_own_events(
    postgres_store: dict[str, str],
) -> None:
    """Each events table has an insert function of its own: one class's writes never land in another's."""

    class Archive(Ledger):
        name = "Archive"

    with Ledger(postgres_store) as ledger, Archive(postgres_store) as archive:
        ledger.execute(opened(), "dana")
        archive.execute(opened(code="ARCHIVE-1"), "dana")
        ledger.execute(opened(code="LEDGER-2"), "dana")
        assert ledger.engagement_or_none("ARCHIVE-1") is None
        assert archive.engagement_or_none(CODE) is None
        assert ledger.recorder.max_notification_id() == 2
        assert archive.recorder.max_notification_id() == 1
