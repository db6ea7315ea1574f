"""The current-status projection on SQLite and PostgreSQL: slip, progress, health, portfolio, rebuild."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from itertools import chain, zip_longest
from typing import Any

import pytest

from api.demo import demo_steps, seed_demo
from domain import commands as c
from domain.service import Ledger
from domain.values import ResponsibleParty, SlipCause, TaskStatus
from projections.db import ProjectionDB, Row, open_projection_db
from projections.runner import Runner
from projections.status import CurrentStatus, EngagementStatus, engagement_status, portfolio
from tests.support import CODE, opened

LATE = {"cause": SlipCause.VENDOR_DELAY, "responsible_party": ResponsibleParty.VENDOR, "reason": "Vendor"}
TABLES = {
    "status_engagements": "engagement_id",
    "status_milestones": "engagement_id, key",
    "status_scope": "engagement_id, key",
    "status_tasks": "engagement_id, key",
}


@pytest.fixture
def db(ledger: Ledger) -> Iterator[ProjectionDB]:
    database = open_projection_db(ledger.settings)
    yield database
    database.close()


def catch_up(ledger: Ledger, db: ProjectionDB, batch_size: int = 1000) -> int:
    return Runner(ledger, db, [CurrentStatus()], batch_size=batch_size).catch_up()


def status(db: ProjectionDB, code: str = CODE) -> EngagementStatus:
    found = engagement_status(db, code)
    assert found is not None
    return found


def milestone(db: ProjectionDB, key: str, code: str = CODE) -> Row:
    return next(m for m in status(db, code).milestones if m["key"] == key)


def plan(key: str, title: str, baseline: date, code: str = CODE) -> c.PlanMilestone:
    return c.PlanMilestone(code=code, key=key, title=title, baseline=baseline)


def move(key: str, to_date: date, code: str = CODE) -> c.RescheduleMilestone:
    return c.RescheduleMilestone(code=code, key=key, to_date=to_date, **LATE)


def task(key: str, to_status: TaskStatus | None = None, code: str = CODE) -> c.Command:
    if to_status is None:
        return c.AddTask(code=code, key=key, title=f"Task {key}")
    return c.ChangeTaskStatus(code=code, key=key, to_status=to_status, reason="status")


def record(ledger: Ledger, *commands: c.Command) -> None:
    for command in commands:
        ledger.execute(command, actor="dana")


def _slips(row: Row) -> tuple[Any, ...]:
    keys = ("baseline", "original_baseline", "forecast", "actual", "slip_days", "slip_vs_original_days")
    return tuple(row[k] for k in keys)


def test_slip_counts_days_against_the_current_and_the_original_baseline(
    ledger: Ledger, db: ProjectionDB
) -> None:
    record(ledger, opened(), plan("uat", "UAT sign-off", date(2026, 2, 2)))
    record(ledger, *(move("uat", day) for day in (date(2026, 2, 16), date(2026, 2, 23), date(2026, 2, 20))))
    catch_up(ledger, db)  # +14, +7, -3: the forecast is 18 days late against both baselines
    assert _slips(milestone(db, "uat")) == ("2026-02-02", "2026-02-02", "2026-02-20", None, 18, 18)

    rebaseline = c.RebaselineMilestone(
        code=CODE,
        key="uat",
        to_date=date(2026, 2, 16),
        approved_by="Steering",
        change_ref="CR-1",
        reason="re",
    )
    record(ledger, rebaseline)
    catch_up(ledger, db)
    assert _slips(milestone(db, "uat")) == ("2026-02-16", "2026-02-02", "2026-02-20", None, 4, 18)
    row = status(db).engagement
    assert (row["next_milestone"], row["next_milestone_forecast"], row["current_slip_days"]) == (
        "uat",
        "2026-02-20",
        4,
    )
    assert (row["health"], row["health_reason"]) == ("amber", "UAT sign-off 4 days late")

    record(ledger, c.AchieveMilestone(code=CODE, key="uat", actual_on=date(2026, 2, 25), **LATE))
    catch_up(ledger, db)
    achieved = milestone(db, "uat")
    assert _slips(achieved) == ("2026-02-16", "2026-02-02", "2026-02-20", "2026-02-25", 9, 23)
    assert achieved["status"] == "achieved"
    row = status(db).engagement
    assert (row["next_milestone"], row["next_milestone_forecast"], row["current_slip_days"]) == (None,) * 3
    assert (row["milestones_total"], row["milestones_achieved"]) == (1, 1)
    assert (row["health"], row["health_reason"]) == ("green", "on track")


def test_percent_done_counts_done_tasks_among_those_not_cancelled(ledger: Ledger, db: ProjectionDB) -> None:
    record(ledger, opened(), *(task(k) for k in "abcd"))
    record(ledger, task("a", TaskStatus.DONE), task("b", TaskStatus.DONE), task("c", TaskStatus.CANCELLED))
    record(ledger, task("d", TaskStatus.IN_PROGRESS))
    catch_up(ledger, db)
    row = status(db).engagement
    assert (row["tasks_total"], row["tasks_done"], row["percent_done"]) == (3, 2, 67)
    assert row["tasks_by_status"] == {"todo": 0, "in_progress": 1, "blocked": 0, "done": 2, "cancelled": 1}
    grouped = status(db).tasks_by_status
    assert [t["key"] for t in grouped["done"]] == ["a", "b"]
    assert [t["key"] for t in grouped["cancelled"]] == ["c"]


def test_percent_done_rounds_half_up(ledger: Ledger, db: ProjectionDB) -> None:
    record(ledger, opened(), *(task(k) for k in "abcdefgh"), task("a", TaskStatus.DONE))
    catch_up(ledger, db)
    assert status(db).engagement["percent_done"] == 13  # 1 of 8 is 12.5


def test_percent_done_is_zero_without_tasks_or_with_only_cancelled_ones(
    ledger: Ledger, db: ProjectionDB
) -> None:
    record(ledger, opened())
    catch_up(ledger, db)
    assert status(db).engagement["percent_done"] == 0
    record(ledger, task("a"), task("a", TaskStatus.CANCELLED))
    catch_up(ledger, db)
    row = status(db).engagement
    assert (row["tasks_total"], row["tasks_done"], row["percent_done"]) == (0, 0, 0)
    assert row["tasks_by_status"]["cancelled"] == 1


HEALTH_CASES: dict[str, tuple[list[c.Command], str, str]] = {
    "on-track": ([], "green", "on track"),
    "early-is-fine": ([move("uat", date(2026, 1, 28))], "green", "on track"),
    "ten-days-is-amber": ([move("uat", date(2026, 2, 12))], "amber", "UAT sign-off 10 days late"),
    "eleven-days-is-red": ([move("uat", date(2026, 2, 13))], "red", "UAT sign-off 11 days late"),
    "red-names-red-milestones-latest-first": (
        [move("uat", date(2026, 2, 13)), move("go-live", date(2026, 3, 2)), task("t1", TaskStatus.BLOCKED)],
        "red",
        "Go-live 14 days late; UAT sign-off 11 days late",
    ),
    "one-blocked-task": ([task("t1", TaskStatus.BLOCKED)], "amber", "1 task blocked"),
    "two-blocked-tasks": (
        [task("t1", TaskStatus.BLOCKED), task("t2", TaskStatus.BLOCKED)],
        "amber",
        "2 tasks blocked",
    ),
    "on-hold": ([c.PutOnHold(code=CODE, reason="freeze")], "amber", "on hold"),
    "every-amber-reason": (
        [move("uat", date(2026, 2, 5)), task("t1", TaskStatus.BLOCKED), c.PutOnHold(code=CODE, reason="x")],
        "amber",
        "UAT sign-off 3 days late; 1 task blocked; on hold",
    ),
    "achieved-late-no-longer-counts": (
        [
            move("uat", date(2026, 2, 16)),
            c.AchieveMilestone(code=CODE, key="uat", actual_on=date(2026, 2, 16)),
        ],
        "green",
        "on track",
    ),
    "cancelled-late-no-longer-counts": (
        [move("go-live", date(2026, 3, 2)), c.CancelMilestone(code=CODE, key="go-live", reason="dropped")],
        "green",
        "on track",
    ),
    "rebaselined-to-the-forecast": (
        [
            move("go-live", date(2026, 3, 2)),
            c.RebaselineMilestone(
                code=CODE,
                key="go-live",
                to_date=date(2026, 3, 2),
                approved_by="J",
                change_ref="CR",
                reason="r",
            ),
        ],
        "green",
        "on track",
    ),
    "closed-is-green-whatever-else": (
        [
            move("go-live", date(2026, 3, 2)),
            task("t1", TaskStatus.BLOCKED),
            c.CloseEngagement(code=CODE, reason="done"),
        ],
        "green",
        "closed",
    ),
}


@pytest.mark.parametrize(("commands", "colour", "reason"), HEALTH_CASES.values(), ids=HEALTH_CASES.keys())
def test_health_colour_and_reason_follow_the_documented_rule(
    ledger: Ledger, db: ProjectionDB, commands: list[c.Command], colour: str, reason: str
) -> None:
    record(ledger, opened(), plan("uat", "UAT sign-off", date(2026, 2, 2)))
    record(ledger, plan("go-live", "Go-live", date(2026, 2, 16)), task("t1"), task("t2"), *commands)
    catch_up(ledger, db)
    row = status(db).engagement
    assert (row["health"], row["health_reason"]) == (colour, reason)


def test_next_milestone_is_the_open_one_with_the_earliest_forecast(ledger: Ledger, db: ProjectionDB) -> None:
    record(
        ledger, opened(), plan("design", "Design", date(2026, 2, 2)), plan("pilot", "Pilot", date(2026, 2, 9))
    )
    record(ledger, plan("uat", "UAT", date(2026, 3, 1)), plan("build", "Build", date(2026, 3, 15)))
    record(ledger, c.AchieveMilestone(code=CODE, key="design", actual_on=date(2026, 2, 2)))
    record(
        ledger, c.CancelMilestone(code=CODE, key="pilot", reason="dropped"), move("uat", date(2026, 3, 21))
    )
    catch_up(ledger, db)
    row = status(db).engagement
    assert (row["next_milestone"], row["next_milestone_forecast"], row["current_slip_days"]) == (
        "build",
        "2026-03-15",
        0,
    )
    record(ledger, move("build", date(2026, 3, 25)))
    catch_up(ledger, db)
    row = status(db).engagement
    assert (row["next_milestone"], row["next_milestone_forecast"], row["current_slip_days"]) == (
        "uat",
        "2026-03-21",
        20,
    )
    pilot = milestone(db, "pilot")
    assert (pilot["status"], pilot["slip_days"], pilot["slip_vs_original_days"]) == ("cancelled", None, None)
    assert (row["milestones_total"], row["milestones_achieved"]) == (3, 1)


def test_a_clients_portfolio_shows_only_its_engagements_by_code(ledger: Ledger, db: ProjectionDB) -> None:
    record(
        ledger, opened(code="ACME-WMS"), opened(code="GLOBEX-CRM", client_id="globex", client_name="Globex")
    )
    last = ledger.execute(opened(code="ACME-ERP"), actor="dana")
    catch_up(ledger, db)
    assert [r["code"] for r in portfolio(db)] == ["ACME-ERP", "ACME-WMS", "GLOBEX-CRM"]
    assert [r["code"] for r in portfolio(db, "acme")] == ["ACME-ERP", "ACME-WMS"]
    assert [r["code"] for r in portfolio(db, "globex")] == ["GLOBEX-CRM"]
    assert portfolio(db, "initech") == []
    row = status(db, " acme-erp ").engagement
    assert (row["version"], row["last_position"]) == (last.version, last.position)
    assert engagement_status(db, "NO-SUCH") is None


class _Script:
    """The demo's clock: the time of the step being recorded."""

    now = datetime.fromisoformat("2026-01-01T00:00:00+00:00")

    def __call__(self) -> datetime:
        return self.now


