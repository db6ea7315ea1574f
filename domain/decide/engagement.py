"""Decisions on the engagement itself: open, manager, hold, resume, close."""

from __future__ import annotations

from domain import commands as cmd
from domain import errors
from domain import events as ev
from domain.decide.common import Context, open_engagement, provenance, require_reason, stamp
from domain.state import Engagement
from domain.values import EngagementState, engagement_id


def open_(state: Engagement | None, c: cmd.OpenEngagement, ctx: Context) -> list[ev.Event]:
    if state is not None:
        raise errors.EngagementAlreadyExists(f"engagement {c.code} exists already")
    if c.planned_end < c.planned_start:
        raise errors.EndBeforeStart(f"planned end {c.planned_end} is before start {c.planned_start}")
    return [
        ev.EngagementOpened(
            originator_id=engagement_id(c.code),
            originator_version=1,
            **provenance(c, ctx),
            **c.model_dump(include={"code", "title", "client_id", "client_name", "manager"}),
            planned_start=c.planned_start,
            planned_end=c.planned_end,
        )
    ]


def assign_manager(state: Engagement | None, c: cmd.AssignManager, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    if c.manager == s.manager:
        return []
    return [ev.ManagerAssigned(**stamp(s, c, ctx), from_manager=s.manager, to_manager=c.manager)]


def put_on_hold(state: Engagement | None, c: cmd.PutOnHold, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    if s.state is EngagementState.ON_HOLD:
        return []
    require_reason(c, "putting an engagement on hold")
    return [ev.EngagementPutOnHold(**stamp(s, c, ctx), from_state=s.state)]


def resume(state: Engagement | None, c: cmd.Resume, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    if s.state is not EngagementState.ON_HOLD:
        return []
    return [ev.EngagementResumed(**stamp(s, c, ctx))]


def close(state: Engagement | None, c: cmd.CloseEngagement, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    require_reason(c, "closing an engagement")
    return [ev.EngagementClosed(**stamp(s, c, ctx), from_state=s.state)]
