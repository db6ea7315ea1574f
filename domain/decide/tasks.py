"""Decisions on tasks: add, move along the allowed transitions, assign, reschedule."""

from __future__ import annotations

from domain import commands as cmd
from domain import errors
from domain import events as ev
from domain.decide.common import Context, not_before_start, open_engagement, require_reason, stamp
from domain.state import Engagement, Task
from domain.values import TaskStatus, unique_key

T = TaskStatus
ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    T.TODO: frozenset({T.IN_PROGRESS, T.BLOCKED, T.DONE, T.CANCELLED}),
    T.IN_PROGRESS: frozenset({T.TODO, T.BLOCKED, T.DONE, T.CANCELLED}),
    T.BLOCKED: frozenset({T.TODO, T.IN_PROGRESS, T.CANCELLED}),
    T.DONE: frozenset({T.TODO, T.IN_PROGRESS}),
    T.CANCELLED: frozenset({T.TODO}),
}
"""Where a task may go from each status. Leaving done or cancelled is a reopen."""

CLOSED = frozenset({T.DONE, T.CANCELLED})
NEEDS_REASON_TO = frozenset({T.BLOCKED, T.CANCELLED})


def _task(s: Engagement, key: str) -> Task:
    task = s.tasks.get(key)
    if task is None:
        raise errors.UnknownTask(f"no task {key!r} in {s.code}")
    return task


def _open_task(s: Engagement, key: str) -> Task:
    task = _task(s, key)
    if task.status in CLOSED:
        raise errors.TaskIsClosed(f"task {key!r} is {task.status.value}")
    return task


def add(state: Engagement | None, c: cmd.AddTask, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    if c.key is not None and c.key in s.tasks:
        raise errors.TaskAlreadyExists(f"task {c.key!r} exists already")
    if c.milestone_key is not None and c.milestone_key not in s.milestones:
        raise errors.UnknownMilestone(f"no milestone {c.milestone_key!r} in {s.code}")
    if c.due_on is not None:
        not_before_start(s, c.due_on, "due date")
    key = c.key or unique_key(c.title, set(s.tasks))
    fields = c.model_dump(include={"title", "milestone_key", "assignee", "due_on"})
    return [ev.TaskAdded(**stamp(s, c, ctx), key=key, **fields)]


def change_status(state: Engagement | None, c: cmd.ChangeTaskStatus, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    task = _task(s, c.key)
    if c.to_status is task.status:
        return []
    if c.to_status not in ALLOWED[task.status]:
        raise errors.IllegalTaskTransition(
            f"task {c.key!r} cannot go from {task.status.value} to {c.to_status.value}"
        )
    if c.to_status in NEEDS_REASON_TO:
        require_reason(c, f"moving a task to {c.to_status.value}")
    if task.status in CLOSED:
        require_reason(c, f"reopening a {task.status.value} task")
    return [
        ev.TaskStatusChanged(**stamp(s, c, ctx), key=c.key, from_status=task.status, to_status=c.to_status)
    ]


def assign(state: Engagement | None, c: cmd.AssignTask, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    task = _open_task(s, c.key)
    if c.assignee == task.assignee:
        return []
    return [
        ev.TaskAssigned(**stamp(s, c, ctx), key=c.key, from_assignee=task.assignee, to_assignee=c.assignee)
    ]


def reschedule(state: Engagement | None, c: cmd.RescheduleTask, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    task = _open_task(s, c.key)
    if c.to_date == task.due_on:
        return []
    not_before_start(s, c.to_date, "due date")
    require_reason(c, "moving a task's date")
    return [ev.TaskRescheduled(**stamp(s, c, ctx), key=c.key, from_date=task.due_on, to_date=c.to_date)]