def _record_demo_until(store: dict[str, str], command_type: type[c.Command]) -> None:
    """Record the demo's steps up to and including the first ``command_type`` step."""
    clock = _Script()
    ledger = Ledger(store, clock=clock)
    try:
        for step in demo_steps():
            clock.now = step.at
            ledger.execute(step.command, actor=step.actor)
            if isinstance(step.command, command_type):
                return
    finally:
        ledger.close()


def _health(db: ProjectionDB) -> tuple[str, str]:
    row = status(db, "ACME-ERP").engagement
    return row["health"], row["health_reason"]


def test_the_demo_engagement_projects_as_its_script_says(store: dict[str, str]) -> None:
    ledger = Ledger(store)
    db = open_projection_db(ledger.settings)
    try:
        _record_demo_until(store, c.PutOnHold)  # 2026-06-29: UAT on its baseline, build done
        catch_up(ledger, db)
        assert _health(db) == ("amber", "on hold")
        row = status(db, "ACME-ERP").engagement
        assert (row["next_milestone"], row["next_milestone_forecast"], row["current_slip_days"]) == (
            "uat-signoff",
            "2026-07-17",
            0,
        )
        assert seed_demo(store) > 0
        catch_up(ledger, db)
        _check_finished_demo(status(db, "ACME-ERP"))
    finally:
        db.close()
        ledger.close()


