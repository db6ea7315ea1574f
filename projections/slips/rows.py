"""How one milestone event becomes a slip-history row: a pure function of the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from domain import events as ev
from domain.state import Engagement
from projections.base import Change

COLUMNS = (
    "position", "engagement_id", "code", "milestone_key", "milestone_title", "kind", "version",
    "recorded_at", "effective_on", "from_date", "to_date", "delta_days", "forecast", "baseline",
    "original_baseline", "actual", "slip_days", "slip_vs_original_days", "cause",
    "responsible_party", "reason", "actor", "change_ref", "approved_by",
)  # fmt: skip


@dataclass(frozen=True)
class Move:
    """What a milestone event moved: which date from where to where, by how much, and why."""

    kind: str
    key: str
    from_date: date | None
    to_date: date | None
    delta_days: int = 0
    cause: StrEnum | None = None
    party: StrEnum | None = None
    approved_by: str | None = None


def move(event: ev.Event, after: Engagement) -> Move | None:
    """The move ``event`` records, or ``None`` for an event that is not about milestone dates."""
    match event:
        case ev.MilestonePlanned():
            return Move("planned", event.key, None, event.baseline)
        case ev.MilestoneRescheduled():
            return Move(
                "rescheduled", event.key, event.from_date, event.to_date,
                delta_days=event.delta_days, cause=event.cause, party=event.responsible_party,
            )  # fmt: skip
        case ev.MilestoneRebaselined():
            # The commitment moves, not the forecast: no forecast delta.
            return Move(
                "rebaselined", event.key, event.from_date, event.to_date, approved_by=event.approved_by
            )
        case ev.MilestoneAchieved():
            return Move(
                "achieved", event.key, event.forecast, event.actual_on,
                delta_days=(event.actual_on - event.forecast).days,  # positive: later than forecast
                cause=event.cause, party=event.responsible_party,
            )  # fmt: skip
        case ev.MilestoneCancelled():
            return Move("cancelled", event.key, after.milestones[event.key].forecast, None)
    return None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _text(value: StrEnum | None) -> str | None:
    return value.value if value is not None else None


def row(change: Change) -> tuple[Any, ...] | None:
    """The slip-history row for ``change``, in ``COLUMNS`` order, or ``None`` if it has none."""
    event, after = change.event, change.after
    m = move(event, after)
    if m is None:
        return None
    milestone = after.milestones[m.key]
    reached = milestone.actual or milestone.forecast
    return (
        change.position, change.engagement_id, after.code, m.key, milestone.title, m.kind,
        event.originator_version, event.timestamp.isoformat(), _iso(event.effective_on),
        _iso(m.from_date), _iso(m.to_date), m.delta_days, milestone.forecast.isoformat(),
        milestone.baseline.isoformat(), milestone.original_baseline.isoformat(), _iso(milestone.actual),
        (reached - milestone.baseline).days, (reached - milestone.original_baseline).days,
        _text(m.cause), _text(m.party), event.reason, event.actor, event.change_ref, m.approved_by,
    )  # fmt: skip
