"""Decisions on milestones: plan, reschedule (with slip cause), re-baseline, achieve, cancel."""

from __future__ import annotations

from domain import commands as cmd
from domain import errors
from domain import events as ev
from domain.decide.common import Context, not_before_start, open_engagement, require_reason, stamp
from domain.state import Engagement, Milestone
from domain.values import MilestoneStatus, unique_key


def _milestone(s: Engagement, key: str) -> Milestone:
    """The milestone, if its dates may still change."""
    milestone = s.milestones.get(key)
    if milestone is None:
        raise errors.UnknownMilestone(f"no milestone {key!r} in {s.code}")
    if milestone.status is MilestoneStatus.ACHIEVED:
        raise errors.MilestoneAlreadyAchieved(f"milestone {key!r} was achieved on {milestone.actual}")
    if milestone.status is MilestoneStatus.CANCELLED:
        raise errors.MilestoneIsCancelled(f"milestone {key!r} was cancelled")
    return milestone


def _require_cause(c: cmd.RescheduleMilestone | cmd.AchieveMilestone, days_late: int) -> None:
    if c.cause is None or c.responsible_party is None:
        raise errors.SlipCauseRequired(
            f"{c.key!r} {days_late} days later needs a slip cause and a responsible party"
        )


def plan(state: Engagement | None, c: cmd.PlanMilestone, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    if c.key is not None and c.key in s.milestones:
        raise errors.MilestoneAlreadyExists(f"milestone {c.key!r} exists already")
    not_before_start(s, c.baseline, "milestone date")
    key = c.key or unique_key(c.title, set(s.milestones))
    return [
        ev.MilestonePlanned(
            **stamp(s, c, ctx), key=key, title=c.title, baseline=c.baseline, forecast=c.baseline
        )
    ]


def reschedule(state: Engagement | None, c: cmd.RescheduleMilestone, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    m = _milestone(s, c.key)
    if c.to_date == m.forecast:
        return []
    not_before_start(s, c.to_date, "forecast")
    require_reason(c, "moving a milestone")
    delta = (c.to_date - m.forecast).days
    if delta > 0:
        _require_cause(c, delta)
    return [
        ev.MilestoneRescheduled(
            **stamp(s, c, ctx),
            key=c.key,
            from_date=m.forecast,
            to_date=c.to_date,
            delta_days=delta,
            baseline=m.baseline,
            cause=c.cause,
            responsible_party=c.responsible_party,
        )
    ]


def rebaseline(state: Engagement | None, c: cmd.RebaselineMilestone, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    m = _milestone(s, c.key)
    if c.to_date == m.baseline:
        return []
    not_before_start(s, c.to_date, "baseline")
    require_reason(c, "re-baselining a milestone")
    if not c.change_ref:
        raise errors.ChangeRefRequired(f"re-baselining {c.key!r} needs a change request reference")
    if not c.approved_by:
        raise errors.ApproverRequired(f"re-baselining {c.key!r} needs who approved it")
    return [
        ev.MilestoneRebaselined(
            **stamp(s, c, ctx),
            key=c.key,
            from_date=m.baseline,
            to_date=c.to_date,
            forecast=m.forecast,
            approved_by=c.approved_by,
        )
    ]


def achieve(state: Engagement | None, c: cmd.AchieveMilestone, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    existing = s.milestones.get(c.key)
    if existing is not None and existing.actual == c.actual_on:
        return []
    m = _milestone(s, c.key)
    if c.actual_on > ctx.now.date():
        raise errors.ActualDateInFuture(f"{c.actual_on} has not come yet")
    not_before_start(s, c.actual_on, "actual date")
    late = (c.actual_on - m.forecast).days
    if late > 0:
        # Achieving after the forecast is a slip like any other: it needs its why.
        require_reason(c, "achieving a milestone after its forecast")
        _require_cause(c, late)
    return [
        ev.MilestoneAchieved(
            **stamp(s, c, ctx),
            key=c.key,
            actual_on=c.actual_on,
            forecast=m.forecast,
            baseline=m.baseline,
            cause=c.cause,
            responsible_party=c.responsible_party,
        )
    ]


def cancel(state: Engagement | None, c: cmd.CancelMilestone, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    existing = s.milestones.get(c.key)
    if existing is not None and existing.status is MilestoneStatus.CANCELLED:
        return []
    m = _milestone(s, c.key)
    require_reason(c, "cancelling a milestone")
    return [ev.MilestoneCancelled(**stamp(s, c, ctx), key=c.key, from_status=m.status)]