def _check_finished_demo(demo: EngagementStatus) -> None:
    row = demo.engagement
    assert (row["manager"], row["state"], row["version"]) == ("Sam Okafor", "active", len(demo_steps()))
    assert (row["planned_start"], row["planned_end"]) == ("2026-01-05", "2026-10-30")
    assert row["last_changed_at"] == "2026-10-05T09:00:00+00:00"
    assert (row["milestones_total"], row["milestones_achieved"]) == (4, 4)
    assert (row["tasks_total"], row["tasks_done"], row["percent_done"]) == (4, 4, 100)
    assert row["tasks_by_status"] == {"todo": 0, "in_progress": 0, "blocked": 0, "done": 4, "cancelled": 1}
    assert (row["health"], row["health_reason"], row["next_milestone"]) == ("green", "on track", None)
    slips = {m["key"]: (m["status"], m["slip_days"], m["slip_vs_original_days"]) for m in demo.milestones}
    assert slips == {
        "design-signoff": ("achieved", 5, 5),  # 02-27 -> 03-04
        "build-complete": ("achieved", 18, 18),  # 05-29 -> 06-16
        "uat-signoff": ("achieved", 19, 19),  # 07-17 -> 08-05
        "go-live": ("achieved", 4, 32),  # re-baselined 08-31 -> 09-28; achieved 10-02
        "portal-pilot": ("cancelled", None, None),
    }
    scope = {s["key"]: (s["title"], s["removed"]) for s in demo.scope}
    assert scope["supplier-portal"] == ("Supplier self-service portal", 1)
    assert scope["o2c"] == ("Order-to-cash with EDI", 0)
    assert len(scope) == 6
    tasks = {t["key"]: (t["status"], t["assignee"], t["due_on"]) for t in demo.tasks}
    assert tasks["uat-scripts"] == ("done", "lena.berg", "2026-07-24")
    assert tasks["report-rewrite"] == ("cancelled", None, None)


