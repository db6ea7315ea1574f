"""Valid commands: one builder per command route, from what a client last read of the engagement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.hammer.sends import END, START, Belief, Draw
from domain.decide.tasks import ALLOWED
from domain.values import TaskStatus

PEOPLE = ("lena.berg", "priya.nair", "sam.okafor", "J. Ortega")


def milestones(b: Belief, status: str | None = "planned") -> list[dict[str, Any]]:
    return [m for m in b["milestones"] if status is None or m["status"] == status]


def tasks(b: Belief, open_only: bool = False) -> list[dict[str, Any]]:
    return [t for t in b["tasks"] if not open_only or t["status"] not in {"done", "cancelled"}]


def _scope(b: Belief) -> list[dict[str, Any]]:
    return [s for s in b["scope"] if not s["removed"]]


Built = tuple[str, dict[str, Any]] | None
"""The route under the engagement and the body, or ``None`` where the engagement offers no subject."""


def plan_milestone(d: Draw, b: Belief) -> Built:
    body = {"title": f"Milestone {d.tag}", "baseline": d.day()}
    return "milestones", body | ({"key": f"m{d.tag}"} if d.rng.random() < 0.7 else {})


def reschedule_milestone(d: Draw, b: Belief) -> Built:
    m = d.pick(milestones(b))
    if m is None:
        return None
    body = {"to_date": d.near(m["forecast"], -20, 30), **d.slip(), **d.why()}
    return f"milestones/{m['key']}/reschedule", body


def rebaseline_milestone(d: Draw, b: Belief) -> Built:
    m = d.pick(milestones(b))
    if m is None:
        return None
    body = {"to_date": d.near(m["baseline"], -10, 40), "approved_by": d.pick(PEOPLE), **d.why()}
    return f"milestones/{m['key']}/rebaseline", body | {"change_ref": f"CR-{d.tag}"}


def achieve_milestone(d: Draw, b: Belief) -> Built:
    m = d.pick(milestones(b))
    if m is None:
        return None
    body = {"actual_on": d.near(m["forecast"], -5, 10), **d.slip(), **d.why()}
    return f"milestones/{m['key']}/achieve", body


def cancel_milestone(d: Draw, b: Belief) -> Built:
    m = d.pick(milestones(b))
    return None if m is None else (f"milestones/{m['key']}/cancel", d.why())


def add_scope_item(d: Draw, b: Belief) -> Built:
    return "scope-items", {"key": f"s{d.tag}", "title": f"Deliverable {d.tag}", **d.why()}


def revise_scope_item(d: Draw, b: Belief) -> Built:
    s = d.pick(_scope(b))
    return None if s is None else (f"scope-items/{s['key']}/revise", {"title": f"Scope {d.tag}", **d.why()})


def remove_scope_item(d: Draw, b: Belief) -> Built:
    s = d.pick(_scope(b))
    return None if s is None else (f"scope-items/{s['key']}/remove", d.why())


def add_task(d: Draw, b: Belief) -> Built:
    body: dict[str, Any] = {"key": f"t{d.tag}", "title": f"Task {d.tag}", "assignee": d.pick(PEOPLE)}
    milestone = d.pick(milestones(b, status=None))
    if milestone and d.rng.random() < 0.5:
        body |= {"milestone_key": milestone["key"], "due_on": d.day()}
    return "tasks", body


def change_task_status(d: Draw, b: Belief) -> Built:
    """To a status the task may move to from the one it was read in (a reason for every move)."""
    t = d.pick(tasks(b))
    if t is None:
        return None
    to = d.pick(sorted(ALLOWED[TaskStatus(t["status"])]))
    return f"tasks/{t['key']}/status", {"to_status": str(to), **d.why()}


def assign_task(d: Draw, b: Belief) -> Built:
    t = d.pick(tasks(b, open_only=True))
    return None if t is None else (f"tasks/{t['key']}/assign", {"assignee": d.pick([*PEOPLE, None])})


def reschedule_task(d: Draw, b: Belief) -> Built:
    t = d.pick(tasks(b, open_only=True))
    return None if t is None else (f"tasks/{t['key']}/reschedule", {"to_date": d.day(), **d.why()})


def assign_manager(d: Draw, b: Belief) -> Built:
    return "manager", {"manager": d.pick(PEOPLE)} | (d.why() if d.rng.random() < 0.5 else {})


def put_on_hold(d: Draw, b: Belief) -> Built:
    return "hold", d.why()


def resume(d: Draw, b: Belief) -> Built:
    return "resume", d.why()


def close(d: Draw, b: Belief) -> Built:
    return "close", d.why()


COMMANDS: dict[str, tuple[Callable[[Draw, Belief], Built], float]] = {
    "plan-milestone": (plan_milestone, 6), "reschedule-milestone": (reschedule_milestone, 12),
    "rebaseline-milestone": (rebaseline_milestone, 3), "achieve-milestone": (achieve_milestone, 3),
    "cancel-milestone": (cancel_milestone, 2), "add-scope-item": (add_scope_item, 3),
    "revise-scope-item": (revise_scope_item, 3), "remove-scope-item": (remove_scope_item, 2),
    "add-task": (add_task, 6), "change-task-status": (change_task_status, 12),
    "assign-task": (assign_task, 5), "reschedule-task": (reschedule_task, 4),
    "assign-manager": (assign_manager, 2), "put-on-hold": (put_on_hold, 2), "resume": (resume, 2),
}  # fmt: skip
"""Commands on any engagement, with their weights; the client opens and closes its own besides."""
OWN_ONLY = ("open-engagement", "close")


def opening(code: str, client_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "code": code, "title": f"Rollout {code}", "client_id": client_id, "client_name": client_id.upper(),
        "manager": "Dana Whitfield", "planned_start": START.isoformat(), "planned_end": END.isoformat(),
    } | fields  # fmt: skip
