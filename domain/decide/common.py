"""What every decision shares: who and when, the guards, and the stamp on new events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain import errors
from domain.commands import Command
from domain.state import Engagement
from domain.values import EngagementState


@dataclass(frozen=True)
class Context:
    """Who asks, and the time the application read from its clock."""

    actor: str
    now: datetime


def open_engagement(state: Engagement | None) -> Engagement:
    """The engagement, if it exists and still accepts changes."""
    if state is None:
        raise errors.EngagementNotFound("no engagement has this code")
    if state.state is EngagementState.CLOSED:
        raise errors.EngagementIsClosed(f"engagement {state.code} is closed")
    return state


def require_reason(command: Command, what: str) -> None:
    if not command.reason:
        raise errors.ReasonRequired(f"{what} needs a reason")


def not_before_start(state: Engagement, day: date, what: str) -> None:
    if day < state.planned_start:
        raise errors.DateBeforeEngagementStart(
            f"{what} {day} is before the engagement starts ({state.planned_start})"
        )


def provenance(command: Command, context: Context) -> dict[str, Any]:
    """The actor, time and why of the change, for every event it records."""
    return {"timestamp": context.now, "actor": context.actor, **command.annotations()}


def stamp(state: Engagement, command: Command, context: Context) -> dict[str, Any]:
    """Identity, time, actor and the why for the next event of ``state``'s stream."""
    return {
        "originator_id": state.id,
        "originator_version": state.version + 1,
        **provenance(command, context),
    }
