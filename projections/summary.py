"""One-line human summaries of events, in the PMO's words, for histories and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from domain import events as ev
from domain.state import Engagement


def _days(delta: int) -> str:
    return f"{delta:+d} day" + ("" if abs(delta) == 1 else "s")


def _words(value: Any) -> str:
    return str(getattr(value, "value", value)).replace("_", " ")


def _title(mapping: Any, key: str) -> str:
    item = mapping.get(key) if mapping is not None else None
    return item.title if item is not None else key


def _span(start: date | None, end: date) -> str:
    return f"{start or 'unset'} -> {end}"


Describer = Callable[[Any, Engagement | None], str]
_DESCRIBERS: dict[type[ev.Event], Describer] = {
    ev.EngagementOpened: lambda e, s: (
        f"Engagement {e.code} opened: '{e.title}' for {e.client_name}, "
        f"planned {_span(e.planned_start, e.planned_end)}"
    ),
    ev.ManagerAssigned: lambda e, s: f"Manager changed {e.from_manager} -> {e.to_manager}",
    ev.EngagementPutOnHold: lambda e, s: "Engagement put on hold",
    ev.EngagementResumed: lambda e, s: "Engagement resumed",
    ev.EngagementClosed: lambda e, s: "Engagement closed",
    ev.ScopeItemAdded: lambda e, s: f"Scope item '{e.title}' added",
    ev.ScopeItemRevised: lambda e, s: (
        f"Scope item '{e.from_title}' revised"
        + (f" (now '{e.to_title}')" if e.to_title != e.from_title else "")
    ),
    ev.ScopeItemRemoved: lambda e, s: f"Scope item '{e.title}' removed",
    ev.MilestonePlanned: lambda e, s: f"Milestone '{e.title}' planned for {e.baseline}",
    ev.MilestoneRescheduled: lambda e, s: (
        f"Milestone '{_title(s and s.milestones, e.key)}' moved {_span(e.from_date, e.to_date)} "
        f"({_days(e.delta_days)})" + (f": {_words(e.cause)}" if e.cause else "")
    ),
    ev.MilestoneRebaselined: lambda e, s: (
        f"Milestone '{_title(s and s.milestones, e.key)}' re-baselined {_span(e.from_date, e.to_date)} "
        f"({_days((e.to_date - e.from_date).days)}), approved by {e.approved_by}"
    ),
    ev.MilestoneAchieved: lambda e, s: (
        f"Milestone '{_title(s and s.milestones, e.key)}' achieved on {e.actual_on} "
        f"({_days((e.actual_on - e.baseline).days)} against baseline)"
    ),
    ev.MilestoneCancelled: lambda e, s: f"Milestone '{_title(s and s.milestones, e.key)}' cancelled",
    ev.TaskAdded: lambda e, s: (
        f"Task '{e.title}' added"
        + (f" for milestone '{_title(s and s.milestones, e.milestone_key)}'" if e.milestone_key else "")
    ),
    ev.TaskStatusChanged: lambda e, s: (
        f"Task '{_title(s and s.tasks, e.key)}' {_words(e.from_status)} -> {_words(e.to_status)}"
    ),
    ev.TaskAssigned: lambda e, s: (
        f"Task '{_title(s and s.tasks, e.key)}' "
        + (f"assigned to {e.to_assignee}" if e.to_assignee else "unassigned")
    ),
    ev.TaskRescheduled: lambda e, s: (
        f"Task '{_title(s and s.tasks, e.key)}' due date moved {_span(e.from_date, e.to_date)}"
    ),
}


def describe(event: ev.Event, before: Engagement | None) -> str:
    """A one-line summary of ``event``; ``before`` is the engagement just before it."""
    return _DESCRIBERS[type(event)](event, before)
