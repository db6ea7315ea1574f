"""The engagement as its events leave it, and ``evolve``, the fold that builds it.

``evolve`` handlers only set fields: every rule lives in the deciders, so replaying history
never re-judges it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain import events as ev
from domain.values import EngagementState, MilestoneStatus, TaskStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ScopeItem(_Frozen):
    key: str
    title: str
    description: str = ""
    removed: bool = False


class Milestone(_Frozen):
    key: str
    title: str
    baseline: date
    original_baseline: date
    forecast: date
    actual: date | None = None
    status: MilestoneStatus = MilestoneStatus.PLANNED


class Task(_Frozen):
    key: str
    title: str
    status: TaskStatus = TaskStatus.TODO
    milestone_key: str | None = None
    assignee: str | None = None
    due_on: date | None = None


class Engagement(_Frozen):
    id: UUID
    version: int
    code: str
    title: str
    client_id: str
    client_name: str
    manager: str
    planned_start: date
    planned_end: date
    state: EngagementState = EngagementState.ACTIVE
    scope: Mapping[str, ScopeItem] = {}
    milestones: Mapping[str, Milestone] = {}
    tasks: Mapping[str, Task] = {}
    opened_at: datetime
    last_changed_at: datetime


E = TypeVar("E", bound=ev.Event)
Updates = dict[str, Any]
_HANDLERS: dict[type[ev.Stored], Callable[[Engagement, Any], Updates]] = {}


def _on(event_type: type[E]) -> Callable[[Callable[[Engagement, E], Updates]], None]:
    def register(handler: Callable[[Engagement, E], Updates]) -> None:
        _HANDLERS[event_type] = handler

    return register


def evolve(state: Engagement | None, event: ev.Stored) -> Engagement:
    """The engagement after ``event``."""
    if isinstance(event, ev.EngagementSnapshot):
        return Engagement.model_validate(event.state)
    if isinstance(event, ev.EngagementOpened):
        return _opened(event)
    if state is None:
        raise ValueError(f"{type(event).__name__} cannot start a stream")
    try:
        handler = _HANDLERS[type(event)]
    except KeyError:
        raise TypeError(f"evolve has no handler for {type(event).__name__}") from None
    updates = handler(state, event)
    updates.update(version=event.originator_version, last_changed_at=event.timestamp)
    return _replace(state, updates)


M = TypeVar("M", bound=BaseModel)


def _replace(model: M, updates: dict[str, Any]) -> M:
    """``model`` with some fields replaced: ``model_copy(update=...)`` without its generality.

    Folding replays every event, so this runs once per event and per projection: it copies
    one dict instead of pydantic's deep protocol (about ten times faster). The values come
    from validated events, so nothing needs validating again.
    """
    copied = object.__new__(type(model))
    object.__setattr__(copied, "__dict__", {**model.__dict__, **updates})
    object.__setattr__(copied, "__pydantic_fields_set__", model.__pydantic_fields_set__)
    object.__setattr__(copied, "__pydantic_extra__", None)
    object.__setattr__(copied, "__pydantic_private__", None)
    return copied


def fold(state: Engagement | None, events: Iterable[ev.Stored]) -> Engagement | None:
    """The engagement after all ``events`` (the library's projector function)."""
    for event in events:
        state = evolve(state, event)
    return state


def _opened(e: ev.EngagementOpened) -> Engagement:
    return Engagement(
        id=e.originator_id,
        version=e.originator_version,
        code=e.code,
        title=e.title,
        client_id=e.client_id,
        client_name=e.client_name,
        manager=e.manager,
        planned_start=e.planned_start,
        planned_end=e.planned_end,
        opened_at=e.timestamp,
        last_changed_at=e.timestamp,
    )


def _with(mapping: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**mapping, key: value}


@_on(ev.ManagerAssigned)
def _manager(s: Engagement, e: ev.ManagerAssigned) -> Updates:
    return {"manager": e.to_manager}


@_on(ev.EngagementPutOnHold)
def _hold(s: Engagement, e: ev.EngagementPutOnHold) -> Updates:
    return {"state": e.to_state}


@_on(ev.EngagementResumed)
def _resume(s: Engagement, e: ev.EngagementResumed) -> Updates:
    return {"state": e.to_state}


@_on(ev.EngagementClosed)
def _close(s: Engagement, e: ev.EngagementClosed) -> Updates:
    return {"state": e.to_state}


@_on(ev.ScopeItemAdded)
def _scope_added(s: Engagement, e: ev.ScopeItemAdded) -> Updates:
    item = ScopeItem(key=e.key, title=e.title, description=e.description)
    return {"scope": _with(s.scope, e.key, item)}


@_on(ev.ScopeItemRevised)
def _scope_revised(s: Engagement, e: ev.ScopeItemRevised) -> Updates:
    item = _replace(s.scope[e.key], {"title": e.to_title, "description": e.to_description})
    return {"scope": _with(s.scope, e.key, item)}


@_on(ev.ScopeItemRemoved)
def _scope_removed(s: Engagement, e: ev.ScopeItemRemoved) -> Updates:
    return {"scope": _with(s.scope, e.key, _replace(s.scope[e.key], {"removed": True}))}


@_on(ev.MilestonePlanned)
def _planned(s: Engagement, e: ev.MilestonePlanned) -> Updates:
    milestone = Milestone(
        key=e.key,
        title=e.title,
        baseline=e.baseline,
        original_baseline=e.baseline,
        forecast=e.forecast,
    )
    return {"milestones": _with(s.milestones, e.key, milestone)}


def _milestone(s: Engagement, key: str, **changes: Any) -> Updates:
    return {"milestones": _with(s.milestones, key, _replace(s.milestones[key], changes))}


@_on(ev.MilestoneRescheduled)
def _rescheduled(s: Engagement, e: ev.MilestoneRescheduled) -> Updates:
    return _milestone(s, e.key, forecast=e.to_date)


@_on(ev.MilestoneRebaselined)
def _rebaselined(s: Engagement, e: ev.MilestoneRebaselined) -> Updates:
    return _milestone(s, e.key, baseline=e.to_date)


@_on(ev.MilestoneAchieved)
def _achieved(s: Engagement, e: ev.MilestoneAchieved) -> Updates:
    return _milestone(s, e.key, actual=e.actual_on, status=MilestoneStatus.ACHIEVED)


@_on(ev.MilestoneCancelled)
def _ms_cancelled(s: Engagement, e: ev.MilestoneCancelled) -> Updates:
    return _milestone(s, e.key, status=e.to_status)


@_on(ev.TaskAdded)
def _task_added(s: Engagement, e: ev.TaskAdded) -> Updates:
    task = Task(
        key=e.key,
        title=e.title,
        milestone_key=e.milestone_key,
        assignee=e.assignee,
        due_on=e.due_on,
    )
    return {"tasks": _with(s.tasks, e.key, task)}


def _task(s: Engagement, key: str, **changes: Any) -> Updates:
    return {"tasks": _with(s.tasks, key, _replace(s.tasks[key], changes))}


@_on(ev.TaskStatusChanged)
def _task_status(s: Engagement, e: ev.TaskStatusChanged) -> Updates:
    return _task(s, e.key, status=e.to_status)


@_on(ev.TaskAssigned)
def _task_assigned(s: Engagement, e: ev.TaskAssigned) -> Updates:
    return _task(s, e.key, assignee=e.to_assignee)


@_on(ev.TaskRescheduled)
def _task_rescheduled(s: Engagement, e: ev.TaskRescheduled) -> Updates:
    return _task(s, e.key, due_on=e.to_date)