def _history(code: str, client_id: str) -> list[c.Command]:
    return [
        opened(code=code, client_id=client_id),
        c.AddScopeItem(code=code, key="core", title="Core", reason="SOW"),
        plan("build", "Build", date(2026, 2, 2), code),
        plan("uat", "UAT", date(2026, 2, 16), code),
        task("t1", code=code),
        task("t2", code=code),
        move("build", date(2026, 2, 9), code),
        task("t1", TaskStatus.BLOCKED, code),
        c.ReviseScopeItem(code=code, key="core", description="Core and more", reason="CR"),
        c.AchieveMilestone(code=code, key="build", actual_on=date(2026, 2, 12), **LATE),
        task("t1", TaskStatus.IN_PROGRESS, code),
        task("t2", TaskStatus.DONE, code),
        move("uat", date(2026, 3, 1), code),
    ]


def _rows(db: ProjectionDB) -> dict[str, list[Row]]:
    return {table: db.query(f"SELECT * FROM {table} ORDER BY {order}") for table, order in TABLES.items()}


def test_one_go_small_batches_and_rebuild_give_the_same_rows(ledger: Ledger, db: ProjectionDB) -> None:
    histories = [_history("ACME-ERP", "acme"), _history("ACME-WMS", "acme"), _history("GLOBEX", "globex")]
    interleaved = [command for command in chain(*zip_longest(*histories)) if command is not None]
    small = Runner(ledger, db, [CurrentStatus()], batch_size=3)
    for n, command in enumerate(interleaved):
        record(ledger, command)
        if n % 5 == 4:
            small.catch_up()
    small.catch_up()
    in_small_batches = _rows(db)
    assert Runner(ledger, db, [CurrentStatus()]).rebuild() == len(interleaved)
    assert _rows(db) == in_small_batches
    assert small.rebuild() == len(interleaved)
    assert _rows(db) == in_small_batches
    assert len(in_small_batches["status_engagements"]) == 3
    assert len(in_small_batches["status_tasks"]) == 6
