"""Domain tests of tasks: added, moved along the allowed transitions, assigned, rescheduled."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import product
from typing import Any

import pydantic
import pytest

from domain import commands as c
from domain import errors
from domain import events as ev
from domain.decide.tasks import ALLOWED
from domain.state import Engagement
from domain.values import TaskStatus, engagement_id
from tests.support import CODE, START, head, opened, state_of, when

T = TaskStatus
ID = engagement_id(CODE)
DUE = date(2026, 4, 1)


PLAN_UAT = c.PlanMilestone(code=CODE, key="uat", title="UAT sign-off", baseline=date(2026, 6, 1))


def add(key: str | None = "configure", title: str = "Configure ledger", **fields: Any) -> c.AddTask:
    return c.AddTask(code=CODE, key=key, title=title, **fields)


def move(to_status: TaskStatus, reason: str | None = "because") -> c.ChangeTaskStatus:
    return c.ChangeTaskStatus(code=CODE, key="configure", to_status=to_status, reason=reason)


def assign(assignee: str | None) -> c.AssignTask:
    return c.AssignTask(code=CODE, key="configure", assignee=assignee)


def reschedule(to_date: date, reason: str | None = "data arrives late") -> c.RescheduleTask:
    return c.RescheduleTask(code=CODE, key="configure", to_date=to_date, reason=reason)


def task_in(status: TaskStatus, *more: c.Command) -> Engagement:
    """The engagement with task ``configure`` in ``status`` (every status is one step from todo)."""
    steps = [] if status is T.TODO else [move(status, reason="to set the scene")]
    return state_of(opened(), PLAN_UAT, add(), *steps, *more)


# Add
def test_adding_a_task_records_its_title_milestone_assignee_and_due_date() -> None:
    command = add(
        milestone_key="uat", assignee="Sam Lee", due_on=DUE, reason="from the plan", change_ref="CR-1"
    )

    assert when(state_of(opened(), PLAN_UAT), command) == [
        ev.TaskAdded(
            **head(3, reason="from the plan", change_ref="CR-1"),
            key="configure",
            title="Configure ledger",
            milestone_key="uat",
            assignee="Sam Lee",
            due_on=DUE,
        )
    ]


def test_a_task_needs_only_a_title() -> None:
    assert when(state_of(opened()), add()) == [
        ev.TaskAdded(**head(2), key="configure", title="Configure ledger")
    ]


def test_a_new_task_starts_as_todo() -> None:
    assert task_in(T.TODO).tasks["configure"].status is T.TODO


def test_adding_a_task_with_a_key_that_exists_is_refused() -> None:
    with pytest.raises(errors.TaskAlreadyExists):
        when(task_in(T.TODO), add(title="Configure again"))


def test_a_task_added_without_a_key_gets_a_slug_of_its_title() -> None:
    (event,) = when(state_of(opened()), add(key=None, title="Load 2025 GL balances"))
    assert isinstance(event, ev.TaskAdded)
    assert event.key == "load-2025-gl-balances"


def test_server_assigned_task_keys_are_made_unique_with_a_counter() -> None:
    state = state_of(opened(), add(key=None), add(key=None), add(key=None, title="configure LEDGER"))
    assert list(state.tasks) == ["configure-ledger", "configure-ledger-2", "configure-ledger-3"]


def test_adding_a_task_to_an_unknown_milestone_is_refused() -> None:
    with pytest.raises(errors.UnknownMilestone):
        when(state_of(opened(), PLAN_UAT), add(milestone_key="go-live"))


def test_adding_a_task_due_before_the_engagement_starts_is_refused() -> None:
    with pytest.raises(errors.DateBeforeEngagementStart):
        when(state_of(opened()), add(due_on=START - timedelta(days=1)))


def test_a_task_may_be_due_on_the_first_day() -> None:
    (event,) = when(state_of(opened()), add(due_on=START))
    assert isinstance(event, ev.TaskAdded)
    assert event.due_on == START


@pytest.mark.parametrize("field", ["key", "milestone_key"])
@pytest.mark.parametrize("value", ["Configure", "-configure", "configure ledger", "configure_ledger"])
def test_a_malformed_task_or_milestone_key_is_refused(field: str, value: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        c.AddTask.model_validate({"code": CODE, "title": "Configure ledger", field: value})


def test_a_task_status_outside_the_list_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        c.ChangeTaskStatus.model_validate({"code": CODE, "key": "configure", "to_status": "finished"})


# Status transitions
def test_the_transition_table_is_the_one_the_pmo_agreed() -> None:
    agreed = {
        T.TODO: {T.IN_PROGRESS, T.BLOCKED, T.DONE, T.CANCELLED},
        T.IN_PROGRESS: {T.TODO, T.BLOCKED, T.DONE, T.CANCELLED},
        T.BLOCKED: {T.TODO, T.IN_PROGRESS, T.CANCELLED},
        T.DONE: {T.TODO, T.IN_PROGRESS},
        T.CANCELLED: {T.TODO},
    }
    assert agreed == ALLOWED


PAIRS = [(a, b) for a, b in product(T, T) if a is not b]
ALLOWED_PAIRS = [(a, b) for a, b in PAIRS if b in ALLOWED[a]]
DISALLOWED_PAIRS = [(a, b) for a, b in PAIRS if b not in ALLOWED[a]]
# Per the design: a reason is needed to block, to cancel and to reopen a done or cancelled task.
NEEDS_REASON = [
    (a, b) for a, b in ALLOWED_PAIRS if b in {T.BLOCKED, T.CANCELLED} or a in {T.DONE, T.CANCELLED}
]
NEEDS_NO_REASON = [pair for pair in ALLOWED_PAIRS if pair not in NEEDS_REASON]


def _pair(pair: tuple[TaskStatus, TaskStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_the_transition_table_has_both_kinds_of_pair() -> None:
    assert len(ALLOWED_PAIRS) + len(DISALLOWED_PAIRS) == 20
    assert DISALLOWED_PAIRS
    assert (T.DONE, T.TODO) in NEEDS_REASON


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=_pair)
def test_an_allowed_transition_with_a_reason_records_both_statuses(
    pair: tuple[TaskStatus, TaskStatus],
) -> None:
    from_status, to_status = pair
    state = task_in(from_status)

    assert when(state, move(to_status, reason="agreed in stand-up")) == [
        ev.TaskStatusChanged(
            **head(state.version + 1, reason="agreed in stand-up"),
            key="configure",
            from_status=from_status,
            to_status=to_status,
        )
    ]


@pytest.mark.parametrize("pair", DISALLOWED_PAIRS, ids=_pair)
def test_a_transition_outside_the_table_is_refused(pair: tuple[TaskStatus, TaskStatus]) -> None:
    from_status, to_status = pair
    with pytest.raises(errors.IllegalTaskTransition):
        when(task_in(from_status), move(to_status, reason="please"))


@pytest.mark.parametrize("pair", NEEDS_REASON, ids=_pair)
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_blocking_cancelling_or_reopening_a_task_without_a_reason_is_refused(
    pair: tuple[TaskStatus, TaskStatus], reason: str | None
) -> None:
    from_status, to_status = pair
    with pytest.raises(errors.ReasonRequired):
        when(task_in(from_status), move(to_status, reason=reason))


@pytest.mark.parametrize("pair", NEEDS_NO_REASON, ids=_pair)
def test_ordinary_progress_on_a_task_needs_no_reason(pair: tuple[TaskStatus, TaskStatus]) -> None:
    from_status, to_status = pair
    (event,) = when(task_in(from_status), move(to_status, reason=None))
    assert isinstance(event, ev.TaskStatusChanged)
    assert (event.from_status, event.to_status, event.reason) == (from_status, to_status, None)


@pytest.mark.parametrize("status", list(T))
def test_moving_a_task_to_the_status_it_has_records_nothing(status: TaskStatus) -> None:
    assert when(task_in(status), move(status, reason=None)) == []


def test_changing_the_status_of_an_unknown_task_is_refused() -> None:
    with pytest.raises(errors.UnknownTask):
        when(state_of(opened()), move(T.IN_PROGRESS))


# Assign
def test_assigning_a_task_records_the_old_and_new_assignee() -> None:
    state = state_of(opened(), add(assignee="Sam Lee"))

    assert when(state, assign("Kim Chu")) == [
        ev.TaskAssigned(**head(3), key="configure", from_assignee="Sam Lee", to_assignee="Kim Chu")
    ]


def test_assigning_an_unassigned_task_records_that_nobody_had_it() -> None:
    (event,) = when(state_of(opened(), add()), assign("Kim Chu"))
    assert isinstance(event, ev.TaskAssigned)
    assert (event.from_assignee, event.to_assignee) == (None, "Kim Chu")


def test_unassigning_a_task_records_that_nobody_has_it() -> None:
    (event,) = when(state_of(opened(), add(assignee="Sam Lee")), assign(None))
    assert isinstance(event, ev.TaskAssigned)
    assert (event.from_assignee, event.to_assignee) == ("Sam Lee", None)


@pytest.mark.parametrize("assignee", ["Sam Lee", " Sam Lee  "])
def test_assigning_a_task_to_its_assignee_records_nothing(assignee: str) -> None:
    assert when(state_of(opened(), add(assignee="Sam Lee")), assign(assignee)) == []


def test_unassigning_an_unassigned_task_records_nothing() -> None:
    assert when(state_of(opened(), add()), assign(None)) == []


@pytest.mark.parametrize("status", [T.IN_PROGRESS, T.BLOCKED])
def test_an_open_task_can_be_reassigned_in_any_open_status(status: TaskStatus) -> None:
    (event,) = when(task_in(status), assign("Kim Chu"))
    assert isinstance(event, ev.TaskAssigned)


@pytest.mark.parametrize("status", [T.DONE, T.CANCELLED])
def test_assigning_a_closed_task_is_refused(status: TaskStatus) -> None:
    with pytest.raises(errors.TaskIsClosed):
        when(task_in(status), assign("Kim Chu"))


def test_assigning_an_unknown_task_is_refused() -> None:
    with pytest.raises(errors.UnknownTask):
        when(state_of(opened()), assign("Kim Chu"))


# Reschedule
def test_rescheduling_a_task_records_the_old_and_new_due_date() -> None:
    state = state_of(opened(), add(due_on=DUE))
    command = c.RescheduleTask(
        code=CODE, key="configure", to_date=date(2026, 4, 8), reason="data late", internal_note="chase"
    )

    assert when(state, command) == [
        ev.TaskRescheduled(
            **head(3, reason="data late", internal_note="chase"),
            key="configure",
            from_date=DUE,
            to_date=date(2026, 4, 8),
        )
    ]


def test_giving_a_task_its_first_due_date_records_that_it_had_none() -> None:
    (event,) = when(state_of(opened(), add()), reschedule(DUE))
    assert isinstance(event, ev.TaskRescheduled)
    assert (event.from_date, event.to_date) == (None, DUE)


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_rescheduling_a_task_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(state_of(opened(), add(due_on=DUE)), reschedule(date(2026, 4, 8), reason=reason))


def test_rescheduling_a_task_to_its_due_date_records_nothing() -> None:
    assert when(state_of(opened(), add(due_on=DUE)), reschedule(DUE, reason=None)) == []


def test_rescheduling_a_task_before_the_engagement_starts_is_refused() -> None:
    with pytest.raises(errors.DateBeforeEngagementStart):
        when(state_of(opened(), add(due_on=DUE)), reschedule(START - timedelta(days=1)))


@pytest.mark.parametrize("status", [T.DONE, T.CANCELLED])
def test_rescheduling_a_closed_task_is_refused(status: TaskStatus) -> None:
    with pytest.raises(errors.TaskIsClosed):
        when(task_in(status), reschedule(date(2026, 4, 8)))


def test_rescheduling_an_unknown_task_is_refused() -> None:
    with pytest.raises(errors.UnknownTask):
        when(state_of(opened()), reschedule(DUE))


def test_a_reopened_task_can_be_rescheduled_again() -> None:
    state = task_in(T.DONE, move(T.IN_PROGRESS, reason="defect found"))
    (event,) = when(state, reschedule(date(2026, 4, 8)))
    assert isinstance(event, ev.TaskRescheduled)
